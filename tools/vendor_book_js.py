"""Vendor the JavaScript the HTML book needs, so that no page loads from a CDN.

By default the pages of a Jupyter Book load require.js (cdnjs), the ipywidgets
HTML manager ``embed-amd.js`` (jsdelivr) and MathJax 3 (jsdelivr).  This script
installs pinned versions of those npm packages into a cache directory outside
git (``_build/.npm`` unless ``--cache`` says otherwise; reused as long as it
holds the pinned versions), then copies exactly the files the pages load into
``book/_vendor/nndl_vendor/``.  ``_config.yml`` lists ``book/_vendor`` in
``html_static_path``, so they are served from ``_static/nndl_vendor/``.

The anywidget front end (``anywidget/dist/index.js``, the widgets of
:mod:`widgets.paths`) is copied from the installed Python package: its wheel
ships the same file as npm's ``anywidget/dist/index.js`` under
``anywidget/nbextension/index.js``, so it always matches the version that wrote
the widget state, and needs no npm.

The folder must not be called ``_static``: Jupyter Book 1 injects every
``*.js`` and ``*.css`` found under a ``_static`` folder into every page.

Usage::

    python tools/vendor_book_js.py [--cache DIR] [--dest DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# @jupyter-widgets/html-manager 1.0.x renders the widget state written by
# ipywidgets 8.x; 1.0.15 depends on @jupyter-widgets/controls ^5.0.13, the
# controls that jupyterlab_widgets 3.0.16+ (ipywidgets 8.1.8+) ship.
PINS = {
    "@jupyter-widgets/html-manager": "1.0.15",
    "requirejs": "2.3.8",
    "mathjax": "3.2.2",
}

# (source relative to node_modules, destination relative to the vendor folder)
FILES = [
    ("requirejs/require.js", "require.js"),
    (
        "@jupyter-widgets/html-manager/dist/embed-amd.js",
        "@jupyter-widgets/html-manager/dist/embed-amd.js",
    ),
    ("mathjax/es5/tex-mml-chtml.js", "mathjax/tex-mml-chtml.js"),
]
# Whole folders (same layout on both sides).
TREES = [
    # MathJax loads its fonts, TeX extensions (e.g. \require{...}, \boldsymbol)
    # and the context menu / assistive MathML on demand, relative to itself.
    ("mathjax/es5/output/chtml/fonts/woff-v2", "mathjax/output/chtml/fonts/woff-v2"),
    ("mathjax/es5/input/tex/extensions", "mathjax/input/tex/extensions"),
    ("mathjax/es5/ui", "mathjax/ui"),
    ("mathjax/es5/a11y", "mathjax/a11y"),
]
# The widget fonts (Font Awesome) that embed-amd.js references by hashed name.
FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".eot", ".svg")
CONFIG_SCRIPT = ROOT / "book" / "_ext" / "widgets-config.js"
# The anywidget front end: (file inside the Python package, destination).
ANYWIDGET_FILE = ("nbextension/index.js", "anywidget/dist/index.js")


def anywidget_front_end() -> tuple[Path, str]:
    """The installed anywidget's AMD front end and the package version."""
    try:
        import anywidget
    except ImportError:
        sys.exit("vendor: the Python package anywidget is not installed (pip install -e '.[book]')")
    source = Path(anywidget.__file__).resolve().parent / ANYWIDGET_FILE[0]
    if not source.is_file():
        sys.exit(
            f"vendor: {source} is missing from the installed anywidget {anywidget.__version__}"
        )
    return source, anywidget.__version__


def installed_version(node_modules: Path, package: str) -> str | None:
    manifest = node_modules / package / "package.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_packages(cache: Path) -> None:
    """Install the pinned packages into ``cache`` unless they are there already."""
    node_modules = cache / "node_modules"
    stale = [pkg for pkg, ver in PINS.items() if installed_version(node_modules, pkg) != ver]
    if not stale:
        print(f"vendor: npm cache {cache} already holds the pinned versions")
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit(
            "vendor: npm is not installed; it is needed once to fetch "
            + ", ".join(f"{p}@{v}" for p, v in PINS.items())
            + " (Debian: apt-get install -y npm)"
        )
    cache.mkdir(parents=True, exist_ok=True)
    # A private package.json keeps npm from walking up to a project of its own.
    (cache / "package.json").write_text(
        json.dumps({"name": "nndl-lab-book-vendor", "private": True}, indent=2) + "\n",
        encoding="utf-8",
    )
    cmd = [
        npm,
        "install",
        "--prefix",
        str(cache),
        "--no-save",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        *(f"{pkg}@{ver}" for pkg, ver in PINS.items()),
    ]
    print("vendor: " + " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=cache)
    wrong = {
        pkg: installed_version(node_modules, pkg)
        for pkg, ver in PINS.items()
        if installed_version(node_modules, pkg) != ver
    }
    if wrong:
        sys.exit(f"vendor: npm installed unexpected versions: {wrong}; expected {PINS}")


def copy_files(node_modules: Path, dest: Path) -> int:
    """Replace ``dest`` by the files the pages need; return the bytes copied."""
    anywidget_js, anywidget_version = anywidget_front_end()  # before anything is removed
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for src, dst in FILES:
        target = dest / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(node_modules / src, target)
    for src, dst in TREES:
        shutil.copytree(node_modules / src, dest / dst)
    dist = node_modules / "@jupyter-widgets/html-manager/dist"
    fonts = [p for p in dist.iterdir() if p.suffix in FONT_SUFFIXES]
    if not fonts:
        sys.exit(f"vendor: no widget fonts found in {dist}")
    for font in fonts:
        shutil.copy2(font, dest / "@jupyter-widgets/html-manager/dist" / font.name)
    shutil.copy2(CONFIG_SCRIPT, dest / CONFIG_SCRIPT.name)
    (dest / ANYWIDGET_FILE[1]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(anywidget_js, dest / ANYWIDGET_FILE[1])
    versions = {**PINS, "anywidget (from the Python package)": anywidget_version}
    (dest / "VERSIONS.json").write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")
    return sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())


def check_ipywidgets() -> None:
    """Warn when the Python ipywidgets is not a version html-manager 1.0.x renders."""
    try:
        import ipywidgets
    except ImportError:
        return
    if not ipywidgets.__version__.startswith("8."):
        print(
            f"vendor: WARNING ipywidgets {ipywidgets.__version__} is not 8.x; "
            f"@jupyter-widgets/html-manager@{PINS['@jupyter-widgets/html-manager']} "
            "renders the widget state of ipywidgets 8",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache",
        type=Path,
        default=ROOT / "_build" / ".npm",
        help="npm install prefix, kept between builds (default: _build/.npm)",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=ROOT / "book" / "_vendor" / "nndl_vendor",
        help="where the pages' files go (default: book/_vendor/nndl_vendor)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    check_ipywidgets()
    cache = args.cache.resolve()
    ensure_packages(cache)
    size = copy_files(cache / "node_modules", args.dest.resolve())
    print(
        f"vendor: {args.dest} ready ({size / 2**20:.1f} MiB: "
        + ", ".join(f"{p}@{v}" for p, v in PINS.items())
        + f") in {time.perf_counter() - start:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
