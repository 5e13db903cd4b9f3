"""The apps of a built page, read from the widget state the page embeds.

A page of the HTML book that displays an app (``widgets.core.App``) embeds

- one ``<script type="application/vnd.jupyter.widget-state+json">``: every widget
  model, binary values (the PNG frames) as base64 ``buffers``;
- one ``<script type="application/vnd.jupyter.widget-view+json">`` per displayed
  output, in document order, naming the model it renders.

From those alone this module recovers, per app: its grid sliders in axis order
(``.nndl-grid-slider`` models; the axis of a slider is the depth of the
``.nndl-grid-stack`` models that its ``jslink`` drives) and, per grid point,
the PNG bytes of the frame (the leaf ``Image`` reached by following the nested
Stacks from the grid child of ``.nndl-mode-stack``).  Whatever disagrees with the
structure documented in ``widgets/core.py`` is listed in ``App.problems``.

If a frame PNG carries a text chunk ``nndl-setting`` (JSON ``{key: label}``,
the labels of the grid controls' options for the setting it was drawn for),
each frame's label must be the slider labels of its grid point: that ties the
bytes to the setting independently of the Stack structure, so frames swapped
at build time are caught too.

No browser is needed here; the browser tests use it to know which bytes each
slider position must show.
"""

from __future__ import annotations

import base64
import html as html_lib
import itertools
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

STATE_RE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.DOTALL
)
VIEW_RE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)</script>', re.DOTALL
)
REF = "IPY_MODEL_"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SETTING_KEY = "nndl-setting"


def widget_state(source: str) -> dict[str, dict]:
    """``{model_id: {"model_name", "state", "buffers"}}`` of every embedded state script."""
    models: dict[str, dict] = {}
    for match in STATE_RE.finditer(source):
        models.update(json.loads(html_lib.unescape(match.group(1))).get("state", {}))
    return models


def view_model_ids(source: str) -> list[str]:
    """Model ids of the displayed widget views, in document order."""
    return [json.loads(html_lib.unescape(m.group(1)))["model_id"] for m in VIEW_RE.finditer(source)]


def classes(model: dict) -> list[str]:
    return list(model.get("state", {}).get("_dom_classes", []) or [])


def ref(value) -> str | None:
    """The model id of an ``IPY_MODEL_<id>`` reference, else None."""
    if isinstance(value, str) and value.startswith(REF):
        return value[len(REF) :]
    return None


def children(model: dict) -> list[str]:
    return [r for r in (ref(c) for c in model.get("state", {}).get("children", []) or []) if r]


def buffer_bytes(model: dict, name: str = "value") -> bytes | None:
    """A binary trait of a model (``value`` of an Image) from its base64 buffers."""
    for buf in model.get("buffers", []) or []:
        if buf.get("path") == [name]:
            if buf.get("encoding", "base64") != "base64":
                raise ValueError(f"unexpected buffer encoding {buf.get('encoding')!r}")
            return base64.b64decode(buf.get("data", ""))
    value = model.get("state", {}).get(name)
    if isinstance(value, str):  # not expected for Image.value, but harmless
        return base64.b64decode(value)
    return None


