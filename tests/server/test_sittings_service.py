"""Service functions of a sitting, on SQLite and PostgreSQL, with a manual clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from exam_common.receipts import answers_digest
from exam_server.clock import ManualClock
from exam_server.eventlog.models import Event
from exam_server.eventlog.service import verify_chain
from exam_server.sittings import service
from exam_server.sittings.engine import AttemptState, RuleError
from exam_server.sittings.models import Answer
from exam_server.sittings.service import SaveRequest, SaveResult, ServiceError
from tests.conftest import T0
from tests.factories import id_number_for, make_world, seat_label, ticket_for

MIN = timedelta(minutes=1)


@pytest.fixture
def world(session: Session):  # type: ignore[no-untyped-def]
    return make_world(session, start=T0, candidates=4, sittings=3)


def login(
    session: Session,
    clock: ManualClock,
    world,
    n: int = 0,
    *,
    terminal: str = "T1",
    seat: str | None = None,
):  # type: ignore[no-untyped-def]
    return service.login(
        session,
        clock.now(),
        ticket=ticket_for(n + 1),
        id_number=id_number_for(n + 1),
        terminal_id=terminal,
        seat_label=seat or seat_label(world, n),
    )


def codes(results: list[SaveResult | Exception]) -> list[str]:
    out = []
    for r in results:
        if isinstance(r, SaveResult):
            out.append("dup" if r.duplicate else "ok")
        else:
            out.append(getattr(r, "code", r).value if isinstance(r, RuleError) else r.code)  # type: ignore[union-attr]
    return out


def test_login_opens_30_minutes_before_start(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0 - 31 * MIN)
    with pytest.raises(ServiceError) as exc:
        login(session, clock, world)
    assert exc.value.code == "entry_not_open"
    clock.set(T0 - 30 * MIN)
    result = login(session, clock, world)
    assert result.first_login and result.attempt.state is AttemptState.WAITING
    assert result.attempt.sitting.subject == "职业道德"


def test_wrong_id_number_is_refused_and_logged(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0)
    with pytest.raises(ServiceError) as exc:
        service.login(
            session,
            clock.now(),
            ticket=ticket_for(1),
            id_number=id_number_for(2),
            terminal_id="T1",
            seat_label=seat_label(world, 0),
        )
    assert exc.value.code == "bad_credentials"
    assert (
        session.scalar(select(Event.kind).order_by(Event.seq.desc())) == "candidate.login_refused"
    )


def test_first_login_refused_at_start_plus_30(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0 + 30 * MIN)
    with pytest.raises(ServiceError) as exc:
        login(session, clock, world)
    assert exc.value.code == "late_entry_closed"


def test_login_after_start_starts_the_attempt(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0 + 10 * MIN)
    result = login(session, clock, world)
    assert result.attempt.state is AttemptState.IN_PROGRESS
    assert result.attempt.started_at == clock.now()


def test_wrong_seat_and_other_terminal_need_the_invigilator(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0 - 10 * MIN)
    with pytest.raises(ServiceError) as exc:
        login(session, clock, world, seat="01-27")
    assert exc.value.code == "wrong_seat"
    login(session, clock, world, terminal="T1")
    with pytest.raises(ServiceError) as exc:
        login(session, clock, world, terminal="T2")
    assert exc.value.code == "relogin_required"
    # Same terminal again (restarted client): fine.
    login(session, clock, world, terminal="T1")
    # The invigilator authorises a seat change to a spare seat.
    attempt = world.attempt(0)
    attempt.relogin_authorised = True
    moved = login(session, clock, world, terminal="T9", seat="01-29")
    assert moved.attempt.seat.label == "01-29" and not moved.attempt.relogin_authorised
    kinds = session.scalars(select(Event.kind).order_by(Event.seq)).all()
    assert "candidate.seat_changed" in kinds


def test_a_resume_token_enters_only_its_own_sitting(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    """A token proves a login to its attempt's sitting: naming another sitting (whose
    entry window is open) would enter it without the ID number. Refused, clearly."""
    clock.set(T0 - 10 * MIN)
    first = login(session, clock, world)
    assert first.resume_token and first.attempt.sitting_id == world.sittings[0].id

    def resume(sitting_id: int | None) -> service.LoginResult:
        assert first.resume_token
        return service.resume(
            session,
            clock.now(),
            attempt_id=first.attempt.id,
            token=first.resume_token,
            terminal_id="T1",
            seat_label=seat_label(world, 0),
            sitting_id=sitting_id,
        )

    # Naming its own sitting, or none, the token resumes its own attempt.
    for named in (first.attempt.sitting_id, None):
        again = resume(named)
        assert again.attempt.id == first.attempt.id and not again.first_login
    other = world.sittings[1]
    clock.set(other.start - 10 * MIN)  # the next sitting's login window is open
    with pytest.raises(ServiceError) as exc:
        resume(other.id)
    assert exc.value.code == "resume_wrong_sitting"
    assert world.attempt(0, 1).logged_in_at is None  # the other sitting was not entered


def test_saves_duplicates_old_sequences_and_conflicts(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0 - 5 * MIN)
    attempt = login(session, clock, world).attempt
    aid = attempt.id
    clock.set(T0 + MIN)
    service.sweep(session, world.sittings[0].id, clock.now())
    results = service.save_answers(
        session,
        clock.now(),
        [
            SaveRequest(aid, 1, "Q001", ("A",)),
            SaveRequest(aid, 3, "Q001", ("C",)),
            SaveRequest(aid, 2, "Q001", ("B",)),  # older, arrives late: stored, does not win
            SaveRequest(aid, 1, "Q001", ("A",)),  # resend: harmless
            SaveRequest(aid, 1, "Q001", ("D",)),  # same seq, other content: refused
            SaveRequest(aid, 4, "NOPE", ("A",)),
            SaveRequest(aid + 999, 1, "Q001", ("A",)),
        ],
    )
    assert codes(results) == [
        "ok",
        "ok",
        "ok",
        "dup",
        "seq_conflict",
        "unknown_item",
        "not_your_attempt",
    ]
    assert service.current_answers(session, aid) == {"Q001": "C"}
    assert attempt.last_seq == 3


def test_an_older_save_alone_in_its_batch_is_stored(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    """Issue 15's own bug: a late older change alone in its group commit raises no
    attempt's ``last_seq``; it is stored all the same, and the newer one still wins."""
    clock.set(T0 - 5 * MIN)
    attempt = login(session, clock, world).attempt
    aid = attempt.id
    clock.set(T0 + MIN)
    service.sweep(session, world.sittings[0].id, clock.now())
    newer = service.save_answers(session, clock.now(), [SaveRequest(aid, 2, "Q002", ("B",))])
    assert codes(newer) == ["ok"]
    session.flush()
    older = service.save_answers(session, clock.now(), [SaveRequest(aid, 1, "Q001", ("A",))])
    assert codes(older) == ["ok"]
    # a batch of resends and late older changes only: none raises last_seq either
    stale = service.save_answers(
        session,
        clock.now(),
        [SaveRequest(aid, 1, "Q001", ("A",)), SaveRequest(aid, 2, "Q002", ("B",))],
    )
    assert codes(stale) == ["dup", "dup"]
    session.flush()
    assert (
        session.scalar(select(Answer.response).where(Answer.attempt_id == aid, Answer.seq == 1))
        == "A"
    )
    assert service.current_answers(session, aid) == {"Q001": "A", "Q002": "B"}
    assert attempt.last_seq == 2


