"""A whole sitting against a real server process with real Socket.IO clients.

Login, saves, a refused early submit, a refused late login, submission, a kill -9 and
restart in the middle that keeps every acknowledged answer and the deadline, and the
server's auto-submit at the end. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import Attempt
from exam_server.sittings.service import current_answers
from tests.conftest import REDIS_URL, drop_pg_database, make_pg_database, port_open, require
from tests.factories import id_number_for, make_world, seat_label, ticket_for
from tests.live import LiveServer, Terminal

pytestmark = pytest.mark.slow


MODES = [
    "sqlite",
    # The other concurrency mode (the default is gevent; docs/benchmarks.md).
    "threading",
    pytest.param("postgres", marks=pytest.mark.postgres),
    # Two Socket.IO workers on one port, Redis as the message queue, PostgreSQL, and the
    # scheduler in a process of its own.
    pytest.param("workers", marks=[pytest.mark.postgres, pytest.mark.redis]),
]


@pytest.fixture(params=MODES)
def live_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    sqlite = request.param in ("sqlite", "threading")
    url = f"sqlite:///{tmp_path / 'centre.db'}" if sqlite else make_pg_database()
    db = Database(url)
    db.mode = request.param  # type: ignore[attr-defined]
    upgrade(db)
    yield db
    db.dispose()
    if not sqlite:
        drop_pg_database(url)


def server_for(db: Database, data_dir: Path) -> LiveServer:
    if getattr(db, "mode", "") == "threading":
        return LiveServer(
            db.url, data_dir, extra_env={"EXAM_ASYNC_MODE": "threading"}, shifted_clock=True
        )
    if getattr(db, "mode", "") != "workers":
        return LiveServer(db.url, data_dir, shifted_clock=True)
    require(port_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379", "apt-get install redis-server")
    return LiveServer(
        db.url,
        data_dir,
        extra_env={"EXAM_MESSAGE_QUEUE": REDIS_URL},
        extra_args=["--workers", "2"],
        shifted_clock=True,
    )


def test_a_sitting_end_to_end_with_a_crash_in_the_middle(live_db: Database, tmp_path: Path) -> None:
    # Time from the centre's clock, not from sleeping: the server's clock is shifted by a
    # file the test moves forward (LiveServer.jump_to), so no rule's window depends on how
    # long a process took to start or restart on a loaded machine.
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    with live_db.write() as session:
        world = make_world(
            session,
            start=start,
            duration=timedelta(minutes=60),
            candidates=3,
            rules_s=(3600, 300, 600),  # entry 60 min before, late entry 5 min, submit from 10 min
        )
        seats = [seat_label(world, n) for n in range(3)]
    server = server_for(live_db, tmp_path / "data").start(timeout=90)
    terminals: list[Terminal] = []
    try:
        a = Terminal(server.url, terminal_id="T-A", seat=seats[0])
        b = Terminal(server.url, terminal_id="T-B", seat=seats[1])
        terminals += [a, b]
        assert a.hello()["ok"] and b.hello()["ok"]

        # An old client is told clearly that it does not match.
        old = Terminal(server.url, terminal_id="T-old", seat=seats[2], protocol=99)
        terminals.append(old)
        reply = old.hello()
        assert (
            reply["ok"] is False
            and reply["code"] == "protocol_mismatch"
            and "99" in reply["message"]
        )

        la = a.login(ticket_for(1), id_number_for(1))
        lb = b.login(ticket_for(2), id_number_for(2))
        assert la["ok"] and la["state"] == "waiting" and la["candidate"]["name"] == "考生1", la
        aid, bid = la["attempt_id"], lb["attempt_id"]
        deadline = la["sitting"]["deadline"]
        assert datetime.fromisoformat(deadline) == start + timedelta(minutes=60)
        assert a.save(aid, 1, "Q001", ["A"])["code"] == "not_started"
        # Another candidate's attempt is not this terminal's to write.
        assert a.save(bid, 1, "Q001", ["A"])["code"] == "not_your_attempt"

        # A minute before the start the paper is still shut (to the millisecond: test_engine.py).
        server.jump_to(start - timedelta(seconds=60))
        assert a.save(aid, 1, "Q001", ["A"])["code"] == "not_started"
        server.jump_to(start + timedelta(seconds=1))
        acked: dict[int, list[tuple[int, str, str]]] = {aid: [], bid: []}
        for seq, (item, resp) in enumerate([("Q001", "A"), ("Q002", "B"), ("Q007", "AC")], start=1):
            for term, attempt_id in ((a, aid), (b, bid)):
                r = term.save(attempt_id, seq, item, list(resp))
                assert r["ok"] and not r["duplicate"], r
                acked[attempt_id].append((seq, item, resp))
        assert a.save(aid, 1, "Q001", ["A"])["duplicate"] is True
        early = a.submit(aid, 3)
        # the sitting's own window (10 minutes here), not a fixed "30 分钟"
        assert early["code"] == "submit_too_early" and "开考 10 分钟后方可交卷" in early["message"]

        # kill -9 in the middle of answering; everything acknowledged must survive, and
        # however long the restart takes, the deadline does not move.
        server.kill()
        for t in (a, b):
            t.close()
        server.start(timeout=90)
        a = Terminal(server.url, terminal_id="T-A", seat=seats[0])
        b = Terminal(server.url, terminal_id="T-B", seat=seats[1])
        terminals += [a, b]
        a.hello(), b.hello()
        ra = a.login(ticket_for(1), id_number_for(1))
        rb = b.login(ticket_for(2), id_number_for(2))
        assert ra["state"] == "in_progress" and ra["last_seq"] == 3, ra
        assert ra["sitting"]["deadline"] == deadline
        assert ra["answers"] == {"Q001": ["A"], "Q002": ["B"], "Q007": ["A", "C"]}
        assert rb["answers"] == ra["answers"]

        # Late entry closes at start + 5 min.
        server.jump_to(start + timedelta(minutes=5, milliseconds=200))
        c = Terminal(server.url, terminal_id="T-C", seat=seats[2])
        terminals.append(c)
        c.hello()
        late = c.login(ticket_for(3), id_number_for(3))
        assert late["ok"] is False and late["code"] == "late_entry_closed"

        assert a.save(aid, 4, "Q009", ["T"])["ok"]
        server.jump_to(start + timedelta(minutes=10, seconds=1))
        done = a.submit(aid, 4)
        assert done["ok"] and len(done["receipt"]) == 9
        after = a.save(aid, 5, "Q010", ["F"])
        assert after["code"] == "attempt_submitted"

        # B never submits: at the deadline the server does, at once, and tells the terminal.
        server.jump_to(start + timedelta(minutes=60, milliseconds=500))
        pushed = b.wait_push("attempt_submitted", timeout=30)
        assert pushed["attempt_id"] == bid and pushed["reason"] == "deadline"
        assert b.save(bid, 4, "Q010", ["F"])["code"] in ("attempt_submitted", "deadline_passed")
    finally:
        for t in terminals:
            t.close()
        server.stop()

    with live_db.read() as session:
        attempts = {x.id: x for x in session.scalars(select(Attempt))}
        assert (
            attempts[aid].state is AttemptState.SUBMITTED
            and attempts[aid].submitted_by == "candidate"
        )
        assert (
            attempts[bid].state is AttemptState.SUBMITTED
            and attempts[bid].submitted_by == "deadline"
        )
        assert current_answers(session, aid) == {
            "Q001": "A",
            "Q002": "B",
            "Q007": "AC",
            "Q009": "T",
        }
        assert current_answers(session, bid) == {"Q001": "A", "Q002": "B", "Q007": "AC"}
        third = next(x for x in attempts.values() if x.id not in (aid, bid))
        assert third.state is AttemptState.ABSENT
