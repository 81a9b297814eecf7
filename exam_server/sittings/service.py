"""Service functions of the sitting: login, answer saves, submission, the end.

Each takes the session of the caller's unit of work and the instant ``now`` from the
injected clock, checks the rules through :mod:`exam_server.sittings.engine`, and only
flushes. Refusals raise :class:`ServiceError` (or the engine's ``RuleError``) with a code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, joinedload, undefer
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from exam_common.receipts import answers_digest, receipt_code
from exam_common.tickets import TicketError, TicketRule
from exam_server.candidates.models import Candidate
from exam_server.centres.models import Room, Seat
from exam_server.eventlog import service as eventlog
from exam_server.messages import duration
from exam_server.plans.models import ExamPlan, Paper, Pause, Sitting
from exam_server.sittings import engine
from exam_server.sittings.engine import AttemptState, Interval, RuleError, Timing
from exam_server.sittings.models import Answer, Attempt
from exam_server.system.keys import signing_key
from exam_server.throttle import service as throttle

#: the attempts' table, for the Core statements of the hot path (executemany updates)
ATTEMPT_TABLE = cast(Table, Attempt.__table__)


class ServiceError(Exception):
    """A refusal that is not one of the timing rules (identity, seat, protocol state)."""

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        retry: bool = False,
        params: dict[str, object] | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.retry = retry
        #: figures the message names (``exam_server.messages.message``)
        self.params: dict[str, object] = params or {}


# --- timing ----------------------------------------------------------------------------


def pauses_for(session: Session, sitting_id: int, room_id: int) -> tuple[Interval, ...]:
    rows = session.scalars(
        select(Pause).where(
            Pause.sitting_id == sitting_id, or_(Pause.room_id.is_(None), Pause.room_id == room_id)
        )
    ).all()
    return tuple(Interval(p.started_at, p.ended_at) for p in rows)


def timing_of(session: Session, attempt: Attempt) -> Timing:
    sitting = attempt.sitting
    return Timing(
        start=sitting.start,
        end=sitting.end,
        extra_time=attempt.extra_time,
        pauses=pauses_for(session, sitting.id, attempt.seat.room_id),
    )


def timings_for(session: Session, attempts: Iterable[Attempt]) -> dict[int, Timing]:
    """Timings of many attempts with one query for their pauses (the sweep, the start)."""
    attempts = list(attempts)
    pauses = pauses_by_scope(session, {a.sitting_id for a in attempts})
    return {
        a.id: Timing(
            start=a.sitting.start,
            end=a.sitting.end,
            extra_time=a.extra_time,
            pauses=pauses.get((a.sitting_id, None), ())
            + pauses.get((a.sitting_id, a.seat.room_id), ()),
        )
        for a in attempts
    }


# --- login -----------------------------------------------------------------------------


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
    refused with ``relogin_required``: the candidate types their ID number again."""
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
    return _enter(
        session,
        now,
        attempt.candidate,
        terminal_id=terminal_id,
        seat_label=seat_label,
        sitting_id=sitting_id or attempt.sitting_id,
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


# --- answers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveRequest:
    attempt_id: int
    seq: int
    item_id: str
    response: tuple[str, ...]


@dataclass(frozen=True)
class SaveResult:
    seq: int
    duplicate: bool


def save_answers(
    session: Session, now: datetime, requests: Iterable[SaveRequest]
) -> list[SaveResult | Exception]:
    """Store a batch of answer changes (the group commit's body); one result per request.

    A refused request does not stop the others. Nothing here commits: the answer writer
    commits the batch and only then acknowledges.

    This is the hot path of the whole server, so it reads with a fixed number of Core
    queries per batch (attempts, their pauses, the sequence numbers already held) and
    writes with one multi-row insert, whatever the batch size.
    """
    requests = list(requests)
    ids = {r.attempt_id for r in requests}
    rows = {
        row.id: row
        for row in session.execute(
            select(
                Attempt.id,
                Attempt.state,
                Attempt.paper_id,
                Attempt.extra_time_s,
                Attempt.last_seq,
                Attempt.sitting_id,
                Seat.room_id,
                Sitting.start,
                Sitting.end,
            )
            .join(Seat, Attempt.seat_id == Seat.id)
            .join(Sitting, Attempt.sitting_id == Sitting.id)
            .where(Attempt.id.in_(ids))
            .with_for_update(of=Attempt)
        )
    }
    pauses = pauses_by_scope(session, {r.sitting_id for r in rows.values()})
    existing = {
        (row.attempt_id, row.seq): row.response
        for row in session.execute(
            select(Answer.attempt_id, Answer.seq, Answer.response).where(
                Answer.attempt_id.in_(ids), Answer.seq.in_({r.seq for r in requests})
            )
        )
    }
    timings: dict[int, Timing] = {}
    results: list[SaveResult | Exception] = []
    stored: list[dict[str, object]] = []
    last_seq = {aid: row.last_seq for aid, row in rows.items()}
    for req in requests:
        row = rows.get(req.attempt_id)
        response = "".join(req.response)
        try:
            if row is None:
                raise ServiceError("not_your_attempt", f"no attempt {req.attempt_id}")
            prior = existing.get((req.attempt_id, req.seq))
            if prior is not None:
                # A resend of a change we already hold: harmless, acknowledge it again.
                if prior != response:
                    raise ServiceError("seq_conflict", f"seq {req.seq} already holds {prior!r}")
                results.append(SaveResult(req.seq, duplicate=True))
                continue
            if req.item_id not in paper_item_ids(session, row.paper_id):
                raise ServiceError("unknown_item", req.item_id)
            timing = timings.get(row.id)
            if timing is None:
                timing = timings[row.id] = Timing(
                    start=row.start,
                    end=row.end,
                    extra_time=timedelta(seconds=row.extra_time_s),
                    pauses=pauses.get((row.sitting_id, None), ())
                    + pauses.get((row.sitting_id, row.room_id), ()),
                )
            engine.check_answer(row.state, timing, now)
        except (ServiceError, RuleError) as exc:
            results.append(exc)
            continue
        stored.append(
            {
                "attempt_id": row.id,
                "seq": req.seq,
                "item_id": req.item_id,
                "response": response,
                "server_time": now,
            }
        )
        existing[(req.attempt_id, req.seq)] = response
        last_seq[row.id] = max(last_seq[row.id], req.seq)
        results.append(SaveResult(req.seq, duplicate=False))
    if stored:
        session.execute(insert(Answer), stored)
        changed = [(aid, seq) for aid, seq in last_seq.items() if seq != rows[aid].last_seq]
        if changed:
            # Only when a save raised an attempt's highest sequence number: a batch of late
            # older changes raises none, and an executemany with no parameter sets would run
            # the statement once with none bound (and fail the whole batch).
            session.execute(
                update(ATTEMPT_TABLE)
                .where(ATTEMPT_TABLE.c.id == bindparam("aid"))
                .values(last_seq=bindparam("seq")),
                [{"aid": aid, "seq": seq} for aid, seq in changed],
            )
        for aid, seq in changed:  # keep attempts already in this session up to date
            obj = session.identity_map.get(identity_key(Attempt, aid))
            if obj is not None:
                set_committed_value(obj, "last_seq", seq)
        # One chain entry per batch: the batch's exact content, hashed.
        body = json.dumps(
            [[x["attempt_id"], x["seq"], x["item_id"], x["response"]] for x in stored],
            separators=(",", ":"),
        )
        eventlog.append(
            session,
            at=now,
            actor="server",
            kind="answers.stored",
            data={
                "count": len(stored),
                "sha256": hashlib.sha256(body.encode()).hexdigest(),
                "attempts": sorted({int(str(x["attempt_id"])) for x in stored}),
            },
        )
    return results


#: paper id -> its item ids. Papers never change after import, so this cache is safe.
_ITEM_IDS: dict[int, frozenset[str]] = {}


def paper_item_ids(session: Session, paper_id: int) -> frozenset[str]:
    ids = _ITEM_IDS.get(paper_id)
    if ids is None:
        items = session.scalar(select(Paper.items).where(Paper.id == paper_id)) or []
        ids = _ITEM_IDS[paper_id] = frozenset(i["item_id"] for i in items)
    return ids


def pauses_by_scope(
    session: Session, sitting_ids: set[int]
) -> dict[tuple[int, int | None], tuple[Interval, ...]]:
    """Every pause of these sittings in one query, by (sitting, room); room ``None`` holds
    the centre-wide pauses, which apply to every room."""
    out: dict[tuple[int, int | None], tuple[Interval, ...]] = {}
    if not sitting_ids:
        return out
    for row in session.execute(
        select(Pause.sitting_id, Pause.room_id, Pause.started_at, Pause.ended_at).where(
            Pause.sitting_id.in_(sitting_ids)
        )
    ):
        key = (row.sitting_id, row.room_id)
        out[key] = out.get(key, ()) + (Interval(row.started_at, row.ended_at),)
    return out


def current_answers(session: Session, attempt_id: int) -> dict[str, str]:
    """Each item's answer: the response with the highest sequence number for it."""
    return current_answers_many(session, [attempt_id]).get(attempt_id, {})


#: Per attempt and item, the highest sequence number: the row of its current answer. Built
#: once, with the attempts bound at execution (``{"attempt_ids": [...]}``, an expanding
#: IN): the live console asks for it twice a second, and a statement built per call was
#: both compile work and cyclic garbage.
LATEST_SEQS = (
    select(Answer.attempt_id, Answer.item_id, func.max(Answer.seq).label("seq"))
    .where(Answer.attempt_id.in_(bindparam("attempt_ids", expanding=True)))
    .group_by(Answer.attempt_id, Answer.item_id)
    .subquery("latest")
)
#: joins Answer to its current rows (item_id too, redundant as (attempt, seq) is unique:
#: then the (attempt, item, seq, response) index covers the whole read)
IS_LATEST = and_(
    Answer.attempt_id == LATEST_SEQS.c.attempt_id,
    Answer.item_id == LATEST_SEQS.c.item_id,
    Answer.seq == LATEST_SEQS.c.seq,
)


def current_answers_many(
    session: Session, attempt_ids: Iterable[int], chunk: int = 500
) -> dict[int, dict[str, str]]:
    """:func:`current_answers` for many attempts, a few queries in all (the end of a
    sitting reads every attempt's answers twice: to sign them and to score them)."""
    return {
        aid: {item: response for item, (_, response) in items.items() if response}
        for aid, items in current_answer_seqs(session, attempt_ids, chunk).items()
    }


_CURRENT_SEQS = select(Answer.attempt_id, Answer.item_id, Answer.seq, Answer.response).join(
    LATEST_SEQS, IS_LATEST
)


def current_answer_seqs(
    session: Session, attempt_ids: Iterable[int], chunk: int = 500
) -> dict[int, dict[str, tuple[int, str]]]:
    """Each item's latest change, as (sequence number, response), blanks included (the
    live console counts answered items from it; :func:`current_answers_many` drops the
    blanks)."""
    ids = sorted(set(attempt_ids))
    out: dict[int, dict[str, tuple[int, str]]] = {aid: {} for aid in ids}
    for i in range(0, len(ids), chunk):
        rows = session.execute(_CURRENT_SEQS, {"attempt_ids": ids[i : i + chunk]})
        for aid, item, seq, response in rows:
            out[aid][item] = (seq, response)
    return out


# --- submission ------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    submitted_at: datetime
    digest: str
    signature: str
    receipt: str


def _finalise(
    session: Session,
    attempt: Attempt,
    now: datetime,
    by: str,
    *,
    answers: dict[str, str] | None = None,
    log: list[eventlog.Entry] | None = None,
    key: Ed25519PrivateKey | None = None,
) -> Receipt:
    """Submit one attempt: digest and sign its answers, log it. The sweep passes what it
    holds for every attempt at once (``answers``, the signing ``key``) and takes the event
    entry in ``log`` to append with the others; alone, it reads and appends itself."""
    if answers is None:
        answers = current_answers(session, attempt.id)
    digest = answers_digest(attempt.candidate.ticket, attempt.sitting.code, answers)
    signature = (key or signing_key(session)).sign(bytes.fromhex(digest)).hex()
    attempt.state = engine.transition(attempt.state, AttemptState.SUBMITTED)
    attempt.submitted_at = now
    attempt.submitted_by = by
    attempt.digest = digest
    attempt.signature = signature
    attempt.receipt = receipt_code(signature)
    entry = eventlog.Entry(
        at=now,
        actor="server" if by == "deadline" else by,
        kind="attempt.submitted",
        sitting_id=attempt.sitting_id,
        room_id=attempt.seat.room_id,
        attempt_id=attempt.id,
        data={"by": by, "answered": len(answers), "digest": digest, "last_seq": attempt.last_seq},
    )
    if log is None:
        session.flush()
        eventlog.append_many(session, [entry])
    else:
        log.append(entry)
    return Receipt(now, digest, signature, attempt.receipt)


def lock_attempt(session: Session, attempt_id: int) -> None:
    """Lock one attempt row until the transaction ends (saves, submit and the sweep
    serialise on it across processes; SQLite's write lock already does this)."""
    session.execute(select(Attempt.id).where(Attempt.id == attempt_id).with_for_update())


def submit_by_candidate(session: Session, now: datetime, attempt_id: int, last_seq: int) -> Receipt:
    """The candidate submits. Refused before ``start + earliest_submit`` and until the
    server holds the terminal's latest change ``last_seq`` (the terminal submits only with
    nothing left unacknowledged, so this is the server's own check that nothing is lost)."""
    lock_attempt(session, attempt_id)
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        raise ServiceError("not_your_attempt")
    engine.check_candidate_submit(
        attempt.sitting.rules, attempt.state, timing_of(session, attempt), now
    )
    if attempt.last_seq < last_seq:
        raise ServiceError(
            "answers_pending",
            f"holding up to {attempt.last_seq}, terminal has {last_seq}",
            retry=True,
        )
    return _finalise(session, attempt, now, "candidate")


def force_submit(session: Session, now: datetime, attempt: Attempt, by: str) -> Receipt:
    """An invigilator's submit (any time the attempt is open)."""
    if attempt.state not in (AttemptState.IN_PROGRESS, AttemptState.PAUSED):
        engine.transition(attempt.state, AttemptState.SUBMITTED)  # raises the precise reason
    return _finalise(session, attempt, now, by)


@dataclass(frozen=True)
class SweepResult:
    started: list[int]
    submitted: list[int]
    absent: list[int]
    next_wakeup: datetime | None


def sweep(session: Session, sitting_id: int, now: datetime) -> SweepResult:
    """Bring a sitting up to date at ``now``: start what should have started, mark absent
    who never logged in before late entry closed, submit every overdue attempt.

    Idempotent: the scheduler runs it at each boundary and at startup (reconciliation).
    """
    sitting = session.get(Sitting, sitting_id)
    if sitting is None:
        return SweepResult([], [], [], None)
    attempts = session.scalars(
        select(Attempt)
        .options(
            joinedload(Attempt.seat), joinedload(Attempt.candidate), joinedload(Attempt.sitting)
        )
        .where(Attempt.sitting_id == sitting_id)
        .order_by(Attempt.id)
    ).all()
    rules = sitting.rules
    started, submitted, absent = [], [], []
    overdue: list[Attempt] = []
    log: list[eventlog.Entry] = []
    timings: list[Timing] = []
    timing_by_id = timings_for(session, attempts)
    for attempt in attempts:
        timing = timing_by_id[attempt.id]
        if (
            attempt.state is AttemptState.WAITING
            and attempt.logged_in_at is not None
            and now >= timing.start
        ):
            attempt.state = engine.transition(attempt.state, AttemptState.IN_PROGRESS)
            attempt.started_at = timing.start
            started.append(attempt.id)
        never_came = attempt.state is AttemptState.WAITING and attempt.logged_in_at is None
        if never_came and (
            (not attempt.admitted_late and now >= timing.start + rules.late_entry)
            or now >= engine.deadline(timing, now)
        ):
            attempt.state = engine.transition(attempt.state, AttemptState.ABSENT)
            absent.append(attempt.id)
            log.append(
                eventlog.Entry(
                    at=now,
                    actor="server",
                    kind="attempt.absent",
                    sitting_id=sitting_id,
                    room_id=attempt.seat.room_id,
                    attempt_id=attempt.id,
                    reason=f"开考 {duration(rules.late_entry)} 后未登录 / not logged in when "
                    f"late entry closed ({duration(rules.late_entry, 'en')} after the start)",
                )
            )
        if engine.is_overdue(attempt.state, timing, now):
            overdue.append(attempt)
        elif attempt.state not in engine.FINAL_STATES:
            timings.append(timing)
    # The end of a sitting submits everyone at once: read all their answers in a few
    # queries and log all the submissions with one append (measured, bench/bench_sweep.py:
    # 1,000 attempts one by one took 2.5 s with the scoring, now 0.8 s).
    answers = current_answers_many(session, [a.id for a in overdue])
    key = signing_key(session) if overdue else None
    for attempt in overdue:
        _finalise(session, attempt, now, "deadline", answers=answers[attempt.id], log=log, key=key)
        submitted.append(attempt.id)
    if started:
        log.append(
            eventlog.Entry(
                at=now,
                actor="server",
                kind="sitting.started",
                sitting_id=sitting_id,
                data={"attempts": len(started)},
            )
        )
    session.flush()
    eventlog.append_many(session, log)
    if now >= sitting.start and sitting.sitting_key is None and sitting.closed_at is None:
        _wait_for_key(session, sitting)
    wake = engine.next_wakeup(timings, rules, now)
    if wake is None and now < sitting.end:
        wake = sitting.end  # everyone is done early: still close (and score) at the end
    if wake is None and sitting.closed_at is None and now >= sitting.end:
        sitting.closed_at = now
        eventlog.append(
            session, at=now, actor="server", kind="sitting.closed", sitting_id=sitting_id
        )
    session.flush()
    return SweepResult(started, submitted, absent, wake)


# --- pauses and extra time --------------------------------------------------------------

#: ``Pause.by`` of the pause the server opens itself when a sitting starts without its key
KEY_WAIT = "server:key"


def _wait_for_key(session: Session, sitting: Sitting) -> None:
    """No key at the start: nobody can open the paper, so the clock must not run. The
    server stops it for the whole centre from the start until the key is entered."""
    open_pause = session.scalar(
        select(Pause).where(Pause.sitting_id == sitting.id, Pause.by == KEY_WAIT)
    )
    if open_pause is None:
        start_pause(
            session,
            sitting.start,
            sitting_id=sitting.id,
            room_id=None,
            by=KEY_WAIT,
            reason="等待试卷密钥 / waiting for the paper key",
        )


def end_key_wait(session: Session, now: datetime, sitting: Sitting) -> None:
    pause = session.scalar(
        select(Pause).where(
            Pause.sitting_id == sitting.id, Pause.by == KEY_WAIT, Pause.ended_at.is_(None)
        )
    )
    if pause is not None:
        end_pause(session, now, pause.id, by=KEY_WAIT)


def start_pause(
    session: Session, now: datetime, *, sitting_id: int, room_id: int | None, reason: str, by: str
) -> Pause:
    """Stop the clock for a room (or the whole centre: ``room_id`` None)."""
    if not reason.strip():
        raise ServiceError("reason_required", "a pause needs a reason")
    open_pause = session.scalar(
        select(Pause).where(
            Pause.sitting_id == sitting_id,
            Pause.room_id.is_(room_id) if room_id is None else Pause.room_id == room_id,
            Pause.ended_at.is_(None),
        )
    )
    if open_pause is not None:
        raise ServiceError("already_paused", f"pause {open_pause.id} is still in force")
    pause = Pause(sitting_id=sitting_id, room_id=room_id, started_at=now, reason=reason, by=by)
    session.add(pause)
    for attempt in _attempts_in_scope(session, sitting_id, room_id):
        if attempt.state is AttemptState.IN_PROGRESS:
            attempt.state = engine.transition(attempt.state, AttemptState.PAUSED)
    session.flush()
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="sitting.paused",
        sitting_id=sitting_id,
        room_id=room_id,
        data={"pause_id": pause.id},
        reason=reason,
    )
    return pause


