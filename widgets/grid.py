"""The static grid: one precomputed PNG frame per combination of grid values.

The frames are the children of nested ``ipywidgets.Stack`` widgets, one level
per grid control, and ``jslink`` ties each grid control's ``index`` to the
``selected_index`` of the Stacks of its level; so in a page without a kernel
(the HTML book) moving a grid control shows the frame of its value. The
frames are drawn by the same :class:`~widgets.canvas.Canvas` as the live
frame, so a frame of the static page is by construction what the kernel
draws for that setting.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence

import ipywidgets as W

from .controls import Control

__all__ = ["StaticGrid"]


class StaticGrid:
    """Frames for every grid point, the nested Stacks and their jslinks.

    Parameters
    ----------
    controls : sequence of Control
        The grid controls, in axis order (their widgets already made).
    base : dict
        The setting every grid point starts from (the other controls at their defaults).
    image_layout : ipywidgets.Layout
        Shared by every frame (a fixed size, so a swap never moves the page).
    """

    def __init__(self, controls: Sequence[Control], base: dict, image_layout: W.Layout):
        self.controls = list(controls)
        self.base = dict(base)
        self.image_layout = image_layout
        self.frames: dict[tuple[int, ...], bytes] = {}
        self.descriptions: dict[tuple[int, ...], str] = {}  # each frame's text alternative
        self.stacks: list[list[W.Stack]] = [[] for _ in self.controls]
        self.links: list = []  # the jslinks control.index <-> stack.selected_index
        self.root: W.Widget = W.HTML("")
        self.build_time = 0.0
        self._children: dict[int, tuple] = {}  # id(stack) -> its children without a typed value
        self.placeholder: W.Widget | None = None

    def settings(self) -> list[tuple[tuple[int, ...], dict]]:
        """Every grid point: (indices, setting)."""
        points = []
        axes = [range(len(c.values)) for c in self.controls]
        for index in itertools.product(*axes):
            setting = dict(self.base)
            for c, i in zip(self.controls, index, strict=True):
                setting[c.key] = c.values[i]
            points.append((index, setting))
        return points

    def build(
        self,
        compute_many: Callable[[list[dict]], list],
        draw: Callable[[object, dict, str | None], bytes],
        describe: Callable[[dict], str] | None = None,
    ) -> W.Widget:
        """Compute and draw every frame; returns the outer Stack.

        ``describe(setting)`` gives a frame's text alternative, kept in
        ``descriptions`` (the app's :class:`~widgets.voice.SliderVoice` makes it
        the image's alt text).
        """
        start = time.perf_counter()
        points = self.settings()
        results = compute_many([s for _, s in points])
        for (index, setting), (result, error) in zip(points, results, strict=True):
            self.frames[index] = draw(result, setting, error)
            if describe is not None:
                self.descriptions[index] = describe(setting)
        self.root = self._nest(())
        self.build_time = time.perf_counter() - start
        return self.root

    def _nest(self, prefix: tuple[int, ...]) -> W.Widget:
        axis = len(prefix)
        if axis == len(self.controls):
            image = W.Image(value=self.frames[prefix], format="png", layout=self.image_layout)
            image.add_class("nndl-frame")
            image.add_class("nndl-frame-" + "-".join(map(str, prefix)))
            return image
        control = self.controls[axis]
        children = [self._nest((*prefix, i)) for i in range(len(control.values))]
        selected = control.grid_index()
        stack = W.Stack(children=children, selected_index=selected if selected is not None else 0)
        stack.add_class("nndl-grid-stack")
        self._children[id(stack)] = tuple(children)
        self.links.append(W.jslink((control.widget, "index"), (stack, "selected_index")))
        self.stacks[axis].append(stack)
        return stack

    def follow(self, control: Control) -> None:
        """Python side: the Stacks of ``control``'s axis show its slider position."""
        if control not in self.controls or control.widget is None:
            return
        i = control.widget.index
        for stack in self.stacks[self.controls.index(control)]:
            if i is not None and i < len(stack.children) and stack.selected_index != i:
                stack.selected_index = i

    def options_changed(self, control: Control) -> None:
        """Keep each Stack of ``control``'s axis one child per slider option.

        A typed value is inserted among the slider's options; its Stacks get
        ``placeholder`` (the live frame) at the same position, so the slider's
        index and the Stacks' ``selected_index`` stay aligned in the page, also
        if the kernel stops (then the grid frames show again).
        """
        if control not in self.controls or self.placeholder is None:
            return
        position = control.extra_position()
        for stack in self.stacks[self.controls.index(control)]:
            base = list(self._children[id(stack)])
            if position is not None:
                base.insert(position, self.placeholder)
            stack.children = base

    def visible(self) -> bytes | None:
        """PNG bytes of the frame the Stacks select now."""
        node = self.root
        while isinstance(node, W.Stack):
            node = node.children[min(node.selected_index, len(node.children) - 1)]
        return bytes(node.value) if isinstance(node, W.Image) else None

    def axes(self) -> list[dict]:
        """The grid axes: key, description, values and index of the default."""
        return [
            {
                "key": c.key,
                "description": c.description,
                "values": list(c.values),
                "default_index": c.index_of(c.default),
            }
            for c in self.controls
        ]
