"""Training-step time of the homework's 3x500 batchnorm net (batch 100, float32, Adam).

Prints, measured in one run: nndl_lab's step (forward, backward, Adam update),
the same step's matrix products alone (the floor any numpy implementation
pays), and PyTorch CPU's step when torch is installed; then the ratios.

    python benchmarks/bench_step.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from nndl_lab import FullyConnectedNet, Solver

BATCH, INPUT_DIM, HIDDEN, CLASSES = 100, 3 * 32 * 32, [500, 500, 500], 10


def median_time(fn, repeats, warmup=10):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def make_batch(rng):
    X = rng.uniform(-128, 128, size=(BATCH, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH)
    return X, y


def nndl_lab_step(X, y):
    model = FullyConnectedNet(HIDDEN, use_batchnorm=True, weight_scale="he", seed=0)
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    solver = Solver(model, data, update_rule="adam", batch_size=BATCH, verbose=False, seed=0)
    solver._prepare_configs()
    return solver._step


def matmul_floor(X, y):
    rng = np.random.default_rng(0)
    dims = [INPUT_DIM, *HIDDEN, CLASSES]
    weights = [
        rng.standard_normal((a, b)).astype(np.float32) for a, b in zip(dims, dims[1:], strict=False)
    ]
    x_rows = X.reshape(BATCH, -1)

    def step():
        activations = [x_rows]
        for w in weights:
            activations.append(activations[-1] @ w)
        grad = activations[-1]
        for layer in range(len(weights) - 1, -1, -1):
            _ = activations[layer].T @ grad
            if layer > 0:  # the first layer's input gradient is not needed
                grad = grad @ weights[layer].T

    return step


def torch_step(X, y):
    import torch

    torch.manual_seed(0)
    layers = []
    fan_in = INPUT_DIM
    for width in HIDDEN:
        layers += [
            torch.nn.Linear(fan_in, width),
            torch.nn.BatchNorm1d(width, momentum=0.1, eps=1e-5),
            torch.nn.ReLU(),
        ]
        fan_in = width
    layers.append(torch.nn.Linear(fan_in, CLASSES))
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    inputs = torch.from_numpy(X.reshape(BATCH, -1))
    targets = torch.from_numpy(y)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()

    return step, torch.get_num_threads()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    X, y = make_batch(np.random.default_rng(0))

    model = FullyConnectedNet(HIDDEN, use_batchnorm=True, weight_scale="he", seed=0)
    results = {
        "nndl_lab step": median_time(nndl_lab_step(X, y), args.repeats),
        "  of which forward+backward": median_time(lambda: model.loss(X, y), args.repeats),
        "matmuls alone (floor)": median_time(matmul_floor(X, y), args.repeats),
    }
    try:
        step, threads = torch_step(X, y)
    except ImportError:
        threads = None
    else:
        results[f"PyTorch CPU step ({threads} threads)"] = median_time(step, args.repeats)

    print(f"3x500 batchnorm net, batch {BATCH}, float32, Adam; median of {args.repeats} steps")
    for name, seconds in results.items():
        print(f"  {name:<32} {seconds * 1e3:8.2f} ms")
    ours = results["nndl_lab step"]
    update = ours - results["  of which forward+backward"]
    print(f"  {'  of which the Adam update':<32} {update * 1e3:8.2f} ms (by difference)")
    print(f"  nndl_lab / matmul floor        {ours / results['matmuls alone (floor)']:8.2f}x")
    if threads is not None:
        torch_time = results[f"PyTorch CPU step ({threads} threads)"]
        print(f"  nndl_lab / PyTorch CPU         {ours / torch_time:8.2f}x")
    else:
        print("  (PyTorch not installed: pip install torch to add the reference)")


if __name__ == "__main__":
    main()
