"""The ``engine-source`` directive: a function of the engine as the chapters show it.

``literalinclude`` shows a function with its whole numpydoc docstring, whose
reST markup (``:math:``, ``.. math::``, double back-quotes) is written for the
API appendix and reads badly as code. In a chapter the reader wants the code
and what goes in and out. This directive shows the function's source with its
docstring replaced by a short plain one: the summary line without markup, and
one line per parameter and return value with its shape::

    ```{engine-source} nndl_lab.layers.affine_forward
    ```

The full docstring stays in the engine and in the API appendix.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

_ROLE = re.compile(r":(?:math|func|class|meth|attr|mod|data|obj):`~?([^`]*)`")
_LITERAL = re.compile(r"``([^`]*)``")
_SECTION = re.compile(r"^(Parameters|Returns|Yields)\s*\n-+\s*$", re.MULTILINE)
_ENTRY = re.compile(r"^(\w[\w, ]*?)\s*:\s*(.+)$")


def _plain(text: str) -> str:
    return _LITERAL.sub(r"\1", _ROLE.sub(r"\1", text)).replace("\\", "")


def _shape(type_text: str) -> str:
    match = re.search(r"shape \(([^)]*)\)", type_text)
    if match:
        return f"({match.group(1)})"
    return _plain(type_text.split(",")[0]).strip()


def short_docstring(doc: str) -> list[str]:
    """The summary line without markup, then ``name shape`` per parameter and return value."""
    doc = inspect.cleandoc(doc)
    summary = _plain(doc.split("\n\n", 1)[0].replace("\n", " ")).strip()
    lines = [summary]
    sections = _SECTION.split(doc)
    for title, body in zip(sections[1::2], sections[2::2], strict=False):
        entries = []
        for line in body.split("\n"):
            if line.startswith((" ", "\t")) or not line.strip():
                if entries or not line.strip():
                    continue
            if re.match(r"^[A-Z][a-z]+\s*$", line):  # the next section's title
                break
            match = _ENTRY.match(line)
            if match:
                entries.append(f"{match.group(1)} {_shape(match.group(2))}")
        if entries:
            label = "takes" if title == "Parameters" else "returns"
            lines.append(f"{label}: " + ", ".join(entries))
    return lines


def engine_source(qualified_name: str) -> str:
    """Source of ``module.function`` (or ``module.Class.method``) with a short docstring."""
    module_name, _, attribute_path = qualified_name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        obj = getattr(module, attribute_path)
    except (ImportError, AttributeError):
        module_name, _, class_name = module_name.rpartition(".")
        module = importlib.import_module(module_name)
        obj = getattr(getattr(module, class_name), attribute_path)
    source = textwrap.dedent(inspect.getsource(obj))
    function = ast.parse(source).body[0]
    lines = source.split("\n")
    doc = ast.get_docstring(function, clean=False)
    if doc is None or not function.body:
        return source.rstrip()
    first = function.body[0]
    indent = " " * first.col_offset
    short = short_docstring(doc)
    wrapped = []
    for index, line in enumerate(short):
        width = 96 - len(indent)
        parts = textwrap.wrap(line, width=width, subsequent_indent="    " if index else "")
        wrapped.extend(parts or [""])
    if len(wrapped) == 1:
        new_doc = [f'{indent}"""{wrapped[0]}"""']
    else:
        new_doc = [f'{indent}"""{wrapped[0]}', "", *(f"{indent}{w}" for w in wrapped[1:])]
        new_doc.append(f'{indent}"""')
    start, end = first.lineno - 1, first.end_lineno
    return "\n".join(lines[:start] + new_doc + lines[end:]).rstrip()


class EngineSource(SphinxDirective):
    """``{engine-source} dotted.name``: the engine's code with a short plain docstring."""

    required_arguments = 1
    has_content = False

    def run(self):
        name = self.arguments[0]
        try:
            code = engine_source(name)
        except (ImportError, AttributeError, OSError, SyntaxError) as exc:
            raise self.error(f"engine-source: cannot show {name!r}: {exc}") from None
        module = importlib.import_module(name.split(".")[0])
        self.env.note_dependency(inspect.getsourcefile(module) or "")
        block = nodes.literal_block(code, code, language="python")
        self.set_source_info(block)
        return [block]


def setup(app):
    app.add_directive("engine-source", EngineSource)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
