r"""Run configurations that cannot share one batched pass in parallel processes.

Nets of different shapes (other hidden layers, with and without batchnorm,
other update rules) cannot be stacked into one batched pass
(:func:`nndl_lab.experiments.train_batched`); they are independent jobs, and
:func:`run_parallel` hands them to `joblib <https://joblib.readthedocs.io>`_.

On one machine the default backend (``"loky"``) runs them in worker
processes. On a cluster, switch joblib's backend, either per call or for a
whole block of code:

* Dask: start a client, then use the ``"dask"`` backend::

      from dask.distributed import Client
      client = Client("scheduler-address:8786")   # or Client() for a local cluster
      runs = run_parallel(train_net, jobs, backend="dask")
      # or: with joblib.parallel_config(backend="dask"): compare_update_rules(..., n_jobs=-1)

* Ray: register ray's joblib backend once, then use ``"ray"``::

      import ray
      from ray.util.joblib import register_ray
      ray.init(address="auto")
      register_ray()
      runs = run_parallel(train_net, jobs, backend="ray")

Every job is a plain function of keyword arguments returning plain results
(dicts of numpy arrays), so nothing but numbers crosses process boundaries,
and with a fixed seed a job gives the same numbers wherever it runs.

Book: chapter 8 (capstone: searching many configurations).
"""

from __future__ import annotations

from collections.abc import Mapping

from .._blas import blas_limit

__all__ = ["run_parallel", "blas_limit"]


def run_parallel(function, kwargs_list, *, n_jobs=-1, backend=None):
    r"""Call ``function(**kwargs)`` for every ``kwargs`` in ``kwargs_list``, in parallel.

    Book: chapter 8 (capstone: many configurations at once).

    Parameters
    ----------
    function : callable
        Must be importable by the workers (a module-level function such as
        :func:`nndl_lab.experiments.train_net`, not a lambda, for process
        backends).
    kwargs_list : sequence of dict
        One dict of keyword arguments per call.
    n_jobs : int, default -1
        Number of workers; -1 uses every core, 1 runs the calls one after the
        other in this process (no joblib machinery at all).
    backend : str or None
        A joblib backend: None (joblib's default, or the one set by an
        enclosing ``joblib.parallel_config``), ``"loky"``, ``"threading"``,
        ``"multiprocessing"``, or a registered one such as ``"dask"`` or
        ``"ray"`` (see the module documentation).

    Returns
    -------
    list
        The results, in the order of ``kwargs_list``.
    """
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    if isinstance(kwargs_list, Mapping) or isinstance(kwargs_list, (str, bytes)):
        raise TypeError("kwargs_list must be a list of dicts of keyword arguments")
    kwargs_list = list(kwargs_list)
    for i, kwargs in enumerate(kwargs_list):
        if not isinstance(kwargs, Mapping):
            raise TypeError(
                f"kwargs_list[{i}] must be a dict of keyword arguments, got {type(kwargs).__name__}"
            )
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive integer or -1 (all cores), got {n_jobs!r}")
    if backend is not None and not isinstance(backend, str):
        raise TypeError(f"backend must be a joblib backend name or None, got {backend!r}")
    if not kwargs_list:
        return []
    if n_jobs == 1 and backend is None:
        return [function(**kwargs) for kwargs in kwargs_list]
    from joblib import Parallel, delayed

    return list(
        Parallel(n_jobs=n_jobs, backend=backend)(delayed(function)(**kw) for kw in kwargs_list)
    )