def test_answers_refused_before_start_and_after_deadline(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0 - 5 * MIN)
    aid = login(session, clock, world).attempt.id
    assert codes(
        service.save_answers(session, clock.now(), [SaveRequest(aid, 1, "Q001", ("A",))])
    ) == ["not_started"]
    clock.set(T0 + 60 * MIN)
    service.sweep(session, world.sittings[0].id, T0)
    assert codes(
        service.save_answers(session, clock.now(), [SaveRequest(aid, 1, "Q001", ("A",))])
    ) == ["deadline_passed"]


def test_submit_too_early_pending_then_ok(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0)
    attempt = login(session, clock, world).attempt
    service.save_answers(session, clock.now(), [SaveRequest(attempt.id, 1, "Q002", ("B",))])
    clock.set(T0 + 29 * MIN)
    with pytest.raises(RuleError) as exc:
        service.submit_by_candidate(session, clock.now(), attempt.id, 1)
    assert exc.value.code.value == "submit_too_early"
    clock.set(T0 + 30 * MIN)
    with pytest.raises(ServiceError) as exc2:
        service.submit_by_candidate(session, clock.now(), attempt.id, 2)
    assert exc2.value.code == "answers_pending" and exc2.value.retry
    receipt = service.submit_by_candidate(session, clock.now(), attempt.id, 1)
    assert attempt.state is AttemptState.SUBMITTED and attempt.submitted_by == "candidate"
    assert receipt.digest == answers_digest(
        attempt.candidate.ticket, attempt.sitting.code, {"Q002": "B"}
    )
    assert len(receipt.receipt) == 9 and receipt.receipt[4] == "-"
    # After submission nothing more is accepted, and a second submit is refused.
    assert codes(
        service.save_answers(session, clock.now(), [SaveRequest(attempt.id, 2, "Q003", ("A",))])
    ) == ["attempt_submitted"]
    with pytest.raises(RuleError):
        service.submit_by_candidate(session, clock.now(), attempt.id, 1)


