"""Live ipywidgets apps built on :mod:`nndl_lab.experiments`."""
