"""Training-step time of the homework's 3x500 batchnorm net (batch 100, float32, Adam).

Prints, measured in one run (medians of ``--repeats`` steps, the whole
measurement repeated ``--rounds`` times and the median ratio reported):

- nndl_lab's Solver step as ``Solver.train`` runs it (minibatch gather,
  forward, backward, Adam update; one BLAS thread);
- where its time goes: the six matrix products alone (the floor any numpy
  implementation pays), the Adam update over the ~1.8 M parameters, batch
  normalization (forward + backward of the three layers), the minibatch
  gather, and the rest (ReLU, softmax, the bias sums, copies, Python);
- PyTorch CPU's step on the same architecture with its fused Adam
  (``Adam(fused=True)``) and with its default Adam, when torch is installed
  (``pip install torch``; it is not a dependency);
- the ratios: Solver / PyTorch fused Adam (target <= 0.9) and Solver / matmul
  floor (target <= 2.0).

The process runs OpenBLAS's native kernel for this CPU: when
``OPENBLAS_CORETYPE`` or ``OPENBLAS_L2_SIZE`` are set (some machines set them
for older OpenBLAS builds) the script restarts itself without them, and prints
threadpoolctl's report of the BLAS it runs.

    python benchmarks/bench_step.py [--repeats 100] [--rounds 5]
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

import numpy as np  # noqa: E402

from nndl_lab import FullyConnectedNet, Solver, layers, optim  # noqa: E402
from nndl_lab.experiments.parallel import blas_limit  # noqa: E402

BATCH, INPUT_DIM, HIDDEN, CLASSES = 100, 3 * 32 * 32, [500, 500, 500], 10
NUM_TRAIN = 5000


TWO_THREADS = "nndl_lab Solver step, 2 BLAS threads"
TWO_THREADS_GEMMS = "matmuls, 2 BLAS threads"


def median_time(fn, repeats, warmup=5):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_data(rng):
    X = rng.uniform(-128, 128, size=(NUM_TRAIN, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, CLASSES, NUM_TRAIN)
    return {"X_train": X, "y_train": y, "X_val": X[:100], "y_val": y[:100]}


def make_solver(data):
    model = FullyConnectedNet(HIDDEN, use_batchnorm=True, weight_scale="he", seed=0)
    solver = Solver(model, data, update_rule="adam", batch_size=BATCH, verbose=False, seed=0)
    solver._prepare_configs()
    return solver


def parts(data):
    """Callables timing the parts of a step, on the arrays a step works on."""
    solver = make_solver(data)
    model = solver.model
    rng = np.random.default_rng(1)
    batch = rng.integers(0, NUM_TRAIN, BATCH)
    X, y = data["X_train"][batch], data["y_train"][batch]
    _, grads = model.loss(X, y)
    x_rows = X.reshape(BATCH, -1)

    def gemms():
        activations = [x_rows]
        for layer in range(1, 5):
            activations.append(activations[-1] @ model.params[f"W{layer}"])
        grad = activations[-1]
        for layer in range(4, 0, -1):
            _ = activations[layer - 1].T @ grad
            if layer > 1:  # the first layer's input gradient is not needed
                grad = grad @ model.params[f"W{layer}"].T

    def adam():
        step = optim.inplace_step("adam")
        for name, w in model.params.items():
            step(w, grads[name], solver.optim_configs[name])

    hidden = [rng.standard_normal((BATCH, 500)).astype(np.float32) for _ in range(3)]
    gamma, beta = np.ones(500, np.float32), np.zeros(500, np.float32)

    def batchnorm():
        for h in hidden:
            out, cache = layers.batchnorm_forward(h, gamma, beta, {"mode": "train"})
            layers.batchnorm_backward_alt(out, cache)

    def gather():
        data["X_train"][rng.integers(0, NUM_TRAIN, BATCH)]

    return {
        "matmuls (floor)": gemms,
        "Adam update": adam,
        "batchnorm fwd+bwd": batchnorm,
        "minibatch gather": gather,
    }


def torch_steps(X, y):
    import torch

    def make(fused):
        torch.manual_seed(0)
        modules, fan_in = [], INPUT_DIM
        for width in HIDDEN:
            modules += [
                torch.nn.Linear(fan_in, width),
                torch.nn.BatchNorm1d(width, momentum=0.1, eps=1e-5),
                torch.nn.ReLU(),
            ]
            fan_in = width
        modules.append(torch.nn.Linear(fan_in, CLASSES))
        model = torch.nn.Sequential(*modules)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)
        loss_fn = torch.nn.CrossEntropyLoss()
        inputs = torch.from_numpy(X.reshape(BATCH, -1))
        targets = torch.from_numpy(y)

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()

        return step

    return make(True), make(False), torch.get_num_threads(), torch.__version__


def blas_report():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed"]
    return [
        f"{i['internal_api']} {i.get('version')} kernel={i.get('architecture')} "
        f"threads={i['num_threads']} ({os.path.basename(i['filepath'])})"
        for i in threadpool_info()
    ]


def first_call_cost():
    """Time of the first Adam update in a fresh process state (nothing to compile: numpy)."""
    w = np.zeros((3072, 500), np.float32)
    config = optim.prepare_config("adam", {}, w)
    start = time.perf_counter()
    optim.inplace_step("adam")(w, np.ones_like(w), config)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print("BLAS:", *blas_report(), sep="\n  ")
    print(f"first Adam update over a 3072x500 array: {first_call_cost() * 1e3:.2f} ms")
    data = make_data(np.random.default_rng(0))
    solver = make_solver(data)
    timers = parts(data)
    try:
        fused, default, threads, version = torch_steps(
            data["X_train"][:BATCH], data["y_train"][:BATCH]
        )
    except ImportError:
        fused = default = None
    rounds = []
    for _ in range(args.rounds):
        figures = {}
        with blas_limit(1):  # as Solver.train runs
            figures["nndl_lab Solver step"] = median_time(solver._step, args.repeats)
            for name, fn in timers.items():
                figures[name] = median_time(fn, args.repeats)
        # Not the Solver's default: two threads round float32 products differently, so a
        # seed would no longer fix the numbers across machines (see the README).
        with blas_limit(2):
            figures[TWO_THREADS] = median_time(solver._step, args.repeats)
            figures[TWO_THREADS_GEMMS] = median_time(timers["matmuls (floor)"], args.repeats)
        if fused is not None:
            import torch

            figures[f"PyTorch {version} fused Adam ({threads} threads)"] = median_time(
                fused, args.repeats
            )
            figures["PyTorch default Adam"] = median_time(default, args.repeats)
            torch.set_num_threads(1)  # the Solver's setting, for a like-for-like reference
            figures["PyTorch fused Adam, 1 thread"] = median_time(fused, args.repeats)
            torch.set_num_threads(threads)
        rounds.append(figures)
    med = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    step = med["nndl_lab Solver step"]
    rest = step - sum(med[name] for name in timers)
    two = med.pop(TWO_THREADS), med.pop(TWO_THREADS_GEMMS)
    print(
        f"\n3x500 batchnorm net, batch {BATCH}, float32, Adam; medians of {args.rounds} rounds "
        f"of {args.repeats} steps"
    )
    for name, seconds in med.items():
        share = f"{100 * seconds / step:5.1f} % of the step" if name in timers else ""
        print(f"  {name:<44} {seconds * 1e3:8.2f} ms  {share}")
    print(
        f"  {'rest (ReLU, softmax, sums, copies, Python)':<44} {rest * 1e3:8.2f} ms  "
        f"{100 * rest / step:5.1f} % of the step"
    )
    print(
        f"  {TWO_THREADS:<44} {two[0] * 1e3:8.2f} ms  (its matmuls {two[1] * 1e3:.2f} ms, "
        f"{med['matmuls (floor)'] / two[1]:.2f}x faster than on one thread)"
    )
    floor = [r["nndl_lab Solver step"] / r["matmuls (floor)"] for r in rounds]
    print(
        f"\n  Solver / matmul floor      median {statistics.median(floor):5.2f}x  "
        f"(rounds: {', '.join(f'{v:.2f}' for v in floor)}; target <= 2.0)"
    )
    if fused is not None:
        key = next(k for k in rounds[0] if "fused" in k)
        ratio = [r["nndl_lab Solver step"] / r[key] for r in rounds]
        plain = [r["nndl_lab Solver step"] / r["PyTorch default Adam"] for r in rounds]
        print(
            f"  Solver / PyTorch fused Adam  median {statistics.median(ratio):5.2f}x  "
            f"(rounds: {', '.join(f'{v:.2f}' for v in ratio)}; target <= 0.9)"
        )
        print(f"  Solver / PyTorch default Adam median {statistics.median(plain):5.2f}x")
        one = [r["nndl_lab Solver step"] / r["PyTorch fused Adam, 1 thread"] for r in rounds]
        print(f"  Solver / PyTorch fused Adam on 1 thread  median {statistics.median(one):5.2f}x")
        both = [r[TWO_THREADS] / r[key] for r in rounds]
        print(
            f"  Solver on 2 BLAS threads / PyTorch fused Adam (both on 2 threads)  "
            f"median {statistics.median(both):5.2f}x"
        )
    else:
        print("  (PyTorch not installed: pip install torch to add the reference)")


if __name__ == "__main__":
    main()
