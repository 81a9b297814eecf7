"""The live map's answered counts are kept from the saves, not re-read from the answer
history at every push; they must always equal what the history says."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from exam_server.console import tiles
from exam_server.extensions import socketio
from exam_server.sittings import service as sittings
from exam_server.sittings import signals
from tests.console.conftest import START, Console
from tests.console.test_console_actions import candidate_login


@contextmanager
def history_reads(console: Console) -> Iterator[list[str]]:
    """The statements that read an attempt's answer history (its latest change per item)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "max(answer.seq)" in statement.lower():
            seen.append(statement)

    event.listen(console.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(console.db.engine, "before_cursor_execute", record)


def save(
    console: Console, attempt_id: int, *changes: tuple[int, str, str], tell: bool = True
) -> None:
    """Store ``(seq, item, response)`` changes as the answer writer does; ``tell``: report
    them to the hub as this worker's namespace does after the commit."""
    with console.db.write() as db:
        results = sittings.save_answers(
            db,
            console.clock.now(),
            [
                sittings.SaveRequest(attempt_id, seq, item, tuple(resp))
                for seq, item, resp in changes
            ],
        )
    assert not [r for r in results if isinstance(r, Exception)], results
    if tell:
        with console.app.app_context():
            for (seq, item, resp), result in zip(changes, results, strict=True):
                signals.answer_saved.send(
                    "candidate",
                    sid="s1",
                    attempt_id=attempt_id,
                    seq=seq,
                    item_id=item,
                    response=resp,
                    duplicate=result.duplicate,  # type: ignore[union-attr]
                    at=console.clock.now(),
                )


def logged_in(console: Console, attempt_id: int, sid: str = "s1") -> None:
    """What the namespace reports when a candidate logs in through this worker."""
    now = console.clock.now()
    with console.app.app_context():
        signals.terminal_hello.send(
            "candidate", sid=sid, terminal_id="T1", seat="01-01", clock_offset_s=0.0, at=now
        )
        signals.candidate_logged_in.send(
            "candidate",
            sid=sid,
            attempt_id=attempt_id,
            sitting_id=console.ids["sitting"],
            room_id=console.ids["room1"],
            terminal_id="T1",
            seat="01-01",
            first=True,
            at=now,
        )


def pushed_answered(sock: Any, attempt_id: int) -> int:
    pushes = [m for m in sock.get_received("/proctor") if m["name"] == "tiles"]
    assert pushes, "no tiles pushed"
    tile = next(t for t in pushes[-1]["args"][0]["tiles"] if t["attempt_id"] == attempt_id)
    return int(tile["answered"])


def from_history(console: Console, attempt_id: int) -> int:
    with console.db.read() as db:
        return tiles.answered_counts(db, [attempt_id]).get(attempt_id, 0)


def test_counts_follow_the_saves_and_equal_the_history(console: Console) -> None:
    ids = console.ids
    hub = console.app.extensions["console_hub"]
    inv1 = console.login("inv1")
    sock = socketio.test_client(console.app, namespace="/proctor", flask_test_client=inv1)
    sock.emit(
        "join",
        {"sitting_id": ids["sitting"], "room_id": ids["room1"]},
        namespace="/proctor",
        callback=True,
    )
    console.clock.set(START + timedelta(minutes=2))
    a1 = candidate_login(console, 1, "01-01")
    logged_in(console, a1)
    # Answers before the hub first counts this attempt: read once from the history.
    save(console, a1, (1, "Q001", "A"), (2, "Q002", "B"))
    with history_reads(console) as reads:
        hub.drain()
    assert len(reads) == 1
    assert pushed_answered(sock, a1) == 2 == from_history(console, a1)

    # From then on the saves keep the count, without reading the history again: a blank
    # item stops counting, a new one counts, and an older change of an item reported
    # after a newer one does not win.
    save(console, a1, (3, "Q001", ""), (5, "Q003", "C"), (4, "Q003", ""))
    with history_reads(console) as reads:
        hub.drain()
    assert reads == []
    assert pushed_answered(sock, a1) == 2 == from_history(console, a1)  # Q002, Q003

    # A resend of a change already held (a duplicate) changes nothing.
    save(console, a1, (5, "Q003", "C"))
    save(console, a1, (6, "Q004", "D"))
    with history_reads(console) as reads:
        hub.drain()
    assert reads == []
    assert pushed_answered(sock, a1) == 3 == from_history(console, a1)

    # The terminal leaves this worker; meanwhile it saves through another worker (stored,
    # never reported here): while it is away its count comes from the history, and once
    # its candidate logs in here again it is read and kept again.
    with console.app.app_context():
        signals.terminal_disconnected.send(
            "candidate",
            sid="s1",
            terminal_id="T1",
            seat="01-01",
            attempt_id=a1,
            at=console.clock.now(),
        )
    hub.drain()
    save(console, a1, (7, "Q005", "A"), (8, "Q002", ""), tell=False)
    with console.app.app_context():  # another invigilator's action touches the tile
        hub.touch([a1])
    with history_reads(console) as reads:
        hub.drain()
    assert len(reads) == 1
    assert pushed_answered(sock, a1) == 3 == from_history(console, a1)  # Q003-Q005
    save(console, a1, (9, "Q006", "B"), tell=False)
    with console.app.app_context():
        hub.touch([a1])
    hub.drain()
    assert pushed_answered(sock, a1) == 4 == from_history(console, a1)
    logged_in(console, a1, sid="s2")
    save(console, a1, (10, "Q007", "A"))
    with history_reads(console) as reads:
        hub.drain()
    assert len(reads) == 1
    assert pushed_answered(sock, a1) == 5 == from_history(console, a1)
    save(console, a1, (11, "Q008", "A"))
    with history_reads(console) as reads:
        hub.drain()
    assert reads == []
    assert pushed_answered(sock, a1) == 6 == from_history(console, a1)

    # Submitted: only the count is kept, and it still shows.
    with console.app.app_context():
        signals.attempt_submitted.send(
            "candidate", attempt_id=a1, by="candidate", at=console.clock.now()
        )
    with history_reads(console) as reads:
        hub.drain()
    assert reads == []
    assert pushed_answered(sock, a1) == 6
    assert len(hub.answered) == 1
