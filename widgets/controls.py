"""The controls of an app: one control per setting.

A :class:`Control` owns one setting. Its main widget snaps to a list of
values (a ``SelectionSlider``, ``ToggleButtons``, a ``Dropdown`` or, for a set
of choices, ``SelectMultiple``); a numeric control may also accept **any value
in a range**, typed into a small entry box beside it. The slider's readout
always shows the setting's value: a typed value between two slider positions
is inserted among the slider's options (and removed again when the slider
moves back onto its own values), so there is never a second control for the
same setting that could disagree with it.

- :class:`Grid` controls have a precomputed frame for every slider value, so
  their sliders work in the static HTML book too (``jslink``);
- :class:`Live` controls need a running kernel. In the static book they are
  hidden (CSS class ``nndl-live-only``), and one line under the app lists
  their values instead.

Values are checked in one place, :meth:`Control.coerce`, which the app
functions' keyword overrides, :meth:`widgets.core.App.set` and the entry box
all use: a value is accepted by all of them or by none, and a refused value
raises ``ValueError`` naming the control and what it accepts (the entry box
shows that sentence as a warning instead).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W
import numpy as np

__all__ = ["Control", "Grid", "Live", "fmt_value"]

_KINDS = ("slider", "toggle", "dropdown", "multi")
_ANY = (None, "float", "int")
_DESCRIPTION_STYLE = {"description_width": "13em"}


def fmt_value(value) -> str:
    """A value as a readout shows it (floats with up to 6 significant digits)."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, (tuple, list)):
        return ", ".join(map(str, value)) if value else "none"
    return str(value)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


