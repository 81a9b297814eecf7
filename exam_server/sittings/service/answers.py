"""Answer saves: stored once, the highest seq of an item wins, acknowledged after commit."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from exam_server.centres.models import Seat
from exam_server.eventlog import service as eventlog
from exam_server.plans.models import Paper, Pause, Sitting
from exam_server.sittings import engine
from exam_server.sittings.engine import Interval, RuleError, Timing
from exam_server.sittings.models import Answer, Attempt
from exam_server.sittings.service.errors import ServiceError

#: the attempts' table, for the Core statements of the hot path (executemany updates)
ATTEMPT_TABLE = cast(Table, Attempt.__table__)


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
