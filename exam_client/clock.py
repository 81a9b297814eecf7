"""The terminal's idea of the server's time. The PC's own clock is never trusted.

Every reply that carries ``server_time`` anchors the clock: the server's instant plus
half the round trip, paired with the local *monotonic* clock at receipt. Between replies
(and while the LAN or the server is down) time goes on from the last anchor by the
monotonic clock alone, so changing the PC's date, NTP jumps or a wrong BIOS clock change
nothing on the candidate's screen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta


class ServerClock:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._anchor: datetime | None = None
        self._anchor_mono = 0.0
        self._anchor_rtt = float("inf")

    @property
    def synced(self) -> bool:
        return self._anchor is not None

    def observe(self, server_time: datetime, sent_mono: float, received_mono: float) -> None:
        """A reply said ``server_time``; the request left at ``sent_mono`` and the reply
        arrived at ``received_mono`` (both monotonic)."""
        rtt = max(0.0, received_mono - sent_mono)
        with self._lock:
            # A reply slowed by a busy link tells us less: prefer it only when the anchor
            # is old (drift of the PC's oscillator accumulates) or at least as precise.
            stale = received_mono - self._anchor_mono > 60
            if self._anchor is None or rtt <= self._anchor_rtt * 2 + 0.05 or stale:
                self._anchor = server_time + timedelta(seconds=rtt / 2)
                self._anchor_mono = received_mono
                self._anchor_rtt = rtt

    def now(self) -> datetime | None:
        """The server's time now, or None before the first reply."""
        with self._lock:
            if self._anchor is None:
                return None
            return self._anchor + timedelta(seconds=self._monotonic() - self._anchor_mono)

    def monotonic(self) -> float:
        return self._monotonic()
