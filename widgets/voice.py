"""What a screen reader says for an app's sliders, in the static book and live.

:class:`SliderVoice` is an empty `anywidget <https://anywidget.dev>`_ placed
inside every app (:class:`widgets.core.App`). Its front end (``voice.js``) gives
each slider handle of its app an ``aria-label`` equal to the control's label and
an ``aria-valuetext`` equal to the readout, where ipywidgets' sliders give no
name and the option's index. The same code runs in the static HTML book (the
anywidget front end is vendored with the book) and in JupyterLab.

Book: every chapter with an app (chapters 2 and 5–7).
"""

from __future__ import annotations

from pathlib import Path

import anywidget

__all__ = ["SliderVoice"]


class SliderVoice(anywidget.AnyWidget):
    """Keeps the aria-label and aria-valuetext of its app's slider handles readable."""

    _esm = Path(__file__).with_name("voice.js")
