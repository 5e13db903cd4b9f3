"""How an app draws: a :class:`Plot` on a matplotlib figure, rendered to PNG bytes.

Every figure has the same layout: a line stating all the settings it was
drawn for, a legend row, and a message band (divergence, collapse to
chance, errors), all *above* the axes, so neither legends nor messages cover
data. The figure is rendered at a fixed size (so a frame swap never moves the
page): as wide as the book's text column (about 690 px) at 96 dpi, the CSS
pixel density, so that its text shows at its size in points (9.5 pt and up)
where the column is that wide.

The helpers at the end turn runs into the message lines (:func:`run_flags`,
:func:`table_flags`): a run **diverged** at the first step where its loss
was not finite or exceeded :data:`DIVERGE_FACTOR` times its start; its
**accuracy fell to chance** (or never left it); its finite **loss exploded**
above :data:`EXPLODE_FACTOR` times the chance-level loss.
"""

from __future__ import annotations

import abc
import io
import json
import math
import textwrap
import threading
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage
from PIL.PngImagePlugin import PngInfo

__all__ = [
    "DIVERGE_FACTOR",
    "EXPLODE_FACTOR",
    "SETTING_TEXT_KEY",
    "Canvas",
    "Plot",
    "find_divergence",
    "png_bytes",
    "run_flags",
    "table_flags",
]

#: PNG text chunk naming the grid setting a frame was drawn for (JSON ``{key: label}``).
SETTING_TEXT_KEY = "nndl-setting"

#: A run diverged at the first step whose loss is not finite or above this many times its start.
DIVERGE_FACTOR = 100.0
#: A finite loss above this many times the chance-level loss ln(C) "exploded".
EXPLODE_FACTOR = 100.0
#: Accuracy within this of 1/C counts as chance.
CHANCE_MARGIN = 0.03

TITLE_SIZE = 10.5
LABEL_SIZE = 10
TICK_SIZE = 9.5
MESSAGE_COLOR = "#a00000"


class Plot(abc.ABC):
    """How an app draws a result: axes and artists made once, then updated.

    Subclasses implement ``setup`` (create axes and artists on ``self.fig``,
    inside ``[0, self.top]`` of the figure's height), ``update`` (set their
    data from a result) and ``title`` (one line stating every setting of the
    figure). Give every data line a ``gid`` (``line.set_gid("loss/sgd")``):
    :meth:`widgets.core.App.plotted` reports the data of the visible lines by
    gid. ``legend_handles`` lists the artists of the legend row.

    ``update`` must not depend on what was drawn before (the same result
    gives the same picture whatever came first), so a grid frame and the
    live frame for one setting are the same PNG.
    """

    figsize: tuple[float, float] = (7.15, 4.3)
    #: The top of the axes area (figure fraction); above it: title, legend, messages.
    top: float = 0.64
    bottom: float = 0.11

    def __init__(self, fig: Figure):
        self.fig = fig
        self.setup()

    @abc.abstractmethod
    def setup(self) -> None:
        """Create the axes and artists on ``self.fig`` (called once)."""

    @abc.abstractmethod
    def update(self, result, setting: Mapping) -> None:
        """Set the artists' data from ``result`` (the picture depends on nothing else)."""

    @abc.abstractmethod
    def title(self, setting: Mapping) -> str:
        """Every setting the figure was drawn for, in one line."""

    def messages(self, result, setting: Mapping) -> list[str]:
        """Lines shown in the message band (divergence, chance, explosions)."""
        return []

    def legend_handles(self) -> list:
        """Artists for the legend row (visible ones with a label)."""
        return []

    def clear(self) -> None:
        """Hide every data line (a setting with nothing to draw, or an error)."""
        for ax in self.fig.axes:
            for line in ax.get_lines():
                if line.get_gid():
                    line.set_visible(False)


def png_bytes(
    fig: Figure, *, dpi: float, colors: int | None = 128, text: Mapping[str, str] | None = None
) -> bytes:
    """The figure as PNG bytes, palette-quantized to ``colors`` colours (None: RGBA).

    No dithering: thin grey lines stay lines. ``text`` entries become PNG
    text chunks; the apps record there the setting a frame was drawn for, so
    a test of the static page can tie each frame's bytes to its slider
    positions without trusting the page's own structure.
    """
    text = dict(text or {})
    buf = io.BytesIO()
    fig.savefig(
        buf, format="png", dpi=dpi, facecolor="white", metadata=text if not colors else None
    )
    if not colors:
        return buf.getvalue()
    image = PILImage.open(io.BytesIO(buf.getvalue())).convert("RGB")
    image = image.quantize(
        colors=colors, method=PILImage.Quantize.FASTOCTREE, dither=PILImage.Dither.NONE
    )
    info = PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


