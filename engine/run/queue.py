"""A server-wide cap on analyses running at once, with a first-come queue for the rest.

Strangers share one server: :class:`AnalysisQueue` lets at most ``slots``
analyses run at once; the others wait in arrival order. While a caller
waits, ``on_wait`` is called with its place (1 = next) about every
``poll_s`` seconds, so the app can show it. A caller that leaves while
waiting (its ``on_wait`` raises, as Streamlit does when a visitor's session
ends, or ``cancelled()`` turns true) gives up its place at once and nothing
of its work runs; a caller that finishes or fails frees its slot for the
next one.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from typing import Callable, Iterator

from ..errors import ParameterError

__all__ = ["AnalysisQueue", "Cancelled"]


class Cancelled(Exception):
    """The caller left the queue before its turn came."""


class AnalysisQueue:
    """At most ``slots`` holders at once; the rest wait first come, first served.

    Parameters
    ----------
    slots : int
        How many may run at once (>= 1).
    """

    def __init__(self, slots: int) -> None:
        if int(slots) < 1:
            raise ParameterError(f"slots must be >= 1, got {slots}")
        self.slots = int(slots)
        self._cond = threading.Condition()
        self._waiting: list[int] = []  # tickets in arrival order
        self._running: dict[int, str] = {}  # ticket -> owner
        self._tickets = itertools.count()

    def snapshot(self) -> tuple[int, int]:
        """(running, waiting) right now."""
        with self._cond:
            return len(self._running), len(self._waiting)

    def owners_running(self) -> list[str]:
        with self._cond:
            return list(self._running.values())

    @contextlib.contextmanager
    def turn(
        self,
        owner: str,
        *,
        on_wait: Callable[[int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        poll_s: float = 0.5,
    ) -> Iterator[int]:
        """Wait for a slot, hold it for the ``with`` block, then free it.

        Yields the number of callers that were ahead when this one joined (0: no wait).

        Raises
        ------
        Cancelled
            If ``cancelled()`` turned true while waiting.
        """
        ticket = next(self._tickets)
        with self._cond:
            self._waiting.append(ticket)
            ahead = self._waiting.index(ticket) + len(self._running) - self.slots + 1
        ahead = max(0, ahead)
        got = False
        try:
            while True:
                with self._cond:
                    if self._waiting[0] == ticket and len(self._running) < self.slots:
                        self._waiting.pop(0)
                        self._running[ticket] = owner
                        got = True
                        break
                    place = self._waiting.index(ticket) + 1
                    self._cond.wait(poll_s)
                if cancelled is not None and cancelled():
                    raise Cancelled(f"{owner} left the queue")
                if on_wait is not None:
                    on_wait(place)  # may raise: the caller is gone, and its place is given up below
        finally:
            if not got:
                with self._cond:
                    if ticket in self._waiting:
                        self._waiting.remove(ticket)
                    self._cond.notify_all()
        try:
            yield ahead
        finally:
            with self._cond:
                self._running.pop(ticket, None)
                self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing runs or waits (for tests and shutdown); True when idle."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._running or self._waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True
