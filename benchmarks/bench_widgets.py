"""Redraw latency of every widget app at its default setting, and its static grid.

For each app (on the shipped digits), measured in this one process:

- **redraw**: one live change at the default setting, end to end through the
  app — the worker thread computes the setting from scratch (result cache and
  memo cleared), draws the figure, renders the PNG and puts it in the live
  frame; ``app.wait()`` returns when it is shown. Median of ``--repeats``.
  Split into *compute* (the experiment call) and *render* (plot update + PNG).
  Budget: 0.3 s, the weight-scale sweep 2 s; printed as a ratio to the budget.
- **on-grid**: the same change when the setting's result is cached (a grid
  point in a live kernel): render only.
- **grid**: building the app — every grid result (batched where the nets
  share a shape) and every PNG frame; the frame count and their bytes (PNG,
  and base64 as they sit in the notebook's widget state).

    python benchmarks/bench_widgets.py [--repeats 7] [--apps optimizer_race,dropout_regularization]

The machine is shared with other work: the redraw figures are medians, and
nothing here is asserted (tests never time anything).
"""

from __future__ import annotations

import argparse
import statistics
import time

import widgets
from nndl_lab.data import get_data
from widgets.core import frame_report

BUDGET_S = {"weight_scale_sensitivity": 2.0}
DEFAULT_BUDGET_S = 0.3

APPS = {
    "optimizer_race": lambda d, **k: widgets.optimizer_race(d, **k),
    "loss_surface_quadratic": lambda d, **k: widgets.loss_surface(d, surface="quadratic", **k),
    "loss_surface_rosenbrock": lambda d, **k: widgets.loss_surface(d, surface="rosenbrock", **k),
    "adaptive_rates": lambda d, **k: widgets.adaptive_rates(d, **k),
    "batchnorm_vs_baseline": lambda d, **k: widgets.batchnorm_vs_baseline(d, **k),
    "weight_scale_sensitivity": lambda d, **k: widgets.weight_scale_sensitivity(d, **k),
    "dropout_regularization": lambda d, **k: widgets.dropout_regularization(d, **k),
}


def _clear(app):
    app._cache.clear()
    memo = getattr(app, "memo", None)
    if memo is not None:
        memo._cache.clear()


def redraw_times(app, repeats, *, cached=False):
    """End-to-end redraws of the current setting through the worker thread."""
    times = []
    for _ in range(repeats):
        if not cached:
            _clear(app)
        start = time.perf_counter()
        app._request()
        assert app.wait(120)
        times.append(time.perf_counter() - start)
    assert app.last_error is None, app.last_error
    return times


def split_times(app, repeats):
    """Compute and render separately (no threads)."""
    compute, render = [], []
    setting = app.setting()
    for _ in range(repeats):
        _clear(app)
        start = time.perf_counter()
        result = app.compute(setting)
        middle = time.perf_counter()
        app.render(setting, result)
        compute.append(middle - start)
        render.append(time.perf_counter() - middle)
    return statistics.median(compute), statistics.median(render)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--apps", default=",".join(APPS), help="comma-separated app names")
    args = parser.parse_args(argv)
    names = [n for n in args.apps.split(",") if n]
    unknown = sorted(set(names) - set(APPS))
    if unknown:
        parser.error(f"unknown app(s) {unknown}; known: {list(APPS)}")

    data = get_data("digits", verbose=False)
    # warm up BLAS, matplotlib's font cache and the text layout before timing
    APPS["optimizer_race"](data, grid=False)

    header = (
        f"{'app':26s} {'redraw s':>9s} {'budget':>7s} {'ratio':>6s} {'compute':>8s} "
        f"{'render':>7s} {'on-grid':>8s} | {'grid s':>7s} {'frames':>6s} {'PNG KB':>7s} "
        f"{'state KB':>8s}"
    )
    print("Widget apps at their default settings (digits; medians of", args.repeats, "runs)")
    print(header)
    print("-" * len(header))
    total_grid = 0.0
    for name in names:
        build = APPS[name]
        start = time.perf_counter()
        app = build(data)  # with the static grid
        grid_s = time.perf_counter() - start
        total_grid += grid_s
        report = frame_report(app)
        live = build(data, grid=False)
        redraw = statistics.median(redraw_times(live, args.repeats))
        on_grid = statistics.median(redraw_times(live, args.repeats, cached=True))
        compute, render = split_times(live, args.repeats)
        budget = BUDGET_S.get(name, DEFAULT_BUDGET_S)
        print(
            f"{name:26s} {redraw:9.3f} {budget:7.1f} {redraw / budget:6.2f} {compute:8.3f} "
            f"{render:7.3f} {on_grid:8.3f} | {grid_s:7.2f} {report['frames']:6d} "
            f"{report['bytes'] / 1024:7.0f} {report['state_bytes'] / 1024:8.0f}",
            flush=True,
        )
    print("-" * len(header))
    print(f"all grids: {total_grid:.1f} s (the apps' share of executing the book)")
    print("ratio = redraw / budget (<= 1 meets the target); on-grid = cached result, render only")


if __name__ == "__main__":
    main()
