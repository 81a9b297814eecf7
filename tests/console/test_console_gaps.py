"""The live map records lost-time gaps in one transaction per flush: a whole room's
terminals dropping or coming back at once is one write, not one per terminal, and no
change is lost to another that fails or to a database that is briefly unavailable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from exam_server.console import service
from exam_server.console.models import GapStatus, TerminalGap
from exam_server.sittings import signals
from tests.console.conftest import START, Console
from tests.console.test_console_actions import candidate_login

SEATS = [f"01-0{n}" for n in range(1, 6)]  # room 01: candidates 1-5


@contextmanager
def commits(console: Console) -> Iterator[list[int]]:
    seen: list[int] = []

    def record(_conn: Any) -> None:
        seen.append(1)

    event.listen(console.db.engine, "commit", record)
    try:
        yield seen
    finally:
        event.remove(console.db.engine, "commit", record)


def room_logs_in(console: Console, sid: str) -> list[int]:
    attempts = []
    for n, seat in enumerate(SEATS, start=1):
        attempt_id = candidate_login(console, n, seat)
        attempts.append(attempt_id)
        with console.app.app_context():
            signals.candidate_logged_in.send(
                "candidate",
                sid=f"{sid}{n}",
                attempt_id=attempt_id,
                sitting_id=console.ids["sitting"],
                room_id=console.ids["room1"],
                terminal_id=f"T{n}",
                seat=seat,
                first=sid == "a",
                at=console.clock.now(),
            )
    return attempts


def seated_room(console: Console) -> tuple[Any, list[int]]:
    """Two minutes into the sitting, room 01's five candidates are logged in (and the
    hub has heard it): its hub and their attempts."""
    hub = console.app.extensions["console_hub"]
    console.clock.set(START + timedelta(minutes=2))
    attempts = room_logs_in(console, "a")
    hub.drain()
    return hub, attempts


def room_drops(console: Console, attempts: list[int], sid: str) -> None:
    with console.app.app_context():
        for n, (attempt_id, seat) in enumerate(zip(attempts, SEATS, strict=True), start=1):
            signals.terminal_disconnected.send(
                "candidate",
                sid=f"{sid}{n}",
                terminal_id=f"T{n}",
                seat=seat,
                attempt_id=attempt_id,
                at=console.clock.now(),
            )


def gaps(console: Console) -> list[TerminalGap]:
    with console.db.read() as db:
        found = list(db.scalars(select(TerminalGap).order_by(TerminalGap.attempt_id)))
        db.expunge_all()
        return found


def test_a_room_dropping_and_coming_back_is_one_write_each(console: Console) -> None:
    hub, attempts = seated_room(console)
    room_drops(console, attempts, "a")
    with commits(console) as seen:
        hub.drain()
    assert len(seen) == 1
    assert [(g.attempt_id, g.status) for g in gaps(console)] == [
        (a, GapStatus.OPEN) for a in attempts
    ]

    console.clock.advance(timedelta(minutes=3))
    room_logs_in(console, "b")  # (the logins' own transactions are the candidates')
    with commits(console) as seen:
        hub.drain()
    assert len(seen) == 1
    assert [(g.status, g.lost_s, g.proposed_s) for g in gaps(console)] == [
        (GapStatus.PROPOSED, 180, 180)
    ] * len(attempts)


def test_a_drop_and_return_within_one_flush_keep_their_order(console: Console) -> None:
    hub, attempts = seated_room(console)
    room_drops(console, attempts, "a")
    console.clock.advance(timedelta(seconds=90))
    room_logs_in(console, "b")
    hub.drain()  # opened, then closed, in one transaction
    assert [(g.status, g.lost_s, g.proposed_s) for g in gaps(console)] == [
        (GapStatus.PROPOSED, 90, 120)
    ] * len(attempts)


def test_a_change_that_fails_loses_no_other(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, attempts = seated_room(console)
    real = service.open_gap

    def failing(session: Any, at: Any, attempt_id: int, **kw: Any) -> Any:
        if attempt_id == attempts[2]:
            raise RuntimeError("boom")
        return real(session, at, attempt_id, **kw)

    monkeypatch.setattr(service, "open_gap", failing)
    room_drops(console, attempts, "a")
    hub.drain()
    assert [g.attempt_id for g in gaps(console)] == attempts[:2] + attempts[3:]


def test_a_database_failure_keeps_the_changes_for_the_next_flush(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub, attempts = seated_room(console)
    room_drops(console, attempts, "a")
    db = hub.rt.db

    def unavailable(_fn: Any) -> Any:
        raise OSError("database is unavailable")

    monkeypatch.setattr(db, "transact", unavailable)
    with pytest.raises(OSError):
        hub.drain()
    assert gaps(console) == []
    monkeypatch.undo()
    console.clock.advance(timedelta(minutes=2))
    hub.drain()
    found = gaps(console)
    assert [(g.attempt_id, g.status) for g in found] == [(a, GapStatus.OPEN) for a in attempts]
    assert {g.started_at for g in found} == {START + timedelta(minutes=2)}  # when they dropped
