"""Live ipywidgets apps built on :mod:`nndl_lab.experiments`.

One function per app; each returns an :class:`~widgets.core.App` (an
``ipywidgets.VBox``) that shows its figure as soon as it is displayed::

    import widgets
    widgets.optimizer_race()                       # SGD, momentum, Nesterov, RMSProp, Adam
    widgets.loss_surface(surface="quadratic")      # paths on the ill-conditioned bowl
    widgets.loss_surface(surface="rosenbrock")     # ... and in the Rosenbrock valley
    widgets.adaptive_rates()                       # RMSProp decay, Adam betas / epsilon
    widgets.batchnorm_vs_baseline()                # with and without batchnorm
    widgets.weight_scale_sensitivity()             # the homework's 20-scale sweep
    widgets.dropout_regularization()               # keep ratio vs overfitting gap
    widgets.optimizer_paths(surface="rosenbrock")  # computed in the page, any setting
    widgets.momentum_rate_map(kappa=50)            # the convergence map, in the page

``data=None`` means ``nndl_lab.data.get_data("auto")``; keyword overrides set
control defaults (the same values ``App.set`` accepts) or fixed settings. Each
app opens on the setting of the chapter experiment it sits beside and
precomputes a grid of settings so its gridded sliders also work in the static
HTML book; in a running kernel every control retrains (see :mod:`widgets.core`).

``optimizer_paths`` and ``momentum_rate_map`` (:mod:`widgets.paths`) are
anywidgets that compute in the browser: no frames, every setting, in the static
book and in JupyterLab alike.
"""

from .adaptive import adaptive_rates
from .batchnorm import batchnorm_vs_baseline
from .core import STATIC_NOTE, App, Cache, Control, Grid, Live, Plot, frame_report, grid_frames
from .dropout import dropout_regularization
from .paths import OptimizerPaths, momentum_rate_map, optimizer_paths
from .race import optimizer_race
from .surface import loss_surface
from .weight_scale import weight_scale_sensitivity

#: Every app function by name (the name is also the app's CSS suffix minus variants).
APPS = {
    "optimizer_race": optimizer_race,
    "loss_surface": loss_surface,
    "adaptive_rates": adaptive_rates,
    "batchnorm_vs_baseline": batchnorm_vs_baseline,
    "weight_scale_sensitivity": weight_scale_sensitivity,
    "dropout_regularization": dropout_regularization,
}

__all__ = [
    "APPS",
    "STATIC_NOTE",
    "App",
    "OptimizerPaths",
    "Cache",
    "Control",
    "Grid",
    "Live",
    "Plot",
    "adaptive_rates",
    "batchnorm_vs_baseline",
    "dropout_regularization",
    "frame_report",
    "grid_frames",
    "loss_surface",
    "momentum_rate_map",
    "optimizer_paths",
    "optimizer_race",
    "weight_scale_sensitivity",
]
