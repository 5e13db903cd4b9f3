"""Latest setting wins: one worker thread per app, and cancellation of a running computation.

:meth:`LatestWins.submit` takes the snapshot of the setting and numbers it
(its *generation*) under one lock, so of two changes made at the same time
the one numbered last is also the one that holds both values.
:meth:`LatestWins.publish` checks the generation and shows the result under
that same lock, so a result can only be shown while it is the latest: an
older computation that finishes late is dropped, never shown over a newer one.

A new setting also **stops the computation in progress**: the worker runs a
computation inside :meth:`LatestWins.cancellable`, and a newer submit raises
:class:`Cancelled` in the worker thread (``PyThreadState_SetAsyncExc``),
which Python delivers at the next bytecode the worker runs, i.e. within one
minibatch step of the training loop. ``Cancelled`` derives from
``BaseException`` so that no ``except Exception`` on the way swallows it.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import time
from collections.abc import Callable

__all__ = ["Cancelled", "LatestWins"]


class Cancelled(BaseException):
    """Raised in the worker thread when a newer setting replaces the one it computes."""


def _raise_in(thread: threading.Thread, exc_type: type[BaseException]) -> bool:
    ident = thread.ident
    if ident is None:
        return False
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exc_type)
    )
    return done == 1


class LatestWins:
    """Runs ``run(generation, setting)`` for the latest submitted setting only.

    Parameters
    ----------
    name : str
        Names the worker thread.
    run : callable ``(generation, setting) -> None``
        Computes and publishes (through :meth:`publish`).
    threaded : bool
        False: :meth:`submit` runs the setting before it returns.
    """

    #: Seconds an idle worker thread waits for work before it ends (a new one
    #: starts with the next change); while the reader interacts it stays warm.
    idle_s = 120.0

    def __init__(self, name: str, run: Callable[[int, dict], None], *, threaded: bool = True):
        self.name = name
        self._run = run
        self.threaded = threaded
        self.cond = threading.Condition(threading.RLock())
        self.generation = 0
        self._pending: tuple[int, dict] | None = None
        self._running = False
        self._armed = False  # the worker is inside cancellable()
        self._thread: threading.Thread | None = None
        self.started_at: float | None = None  # when the running computation started
        self.running_generation: int | None = None
        # counters (tests and benchmarks read these)
        self.submitted = 0
        self.cancelled = 0
        self.dropped = 0

    # -- submitting ------------------------------------------------------------

    def submit(self, snapshot: Callable[[], dict]) -> int:
        """Number ``snapshot()`` as the latest setting and schedule it; its generation."""
        with self.cond:
            setting = snapshot()
            self.generation += 1
            generation = self.generation
            self.submitted += 1
            if self._armed and self._thread is not None:
                self._armed = False
                if _raise_in(self._thread, Cancelled):
                    self.cancelled += 1
            if self.threaded:
                self._pending = (generation, setting)
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._loop, name=f"nndl-app-{self.name}", daemon=True
                    )
                    self._thread.start()
                self.cond.notify_all()
                return generation
            self._running = True
        try:
            self._execute(generation, setting)
        finally:
            with self.cond:
                self._running = False
                self.cond.notify_all()
        return generation

    def is_latest(self, generation: int) -> bool:
        with self.cond:
            return generation == self.generation

    def publish(self, generation: int, show: Callable[[], None]) -> bool:
        """Call ``show()`` if ``generation`` is still the latest, under the submit lock."""
        with self.cond:
            if generation != self.generation:
                self.dropped += 1
                return False
            show()
            return True

    @contextlib.contextmanager
    def cancellable(self):
        """A region of the worker thread that a newer submit may interrupt."""
        if not self.threaded or threading.current_thread() is not self._thread:
            yield
            return
        with self.cond:
            self._armed = True
        try:
            yield
        finally:
            with self.cond:
                self._armed = False

    # -- the worker ------------------------------------------------------------

    def _execute(self, generation: int, setting: dict) -> None:
        with self.cond:
            self.started_at = time.monotonic()
            self.running_generation = generation
        try:
            self._run(generation, setting)
        finally:
            with self.cond:
                self.started_at = None
                self.running_generation = None

    def _loop(self) -> None:
        # One long-lived worker per app: BLAS calls from freshly started threads
        # were measured slower and more erratic than from a thread that keeps running.
        while True:
            try:
                with self.cond:
                    if self._pending is None:
                        self.cond.wait(self.idle_s)
                    if self._pending is None:
                        # idle: end, so an app that is no longer shown can be collected
                        self._thread = None
                        self.cond.notify_all()
                        return
                    generation, setting = self._pending
                    self._pending = None
                    self._running = True
                try:
                    self._execute(generation, setting)
                finally:
                    with self.cond:
                        self._running = False
                        self.cond.notify_all()
            except Cancelled:
                # A newer setting is pending (the submit that cancelled set it); the
                # exception may have landed in a finally above, so reset the state.
                with self.cond:
                    self._armed = False
                    self._running = False
                    self.started_at = None
                    self.running_generation = None
                    self.cond.notify_all()

    @property
    def thread(self) -> threading.Thread | None:
        """The worker thread, if one is alive."""
        return self._thread

    def busy(self) -> bool:
        with self.cond:
            return self._pending is not None or self._running

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the latest setting is done; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self._pending is not None or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
        return True
