"""Login and seating: the ticket, the ID number, the seat, the one terminal an attempt belongs to."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from exam_common.tickets import TicketError, TicketRule
from exam_server.candidates.models import Candidate
from exam_server.centres.models import Room, Seat
from exam_server.eventlog import service as eventlog
from exam_server.plans.models import ExamPlan, Sitting
from exam_server.sittings import engine
from exam_server.sittings.engine import AttemptState, RuleError, Timing
from exam_server.sittings.models import Attempt
from exam_server.sittings.service.errors import ServiceError
from exam_server.sittings.service.submission import lock_attempt
from exam_server.sittings.service.timing import timing_of
from exam_server.throttle import service as throttle


@dataclass(frozen=True)
class LoginResult:
    attempt: Attempt
    timing: Timing
    first_login: bool
    #: a fresh resume token (a login with the ID number); None when resuming
    resume_token: str | None = None


def parse_seat_label(label: str) -> tuple[str, int]:
    """``"01-07"`` -> (room code ``"01"``, seat 7)."""
    room, sep, seat = label.rpartition("-")
    if not sep or not room or not seat.isdigit():
        raise ServiceError("seat_required", f"seat label {label!r} is not ROOM-SEAT")
    return room, int(seat)


def find_seat(session: Session, label: str) -> Seat:
    room_code, number = parse_seat_label(label)
    seat = session.scalar(
        select(Seat).join(Room).where(Room.code == room_code, Seat.number == number)
    )
    if seat is None:
        raise ServiceError("seat_required", f"no seat {label} in this centre")
    return seat


def _open_attempt_for(session: Session, candidate: Candidate, now: datetime) -> Attempt:
    attempts = session.scalars(
        select(Attempt)
        .options(joinedload(Attempt.sitting), joinedload(Attempt.seat))
        .where(Attempt.candidate_id == candidate.id)
        .join(Sitting)
        .order_by(Sitting.start)
    ).all()
    upcoming: Attempt | None = None
    refused: Attempt | None = None
    for attempt in attempts:
        if attempt.state in engine.FINAL_STATES and attempt.state is not AttemptState.ABSENT:
            continue
        timing = timing_of(session, attempt)
        opens = timing.start - attempt.sitting.rules.entry_opens_before
        if now < opens:
            upcoming = upcoming or attempt
            continue
        if now < engine.deadline(timing, now) or engine.is_paused(timing, now):
            # Where two sittings' windows overlap (the next one's login opens before this
            # one ends), a sitting this candidate can no longer enter (absent, late entry
            # closed) must not hide the next one they came for: its refusal is kept only
            # in case no other sitting lets them in.
            if attempt.state is AttemptState.ABSENT or not _may_log_in(attempt, timing, now):
                refused = refused or attempt
                continue
            return attempt
    if refused is not None:
        return refused
    if upcoming is not None:
        return upcoming  # check_login will say when it opens
    # The candidate's most recent attempt, so that the refusal says why (late, submitted...).
    finished = [a for a in attempts if a.sitting.start <= now]
    if finished:
        return finished[-1]
    raise ServiceError("no_open_sitting")


def _may_log_in(attempt: Attempt, timing: engine.Timing, now: datetime) -> bool:
    try:
        engine.check_login(
            attempt.sitting.rules,
            timing,
            now,
            first_login=attempt.logged_in_at is None,
            admitted_late=attempt.admitted_late,
        )
    except RuleError:
        return False
    return True


def _attempt_in_sitting(session: Session, candidate: Candidate, sitting_id: int) -> Attempt:
    attempt = session.scalar(
        select(Attempt)
        .options(joinedload(Attempt.sitting), joinedload(Attempt.seat))
        .where(Attempt.candidate_id == candidate.id, Attempt.sitting_id == sitting_id)
    )
    if attempt is None:
        raise ServiceError("not_in_sitting", f"no attempt in sitting {sitting_id}")
    return attempt


def ticket_rules(session: Session) -> list[TicketRule]:
    """The ticket rules of the plans this centre holds (one, in practice), distinct."""
    rules: list[TicketRule] = []
    doc: dict[str, Any] | None
    for doc in session.scalars(select(ExamPlan.ticket_rule).order_by(ExamPlan.id.desc())):
        if doc:
            rule = TicketRule.model_validate(doc)
            if rule not in rules:
                rules.append(rule)
    return rules


def _broken_ticket(rules: list[TicketRule], ticket: str) -> TicketError | None:
    """Why ``ticket`` follows none of the rules (the first rule's reason), or ``None``."""
    first: TicketError | None = None
    for rule in rules:
        try:
            rule.verify(rule.normalise(ticket))
            return None
        except TicketError as exc:
            first = first or exc
    return first


@dataclass(frozen=True)
class LoginLimits:
    """Wrong ID numbers tolerated per ticket and per terminal (inside ``window``) before
    the ticket or the terminal locks until an invigilator unlocks it."""

    ticket: int = 5
    terminal: int = 10
    window: timedelta = timedelta(minutes=30)

    def policy(self, scope: str) -> throttle.Policy:
        limit = self.ticket if scope == "ticket" else self.terminal
        return throttle.Policy(limit, self.window, lock=True)


def _home_room(session: Session, candidate: Candidate, now: datetime) -> int | None:
    """The room of the candidate's nearest unfinished sitting (whose invigilator sees a
    lock of their ticket), else of their latest one."""
    rows = session.execute(
        select(Seat.room_id, Sitting.end)
        .join(Attempt, Attempt.seat_id == Seat.id)
        .join(Sitting, Attempt.sitting_id == Sitting.id)
        .where(Attempt.candidate_id == candidate.id)
        .order_by(Sitting.start)
    ).all()
    upcoming = [room for room, end in rows if end > now]
    return upcoming[0] if upcoming else (rows[-1][0] if rows else None)


def login(
    session: Session,
    now: datetime,
    *,
    ticket: str,
    id_number: str,
    terminal_id: str,
    seat_label: str | None,
    sitting_id: int | None = None,
    limits: LoginLimits | None = None,
    terminal_room_id: int | None = None,
) -> LoginResult:
    """A candidate logs in at a terminal (准考证号 + 身份证号), checked against every rule.

    ``sitting_id``: the sitting to log in to (a terminal logging its candidate in again
    after a reconnect names the sitting it was in), judged by that sitting's own rules;
    ``None``: the candidate's sitting open now.

    Wrong ID numbers are counted per ticket and per terminal (``limits``): past the limit
    that ticket, or that terminal, is refused (``login_locked``, ``terminal_locked``) until
    an invigilator unlocks it on the console. The refusal and the counting are the
    caller's to commit."""
    limits = limits or LoginLimits()
    rules = ticket_rules(session)
    if rules:
        ticket = rules[0].normalise(ticket)
    try:
        throttle.check(session, now, "terminal", terminal_id)
    except throttle.Throttled:
        raise ServiceError("terminal_locked") from None
    try:
        throttle.check(session, now, "ticket", ticket)
    except throttle.Throttled:
        raise ServiceError("login_locked") from None
    candidate = session.scalar(select(Candidate).where(Candidate.ticket == ticket))
    if candidate is None or candidate.id_number.upper() != id_number.upper():
        broken = _broken_ticket(rules, ticket) if candidate is None else None
        locked = []
        if candidate is not None:
            row = throttle.fail(
                session,
                now,
                "ticket",
                ticket,
                limits.policy("ticket"),
                room_id=_home_room(session, candidate, now),
                label=f"{ticket} {candidate.name}",
            )
            if row.locked_at == now:
                locked.append("ticket")
        row = throttle.fail(
            session,
            now,
            "terminal",
            terminal_id,
            limits.policy("terminal"),
            room_id=terminal_room_id,
            label=f"{seat_label or '?'} {terminal_id}",
        )
        if row.locked_at == now:
            locked.append("terminal")
        eventlog.append(
            session,
            at=now,
            actor=f"terminal:{terminal_id}",
            kind="candidate.login_refused",
            room_id=terminal_room_id,
            data={
                "ticket": ticket,
                "code": "bad_ticket" if broken else "bad_credentials",
                "seat": seat_label,
            }
            | ({"locked": locked} if locked else {}),
        )
        if "ticket" in locked:
            raise ServiceError("login_locked")
        if "terminal" in locked:
            raise ServiceError("terminal_locked")
        if broken is not None:
            raise ServiceError("bad_ticket", broken.code, params={"why": (broken.zh, broken.en)})
        raise ServiceError("bad_credentials")
    throttle.succeeded(session, "ticket", ticket)
    throttle.succeeded(session, "terminal", terminal_id)
    result = _enter(
        session,
        now,
        candidate,
        terminal_id=terminal_id,
        seat_label=seat_label,
        sitting_id=sitting_id,
    )
    token = secrets.token_urlsafe(24)
    result.attempt.resume_token_hash = hashlib.sha256(token.encode()).hexdigest()
    session.flush()
    return LoginResult(result.attempt, result.timing, result.first_login, token)


def resume(
    session: Session,
    now: datetime,
    *,
    attempt_id: int,
    token: str,
    terminal_id: str,
    seat_label: str | None,
    sitting_id: int | None = None,
) -> LoginResult:
    """The terminal the candidate logged in at logs them in again (after a reconnect or a
    restart) with its resume token instead of the ID number, which it never keeps. Any
    other terminal, or a token from before the candidate's latest login elsewhere, is
    refused with ``relogin_required``: the candidate types their ID number again.

    ``sitting_id``, when given, must be the token's attempt's sitting (the terminal names
    the sitting it was in); any other is refused with ``resume_wrong_sitting``."""
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        raise ServiceError("relogin_required", f"no attempt {attempt_id}")
    digest = hashlib.sha256(token.encode()).hexdigest()
    if (
        attempt.resume_token_hash is None
        or not hmac.compare_digest(attempt.resume_token_hash, digest)
        or attempt.terminal_id != terminal_id
    ):
        # The candidate logged in elsewhere since (a seat change): say so precisely.
        if seat_label and find_seat(session, seat_label).id != attempt.seat_id:
            raise ServiceError("wrong_seat", "the candidate sits at another seat now")
        raise ServiceError("relogin_required", "the resume token is not this terminal's")
    if sitting_id is not None and sitting_id != attempt.sitting_id:
        # A token proves the login to its own attempt's sitting only: honouring another
        # sitting here would let it enter that one without the ID number.
        raise ServiceError(
            "resume_wrong_sitting",
            f"the token is for sitting {attempt.sitting_id}, not {sitting_id}",
        )
    return _enter(
        session,
        now,
        attempt.candidate,
        terminal_id=terminal_id,
        seat_label=seat_label,
        sitting_id=attempt.sitting_id,
    )


def _enter(
    session: Session,
    now: datetime,
    candidate: Candidate,
    *,
    terminal_id: str,
    seat_label: str | None,
    sitting_id: int | None,
) -> LoginResult:
    """The rules of a login once the candidate is known: the sitting's windows, the
    attempt's state, the seat (a seat change needs the invigilator's authorisation) and
    the terminal (another terminal needs it too)."""
    ticket = candidate.ticket
    if not seat_label:
        raise ServiceError("seat_required")
    seat = find_seat(session, seat_label)
    attempt = (
        _open_attempt_for(session, candidate, now)
        if sitting_id is None
        else _attempt_in_sitting(session, candidate, sitting_id)
    )
    lock_attempt(session, attempt.id)
    session.refresh(attempt)
    timing = timing_of(session, attempt)
    first_login = attempt.logged_in_at is None

    def refuse(
        code: str, detail: str = "", params: dict[str, object] | None = None
    ) -> ServiceError:
        eventlog.append(
            session,
            at=now,
            actor=f"candidate:{ticket}",
            kind="candidate.login_refused",
            sitting_id=attempt.sitting_id,
            room_id=seat.room_id,
            attempt_id=attempt.id,
            data={"code": code, "terminal": terminal_id, "seat": seat_label},
        )
        return ServiceError(code, detail, params=params)

    try:
        if attempt.state is AttemptState.ABSENT:
            # Absent because late entry closed: say that (it is the rule that applies).
            engine.check_login(
                attempt.sitting.rules, timing, now, first_login=True, admitted_late=False
            )
            raise RuleError(engine.Refusal.ATTEMPT_ABSENT)
        if attempt.state is AttemptState.VOIDED:
            raise RuleError(engine.Refusal.ATTEMPT_VOIDED)
        if attempt.state is not AttemptState.SUBMITTED:
            engine.check_login(
                attempt.sitting.rules,
                timing,
                now,
                first_login=first_login,
                admitted_late=attempt.admitted_late,
            )
    except RuleError as exc:
        raise refuse(exc.code.value, exc.detail, exc.params) from None

    moved = False
    if seat.id != attempt.seat_id:
        if not attempt.relogin_authorised:
            raise refuse("wrong_seat", f"seat {seat_label} is not this candidate's")
        moved = True
    elif (
        not first_login
        and attempt.terminal_id not in (None, terminal_id)
        and not attempt.relogin_authorised
    ):
        raise refuse("relogin_required")

    previous_seat = attempt.seat.label
    if moved or (not first_login and attempt.terminal_id != terminal_id):
        attempt.relogin_authorised = False
    attempt.seat_id = seat.id
    attempt.terminal_id = terminal_id
    if first_login:
        attempt.logged_in_at = now
    if attempt.state is AttemptState.WAITING and now >= timing.start:
        attempt.state = engine.transition(attempt.state, AttemptState.IN_PROGRESS)
        attempt.started_at = now
    session.flush()
    session.refresh(attempt, attribute_names=["seat"])
    eventlog.append(
        session,
        at=now,
        actor=f"candidate:{ticket}",
        kind="candidate.seat_changed" if moved else "candidate.login",
        sitting_id=attempt.sitting_id,
        room_id=seat.room_id,
        attempt_id=attempt.id,
        data={"terminal": terminal_id, "seat": seat_label, "first": first_login}
        | ({"from_seat": previous_seat} if moved else {}),
    )
    return LoginResult(attempt, timing_of(session, attempt), first_login)