def test_sweep_starts_marks_absent_and_auto_submits(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    sitting = world.sittings[0]
    clock.set(T0 - 10 * MIN)
    a0 = login(session, clock, world, 0).attempt
    a1 = login(session, clock, world, 1, terminal="T2").attempt
    r = service.sweep(session, sitting.id, T0)
    assert sorted(r.started) == sorted([a0.id, a1.id]) and r.next_wakeup == T0 + 30 * MIN
    service.grant_extra_time(session, T0 + 5 * MIN, a1, 10 * MIN, reason="终端故障", by="inv1")
    r = service.sweep(session, sitting.id, T0 + 30 * MIN)
    assert len(r.absent) == 2  # candidates 3 and 4 never came
    assert r.next_wakeup == T0 + 60 * MIN
    r = service.sweep(session, sitting.id, T0 + 60 * MIN)
    assert r.submitted == [a0.id] and r.next_wakeup == T0 + 70 * MIN
    assert a1.state is AttemptState.IN_PROGRESS
    r = service.sweep(session, sitting.id, T0 + 70 * MIN)
    assert r.submitted == [a1.id] and r.next_wakeup is None
    assert a1.submitted_by == "deadline" and sitting.closed_at == T0 + 70 * MIN
    # Idempotent: sweeping again changes nothing.
    r = service.sweep(session, sitting.id, T0 + 80 * MIN)
    assert (r.started, r.submitted, r.absent) == ([], [], [])


def test_pause_stops_the_clock_and_resume_credits_it(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    sitting = world.sittings[0]
    clock.set(T0)
    attempt = login(session, clock, world).attempt
    pause = service.start_pause(
        session, T0 + 10 * MIN, sitting_id=sitting.id, room_id=None, reason="停电", by="chief"
    )
    assert attempt.state is AttemptState.PAUSED
    with pytest.raises(ServiceError) as exc:
        service.start_pause(
            session, T0 + 11 * MIN, sitting_id=sitting.id, room_id=None, reason="again", by="chief"
        )
    assert exc.value.code == "already_paused"
    assert codes(
        service.save_answers(session, T0 + 12 * MIN, [SaveRequest(attempt.id, 1, "Q001", ("A",))])
    ) == ["attempt_paused"]
    r = service.sweep(session, sitting.id, T0 + 65 * MIN)
    assert r.submitted == []  # paused attempts are never auto-submitted
    service.end_pause(session, T0 + 70 * MIN, pause.id, by="chief")
    assert attempt.state is AttemptState.IN_PROGRESS
    timing = service.timing_of(session, attempt)
    from exam_server.sittings import engine

    assert engine.deadline(timing, T0 + 70 * MIN) == T0 + 120 * MIN
    assert codes(
        service.save_answers(session, T0 + 71 * MIN, [SaveRequest(attempt.id, 1, "Q001", ("A",))])
    ) == ["ok"]


def test_refusals_for_pause_and_extra_time_need_reasons(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError) as exc:
        service.start_pause(
            session, T0, sitting_id=world.sittings[0].id, room_id=None, reason=" ", by="c"
        )
    assert exc.value.code == "reason_required"
    with pytest.raises(ServiceError) as exc:
        service.grant_extra_time(session, T0, world.attempt(0), 5 * MIN, reason="", by="i")
    assert exc.value.code == "reason_required"
    with pytest.raises(ServiceError) as exc:
        service.grant_extra_time(session, T0, world.attempt(0), -5 * MIN, reason="x", by="i")
    assert exc.value.code == "bad_extra_time"


def test_event_chain_verifies_and_names_a_tampered_entry(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0)
    for n in range(3):
        login(session, clock, world, n, terminal=f"T{n}")
    report = verify_chain(session)
    assert report.ok and report.entries >= 3
    # The database refuses edits to the log outright...
    target = session.scalars(select(Event).order_by(Event.seq)).all()[1]
    with pytest.raises(DBAPIError), session.begin_nested():
        session.execute(text("UPDATE event_log SET actor = 'x' WHERE seq = :s"), {"s": target.seq})
    # ...and if someone gets past that (triggers dropped), verification names the entry.
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(text("DROP TRIGGER event_log_no_update"))
    else:
        session.execute(text("ALTER TABLE event_log DISABLE TRIGGER event_log_append_only"))
    session.execute(text("UPDATE event_log SET actor = 'forged' WHERE seq = :s"), {"s": target.seq})
    session.expire_all()
    report = verify_chain(session)
    assert not report.ok and report.first_broken_seq == target.seq and "changed" in report.problem


def test_answers_are_append_only_in_the_database(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0)
    attempt = login(session, clock, world).attempt
    service.save_answers(session, T0 + MIN, [SaveRequest(attempt.id, 1, "Q001", ("A",))])
    with pytest.raises(DBAPIError), session.begin_nested():
        session.execute(text("DELETE FROM answer"))
    assert session.scalar(select(Answer.response)) == "A"


def test_relogin_authorisation_needs_a_reason_and_an_open_attempt(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    clock.set(T0)
    attempt = login(session, clock, world, terminal="T1").attempt
    with pytest.raises(ServiceError) as exc:
        service.authorise_relogin(session, T0, attempt, reason=" ", by="inv")
    assert exc.value.code == "reason_required"
    service.authorise_relogin(session, T0 + MIN, attempt, reason="终端死机", by="inv")
    moved = login(session, clock, world, terminal="T2", seat="01-30")
    assert moved.attempt.seat.label == "01-30"
    with pytest.raises(ServiceError) as exc:
        login(session, clock, world, terminal="T3", seat="01-29")
    assert exc.value.code == "wrong_seat"  # the authorisation was used up


def test_a_power_cut_is_credited_before_anyone_is_submitted(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    from exam_server.sittings import engine
    from exam_server.system.service import beat, record_downtime

    sitting = world.sittings[0]
    clock.set(T0 - 5 * MIN)
    attempt = login(session, clock, world).attempt
    service.sweep(session, sitting.id, T0)
    beat(session, T0 + 50 * MIN)  # last sign of life, 10 minutes before the end
    # Lights back 20 minutes later: past the sitting's end.
    gap = record_downtime(session, T0 + 70 * MIN, threshold_s=10, credit_s=60)
    assert gap == 20 * MIN
    r = service.sweep(session, sitting.id, T0 + 70 * MIN)
    assert r.submitted == [] and attempt.state is AttemptState.IN_PROGRESS
    assert engine.deadline(service.timing_of(session, attempt), T0 + 70 * MIN) == T0 + 80 * MIN
    kinds = session.scalars(select(Event.kind).where(Event.kind == "server.downtime")).all()
    assert kinds == ["server.downtime"]


def test_a_short_crash_changes_no_deadline(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    from exam_server.sittings import engine
    from exam_server.system.service import beat, record_downtime

    clock.set(T0)
    attempt = login(session, clock, world).attempt
    beat(session, T0 + 20 * MIN)
    assert record_downtime(
        session, T0 + 20 * MIN + timedelta(seconds=30), threshold_s=10, credit_s=60
    )
    assert engine.deadline(service.timing_of(session, attempt), T0 + 21 * MIN) == T0 + 60 * MIN


def test_the_heartbeat_never_goes_back(session) -> None:  # type: ignore[no-untyped-def]
    """A beat committed late with an older instant (the periodic job's, behind a clock
    jump's) leaves the later one: otherwise a restart would take the gap for a power cut."""
    from exam_server.system.models import ServerState
    from exam_server.system.service import HEARTBEAT, beat, record_downtime

    beat(session, T0 + 20 * MIN)
    beat(session, T0 + 5 * MIN)  # late, older
    assert session.get(ServerState, HEARTBEAT).at == T0 + 20 * MIN
    beat(session, T0 + 21 * MIN)
    assert session.get(ServerState, HEARTBEAT).at == T0 + 21 * MIN
    # a restart 5 s after the last beat finds no downtime
    assert record_downtime(session, T0 + 21 * MIN + timedelta(seconds=5), threshold_s=10) is None


def test_the_end_submits_everyone_as_one_by_one_would(session, clock, world) -> None:  # type: ignore[no-untyped-def]
    """The sweep reads every attempt's answers and logs every submission in one go; what
    it stores must be what submitting each attempt alone would store."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from exam_server.system.keys import public_key_hex, signing_key

    sitting = world.sittings[0]
    clock.set(T0 - 10 * MIN)
    attempts = [login(session, clock, world, n, terminal=f"T{n}").attempt for n in range(3)]
    service.sweep(session, sitting.id, T0)
    saves = [
        SaveRequest(attempts[0].id, 1, "Q001", ("A",)),
        SaveRequest(attempts[0].id, 2, "Q001", ("B",)),  # changed: the later one counts
        SaveRequest(attempts[0].id, 3, "Q002", ("A", "C")),
        SaveRequest(attempts[1].id, 1, "Q003", ("D",)),
        SaveRequest(attempts[1].id, 2, "Q003", ()),  # cleared: no answer
        # attempts[2] answered nothing
    ]
    assert codes(service.save_answers(session, T0 + MIN, saves)) == ["ok"] * 5
    expected = {a.id: service.current_answers(session, a.id) for a in attempts}
    assert expected == {
        attempts[0].id: {"Q001": "B", "Q002": "AC"},
        attempts[1].id: {},
        attempts[2].id: {},
    }
    assert service.current_answers_many(session, [a.id for a in attempts], chunk=2) == expected

    before = session.scalar(select(Event.seq).order_by(Event.seq.desc()).limit(1))
    r = service.sweep(session, sitting.id, T0 + 60 * MIN)
    assert sorted(r.submitted) == sorted(a.id for a in attempts)
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex(signing_key(session))))
    for a in attempts:
        assert a.state is AttemptState.SUBMITTED and a.submitted_by == "deadline"
        assert a.digest == answers_digest(a.candidate.ticket, sitting.code, expected[a.id])
        public.verify(bytes.fromhex(a.signature), bytes.fromhex(a.digest))  # raises if wrong
    logged = session.scalars(
        select(Event).where(Event.seq > before, Event.kind == "attempt.submitted")
    ).all()
    assert sorted(e.attempt_id for e in logged) == sorted(a.id for a in attempts)
    assert {e.attempt_id: e.data["answered"] for e in logged} == {
        a.id: len(expected[a.id]) for a in attempts
    }
    seqs = [e.seq for e in session.scalars(select(Event).order_by(Event.seq))]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no fork
    assert verify_chain(session).ok


def test_a_login_for_a_named_sitting_is_judged_by_that_sittings_rules(
    session, clock, world
) -> None:  # type: ignore[no-untyped-def]
    first, second = world.sittings[0], world.sittings[1]
    clock.set(T0 + 10 * MIN)
    assert login(session, clock, world).attempt.sitting_id == first.id

    def named(sitting_id: int):  # type: ignore[no-untyped-def]
        return service.login(
            session,
            clock.now(),
            ticket=ticket_for(1),
            id_number=id_number_for(1),
            terminal_id="T1",
            seat_label=seat_label(world, 0),
            sitting_id=sitting_id,
        )

    # The second sitting's login opens 30 min before its start (T0 + 60 min): asked for
    # by name now, it says so; it never falls back to the sitting open now.
    with pytest.raises(ServiceError) as exc:
        named(second.id)
    assert exc.value.code == "entry_not_open"
    with pytest.raises(ServiceError) as exc:
        named(second.id + 1000)
    assert exc.value.code == "not_in_sitting"
    # Later, the second sitting's window open and the first one over: a terminal logging
    # its candidate in again names the first sitting and is told it is over (not logged
    # in to the second sitting, which a login without a name now reaches); once the
    # server has submitted it, it gets the submitted attempt back.
    clock.set(T0 + 70 * MIN)
    with pytest.raises(ServiceError) as exc:
        named(first.id)
    assert exc.value.code == "deadline_passed"
    assert login(session, clock, world).attempt.sitting_id == second.id
    service.sweep(session, first.id, clock.now())
    again = named(first.id).attempt
    assert again.sitting_id == first.id and again.state is AttemptState.SUBMITTED


def test_in_the_overlap_of_two_windows_the_next_sitting_is_the_one_refused_or_entered(
    session: Session, clock: ManualClock
) -> None:
    """The issue's fault: the next sitting's login opens (start - 30 min) before this one
    ends. A candidate absent from this one, come for the next, was told "开考已超过规定时间"
    (this sitting's late entry), at the wrong seat as at the right one."""
    world = make_world(session, start=T0, candidates=2, sittings=2, gap=timedelta(minutes=75))
    clock.set(T0 + 31 * MIN)
    service.sweep(session, world.sittings[0].id, clock.now())  # late entry closed: absent
    assert world.attempt(0, 0).state is AttemptState.ABSENT
    # Before the next login opens, the refusal says why (late entry closed).
    clock.set(T0 + 40 * MIN)
    with pytest.raises(ServiceError) as late:
        login(session, clock, world)
    assert late.value.code == "late_entry_closed"
    clock.set(T0 + 50 * MIN)  # sitting 1 runs to T0+60; sitting 2's login opened at T0+45
    right = world.attempt(0, 1).seat.label
    wrong = next(s.label for s in world.rooms[0].seats if s.label != right and not s.is_spare)
    with pytest.raises(ServiceError) as exc:
        login(session, clock, world, seat=wrong)
    assert exc.value.code == "wrong_seat"
    entered = login(session, clock, world, seat=right)
    assert entered.attempt.sitting_id == world.sittings[1].id
