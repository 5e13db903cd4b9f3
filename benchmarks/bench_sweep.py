"""The weight-scale sweep (40 nets) batched vs sequential, and the widgets' live computations.

Prints, measured in one run on the shipped digits:

1. The homework's weight-scale sweep — 20 scales in ``np.logspace(-4, 0, 20)``,
   six hidden layers of 50, with and without batchnorm (40 nets), 1,000
   training samples, 10 epochs of batches of 50, Adam 1e-3, float32:
   40 sequential Solver runs (``weight_scale_sweep(batched=False)``) against
   the batched sweep (``batched=True``), timed in alternation ``--repeats``
   times; the median of the per-round ratios. Target: batched >= 4x faster.
   Also the two variants in two threads (``n_jobs=2``).
2. Where the batched time goes: forward + backward, the Adam update,
   accuracy checks, the rest; the matrix products alone (the floor).
3. BLAS with 1 vs 2 threads: the sweep and the sequential runs under each.
4. The computation behind one live slider change at each widget's default
   setting (median of ``--live-repeats``). Target: <= 0.3 s.

    python benchmarks/bench_sweep.py [--repeats 3] [--live-repeats 5] [--quick]

The machine is shared: every figure is a median of several runs, and all
ratios are measured in this one process. As ``bench_step.py``, the script
restarts itself without ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` so that
OpenBLAS runs its native kernel, and prints threadpoolctl's report.
"""

from __future__ import annotations

import os
import sys

_FORCED = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(name in os.environ for name in _FORCED):  # before numpy loads OpenBLAS
    env = {k: v for k, v in os.environ.items() if k not in _FORCED}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

from nndl_lab import experiments as E  # noqa: E402
from nndl_lab.data import get_data  # noqa: E402
from nndl_lab.experiments import batched as B  # noqa: E402

SWEEP = dict(hidden_dims=(50,) * 6, num_epochs=10, batch_size=50, num_train=1000)
SWEEP_TARGET_S, SWEEP_TARGET_RATIO, LIVE_TARGET_S = 1.5, 4.0, 0.3


CPU = {}  # name -> process CPU seconds of the best run


def timed(fn):
    """(wall, process cpu) seconds of one call."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def best_time(fn, repeats, name=None):
    """Best wall time of ``repeats`` runs (the machine is shared; the minimum is the signal)."""
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    if name is not None:
        CPU[name] = best[1]
    return best[0]


def median_time(fn, repeats):
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sweep_batched(data, **kwargs):
    return E.weight_scale_sweep(data, **SWEEP, **kwargs)


def sweep_sequential(data):
    return E.weight_scale_sweep(data, **SWEEP, batched=False)


# -- phases --------------------------------------------------------------------------------------


@contextmanager
def phase_timers(totals):
    """Wrap the batched trainer's phases with timers: totals[name] = [wall, cpu] seconds."""
    phases = {
        "forward + backward (incl. minibatch gather)": "forward_backward",
        "update (Adam)": "update",
        "accuracy checks": "check",
    }
    saved = {method: getattr(B._Trainer, method) for method in phases.values()}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                entry = totals.setdefault(name, [0.0, 0.0])
                entry[0] += time.perf_counter() - start
                entry[1] += time.process_time() - cpu

        return wrapper

    for name, method in phases.items():
        setattr(B._Trainer, method, timed(name, saved[method]))
    try:
        yield
    finally:
        for method, fn in saved.items():
            setattr(B._Trainer, method, fn)


