"""What pinning the Solver to one BLAS thread costs (issue 14, item 12).

``Solver.train`` limits the BLAS to one thread, because a float32 matrix
product rounds differently with one or two OpenBLAS threads (other kernels,
other blocking), which made a plain Solver's losses depend on the machine.
This prints, measured in one run, the time of the same training with the
limit (as shipped) and without it (the BLAS's own thread count), and the
ratio, for the homework's 3x500 batchnorm net on CIFAR-10-shaped inputs and
for a small net on the digits.

    python benchmarks/bench_solver_threads.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import numpy as np

import nndl_lab.solver as solver_module
from nndl_lab import FullyConnectedNet, Solver
from nndl_lab.data import get_data


def cifar_shaped(rng, n_train=1000, n_val=100):
    def images(n):
        return rng.uniform(-128, 128, size=(n, 3, 32, 32)).astype(np.float32)

    return {
        "X_train": images(n_train),
        "y_train": rng.integers(0, 10, n_train),
        "X_val": images(n_val),
        "y_val": rng.integers(0, 10, n_val),
    }


CASES = {
    "3x500 batchnorm, CIFAR-shaped, batch 100": (
        lambda: cifar_shaped(np.random.default_rng(0)),
        dict(hidden_dims=[500, 500, 500], input_dim=3 * 32 * 32, use_batchnorm=True),
        dict(batch_size=100, num_epochs=2, num_train_samples=100),
    ),
    "2x100 on the digits, batch 50": (
        lambda: get_data("digits", verbose=False),
        dict(hidden_dims=[100, 100], input_dim=64),
        dict(batch_size=50, num_epochs=3),
    ),
}


def train_time(data, net_options, solver_options, repeats):
    times, losses = [], None
    for _ in range(repeats):
        model = FullyConnectedNet(weight_scale="he", seed=0, **net_options)
        solver = Solver(model, data, update_rule="adam", verbose=False, seed=0, **solver_options)
        start = time.perf_counter()
        solver.train()
        times.append(time.perf_counter() - start)
        losses = solver.loss_history
    return statistics.median(times), losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        from threadpoolctl import threadpool_info

        threads = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    except ImportError:
        threads = ["?"]
    pinned_context = solver_module._one_blas_thread
    print(f"BLAS threads outside the Solver: {threads}; median of {args.repeats} trainings")
    for name, (make_data, net_options, solver_options) in CASES.items():
        data = make_data()
        pinned, pinned_losses = train_time(data, net_options, solver_options, args.repeats)
        solver_module._one_blas_thread = contextlib.nullcontext
        try:
            free, free_losses = train_time(data, net_options, solver_options, args.repeats)
        finally:
            solver_module._one_blas_thread = pinned_context
        differ = max(abs(a - b) for a, b in zip(pinned_losses, free_losses, strict=True))
        print(f"  {name}")
        print(f"    one BLAS thread (shipped)   {pinned:8.3f} s")
        print(f"    BLAS default threads        {free:8.3f} s")
        print(f"    pinned / default            {pinned / free:8.2f}x")
        print(f"    largest loss difference     {differ:8.1e}")


if __name__ == "__main__":
    main()