def png_text(png: bytes) -> dict[str, str]:
    """The text chunks (tEXt, zTXt, iTXt) of a PNG, by keyword."""
    out: dict[str, str] = {}
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(png):
        size = int.from_bytes(png[pos : pos + 4], "big")
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + size]
        if kind == b"tEXt":
            key, _, text = data.partition(b"\0")
            out[key.decode("latin-1")] = text.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = data.partition(b"\0")
            out[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = data.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _language, _, rest = rest.partition(b"\0")
            _translated, _, text = rest.partition(b"\0")
            out[key.decode("latin-1")] = (zlib.decompress(text) if compressed else text).decode()
        elif kind == b"IEND":
            break
        pos += 12 + size
    return out


@dataclass
class Slider:
    """A grid slider (``.nndl-grid-slider``) and the grid axis it drives."""

    model_id: str
    key: str
    labels: list[str]
    index: int  # the default position stored in the page
    model_name: str

    @property
    def size(self) -> int:
        return len(self.labels)


@dataclass
class App:
    """One app of a page: its sliders in grid-axis order and its frames by grid point."""

    model_id: str
    name: str  # the suffix of .nndl-app-<name>
    sliders: list[Slider] = field(default_factory=list)
    frames: dict[tuple[int, ...], bytes] = field(default_factory=dict)
    live_only: list[str] = field(default_factory=list)  # model ids of .nndl-live-only controls
    labelled: int = 0  # frames that carry the setting they were drawn for (nndl-setting)
    problems: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(s.size for s in self.sliders)

    @property
    def default(self) -> tuple[int, ...]:
        return tuple(s.index for s in self.sliders)

    def state_bytes(self) -> int:
        """What the frames weigh in the page (base64)."""
        return sum(4 * ((len(b) + 2) // 3) for b in self.frames.values())

    def which(self, png: bytes) -> list[tuple[int, ...]]:
        """The grid points whose frame is exactly ``png``."""
        return [point for point, frame in self.frames.items() if frame == png]


def descendants(models: dict[str, dict], root: str) -> Iterator[str]:
    """``root`` and every model below it through ``children`` (depth first, in order)."""
    seen: set[str] = set()
    stack = [root]
    while stack:
        mid = stack.pop()
        if mid in seen or mid not in models:
            continue
        seen.add(mid)
        yield mid
        stack.extend(reversed(children(models[mid])))


def app_name(model: dict) -> str | None:
    cls = classes(model)
    if "nndl-app" not in cls:
        return None
    names = [c[len("nndl-app-") :] for c in cls if c.startswith("nndl-app-")]
    return names[0] if names else ""


def apps_in_view(models: dict[str, dict], view_id: str) -> list[str]:
    """Model ids of the apps rendered by one view, in document order."""
    return [m for m in descendants(models, view_id) if app_name(models[m]) is not None]


def read_app(models: dict[str, dict], app_id: str) -> App:
    """The sliders and frames of one app model (see the module docstring)."""
    app = App(model_id=app_id, name=app_name(models[app_id]) or "")
    below = list(descendants(models, app_id))
    by_class = {}
    for mid in below:
        for c in classes(models[mid]):
            by_class.setdefault(c, []).append(mid)
    app.live_only = list(by_class.get("nndl-live-only", []))

    slider_ids = by_class.get("nndl-grid-slider", [])
    mode = by_class.get("nndl-mode-stack", [])
    if len(mode) != 1:
        app.problems.append(f"expected one .nndl-mode-stack, found {len(mode)}")
        return app
    if not slider_ids:
        return app  # an app without a grid: nothing to check in the static page
    mode_children = children(models[mode[0]])
    if not mode_children:
        app.problems.append(".nndl-mode-stack has no children")
        return app
    grid_root = mode_children[0]

    # jslinks: slider.index -> stack.selected_index
    links: dict[str, set[str]] = {}  # stack -> sliders that drive it
    for model in models.values():
        if model.get("model_name") not in ("LinkModel", "DirectionalLinkModel"):
            continue
        src, dst = model["state"].get("source") or [], model["state"].get("target") or []
        if len(src) == 2 and len(dst) == 2:
            pairs = [(src, dst), (dst, src)] if model["model_name"] == "LinkModel" else [(src, dst)]
            for a, b in pairs:
                if a[1] == "index" and b[1] == "selected_index" and ref(a[0]) and ref(b[0]):
                    links.setdefault(ref(b[0]), set()).add(ref(a[0]))

    # walk the nested Stacks: depth = grid axis
    axis_slider: dict[int, set[str]] = {}
    frames: dict[tuple[int, ...], bytes] = {}

    def walk(mid: str, prefix: tuple[int, ...]) -> None:
        model = models[mid]
        if model.get("model_name") == "StackModel":
            if "nndl-grid-stack" not in classes(model):
                app.problems.append(f"grid Stack at {prefix} lacks .nndl-grid-stack")
            axis_slider.setdefault(len(prefix), set()).update(links.get(mid, set()))
            if not links.get(mid):
                app.problems.append(f"grid Stack at {prefix} is driven by no slider jslink")
            for i, child in enumerate(children(model)):
                walk(child, (*prefix, i))
            return
        if model.get("model_name") != "ImageModel":
            app.problems.append(f"grid leaf at {prefix} is a {model.get('model_name')}")
            return
        expected = "nndl-frame-" + "-".join(map(str, prefix))
        if expected not in classes(model):
            app.problems.append(f"frame at {prefix} has classes {classes(model)}, not {expected}")
        png = buffer_bytes(model)
        if not png:
            app.problems.append(f"frame at {prefix} has no PNG bytes")
            return
        if not png.startswith(PNG_SIGNATURE):
            app.problems.append(f"frame at {prefix} is not a PNG")
        frames[prefix] = png

    walk(grid_root, ())
    app.frames = frames

    order = []
    for axis in sorted(axis_slider):
        drivers = axis_slider[axis]
        if len(drivers) != 1:
            app.problems.append(f"grid axis {axis} is driven by {len(drivers)} sliders")
            return app
        order.append(next(iter(drivers)))
    if sorted(order) != sorted(slider_ids):
        app.problems.append(
            f"grid sliders {sorted(slider_ids)} do not match the sliders driving the Stacks {order}"
        )
        return app
    for sid in order:
        state = models[sid]["state"]
        keys = [c[len("nndl-grid-") :] for c in classes(models[sid]) if c.startswith("nndl-grid-")]
        keys = [k for k in keys if k != "slider"]
        labels = list(state.get("_options_labels") or [])
        app.sliders.append(
            Slider(
                model_id=sid,
                key=keys[0] if keys else "",
                labels=labels,
                index=int(state.get("index") or 0),
                model_name=models[sid].get("model_name", ""),
            )
        )
    for point, png in sorted(frames.items()):
        text = png_text(png).get(SETTING_KEY)
        if text is None or len(point) != len(app.sliders):
            continue
        app.labelled += 1
        try:
            drawn = json.loads(text)
        except ValueError:
            app.problems.append(f"frame at {point}: {SETTING_KEY} is not JSON: {text[:80]!r}")
            continue
        wanted = {s.key: s.labels[i] for s, i in zip(app.sliders, point, strict=True)}
        got = {k: drawn.get(k) for k in wanted}
        if got != wanted:
            app.problems.append(f"frame at {point} {wanted} was drawn for {got}")
    expected_points = set(itertools.product(*(range(s.size) for s in app.sliders)))
    if set(frames) != expected_points:
        missing = sorted(expected_points - set(frames))[:5]
        extra = sorted(set(frames) - expected_points)[:5]
        app.problems.append(f"frames do not cover the grid: missing {missing}, extra {extra}")
    return app


def page_apps(source: str) -> tuple[list[tuple[str, list[str]]], dict[str, App]]:
    """``([(view model id, [app ids in document order])], {app id: App})`` of a page."""
    models = widget_state(source)
    views = [(v, apps_in_view(models, v)) for v in view_model_ids(source)]
    apps = {a: read_app(models, a) for _, ids in views for a in ids}
    return views, apps


def snake(shape: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """Every grid point once, consecutive points one step apart on one axis.

    (A reflected mixed-radix Gray code: the first axis changes slowest, the
    others run forward and backward in turn.)  Starts at the all-zero point.
    """
    if not shape:
        yield ()
        return
    inner = list(snake(shape[1:]))
    for i in range(shape[0]):
        for rest in inner if i % 2 == 0 else reversed(inner):
            yield (i, *rest)
