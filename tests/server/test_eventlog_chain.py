"""The event log's hash chain against each way of tampering with it, at the centre
(``verify_chain``) and at central (``check_event_log``): each check of the chain has a
test that fails when the check is removed.

Tampering needs the append-only triggers out of the way first (someone with the database
file); the database refusing it outright is tested in test_sittings_service.py."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from central.service import check_event_log, event_hash
from exam_server.eventlog import service as eventlog
from exam_server.eventlog.models import Event
from exam_server.eventlog.service import entry_hash, verify_chain
from tests.conftest import T0


@pytest.fixture
def chain(session: Session) -> Session:
    """Ten entries, and the log's triggers out of the way (as for someone with the file)."""
    for n in range(10):
        eventlog.append(session, at=T0, actor=f"t{n}", kind="test.entry", data={"n": n})
    session.flush()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DROP TRIGGER event_log_no_update"))
        session.execute(text("DROP TRIGGER event_log_no_delete"))
    else:
        session.execute(text("ALTER TABLE event_log DISABLE TRIGGER event_log_append_only"))
    assert verify_chain(session).ok
    return session


def rehash(session: Session, seq: int, prev_hash: str) -> str:
    """Give entry ``seq`` the link ``prev_hash`` and a hash consistent with its content
    (a forger covering their tracks); returns its new hash."""
    ev = session.scalar(select(Event).where(Event.seq == seq))
    assert ev is not None
    digest = entry_hash(
        prev_hash,
        seq=ev.seq,
        at=ev.at,
        actor=ev.actor,
        kind=ev.kind,
        sitting_id=ev.sitting_id,
        room_id=ev.room_id,
        attempt_id=ev.attempt_id,
        data=ev.data,
        reason=ev.reason,
    )
    session.execute(
        text("UPDATE event_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
        {"p": prev_hash, "h": digest, "s": seq},
    )
    return digest


def report_after(session: Session, tamper: Callable[[Session], None]) -> Any:
    tamper(session)
    session.expire_all()
    return verify_chain(session)


def test_a_truncated_tail_is_named(chain: Session) -> None:
    report = report_after(chain, lambda s: s.execute(text("DELETE FROM event_log WHERE seq > 7")))
    assert not report.ok and report.entries == 7 and report.first_broken_seq == 8
    assert "removed" in report.problem


def test_a_missing_entry_in_the_middle_is_named(chain: Session) -> None:
    report = report_after(chain, lambda s: s.execute(text("DELETE FROM event_log WHERE seq = 4")))
    assert not report.ok and report.first_broken_seq == 4 and "missing" in report.problem


def test_an_entry_relinked_with_a_consistent_hash_breaks_the_next_link(chain: Session) -> None:
    # Entry 5 rewritten to hang off a forged predecessor: its own hash is consistent, so
    # only the link check sees it.
    report = report_after(chain, lambda s: rehash(s, 5, "f" * 64) and None)
    assert not report.ok and report.first_broken_seq == 5 and "link" in report.problem


def test_a_rewritten_entry_with_everything_after_it_rehashed_is_caught_by_the_head(
    chain: Session,
) -> None:
    """Content changed and every later hash recomputed: the chain is self-consistent, but
    the stored head no longer matches (a forger who also rewrites the head needs the
    signed heads central keeps: issue 17's anchor)."""

    def forge(s: Session) -> None:
        s.execute(text("UPDATE event_log SET actor = 'forged' WHERE seq = 6"))
        prev = s.scalar(select(Event.hash).where(Event.seq == 5))
        for seq in range(6, 11):
            prev = rehash(s, seq, prev)

    report = report_after(chain, forge)
    assert not report.ok and report.first_broken_seq == 11 and "removed" in report.problem


def test_changed_content_is_named(chain: Session) -> None:
    report = report_after(
        chain, lambda s: s.execute(text("UPDATE event_log SET kind = 'x' WHERE seq = 3"))
    )
    assert not report.ok and report.first_broken_seq == 3 and "changed" in report.problem


def head_at(session: Session, seq: int) -> str:
    h = session.scalar(select(Event.hash).where(Event.seq == seq))
    assert h is not None
    return h


@pytest.mark.parametrize(
    ("tamper", "intact", "broken", "problem"),
    [
        ("DELETE FROM event_log WHERE seq > 7", 7, 8, "entries after the last one were removed"),
        ("DELETE FROM event_log WHERE seq = 4", 3, 4, "entry 4 is missing"),
        ("UPDATE event_log SET kind = 'x' WHERE seq = 3", 2, 3, "its content was changed"),
        (
            "UPDATE event_log SET prev_hash = 'f' WHERE seq = 6",
            5,
            6,
            "its link to the previous entry is wrong",
        ),
    ],
)
def test_each_break_is_reported_whole(
    chain: Session, tamper: str, intact: int, broken: int, problem: str
) -> None:
    """The report names the intact entries, the last good head (what central can still
    vouch for), the first broken entry and what is wrong with it, in so many words."""
    assert verify_chain(chain) == eventlog.ChainReport(True, 10, head_at(chain, 10))
    good_head = head_at(chain, intact)
    report = report_after(chain, lambda s: s.execute(text(tamper)))
    assert report == eventlog.ChainReport(False, intact, good_head, broken, problem)


def test_an_entry_keeps_what_it_was_given(session: Session) -> None:
    from datetime import timedelta
    from decimal import Decimal

    from tests.factories import make_world

    world = make_world(session, start=T0)
    attempt = world.attempt(0)
    ids = (world.sittings[0].id, attempt.seat.room_id, attempt.id)
    ev = eventlog.append(
        session,
        at=T0,
        actor="console:李老师",
        kind="attempt.extra_time",
        data={"minutes": Decimal("5"), "until": T0 + timedelta(minutes=5), "备注": "视力"},
        sitting_id=ids[0],
        room_id=ids[1],
        attempt_id=ids[2],
    )
    assert (ev.actor, ev.kind, ev.reason) == ("console:李老师", "attempt.extra_time", "")
    assert (ev.sitting_id, ev.room_id, ev.attempt_id) == ids
    assert ev.data == {"minutes": "5", "until": str(T0 + timedelta(minutes=5)), "备注": "视力"}
    ev2 = eventlog.append(
        session, at=T0, actor="server", kind="x", data={"a": 1}, reason="为何", sitting_id=None
    )
    assert (ev2.data, ev2.reason, ev2.seq, ev2.prev_hash) == ({"a": 1}, "为何", ev.seq + 1, ev.hash)
    session.flush()
    assert verify_chain(session).ok


# --- central's check of a result package's log ------------------------------------------


def central_log(n: int = 6) -> dict[str, Any]:
    """A log as a result package carries it: entries with their links, and the head."""
    entries, prev = [], "0" * 64
    for seq in range(1, n + 1):
        e: dict[str, Any] = {
            "seq": seq,
            "at": "2026-06-01T01:00:00+00:00",
            "actor": "server",
            "kind": "test",
            "sitting_id": 1,
            "room_id": None,
            "attempt_id": None,
            "data": {"n": seq},
            "reason": None,
            "prev_hash": prev,
        }
        e["hash"] = event_hash(prev, e)
        prev = e["hash"]
        entries.append(e)
    return {"entries": entries, "head": {"seq": n, "hash": prev}}


def test_central_accepts_an_honest_log_and_names_each_forgery() -> None:
    honest = central_log()
    assert check_event_log(honest, None) == []
    assert check_event_log(honest, (6, honest["head"]["hash"])) == []
    assert check_event_log(honest, (4, "earlier")) == []

    altered = copy.deepcopy(honest)
    altered["entries"][2]["actor"] = "forged"
    assert any("altered" in p for p in check_event_log(altered, None))

    relinked = copy.deepcopy(honest)
    e = relinked["entries"][3]
    e["prev_hash"] = "f" * 64
    e["hash"] = event_hash(e["prev_hash"], e)  # self-consistent: only the link shows it
    problems = check_event_log(relinked, None)
    assert any("broken link" in p for p in problems) and not any("altered" in p for p in problems)

    beyond = copy.deepcopy(honest)
    beyond["head"] = {"seq": 4, "hash": honest["entries"][3]["hash"]}
    assert any("beyond the head" in p for p in check_event_log(beyond, None))

    wrong_head = copy.deepcopy(honest)
    wrong_head["head"]["hash"] = "e" * 64
    assert any("beyond the head" in p for p in check_event_log(wrong_head, None))

    # A later package whose head is behind, or differs at the same length: rewound.
    assert any("rewound" in p for p in check_event_log(honest, (7, "x")))
    assert any("rewound" in p for p in check_event_log(honest, (6, "y" * 64)))

    broken = copy.deepcopy(honest)
    del broken["head"]
    assert check_event_log(broken, None)[0].startswith("事件日志格式错误")
