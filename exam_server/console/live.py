"""The live map's engine: listens to the terminals' signals, keeps each seat's connection
health, records lost time, and pushes coalesced changes to the ``/proctor`` rooms.

Listeners run on the sender's thread (an answer save, a heartbeat), so they only append
to a queue. One background task drains it, and at most every ``FLUSH_S`` seconds writes
what it must (the lost-time gaps opened and closed since, in one transaction) and sends
each room the tiles that changed: a room of 30 terminals saving every few seconds costs
one small query and one push per flush, and the answer save path never waits on the
console.

With several workers each one relays what its own terminals do; ``socketio.emit`` goes
through the message queue, so every console page hears every worker. Connection health
(last contact, clock offset) lives in the memory of the worker the terminal is connected
to; a page's first snapshot shows the health known to the worker that serves it, and
later pushes bring the rest.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam_server.centres.models import Room
from exam_server.console import service, tiles
from exam_server.console.answered import AnsweredCounts
from exam_server.console.settings import ConsoleSettings
from exam_server.sittings import signals
from exam_server.sittings.models import Attempt

if TYPE_CHECKING:
    from exam_server.runtime import Runtime

log = logging.getLogger(__name__)

NAMESPACE = "/proctor"


def room_channel(sitting_id: int, room_id: int) -> str:
    return f"proctor:room:{sitting_id}:{room_id}"


def presence_channel(room_id: int) -> str:
    return f"proctor:presence:{room_id}"


def centre_channel(sitting_id: int) -> str:
    return f"proctor:centre:{sitting_id}"


@dataclass
class SeatLive:
    """What this worker knows about the terminal at one seat."""

    label: str
    terminal_id: str = ""
    sid: str = ""
    connected: bool = False
    last_contact: str | None = None
    clock_offset_s: float | None = None
    #: connections after the first one (reconnects)
    reconnects: int = 0
    attempt_id: int | None = None
    #: answer changes the server has kept refusing, as the terminal last reported them
    #: (``count``, ``since_s``, ``code``): the seat shows red with the reason
    stall: dict[str, Any] | None = None


class ConsoleHub:
    def __init__(self, app: Flask, rt: Runtime, settings: ConsoleSettings) -> None:
        self.app = app
        self.rt = rt
        self.settings = settings
        self.queue: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.seats: dict[str, SeatLive] = {}
        self.sids: dict[str, str] = {}
        self._lock = threading.Lock()
        self._dirty_attempts: set[int] = set()
        self._dirty_seats: set[str] = set()
        self._dirty_sittings: set[int] = set()
        self._room_ids: dict[str, int] = {}
        self.answered = AnsweredCounts()
        #: lost-time gaps to open or close, in order: (what, attempt, at, seat, terminal)
        self._gap_changes: list[tuple[str, int, datetime, str, str]] = []
        self._started = False
        self._stopped = threading.Event()
        self.autostart = True
        self.flushes = 0

    # -- wiring ---------------------------------------------------------------------------

    def connect_signals(self) -> None:
        for name in (
            "terminal_connected",
            "terminal_disconnected",
            "terminal_hello",
            "candidate_logged_in",
            "answer_saved",
            "terminal_heartbeat",
            "attempt_submitted",
            "sitting_swept",
        ):
            getattr(signals, name).connect(self._listener(name), weak=False)

    def _listener(self, name: str) -> Any:
        def listen(_sender: object, **kw: Any) -> None:
            # Several apps in one process (tests): take only our own app's events. Jobs
            # run without an app context; there is one scheduler per process.
            if has_app_context() and current_app._get_current_object() is not self.app:  # type: ignore[attr-defined]
                return
            if self._stopped.is_set():
                return
            self.queue.put((name, kw))
            if self.autostart and not self._started:
                self.start()

        return listen

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        from exam_server.extensions import socketio

        socketio.start_background_task(self._run)

    def stop(self) -> None:
        self._stopped.set()

    def touch(
        self, attempt_ids: list[int] | tuple[int, ...] = (), sitting_ids: tuple[int, ...] = ()
    ) -> None:
        """Something changed these attempts (an action): push their tiles at the next flush."""
        self.queue.put(
            ("touch", {"attempt_ids": list(attempt_ids), "sitting_ids": list(sitting_ids)})
        )
        if self.autostart and not self._started:
            self.start()

    # -- the background task --------------------------------------------------------------

    def _run(self) -> None:
        next_flush = time.monotonic() + self.settings.FLUSH_S
        while not self._stopped.is_set():
            try:
                timeout = max(0.0, next_flush - time.monotonic())
                item = self.queue.get(timeout=timeout) if timeout else None
                if item is not None:
                    self._handle(*item)
            except queue.Empty:
                pass
            except Exception:
                log.exception("console hub: handling an event failed")
            if time.monotonic() >= next_flush:
                try:
                    self.flush()
                except Exception:
                    log.exception("console hub: flush failed")
                next_flush = time.monotonic() + self.settings.FLUSH_S

    def drain(self) -> None:
        """Handle everything queued and flush now (tests; no background task)."""
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            self._handle(*item)
        self.flush()

    # -- events ---------------------------------------------------------------------------

    def _seat(self, label: str | None) -> SeatLive | None:
        if not label:
            return None
        seat = self.seats.get(label)
        if seat is None:
            seat = self.seats[label] = SeatLive(label)
        return seat

    def _handle(self, name: str, kw: dict[str, Any]) -> None:
        at: datetime | None = kw.get("at")
        stamp = at.isoformat() if at else None
        sid = kw.get("sid")
        if name == "touch":
            self._dirty_attempts.update(kw["attempt_ids"])
            self._dirty_sittings.update(kw["sitting_ids"])
            return
        if name == "terminal_hello":
            seat = self._seat(kw.get("seat"))
            if seat is None:
                return
            with self._lock:
                self.sids[sid or ""] = seat.label
            if seat.sid != sid and seat.last_contact is not None:
                seat.reconnects += 1  # heard from this seat before, on another connection
            seat.sid, seat.connected, seat.last_contact = sid or "", True, stamp
            seat.terminal_id = kw.get("terminal_id") or ""
            seat.clock_offset_s = kw.get("clock_offset_s")
            self._dirty_seats.add(seat.label)
            return
        label = self.sids.get(sid) if sid else None
        seat = self.seats.get(label) if label else None
        if name in ("terminal_heartbeat", "answer_saved") and seat is not None:
            seat.last_contact = stamp
            self._dirty_seats.add(seat.label)
        if name == "terminal_heartbeat" and seat is not None:
            seat.stall = kw.get("stalled")
        if name == "answer_saved":
            self.answered.saved(kw["attempt_id"], kw["seq"], kw["item_id"], kw["response"])
            if not kw.get("duplicate"):
                self._dirty_attempts.add(kw["attempt_id"])
        elif name == "candidate_logged_in":
            attempt_id = kw["attempt_id"]
            for other in self.seats.values():  # a seat change: the old seat is empty now
                if other.attempt_id == attempt_id and other.label != kw.get("seat"):
                    other.attempt_id = None
                    self._dirty_seats.add(other.label)
            seat = self._seat(kw.get("seat"))
            if seat is not None:
                seat.attempt_id, seat.last_contact = attempt_id, stamp
                self._dirty_seats.add(seat.label)
            self.answered.logged_in(attempt_id)
            self._close_gaps(attempt_id, at)
            self._dirty_attempts.add(attempt_id)
            self._dirty_sittings.add(kw["sitting_id"])
        elif name == "terminal_disconnected":
            with self._lock:
                self.sids.pop(sid or "", None)
            seat = self.seats.get(kw.get("seat") or label or "")
            if seat is not None and seat.sid == sid:
                seat.connected, seat.sid = False, ""
                self._dirty_seats.add(seat.label)
            attempt_id = kw.get("attempt_id")
            if attempt_id:
                self.answered.forget(attempt_id)
            if attempt_id and at is not None:
                self._open_gap(attempt_id, at, kw.get("seat") or "", kw.get("terminal_id") or "")
                self._dirty_attempts.add(attempt_id)
        elif name == "attempt_submitted":
            self.answered.submitted([kw["attempt_id"]])
            self._dirty_attempts.add(kw["attempt_id"])
            self._close_gaps(kw["attempt_id"], at)
        elif name == "sitting_swept":
            changed = [*kw.get("started", ()), *kw.get("submitted", ()), *kw.get("absent", ())]
            self._dirty_attempts.update(changed)
            self.answered.submitted(kw.get("submitted", ()))
            for attempt_id in kw.get("submitted", ()):
                self._close_gaps(attempt_id, at)
            self._dirty_sittings.add(kw["sitting_id"])

    def _open_gap(self, attempt_id: int, at: datetime, seat: str, terminal_id: str) -> None:
        self._gap_changes.append(("open", attempt_id, at, seat, terminal_id))

    def _close_gaps(self, attempt_id: int, at: datetime | None) -> None:
        self._gap_changes.append(("close", attempt_id, at or self.rt.clock.now(), "", ""))

    def _record_gaps(self) -> None:
        """Open and close the lost-time gaps collected since the last flush, in their order,
        in one transaction (on a native thread under gevent). One transaction a login or a
        disconnect, in the event loop, stalled it for 50-100 ms at a time when a whole
        room's terminals dropped or came back at once (``docs/benchmarks.md``, fifth
        pass). Each change has a savepoint of its own: one that fails is logged and the
        others are kept."""
        changes, self._gap_changes = self._gap_changes, []
        if not changes:
            return
        minimum = timedelta(seconds=self.settings.LOST_TIME_MIN_S)

        def record(session: Session) -> None:
            for what, attempt_id, at, seat, terminal_id in changes:
                try:
                    with session.begin_nested():
                        if what == "open":
                            service.open_gap(
                                session, at, attempt_id, seat_label=seat, terminal_id=terminal_id
                            )
                        else:
                            service.close_gaps(session, at, attempt_id, minimum=minimum)
                except Exception:
                    log.exception("console hub: %s lost-time gap of attempt %s", what, attempt_id)

        try:
            self.rt.db.transact(record)
        except BaseException:
            self._gap_changes[:0] = changes  # the database failed: again at the next flush
            raise

    # -- pushes ---------------------------------------------------------------------------

    def flush(self) -> None:
        from exam_server.extensions import socketio

        self._record_gaps()  # first: the tiles show the gaps
        attempts, self._dirty_attempts = self._dirty_attempts, set()
        seats, self._dirty_seats = self._dirty_seats, set()
        sittings, self._dirty_sittings = self._dirty_sittings, set()
        if not (attempts or seats or sittings):
            return
        self.flushes += 1
        now = self.rt.clock.now()
        pushes: list[tuple[str, dict[str, Any], str]] = []
        with self.rt.db.read() as session:
            by_sitting: dict[int, list[int]] = defaultdict(list)
            count = functools.partial(self.answered.counts, session)
            if attempts:
                for attempt_id, sitting_id in session.execute(
                    select(Attempt.id, Attempt.sitting_id).where(Attempt.id.in_(attempts))
                ):
                    by_sitting[sitting_id].append(attempt_id)
            for sitting_id, ids in by_sitting.items():
                by_room: dict[int, list[dict[str, Any]]] = defaultdict(list)
                for tile in tiles.tiles(session, now, sitting_id, attempt_ids=ids, answered=count):
                    by_room[tile["room_id"]].append(tile)
                for room_id, room_tiles in by_room.items():
                    pushes.append(
                        (
                            "tiles",
                            {
                                "sitting_id": sitting_id,
                                "room_id": room_id,
                                "server_time": now.isoformat(),
                                "tiles": room_tiles,
                            },
                            room_channel(sitting_id, room_id),
                        )
                    )
                sittings.add(sitting_id)
            for sitting_id in sittings:
                counts = tiles.room_counts(session, sitting_id)
                pushes.append(
                    (
                        "counts",
                        {"sitting_id": sitting_id, "rooms": {str(k): v for k, v in counts.items()}},
                        centre_channel(sitting_id),
                    )
                )
            if seats:
                by_room_code: dict[str, dict[str, Any]] = defaultdict(dict)
                for label in seats:
                    seat = self.seats.get(label)
                    if seat is not None:
                        by_room_code[label.rpartition("-")[0]][label] = public(seat)
                for code, data in by_room_code.items():
                    found = self._room_id(session, code)
                    if found is not None:
                        pushes.append(
                            (
                                "presence",
                                {"room_id": found, "server_time": now.isoformat(), "seats": data},
                                presence_channel(found),
                            )
                        )
        for event, payload, to in pushes:
            socketio.emit(event, payload, to=to, namespace=NAMESPACE)

    def _room_id(self, session: Any, code: str) -> int | None:
        if code not in self._room_ids:
            room_id = session.scalar(select(Room.id).where(Room.code == code))
            if room_id is None:
                return None
            self._room_ids[code] = room_id
        return self._room_ids[code]

    def presence(self, room_code: str) -> dict[str, dict[str, Any]]:
        prefix = f"{room_code}-"
        return {
            label: public(seat)
            for label, seat in list(self.seats.items())
            if label.startswith(prefix)
        }


def public(seat: SeatLive) -> dict[str, Any]:
    """What the page gets (not the connection's internal id)."""
    data = asdict(seat)
    data.pop("sid")
    return data