def end_pause(session: Session, now: datetime, pause_id: int, *, by: str) -> Pause:
    """Restart the clock; everyone in scope is credited the pause's length."""
    pause = session.get(Pause, pause_id, with_for_update=True)
    if pause is None or pause.ended_at is not None:
        raise ServiceError("not_paused", f"no pause {pause_id} in force")
    pause.ended_at = now
    session.flush()
    for attempt in _attempts_in_scope(session, pause.sitting_id, pause.room_id):
        if attempt.state is AttemptState.PAUSED and not engine.is_paused(
            timing_of(session, attempt), now
        ):
            attempt.state = engine.transition(attempt.state, AttemptState.IN_PROGRESS)
    session.flush()
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="sitting.resumed",
        sitting_id=pause.sitting_id,
        room_id=pause.room_id,
        data={"pause_id": pause.id, "seconds": seconds(now - pause.started_at)},
    )
    return pause


def _attempts_in_scope(session: Session, sitting_id: int, room_id: int | None) -> list[Attempt]:
    query = select(Attempt).where(Attempt.sitting_id == sitting_id)
    if room_id is not None:
        query = query.join(Seat, Attempt.seat_id == Seat.id).where(Seat.room_id == room_id)
    return list(session.scalars(query.with_for_update(of=Attempt)))


