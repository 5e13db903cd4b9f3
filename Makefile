# nndl-lab: build the book, run the tests.
#
#   make book    build the HTML book into _build/html (executes the chapters, cached)
#   make test    the whole test suite (unit, notebooks, browser) against that build
#   make serve   serve _build/html on http://127.0.0.1:8000
#   make lint    ruff check + ruff format --check
#
# Everything runs in .venv (created on first use from pyproject.toml).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HTML := _build/html
PORT ?= 8000
# The kernel that executes the chapters must be the venv's Python: put the venv
# first on PATH and prefer the venv's kernelspecs over per-user ones.
export PATH := $(abspath $(BIN)):$(PATH)
export JUPYTER_PREFER_ENV_PATH := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# The book is built on the offline default data (the digits shipped in the package),
# whatever is cached on this machine, so every build shows the same live results beside
# the recorded CIFAR-10 ones. To build it on your CIFAR-10 instead:
#   make book BOOK_DATA_DIR=~/.cache/nndl-lab
BOOK_DATA_DIR ?= $(abspath _build/no-data)

.PHONY: venv book test lint serve clean help

help:
	@sed -n 's/^#   //p' Makefile

venv: $(VENV)/.installed

# Reinstalled when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev,book]"
	touch $@

book: venv
	$(BIN)/python tools/vendor_book_js.py
	@# The execution cache is keyed on the notebooks' code only: drop it, and Sphinx's
	@# environment (which would re-read no unchanged notebook), when the engine, the
	@# apps or the data directory change, so no chapter shows outputs of older code
	@# or other data.
	@mkdir -p _build; \
	mkdir -p "$(BOOK_DATA_DIR)"; \
	h=$$( (find nndl_lab widgets -type f \( -name '*.py' -o -name '*.js' -o -name '*.css' -o -path '*/_data/*' \) \
	     2>/dev/null | LC_ALL=C sort | xargs -r sha256sum; echo "data: $(BOOK_DATA_DIR)") \
	     | sha256sum | cut -c1-16); \
	if [ "$$(cat _build/.engine-hash 2>/dev/null)" != "$$h" ]; then \
	  if [ -d _build/.jupyter_cache ]; then \
	    echo "book: nndl_lab/ or widgets/ changed: re-executing every chapter"; fi; \
	  rm -rf _build/.jupyter_cache _build/.doctrees; echo "$$h" > _build/.engine-hash; fi
	@# One chapter per core at a time into that cache; jupyter-book then finds them
	@# there, and executes (and reports) any chapter that failed here.
	NNDL_LAB_DATA_DIR="$(BOOK_DATA_DIR)" $(BIN)/python tools/execute_chapters.py
	@start=$$(date +%s); \
	if NNDL_LAB_DATA_DIR="$(BOOK_DATA_DIR)" $(BIN)/jupyter-book build . -W -n --keep-going; then \
	  echo "book: built in $$(( $$(date +%s) - start )) s"; \
	else \
	  echo; echo "book: BUILD FAILED (warnings are errors: -W -n)"; \
	  for f in $$(find $(HTML)/reports -name '*.log' 2>/dev/null); do \
	    echo "===== execution report $$f ====="; cat "$$f"; done; \
	  exit 1; \
	fi
	@echo
	@echo "Open the book:      $(abspath $(HTML))/index.html"
	@echo "Serve it:           make serve   (python -m http.server -d $(HTML) -b 127.0.0.1 $(PORT))"
	@echo "Run it live:        $(BIN)/jupyter lab book/"

# One test process per core; the tests of one file (and the cells of one chapter)
# stay together (see conftest.py). TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= auto

test: book
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

serve:
	@test -f $(HTML)/index.html || { echo "no $(HTML)/index.html: run make book first"; exit 1; }
	@echo "Serving http://127.0.0.1:$(PORT)/ (Ctrl-C to stop)"
	$(PYTHON) -m http.server -d $(HTML) -b 127.0.0.1 $(PORT)

clean:
	rm -rf _build book/_vendor
