"""Redraw latency of every widget app, live, on the digits and on CIFAR-10 (if cached).

For each app and data set, measured in this one process, end to end through
the app (the worker thread computes, the canvas draws and renders the PNG,
the live frame shows it; ``app.wait()`` returns when it is shown), as wall time
and as CPU time of the app's worker thread (what the redraw costs when the
machine is not shared: on a machine loaded by other work the wall time grows,
the CPU time hardly):

- **default**: the app's default setting computed from scratch (the app's one
  cache cleared before each repeat) — the figure a reader gets after any
  change that is not cached; budget 1 s (issue 12: "each app's default
  setting redraws in ≤ 1 s median on 2 cores");
- **off grid**: a typed value between two grid values of the first grid
  control (uncached, like the default);
- **on grid**: a grid value whose result is cached (a slider move in a live
  kernel): draw and render only;
- **grid**: building the app, with every grid result (batched where the nets
  share a shape) and every PNG frame; the frame count and their bytes.

Medians of ``--repeats``; the CPU time is printed with its ratio to the 1 s budget,
and the load average of the machine with each data set. The
machine is shared with other work, and nothing here is asserted (tests never
time anything). CIFAR-10 is looked up where ``get_data("cifar10")`` finds it
(``NNDL_LAB_DATA_DIR``, else the default data directory) and skipped if absent.

    python benchmarks/bench_widgets.py [--repeats 5] [--data digits,cifar10]
        [--apps optimizer_race,dropout_regularization] [--no-grid]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import widgets
from nndl_lab.data import get_data
from widgets.core import frame_report

BUDGET_S = 1.0

APPS = {
    "optimizer_race": lambda d, **k: widgets.optimizer_race(d, **k),
    "loss_surface_quadratic": lambda d, **k: widgets.loss_surface(d, surface="quadratic", **k),
    "loss_surface_rosenbrock": lambda d, **k: widgets.loss_surface(d, surface="rosenbrock", **k),
    "adaptive_rates": lambda d, **k: widgets.adaptive_rates(d, **k),
    "batchnorm_vs_baseline": lambda d, **k: widgets.batchnorm_vs_baseline(d, **k),
    "weight_scale_sensitivity": lambda d, **k: widgets.weight_scale_sensitivity(d, **k),
    "dropout_regularization": lambda d, **k: widgets.dropout_regularization(d, **k),
}


def redraws(app, repeats: int, *, cached: bool) -> tuple[list[float], list[float]]:
    """(wall seconds, worker CPU seconds) per end-to-end redraw of the current setting."""
    wall, cpu = [], []
    app.wait(600)
    for _ in range(repeats):
        if not cached:
            app.cache.clear()
        start = time.perf_counter()
        app.redraw()
        if not app.wait(600):
            raise RuntimeError(f"{app.name}: redraw did not finish")
        wall.append(time.perf_counter() - start)
        cpu.append(app.timings[-1][1])
    return wall, cpu


def off_grid_value(app):
    """(key, value): halfway (geometrically) between the default and the next grid value."""
    for control in app.grid_controls:
        if control.any_value is None:
            continue
        i = control.index_of(control.default)
        j = i + 1 if i + 1 < len(control.values) else i - 1
        a, b = float(control.values[i]), float(control.values[j])
        value = math.sqrt(a * b) if a > 0 and b > 0 else (a + b) / 2
        if control.any_value == "int":
            value = round(value)
            if control.index_of(value) is not None:
                continue
        return control.key, value
    return None


def fmt(times: tuple[list[float], list[float]]) -> str:
    wall, cpu = (statistics.median(t) for t in times)
    return f"{wall:6.3f} s wall, {cpu:6.3f} s CPU ({cpu / BUDGET_S:4.2f}x budget)"


def bench(name: str, data, data_label: str, repeats: int, grid: bool) -> None:
    build = APPS[name]
    start = time.perf_counter()
    app = build(data, grid=grid)
    built = time.perf_counter() - start
    default = redraws(app, repeats, cached=False)
    on = redraws(app, repeats, cached=True)
    line = f"{data_label:8} {name:26} default {fmt(default)}  on grid {fmt(on)}"
    off = off_grid_value(app)
    if off is not None:
        key, value = off
        app.set(**{key: value})
        app.wait(600)
        line += f"  off grid ({key}={value:.3g}) {fmt(redraws(app, repeats, cached=False))}"
    print(line, flush=True)
    if grid:
        report = frame_report(app)
        print(
            f"{'':8} {'':26} built in {built:.1f} s (grid {report['grid_time_s']:.1f} s): "
            f"{report['frames']} frames, {report['bytes'] / 1024:.0f} KiB PNG, "
            f"{report['state_bytes'] / 1024:.0f} KiB in the widget state",
            flush=True,
        )
    for note in app.children:
        if "nndl-data-note" in note._dom_classes:
            print(f"{'':8} {'':26} note: {note.value}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", default="digits,cifar10")
    parser.add_argument("--apps", default=",".join(APPS))
    parser.add_argument("--no-grid", action="store_true", help="skip building the grids")
    args = parser.parse_args()
    names = [n for n in args.apps.split(",") if n]
    unknown = sorted(set(names) - set(APPS))
    if unknown:
        parser.error(f"unknown apps {unknown}; known: {list(APPS)}")
    for label in args.data.split(","):
        try:
            data = get_data(label, verbose=False)
        except (FileNotFoundError, ValueError, OSError) as exc:
            print(f"{label}: skipped ({exc})")
            continue
        print(
            f"== {label}: {len(data['X_train']):,} training images of "
            f"{data['X_train'][0].size} inputs; {args.repeats} repeats, medians; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        for name in names:
            bench(name, data, label, args.repeats, not args.no_grid)


if __name__ == "__main__":
    main()
