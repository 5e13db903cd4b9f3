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

import contextlib
import ctypes
import threading
from collections.abc import Mapping

__all__ = ["run_parallel", "blas_limit"]


_BLAS_LOCK = threading.Lock()
_BLAS_STATE = {"depth": 0, "limiter": None}
_LOCAL_SETTERS = []  # filled once: OpenBLAS's thread-local thread-count setters


def _openblas_local_setters():
    """``openblas_set_num_threads_local`` of every loaded OpenBLAS that has it (0.3.27+)."""
    with _BLAS_LOCK:
        if not _LOCAL_SETTERS:
            setters = []
            try:
                from threadpoolctl import ThreadpoolController

                for controller in ThreadpoolController().lib_controllers:
                    if controller.internal_api != "openblas":
                        continue
                    setter = getattr(
                        ctypes.CDLL(controller.filepath), "openblas_set_num_threads_local", None
                    )
                    if setter is not None:
                        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
                        setters.append(setter)
            except Exception:  # no threadpoolctl, or a library it cannot inspect
                setters = []
            _LOCAL_SETTERS.append(setters)
        return _LOCAL_SETTERS[0]


@contextlib.contextmanager
def blas_limit(threads):
    """A context that limits the BLAS to ``threads`` threads (None: no limit).

    Why it matters: the number of BLAS threads changes the float32 rounding of
    a matrix product, so without a fixed limit a run would give other numbers
    in a worker thread (where the widgets compute) than in the main thread.

    With OpenBLAS 0.3.27+ (numpy's wheels) the limit is set for the calling
    thread only (``openblas_set_num_threads_local``) and restored on exit, so
    concurrent threads do not interfere. (A process-wide limit set from a
    worker thread does not reach that thread's calls: measured with OpenBLAS
    0.3.31.) Otherwise threadpoolctl sets a process-wide limit, shared by the
    contexts of several threads: the first to enter sets it, the last to
    leave restores it. Without threadpoolctl the BLAS keeps its own setting.

    Book: chapter 8 (speed and reproducibility of sweeps).
    """
    if threads is None:
        yield
        return
    setters = _openblas_local_setters()
    if setters:
        previous = [setter(int(threads)) for setter in setters]
        try:
            yield
        finally:
            for setter, value in zip(setters, previous, strict=True):
                setter(value)
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional dependency
        yield
        return
    with _BLAS_LOCK:
        if _BLAS_STATE["depth"] == 0:
            _BLAS_STATE["limiter"] = threadpool_limits(limits=threads, user_api="blas")
        _BLAS_STATE["depth"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_STATE["depth"] -= 1
            if _BLAS_STATE["depth"] == 0:
                _BLAS_STATE["limiter"].restore_original_limits()
                _BLAS_STATE["limiter"] = None


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