class Control:
    """One setting and its widgets.

    Parameters
    ----------
    key : str
        The setting key the control sets.
    values : sequence
        The values the main widget snaps to, in order (ascending for a slider).
    default : value
        The setting shown first; anything :meth:`coerce` accepts.
    description : str
        The label beside the control.
    kind : {"slider", "toggle", "dropdown", "multi"}
        ``SelectionSlider``, ``ToggleButtons``, ``Dropdown`` (each with a
        synced ``index`` that ``jslink`` can follow in the browser), or
        ``SelectMultiple`` (the setting is a tuple of values).
    any_value : {None, "float", "int"}
        Also accept any number in ``[lo, hi]`` (an entry box beside the
        slider; live kernel only). None: only ``values``.
    lo, hi : float, optional
        The range of ``any_value`` (default: the smallest and largest value).
    fmt : callable, optional
        Formats a value for the readout (default ``fmt_value``: floats with up
        to 6 significant digits).
    tooltip : str
        What the setting means, with its units; shown on hover.
    """

    grid = False

    def __init__(
        self,
        key: str,
        values: Sequence,
        default,
        description: str,
        *,
        kind: str = "slider",
        any_value: str | None = None,
        lo: float | None = None,
        hi: float | None = None,
        fmt: Callable[[Any], str] | None = None,
        tooltip: str = "",
    ):
        values = list(values)
        if not values:
            raise ValueError(f"control {key!r}: values must not be empty")
        if kind not in _KINDS:
            raise ValueError(f"control {key!r}: kind must be one of {_KINDS}, got {kind!r}")
        if any_value not in _ANY:
            raise ValueError(f"control {key!r}: any_value must be None, 'float' or 'int'")
        if any_value is not None and kind != "slider":
            raise ValueError(f"control {key!r}: any_value needs kind='slider'")
        self.key, self.description, self.kind = key, description, kind
        self.values = values
        self.any_value = any_value
        if any_value is not None:
            self.lo = float(min(values) if lo is None else lo)
            self.hi = float(max(values) if hi is None else hi)
        else:
            self.lo = self.hi = None
        self.fmt = fmt or fmt_value
        self.tooltip = tooltip
        self.default = self.coerce(default)
        # widgets (made by make_widgets, once per app)
        self.widget: W.Widget | None = None
        self.entry: W.Text | None = None
        self.box: W.Widget | None = None
        self._quiet = False
        self._extra = None  # an off-list value inserted among the slider's options
        self.on_value: Callable[[Control, Any], None] | None = None
        #: called after the slider's options changed (a typed value inserted or removed)
        self.on_options: Callable[[Control], None] | None = None
        self.on_warning: Callable[[Control, str], None] | None = None

    # -- values ----------------------------------------------------------------

    def index_of(self, value) -> int | None:
        """Index of ``value`` among ``values`` (floats compared with a tolerance)."""
        for i, v in enumerate(self.values):
            if _is_number(v) and _is_number(value):
                if math.isclose(float(v), float(value), rel_tol=1e-9, abs_tol=0.0):
                    return i
            elif type(v) is type(value) and v == value:
                return i
        return None

    def accepted(self) -> str:
        """What the control accepts, as a phrase."""
        listed = "[" + ", ".join(self.fmt(v) for v in self.values) + "]"
        if self.kind == "multi":
            return f"a tuple of values from {listed}"
        if self.any_value == "int":
            return f"a whole number from {self.fmt(int(self.lo))} to {self.fmt(int(self.hi))}"
        if self.any_value == "float":
            return f"a number from {self.fmt(self.lo)} to {self.fmt(self.hi)}"
        return f"one of {listed}"

    def coerce(self, value):
        """The setting value for ``value``; ValueError naming the control if refused."""
        if self.kind == "multi":
            if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, set)):
                raise ValueError(f"{self.key}={value!r} is not accepted: {self.accepted()}")
            chosen = set()
            for v in value:
                i = self.index_of(v)
                if i is None:
                    raise ValueError(
                        f"{self.key}: {v!r} is not accepted; {self.key} takes {self.accepted()}"
                    )
                chosen.add(i)
            return tuple(self.values[i] for i in sorted(chosen))
        i = self.index_of(value)
        if i is not None:
            return self.values[i]
        if self.any_value is not None and _is_number(value) and math.isfinite(float(value)):
            v = float(value)
            if self.any_value == "int" and v != round(v):
                raise ValueError(f"{self.key}={value!r} is not accepted: {self.accepted()}")
            if self.lo <= v <= self.hi:
                return int(round(v)) if self.any_value == "int" else v
            raise ValueError(f"{self.key}={value!r} is out of range: {self.accepted()}")
        raise ValueError(f"{self.key}={value!r} is not accepted: {self.accepted()}")

    def on_list(self, value) -> bool:
        """True if ``value`` is one of the slider's own values."""
        return self.kind == "multi" or self.index_of(value) is not None

    # -- widgets ---------------------------------------------------------------

    def _options(self, extra=None) -> list:
        values = list(self.values)
        if extra is not None:
            values.append(extra)
            values.sort()
        return [(self.fmt(v), v) for v in values]

    def make_widgets(self) -> W.Widget:
        """Build the control's widgets; returns the box to show."""
        common = dict(description=self.description, tooltip=self.tooltip)
        if self.kind == "slider":
            w = W.SelectionSlider(
                options=self._options(),
                value=self.values[0],
                continuous_update=True,  # frames switch while dragging
                style=_DESCRIPTION_STYLE,
                layout=W.Layout(width="440px"),
                **common,
            )
        elif self.kind == "toggle":
            w = W.ToggleButtons(
                options=self._options(),
                value=self.values[0],
                tooltips=[f"{self.description}: {self.fmt(v)}" for v in self.values],
                style={**_DESCRIPTION_STYLE, "button_width": "auto"},
                **common,
            )
        elif self.kind == "dropdown":
            w = W.Dropdown(
                options=self._options(),
                value=self.values[0],
                style=_DESCRIPTION_STYLE,
                layout=W.Layout(width="300px"),
                **common,
            )
        else:
            w = W.SelectMultiple(
                options=self._options(),
                value=(),
                rows=len(self.values),
                style=_DESCRIPTION_STYLE,
                **common,
            )
        w.add_class("nndl-control")
        w.add_class(f"nndl-control-{self.key}")
        if self.grid:
            w.add_class("nndl-grid-slider")
            w.add_class(f"nndl-grid-{self.key}")
        else:
            w.add_class("nndl-live-only")
            w.add_class(f"nndl-live-{self.key}")
        self.widget = w
        parts = [w]
        if self.any_value is not None:
            self.entry = W.Text(
                value="",
                placeholder="any value",
                continuous_update=False,
                tooltip=(
                    f"{self.description}: type {self.accepted()} and press Enter "
                    "(needs the live notebook)"
                ),
                layout=W.Layout(width="8em"),
            )
            self.entry.add_class("nndl-live-only")
            self.entry.add_class("nndl-entry")
            self.entry.add_class(f"nndl-entry-{self.key}")
            self.entry.observe(self._on_entry, names="value")
            parts.append(self.entry)
        self.box = W.HBox(parts) if len(parts) > 1 else w
        if self.box is not w:
            self.box.add_class("nndl-control-box")
            if not self.grid:
                self.box.add_class("nndl-live-only")
        self.show(self.default)
        w.observe(self._on_widget, names="value")
        return self.box

    def show(self, value) -> None:
        """Make the widgets display ``value`` (no change events reach the app)."""
        w = self.widget
        if w is None:
            return
        self._quiet = True
        try:
            with w.hold_sync():
                if self.kind == "multi":
                    w.value = tuple(value)
                elif self.on_list(value):
                    if self._extra is not None:
                        self._extra = None
                        self._options_changed()
                        w.options = self._options()
                    w.index = self.index_of(value)
                else:
                    if self._extra is None or not math.isclose(self._extra, value):
                        self._extra = value
                        self._options_changed()
                        w.options = self._options(value)
                    w.value = value
            if self.entry is not None:
                self.entry.value = self.fmt(value)
        finally:
            self._quiet = False

    def extra_position(self) -> int | None:
        """Where a typed value sits among the slider's options (None: no typed value)."""
        if self._extra is None:
            return None
        return sum(1 for v in self.values if v < self._extra)

    def _options_changed(self) -> None:
        if self.on_options is not None:
            self.on_options(self)

    def grid_index(self) -> int | None:
        """The index among ``values`` of what the widget shows (None: a typed value)."""
        if self.widget is None or self.kind == "multi":
            return None
        return self.index_of(self.widget.value)

    def _on_widget(self, change) -> None:
        if self._quiet:
            return
        value = change["new"]
        if self.kind == "multi":
            value = self.coerce(value)
        elif self._extra is not None and self.on_list(value):
            # the slider left the typed value: back to its own values only
            self.show(value)
        if self.on_value is not None:
            self.on_value(self, value)

    def _on_entry(self, change) -> None:
        if self._quiet:
            return
        text = str(change["new"]).strip()
        try:
            number = float(text)
        except ValueError:
            number = None
        try:
            if number is None:
                raise ValueError(f"{self.key}={text!r} is not a number: {self.accepted()}")
            value = self.coerce(number)
        except ValueError as exc:
            current = self.widget.value if self.widget is not None else self.default
            self.show(current)  # the entry goes back to the value in use
            if self.on_warning is not None:
                self.on_warning(self, f"{self.description}: {exc}; kept {self.fmt(current)}.")
            return
        self.show(value)
        if self.on_value is not None:
            self.on_value(self, value)


class Grid(Control):
    """A control with a precomputed frame for each of its values (works in the static page)."""

    grid = True


class Live(Control):
    """A control that needs a running kernel (hidden in the static page)."""

    grid = False
