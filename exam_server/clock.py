"""Where the centre server reads the time.

Domain code never calls ``datetime.now()``: it takes a :class:`Clock`. The server uses
:class:`SystemClock`; tests move a :class:`ManualClock` instead of sleeping, and the tests
of whole server processes give every process of the centre one :class:`ShiftedClock`
(``EXAM_CLOCK_OFFSET_FILE``), which they move forward by writing the file, so a sitting's
start, late-entry window and deadline come when the test says instead of after a sleep.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def to_wall(self, instant: datetime) -> datetime:
        """The machine-clock instant at which this clock will read ``instant`` (what a
        timer of the machine, such as APScheduler's, must be set to)."""
        ...

    def on_jump(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever this clock jumps (never, for the machine's clock)."""
        ...


class SystemClock:
    """The machine's clock, read as UTC. The centre server is the time authority."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def to_wall(self, instant: datetime) -> datetime:
        return instant

    def on_jump(self, callback: Callable[[], None]) -> None:
        return None


class ShiftedClock:
    """The machine's clock plus an offset read from a file: for the tests of whole server
    processes and for rehearsals, never for an exam (the server says so at start).

    The file holds a number of seconds. Every process of a centre (the server, its workers,
    the scheduler) reads the same file, so they agree; writing a larger number moves all of
    them forward at once, and :meth:`on_jump` callbacks (the scheduler's) run within a poll
    interval. The time never goes back: a smaller number, or one that is not a number, is
    refused (logged) and the last good offset is kept."""

    POLL_S = 0.05

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # (the file's mtime and size, the offset in seconds), replaced whole: no lock, for
        # under gevent the answer writer reads the time on native threads, where a
        # monkey-patched lock held by a greenlet cannot be waited for
        self._state: tuple[tuple[int, int] | None, float] = (None, 0.0)
        self._callbacks: list[Callable[[], None]] = []
        self._watcher: threading.Thread | None = None
        self._refresh()

    def _refresh(self) -> bool:
        """Re-read the file if it changed; True when the offset moved."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        seen, offset = self._state
        if stamp == seen:
            return False
        try:
            value = float(self.path.read_text().strip() or "0")
        except (OSError, ValueError):
            log.error("clock offset file %s: not a number of seconds; kept %s", self.path, offset)
            self._state = (stamp, offset)
            return False
        if not math.isfinite(value) or value < offset:
            log.error(
                "clock offset file %s: %r would move the time back or is not finite; kept %s",
                self.path,
                value,
                offset,
            )
            self._state = (stamp, offset)
            return False
        self._state = (stamp, value)
        return value != offset

    def offset(self) -> timedelta:
        self._refresh()
        return timedelta(seconds=self._state[1])

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()

    def to_wall(self, instant: datetime) -> datetime:
        return instant - self.offset()

    def on_jump(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="clock-offset", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.POLL_S)
            if self._refresh():
                for callback in list(self._callbacks):
                    try:
                        callback()
                    except Exception:  # a callback's failure must not stop the clock
                        log.exception("clock jump callback failed")


def clock_for(offset_file: str) -> Clock:
    """The server's clock: the machine's, or shifted by ``offset_file`` when one is set."""
    return ShiftedClock(offset_file) if offset_file else SystemClock()


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant

    def to_wall(self, instant: datetime) -> datetime:
        return instant  # nothing runs on a machine timer against a manual clock

    def on_jump(self, callback: Callable[[], None]) -> None:
        return None


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime read back from SQLite as UTC (we only ever store UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
