"""What a screen reader says for an app's sliders and figures, in the static book and live.

:class:`SliderVoice` is an empty `anywidget <https://anywidget.dev>`_ placed
inside every app (:class:`widgets.core.App`). Its front end (``voice.js``) gives
each slider handle of its app an ``aria-label`` equal to the control's label and
an ``aria-valuetext`` equal to the readout, where ipywidgets' sliders give no
name and the option's index; and it gives each frame of the app the alt text in
``descriptions`` (ipywidgets' Image has no alt text, and its ``tooltip`` breaks
the view of an Image in ipywidgets 8.1). The same code runs in the static HTML
book (the anywidget front end is vendored with the book) and in JupyterLab.

Book: every chapter with an app (chapters 2 and 5–7).
"""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

__all__ = ["SliderVoice"]


class SliderVoice(anywidget.AnyWidget):
    """Readable slider handles and frame alt texts for the app it is placed in.

    Attributes
    ----------
    descriptions : dict of str to str
        Alt text per frame: key ``"live"`` for the live frame, ``"nndl-frame-i-j"``
        for the grid frame with that class (its grid indices).
    """

    _esm = Path(__file__).with_name("voice.js")
    descriptions = traitlets.Dict(traitlets.Unicode()).tag(sync=True)
