"""A small local Sphinx extension for the nndl-lab book.

Loaded through ``sphinx: local_extensions`` in ``_config.yml``.  It does six
things:

1. Drops duplicate entries of ``script_files`` when a page is rendered.
   Sphinx 7 keeps the scripts added late (in ``html-page-context``) in one list
   for the whole build, so an inline script that an extension registers for
   every page (sphinx-thebe's ``const THEBE_JS_URL = ...``) is written once per
   page built so far; the second ``const`` throws a SyntaxError in the console.
2. At the end of an HTML build, prints the weight of every page built from a
   source in the toc (one line per page: the ``.html`` file, which embeds the
   widget state, and separately the widget state and the page's own images) and
   emits a Sphinx warning -- an error under ``-W`` -- for a chapter page heavier
   than ``nndl_page_weight_limit`` bytes (1.5 MB).
3. Skips the fields of a ``NamedTuple`` in autodoc (their docstring is the
   generated "Alias for field number N"): the class's numpydoc ``Attributes``
   section already documents them, and documenting both is a duplicate object
   description.
4. Provides the directive ``nndl-automodule-tree`` (for an ``{eval-rst}`` block):
   ``automodule`` with ``:members:`` for a package and each public submodule
   found on disk, so the API appendix follows the package as it grows.  A
   submodule whose name the package rebinds (``from .app import app``) is left
   out: the package documents that name.
5. Adds the book's stylesheet ``book/_ext/css/nndl-layout.css`` to every page
   (pages at reading size: code and outputs wrap inside the text column, wide
   tables, widget apps and display maths scroll inside their own box, figures
   scale to the column and stay on white in dark mode).
6. Gives the entries of a bibliography the ARIA role their list requires:
   docutils writes ``<div role="list" class="citation-list">`` around entries with
   ``role="doc-biblioentry"``, a role DPUB-ARIA 1.1 deprecates ("use listitem")
   and that axe-core reports as a list without list items (critical).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)

WIDGET_STATE_RE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.DOTALL
)
IMG_SRC_RE = re.compile(r'<img\b[^>]*?\bsrc="([^"]+)"', re.IGNORECASE)


# -- 1. duplicate scripts ----------------------------------------------------------


def _script_key(script: Any) -> tuple:
    # An inline script has filename None or "" (the latter once it has been through
    # the pickled environment), so both count as "no file".
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def drop_duplicate_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    if len(unique) != len(scripts):
        context["script_files"] = unique


# -- 2. page weights ------------------------------------------------------------


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


def page_weight(html_file: Path, outdir: Path) -> dict[str, int]:
    """Bytes of the page, of the widget state it embeds and of its own images."""
    text = html_file.read_text(encoding="utf-8")
    state = sum(len(m.group(1).encode("utf-8")) for m in WIDGET_STATE_RE.finditer(text))
    images = 0
    seen: set[Path] = set()
    for src in IMG_SRC_RE.findall(text):
        if src.startswith(("data:", "http:", "https:", "//")):
            continue
        path = (html_file.parent / src.split("#")[0].split("?")[0]).resolve()
        static = (outdir / "_static").resolve()
        if path in seen or static in path.parents or not path.is_file():
            continue
        seen.add(path)
        images += path.stat().st_size
    return {"html": html_file.stat().st_size, "widget_state": state, "images": images}


def report_page_weights(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    limit = app.config.nndl_page_weight_limit
    chapter = re.compile(app.config.nndl_chapter_pattern)
    for docname in sorted(app.env.found_docs):
        uri = app.builder.get_target_uri(docname)
        html_file = outdir / uri
        if not html_file.is_file():
            continue
        w = page_weight(html_file, outdir)
        logger.info(
            f"page weight: {uri} {_kib(w['html'])} "
            f"(widget state {_kib(w['widget_state'])}; images {_kib(w['images'])})"
        )
        if chapter.match(docname) and w["html"] > limit:
            logger.warning(
                f"page {uri} weighs {_kib(w['html'])} (widget state "
                f"{_kib(w['widget_state'])}), over the {limit / 1e6:.1f} MB limit for a "
                "chapter: fewer or smaller slider frames (e.g. a 64-colour PNG palette)",
                type="nndl",
                subtype="page_weight",
                location=docname,
            )


# -- 3. NamedTuple fields ---------------------------------------------------------

NAMEDTUPLE_FIELD_DOC = re.compile(r"Alias for field number \d+")


def skip_namedtuple_fields(
    app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any
) -> bool | None:
    doc = getattr(obj, "__doc__", None)
    if what == "class" and isinstance(doc, str) and NAMEDTUPLE_FIELD_DOC.fullmatch(doc):
        return True
    return None


# -- 4. automodule for a package and its submodules --------------------------------------


class AutomoduleTree(SphinxDirective):
    """``automodule`` with ``:members:`` for a package and each public submodule."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        try:
            package = importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - reported as a Sphinx warning
            logger.warning(
                f"nndl-automodule-tree: cannot import {name}: {err}", location=self.get_location()
            )
            return []
        modules = [name]
        for info in pkgutil.walk_packages(getattr(package, "__path__", []), name + "."):
            if any(part.startswith("_") for part in info.name.split(".")):
                continue
            if self._shadowed(info.name):
                continue
            modules.append(info.name)
        lines: list[str] = []
        for module in sorted(modules):
            if module != name:
                lines += [f".. rubric:: ``{module}``", ""]
            lines += [f".. automodule:: {module}", "   :members:", ""]
        content = StringList(lines, source=f"<nndl-automodule-tree {name}>")
        node = nodes.container()
        nested_parse_with_titles(self.state, content, node)
        return node.children

    @staticmethod
    def _shadowed(module_name: str) -> bool:
        """True if the parent package binds the submodule's name to another object.

        ``from .loss_surface import loss_surface`` in ``widgets/__init__.py`` makes
        ``widgets.loss_surface`` the function: the package documents it under that
        name, and documenting the module as well would describe
        ``widgets.loss_surface`` twice.
        """
        parent_name, _, leaf = module_name.rpartition(".")
        try:
            module = importlib.import_module(module_name)
            parent = importlib.import_module(parent_name)
        except Exception:  # noqa: BLE001 - automodule reports the import error itself
            return False
        return getattr(parent, leaf, module) is not module