def grant_extra_time(
    session: Session, now: datetime, attempt: Attempt, extra: timedelta, *, reason: str, by: str
) -> datetime:
    """Give one candidate more time (a technical fault). Returns the new deadline."""
    if extra <= timedelta(0):
        raise ServiceError("bad_extra_time", "extra time must be positive")
    if not reason.strip():
        raise ServiceError("reason_required", "extra time needs a reason")
    if attempt.state in engine.FINAL_STATES:
        engine.transition(attempt.state, AttemptState.IN_PROGRESS)  # raises the precise reason
    attempt.extra_time_s += int(extra.total_seconds())
    session.flush()
    new_deadline = engine.deadline(timing_of(session, attempt), now)
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="attempt.extra_time",
        sitting_id=attempt.sitting_id,
        room_id=attempt.seat.room_id,
        attempt_id=attempt.id,
        reason=reason,
        data={"seconds": int(extra.total_seconds()), "deadline": new_deadline.isoformat()},
    )
    return new_deadline


def authorise_relogin(
    session: Session, now: datetime, attempt: Attempt, *, reason: str, by: str
) -> None:
    """An invigilator lets the candidate log in once more, at another terminal or a spare
    seat (the PC died). The next login uses it up; acknowledged answers and the clock
    carry over because they live on the server."""
    if not reason.strip():
        raise ServiceError("reason_required", "a seat change needs a reason")
    if attempt.state in engine.FINAL_STATES:
        engine.transition(attempt.state, AttemptState.IN_PROGRESS)  # raises the precise reason
    attempt.relogin_authorised = True
    session.flush()
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="attempt.relogin_authorised",
        sitting_id=attempt.sitting_id,
        room_id=attempt.seat.room_id,
        attempt_id=attempt.id,
        reason=reason,
    )


def seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)


# --- terminal support: pre-loading and status --------------------------------------------

#: how far ahead a terminal pre-loads papers (the day's sittings)
PRELOAD_AHEAD = timedelta(hours=24)


def preload_papers(
    session: Session, now: datetime, seat_label: str
) -> list[tuple[Sitting, Paper, str | None]]:
    """The encrypted papers of the candidates seated at ``seat_label`` in the sittings that
    have not ended and start within :data:`PRELOAD_AHEAD`, each with central's binding of
    it to its seat. Ciphertext only: keys never leave the server before start, and then
    only through login and ``sitting_started``."""
    seat = find_seat(session, seat_label)
    rows = session.execute(
        select(Sitting, Paper, Attempt.binding)
        .options(undefer(Paper.ciphertext))
        .join(Attempt, Attempt.sitting_id == Sitting.id)
        .join(Paper, Attempt.paper_id == Paper.id)
        .where(
            Attempt.seat_id == seat.id,
            Sitting.end > now,
            Sitting.start < now + PRELOAD_AHEAD,
            Sitting.closed_at.is_(None),
        )
        .order_by(Sitting.start, Paper.id)
    ).all()
    return list({p.id: (s, p, b) for s, p, b in rows}.values())  # one row per paper


def seat_sittings(session: Session, now: datetime, seat_label: str) -> list[Sitting]:
    """The sittings not yet ended in which someone is seated at ``seat_label`` (their
    windows are what the terminal's screen states)."""
    seat = find_seat(session, seat_label)
    return list(
        session.scalars(
            select(Sitting)
            .join(Attempt, Attempt.sitting_id == Sitting.id)
            .where(Attempt.seat_id == seat.id, Sitting.end > now, Sitting.closed_at.is_(None))
            .distinct()
            .order_by(Sitting.start)
        )
    )


def attempt_with_timing(session: Session, attempt_id: int) -> tuple[Attempt, Timing]:
    """The attempt with its sitting and seat (one query) and its timing (one more, the
    pauses): what a terminal's status asks for every 30 s and after every reconnect."""
    attempt = session.scalar(
        select(Attempt)
        .options(joinedload(Attempt.sitting), joinedload(Attempt.seat))
        .where(Attempt.id == attempt_id)
    )
    if attempt is None:
        raise ServiceError("not_your_attempt", f"no attempt {attempt_id}")
    return attempt, timing_of(session, attempt)


def candidate_photo(session: Session, attempt_id: int) -> bytes | None:
    """The registered photo of the attempt's candidate (for the terminal's confirmation)."""
    attempt = session.get(Attempt, attempt_id)
    return attempt.candidate.photo if attempt is not None else None