def matmul_floor(count=20, repeats=3):
    """Seconds the matrix products of one batched sweep variant take alone (float32)."""
    rng = np.random.default_rng(0)
    dims = [64, *SWEEP["hidden_dims"], 10]
    batch = SWEEP["batch_size"]
    weights = [
        rng.standard_normal((count, a, b)).astype(np.float32)
        for a, b in zip(dims, dims[1:], strict=False)
    ]
    x = rng.standard_normal((batch, 64)).astype(np.float32)
    x_eval = rng.standard_normal((1300, 64)).astype(np.float32)  # 1,000 train + 300 val

    def train_step():
        acts = [x]
        for w in weights:
            acts.append(np.matmul(acts[-1], w))
        d = acts[-1]
        for layer in range(len(weights) - 1, -1, -1):
            np.matmul(np.swapaxes(acts[layer], -1, -2), d)
            if layer:
                d = np.matmul(d, np.swapaxes(weights[layer], 1, 2))

    def evaluate():
        h = x_eval
        for w in weights:
            h = np.matmul(h, w)

    iterations = E.num_iterations(SWEEP["num_train"], batch, SWEEP["num_epochs"])
    checks = E.num_checks(SWEEP["num_train"], batch, SWEEP["num_epochs"])
    step = best_time(lambda: [train_step() for _ in range(20)], repeats) / 20
    ev = best_time(evaluate, repeats)
    flops_step = 3 * 2 * count * batch * sum(a * b for a, b in zip(dims, dims[1:], strict=False))
    flops_eval = 2 * count * 1300 * sum(a * b for a, b in zip(dims, dims[1:], strict=False))
    return {
        "train": step * iterations,
        "eval": ev * checks,
        "gflop": (flops_step * iterations + flops_eval * checks) / 1e9,
    }


# -- live settings -------------------------------------------------------------------------------


