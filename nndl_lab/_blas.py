"""A per-thread limit on the BLAS's threads (see :func:`blas_limit`).

Lives at the bottom of the package so that the Solver and the experiments
both use it without importing each other; ``nndl_lab.experiments.parallel``
re-exports it.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading

__all__ = ["blas_limit"]


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