#: Characters per line of the title and message bands at the default figure width.
TITLE_CHARS = 90
MESSAGE_CHARS = 95


def _wrap(
    lines: Sequence[str], width: int = MESSAGE_CHARS, max_lines: int = 3, sep: str = ""
) -> str:
    wrapped: list[str] = []
    for line in lines:
        for part in line.split("\n"):
            if sep and len(part) > width:
                # break at the separators: never inside "learning rate 1e-2"
                chunks, current = [], ""
                for piece in part.split(sep):
                    candidate = f"{current}{sep}{piece}" if current else piece
                    if current and len(candidate) > width:
                        chunks.append(current + sep.rstrip())
                        current = piece
                    else:
                        current = candidate
                wrapped += [*chunks, current]
            else:
                wrapped += textwrap.wrap(part, width) or [""]
    if len(wrapped) > max_lines:
        wrapped = [*wrapped[: max_lines - 1], f"(and {len(wrapped) - max_lines + 1} more lines)"]
    return "\n".join(wrapped)


class Canvas:
    """A figure, its Plot, and the title, legend and message bands; renders PNG frames."""

    def __init__(
        self, plot_class: type[Plot], dpi: float, colors: int | None, label_keys: Sequence = ()
    ):
        self.fig = Figure(figsize=plot_class.figsize, dpi=dpi)
        FigureCanvasAgg(self.fig)
        self.plot = plot_class(self.fig)
        self.dpi, self.colors = dpi, colors
        self.label_keys = list(label_keys)  # (key, fmt) of the grid controls
        self.header = self.fig.text(
            0.5, 0.985, "", ha="center", va="top", fontsize=TITLE_SIZE, gid="title"
        )
        self.message = self.fig.text(
            0.5,
            0.835,
            "",
            ha="center",
            va="top",
            fontsize=LABEL_SIZE,
            color=MESSAGE_COLOR,
            linespacing=1.25,
            gid="message",
        )
        self.legend = None
        self.lock = threading.RLock()
        self._lines: list[str] = []

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of every PNG this canvas renders."""
        w, h = self.fig.get_size_inches()
        return round(w * self.dpi), round(h * self.dpi)

    def draw(self, result, setting: Mapping, error: str | None = None) -> bytes:
        """PNG bytes of ``result`` drawn for ``setting`` (or of ``error`` over empty axes)."""
        with self.lock:
            if error is None:
                self.plot.update(result, setting)
                lines = list(self.plot.messages(result, setting))
            else:
                self.plot.clear()
                lines = [error]
            title = _wrap([self.plot.title(setting)], width=TITLE_CHARS, max_lines=3, sep="; ")
            self.header.set_text(title)
            height_in = self.fig.get_size_inches()[1]
            line = 1.3 / 72 / height_in  # one text line of 1 pt, as a figure fraction
            y = 0.985 - (title.count("\n") + 1) * TITLE_SIZE * line - 0.01
            if self.legend is not None:
                self.legend.remove()
                self.legend = None
            handles = [] if error else self.plot.legend_handles()
            handles = [h for h in handles if h.get_visible()]
            if handles:
                self.legend = self.fig.legend(
                    handles=handles,
                    labels=[h.get_label() for h in handles],
                    loc="upper center",
                    bbox_to_anchor=(0.5, y + 0.012),
                    ncol=len(handles),
                    frameon=False,
                    fontsize=LABEL_SIZE,
                    handlelength=1.6,
                    columnspacing=1.4,
                )
                y -= 1.5 * LABEL_SIZE * line
            self._lines = lines
            self.message.set_y(y)
            self.message.set_text(_wrap(lines, max_lines=2 if handles else 3))
            # Labels as the grid sliders show them: the same text for a grid frame and
            # for a live frame of the same setting, so their bytes stay identical.
            labels = {key: fmt(setting[key]) for key, fmt in self.label_keys}
            text = {SETTING_TEXT_KEY: json.dumps(labels, sort_keys=True)} if labels else None
            return png_bytes(self.fig, dpi=self.dpi, colors=self.colors, text=text)

    def messages(self) -> list[str]:
        """The message lines of the last drawing."""
        with self.lock:
            return list(self._lines)


# ---------------------------------------------------------------------------
# Message lines


def divergence_step(loss, *, first: int = 1, factor: float = DIVERGE_FACTOR):
    """``(step, reason)`` of the first step whose loss is not finite or above ``factor``
    times the first loss; None if there is none. ``first`` numbers the first entry."""
    loss = np.asarray(loss, dtype=float)
    if loss.size == 0:
        return None
    start = loss[0]
    bad = ~np.isfinite(loss)
    if math.isfinite(start) and start > 0:
        bad |= loss > factor * start
    hits = np.flatnonzero(bad)
    if not hits.size:
        return None
    i = int(hits[0])
    reason = "loss not finite" if not np.isfinite(loss[i]) else f"loss above {factor:g}× its start"
    return i + first, reason


def run_flags(
    label: str,
    loss,
    *,
    step_word: str = "iteration",
    first: int = 1,
    accuracy=None,
    num_classes: int | None = 10,
    diverged_at: int | None = None,
) -> list[str]:
    """Message lines for one run: diverged (or a spike it recovered from), loss exploded,
    accuracy at chance. ``first`` numbers the first loss (1: iterations, 0: steps)."""
    loss = np.asarray(loss, dtype=float)
    lines = []
    found = divergence_step(loss, first=first)
    if diverged_at is not None and (found is None or diverged_at < found[0]):
        found = (int(diverged_at), "loss not finite")
    diverged = False
    if found is not None:
        end = loss[-1] if loss.size else np.nan
        recovered = (
            np.isfinite(loss).all()
            and diverged_at is None
            and loss[0] > 0
            and end <= DIVERGE_FACTOR * loss[0]
        )
        if recovered:
            lines.append(
                f"{label}: the loss rose above {DIVERGE_FACTOR:g}× its start at {step_word} "
                f"{found[0]} (up to {np.max(loss):.2g}), then came back"
            )
        else:
            diverged = True
            lines.append(f"{label}: diverged at {step_word} {found[0]} ({found[1]})")
    if num_classes and not diverged and loss.size:
        chance_loss = math.log(num_classes)
        tail = loss[-max(1, loss.size // 10) :]
        tail = tail[np.isfinite(tail)]
        if tail.size and tail.mean() > EXPLODE_FACTOR * chance_loss:
            lines.append(
                f"{label}: the loss exploded, ending near {tail.mean():.2g} "
                f"(chance level is {chance_loss:.2f})"
            )
        elif accuracy is not None and len(accuracy):
            acc = np.asarray(accuracy, dtype=float)
            chance = 1.0 / num_classes
            if acc[-1] <= chance + CHANCE_MARGIN:
                if np.nanmax(acc) > chance + 0.1:
                    lines.append(f"{label}: accuracy fell to chance ({acc[-1]:.2f} at the end)")
                else:
                    lines.append(f"{label}: accuracy never left chance ({acc[-1]:.2f})")
    return lines


def table_flags(label: str, table: Mapping, *, num_classes: int = 10) -> list[str]:
    """Message lines for the runs of a sweep table (one row per net)."""
    lines = []
    at = np.asarray(table["diverged_at"])
    hit = at[at > 0]
    n = at.size
    if hit.size:
        lines.append(
            f"{label}: diverged in {hit.size} of {n} runs "
            f"(first at iteration {int(hit.min())}, loss not finite)"
        )
    chance = 1.0 / num_classes
    if "best_val_acc" in table:
        at_chance = int(np.sum(np.asarray(table["best_val_acc"]) <= chance + CHANCE_MARGIN))
        if at_chance:
            lines.append(f"{label}: {at_chance} of {n} runs never left chance accuracy")
    if "final_train_loss" in table:
        losses = np.asarray(table["final_train_loss"], dtype=float)
        big = losses[np.isfinite(losses) & (losses > EXPLODE_FACTOR * math.log(num_classes))]
        if big.size:
            lines.append(
                f"{label}: in {big.size} of {n} runs the loss exploded (up to {big.max():.2g}; "
                f"chance level is {math.log(num_classes):.2f})"
            )
    return lines


def find_divergence(
    result, labels: Mapping[str, str] | None = None, _prefix: str = ""
) -> list[str]:
    """Lines "diverged at iteration N" for every ``diverged_at`` in a (nested) result.

    A scalar ``diverged_at`` (None = did not diverge) gives "diverged at
    iteration N"; an array (0 = did not diverge) gives "diverged in k of n runs
    (first at iteration N)". Nested dicts are prefixed with their key (through
    ``labels`` if given).
    """
    labels = labels or {}
    lines: list[str] = []
    if not isinstance(result, Mapping):
        return lines
    if "diverged_at" in result and result["diverged_at"] is not None:
        at = np.asarray(result["diverged_at"])
        if at.ndim == 0:
            if int(at) > 0:
                lines.append(f"{_prefix}diverged at iteration {int(at)}")
        else:
            hit = at[at > 0]
            if hit.size:
                lines.append(
                    f"{_prefix}diverged in {hit.size} of {at.size} runs "
                    f"(first at iteration {int(hit.min())})"
                )
    for key, value in result.items():
        if isinstance(value, Mapping):
            label = labels.get(key, str(key))
            lines += find_divergence(value, labels, f"{_prefix}{label}: ")
    return lines