# -- 5. the book's stylesheet --------------------------------------------------------

CSS_DIR = Path(__file__).resolve().parent / "css"
LAYOUT_CSS = "nndl-layout.css"
#: Makes the boxes that scroll sideways reachable by keyboard (in the same folder).
LAYOUT_JS = "nndl-layout.js"


def add_static_css_dir(app: Sphinx, config: Any) -> None:
    """Copy ``book/_ext/css/`` (the stylesheet only) into ``_static/``."""
    if str(CSS_DIR) not in map(str, config.html_static_path):
        config.html_static_path.append(str(CSS_DIR))


# -- 6. bibliography entries as list items ---------------------------------------------

BIBLIOENTRY_RE = re.compile(r'(<div class="citation" id="[^"]*" )role="doc-biblioentry"')


def bibliography_list_items(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    body = context.get("body")
    if isinstance(body, str) and 'role="doc-biblioentry"' in body:
        context["body"] = BIBLIOENTRY_RE.sub(r'\1role="listitem"', body)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("nndl_page_weight_limit", 1_500_000, "html", types=[int])
    app.add_config_value("nndl_chapter_pattern", r"book/0\d", "html", types=[str])
    # After the extensions that add scripts in html-page-context (default priority 500).
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("build-finished", report_page_weights)
    app.connect("autodoc-skip-member", skip_namedtuple_fields)
    app.add_directive("nndl-automodule-tree", AutomoduleTree)
    app.connect("config-inited", add_static_css_dir)
    app.connect("html-page-context", bibliography_list_items)
    # After the theme's stylesheets, so equal-specificity rules (dark mode) win.
    app.add_css_file(LAYOUT_CSS, priority=900)
    app.add_js_file(LAYOUT_JS, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
