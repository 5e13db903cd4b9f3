"""Cheap static checks of the book's configuration (no build, no browser)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
yaml = pytest.importorskip("yaml", reason="PyYAML comes with the book extra")

BIB_KEYS = {
    "polyak1964",
    "nesterov1983",
    "sutskever2013",
    "tieleman2012",
    "kingma2015",
    "ioffe2015",
    "srivastava2014",
    "glorot2010",
    "he2015",
}


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def test_every_toc_entry_exists(toc_files):
    missing = [
        f for f in toc_files if not any((ROOT / f"{f}{ext}").is_file() for ext in (".ipynb", ".md"))
    ]
    assert not missing, f"in _toc.yml but no .ipynb/.md source: {missing}"


def test_toc_lists_each_file_once(toc_files):
    assert len(toc_files) == len(set(toc_files))


def test_execution_is_cached_and_failures_fail_the_build(config):
    assert config["execute"]["execute_notebooks"] == "cache"
    assert config["execute"]["timeout"] >= 300
    assert config["sphinx"]["config"]["nb_execution_raise_on_error"] is True


def test_make_book_executes_every_chapter_of_the_toc_in_advance(toc_files):
    pytest.importorskip("jupyter_cache", reason="jupyter-cache comes with the book extra")
    spec = importlib.util.spec_from_file_location(
        "execute_chapters", ROOT / "tools/execute_chapters.py"
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    chapters = [path.relative_to(ROOT).with_suffix("").as_posix() for path in tool.chapters()]
    notebooks = sorted(
        path.relative_to(ROOT).with_suffix("").as_posix() for path in ROOT.glob("book/*.ipynb")
    )
    assert chapters == [f for f in toc_files if f in notebooks]
    assert sorted(chapters) == notebooks
    book_target = re.search(r"^book:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.M | re.S)
    assert "tools/execute_chapters.py" in book_target.group(0)
    assert book_target.group(0).index("execute_chapters") < book_target.group(0).index(
        "jupyter-book build"
    )


def test_launch_buttons(config):
    buttons = config["launch_buttons"]
    assert buttons["binderhub_url"] == "https://mybinder.org"
    assert buttons["colab_url"] == "https://colab.research.google.com"
    assert buttons["notebook_interface"] == "jupyterlab"
    assert config["repository"] == {
        "url": "https://github.com/nndl-lab/nndl-lab",
        "branch": "main",
        "path_to_book": "",
    }


def test_pages_load_nothing_from_a_cdn(config):
    sphinx = config["sphinx"]["config"]
    assert "book/_vendor" in sphinx["html_static_path"]
    assert not sphinx["mathjax_path"].startswith(("http:", "https:", "//"))
    scripts = list(sphinx["nb_ipywidgets_js"])
    assert scripts and not [s for s in scripts if re.match(r"(https?:)?//", s)]
    for attrs in sphinx["nb_ipywidgets_js"].values():
        assert "cdn" not in str(attrs)
    # Jupyter Book injects every .js/.css under a `_static` folder of the source
    # root into every page; the vendored files must live elsewhere.
    assert not (ROOT / "_static").exists()
    assert (ROOT / config["html"]["favicon"]).is_file()


def test_bibliography_holds_the_cited_papers():
    text = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", text, re.MULTILINE))
    assert keys >= BIB_KEYS, f"missing: {BIB_KEYS - keys}"
    assert "bibliography" in (ROOT / "book/appendix/bibliography.md").read_text(encoding="utf-8")


def _load_extension():
    pytest.importorskip("sphinx", reason="Sphinx comes with the book extra")
    spec = importlib.util.spec_from_file_location("nndl_book", ROOT / "book/_ext/nndl_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Script:
    def __init__(self, filename, **attributes):
        self.filename = filename
        self.attributes = attributes


def test_extension_drops_duplicate_inline_scripts():
    ext = _load_extension()
    body = {"body": "const THEBE_JS_URL = 'x'"}
    scripts = [_Script("a.js"), _Script(None, **body), _Script("", **body), _Script("a.js")]
    context = {"script_files": scripts}
    ext.drop_duplicate_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] == scripts[:2]


def test_extension_weighs_page_widget_state_and_images(tmp_path):
    ext = _load_extension()
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "plot.png").write_bytes(b"x" * 1000)
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "logo.png").write_bytes(b"x" * 500)
    state = '{"state": {}}'
    page = tmp_path / "book" / "ch.html"
    page.parent.mkdir()
    page.write_text(
        f'<img src="../_images/plot.png"><img src="../_static/logo.png">'
        f'<script type="application/vnd.jupyter.widget-state+json">{state}</script>',
        encoding="utf-8",
    )
    weight = ext.page_weight(page, tmp_path)
    assert weight == {"html": page.stat().st_size, "widget_state": len(state), "images": 1000}


def test_extension_skips_submodules_the_package_rebinds(tmp_path, monkeypatch):
    ext = _load_extension()
    package = tmp_path / "shadowpkg"
    package.mkdir()
    (package / "__init__.py").write_text("from .app import app\n", encoding="utf-8")
    (package / "app.py").write_text("def app():\n    pass\n", encoding="utf-8")
    (package / "core.py").write_text("def helper():\n    pass\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert ext.AutomoduleTree._shadowed("shadowpkg.app")
    assert not ext.AutomoduleTree._shadowed("shadowpkg.core")


def test_one_search_box_and_theme_options_merged(config):
    """The header's search field is off (the sidebar keeps its own); `recursive_update`
    merges that into the theme options Jupyter Book derives, instead of dropping them."""
    sphinx = config["sphinx"]
    assert sphinx["recursive_update"] is True
    assert sphinx["config"]["html_theme_options"]["navbar_persistent"] == []


def test_layout_stylesheet_is_registered_and_holds_the_overflow_rules():
    ext = _load_extension()
    css_file = ext.CSS_DIR / ext.LAYOUT_CSS
    assert css_file.is_file()
    # Only the stylesheet and its script are copied to _static/ from that folder.
    assert sorted(p.name for p in ext.CSS_DIR.iterdir()) == sorted([ext.LAYOUT_CSS, ext.LAYOUT_JS])
    css = re.sub(r"/\*.*?\*/", "", css_file.read_text(encoding="utf-8"), flags=re.DOTALL)
    css = re.sub(r"\s+", " ", css)
    for rule in (
        "white-space: pre-wrap",
        "overflow-wrap: anywhere",
        'mjx-container[display="true"] { max-width: 100%; overflow-x: auto;',
        ".bd-article img { max-width: 100%; height: auto; }",
    ):
        assert rule in css, rule

    class Config:
        html_static_path = ["book/_vendor"]

    config = Config()
    ext.add_static_css_dir(None, config)
    ext.add_static_css_dir(None, config)
    assert config.html_static_path == ["book/_vendor", str(ext.CSS_DIR)]


def test_bibliography_entries_become_list_items():
    ext = _load_extension()
    body = (
        '<div role="list" class="citation-list">\n'
        '<div class="citation" id="id12" role="doc-biblioentry">\n<p>A.</p></div>\n'
        '<div class="citation" id="id2" role="doc-biblioentry">\n<p>B.</p></div>\n</div>'
    )
    context = {"body": body}
    ext.bibliography_list_items(None, "book/appendix/bibliography", "page.html", context, None)
    assert context["body"].count('role="listitem"') == 2
    assert "doc-biblioentry" not in context["body"]
    assert context["body"].replace('role="listitem"', 'role="doc-biblioentry"') == body