def live_settings(data):
    """The experiment call behind each widget's default setting (widgets/*.py, this version)."""
    rules5 = ["sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam"]
    race_rules = {
        r: {"learning_rate": 1e-3, **({"momentum": 0.9} if "momentum" in r else {})} for r in rules5
    }
    n = min(1000, len(data["X_train"]))
    return {
        "optimizer race (5 rules, 2x100, 3 epochs)": lambda: E.compare_update_rules(
            data,
            race_rules,
            hidden_dims=(100, 100),
            num_train=n,
            num_epochs=3,
            batch_size=100,
            weight_scale=5e-2,
        ),
        "adaptive rates (3 runs, 2x100, 4 epochs)": lambda: [
            E.train_net(
                data,
                (100, 100),
                update_rule=rule,
                optim_config=config,
                num_train=n,
                num_epochs=4,
                batch_size=100,
                weight_scale=5e-2,
            )
            for rule, config in (
                ("sgd_momentum", {"learning_rate": 1e-2, "momentum": 0.9}),
                ("rmsprop", {"learning_rate": 1e-3, "decay_rate": 0.99}),
                ("adam", {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999}),
            )
        ],
        "batchnorm vs baseline (5x50, 4 epochs)": lambda: E.batchnorm_vs_baseline(
            data, hidden_dims=(50,) * 5, num_train=n, num_epochs=4, batch_size=50
        ),
        "weight-scale sweep (40 nets 6x50, 500 samples, 4 epochs)": lambda: E.weight_scale_sweep(
            data, hidden_dims=(50,) * 6, num_epochs=4, batch_size=50, num_train=500
        ),
        "dropout (p = 1, 0.5; 1x500, 100 samples, 40 epochs)": lambda: E.dropout_sweep(
            data,
            (1.0, 0.5),
            hidden_dims=(500,),
            num_train=100,
            num_epochs=40,
            batch_size=100,
            learning_rate=1e-3,
        ),
        "loss surface (5 rules x 100 steps)": lambda: [
            E.optimize_surface("quadratic", rule, {"learning_rate": 0.01}) for rule in rules5
        ],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per sweep timing (best)")
    parser.add_argument("--live-repeats", type=int, default=5, help="runs per live timing")
    parser.add_argument("--quick", action="store_true", help="one repeat each, for a smoke test")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    live_repeats = 1 if args.quick else args.live_repeats
    for info in threadpool_info():
        print(
            f"BLAS: {info['internal_api']} {info.get('version')} "
            f"kernel={info.get('architecture')} threads={info['num_threads']}"
        )
    data = get_data("digits", verbose=False)
    print(f"digits: {len(data['X_train'])} training samples; sweep uses the first 1000")
    print("Weight-scale sweep: 20 scales x {baseline, batchnorm} = 40 nets of 6x50, ")
    print("10 epochs of batches of 50 (200 iterations each), Adam 1e-3, float32\n")

    sweep_batched(data)  # warm-up: imports, caches
    rounds = []
    print(f"  {'round':>5s} {'sequential':>11s} {'batched':>9s} {'ratio':>7s}   (wall; cpu)")
    for r in range(repeats):
        with threadpool_limits(1, "blas"):
            seq = timed(lambda: sweep_sequential(data))
            bat = timed(lambda: sweep_batched(data))
        rounds.append((seq, bat))
        print(
            f"  {r + 1:5d} {seq[0]:9.2f} s {bat[0]:7.2f} s {seq[0] / bat[0]:6.2f}x"
            f"   ({seq[1]:.2f} s; {bat[1]:.2f} s: {seq[1] / bat[1]:.2f}x)"
        )
    ratio = statistics.median(s[0] / b[0] for s, b in rounds)
    cpu_ratio = statistics.median(s[1] / b[1] for s, b in rounds)
    batched = statistics.median(b[0] for _, b in rounds)
    print(
        f"\n  median ratio sequential / batched: {ratio:.2f}x wall, {cpu_ratio:.2f}x cpu "
        f"(target >= {SWEEP_TARGET_RATIO:.0f}x: "
        f"{'met' if ratio >= SWEEP_TARGET_RATIO else 'NOT met'})"
    )
    print(f"  median batched sweep: {batched:.2f} s (was <= {SWEEP_TARGET_S} s on a quiet machine)")
    others = {
        "batched, the 2 variants in 2 threads (n_jobs=2)": lambda: sweep_batched(data, n_jobs=2),
        "batched, BLAS 2 threads": lambda: sweep_batched(data, blas_threads=2),
    }
    if not args.quick:
        for name, fn in others.items():
            threads = 2 if "BLAS 2" in name else 1
            with threadpool_limits(threads, "blas"):
                wall, cpu = timed(fn)
            print(f"  {name:52s} {wall:7.3f} s {cpu:7.3f} s")
    print("  (cpu > wall: several cores busy; cpu << wall: the machine is shared)")
    print("\nWhere the batched time goes (default settings, one run):")
    totals = {}
    with phase_timers(totals):
        start, cpu = time.perf_counter(), time.process_time()
        sweep_batched(data)
        total = [time.perf_counter() - start, time.process_time() - cpu]
    totals["rest (minibatch draws, bookkeeping, init)"] = [
        total[i] - sum(v[i] for v in totals.values()) for i in (0, 1)
    ]
    print(f"  {'':44s} {'wall':>9s} {'cpu':>9s}")
    for name, (wall, cpu) in totals.items():
        print(f"  {name:44s} {wall:7.3f} s {cpu:7.3f} s  {100 * cpu / total[1]:5.1f} % of cpu")
    print(f"  {'total':44s} {total[0]:7.3f} s {total[1]:7.3f} s")
    with threadpool_limits(1, "blas"):
        floor = matmul_floor()
    both = 2 * (floor["train"] + floor["eval"])
    print(
        f"  matrix products alone (both variants): {both:.3f} s "
        f"({2 * floor['train']:.3f} training + {2 * floor['eval']:.3f} checks; "
        f"{2 * floor['gflop']:.0f} GFLOP, {2 * floor['gflop'] / both:.0f} GFLOP/s on one core)"
    )
    with threadpool_limits(2, "blas"):
        floor2 = matmul_floor()
    print(
        f"  with 2 BLAS threads: training products {2 * floor2['train']:.3f} s, "
        f"check products {2 * floor2['eval']:.3f} s"
    )

    print(f"\nLive computations at the widgets' default settings (median of {live_repeats}):")
    worst = 0.0
    for name, fn in live_settings(data).items():
        seconds = median_time(fn, live_repeats)
        worst = max(worst, seconds)
        flag = "" if seconds <= LIVE_TARGET_S else "  (over target)"
        print(f"  {name:58s} {seconds:6.3f} s{flag}")
    print(
        f"  target <= {LIVE_TARGET_S} s each: {'met' if worst <= LIVE_TARGET_S else 'NOT met'}"
        f" (slowest {worst:.3f} s)"
    )


if __name__ == "__main__":
    main()
