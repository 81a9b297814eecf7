"""Building a sitting's result package (成绩包) at the centre.

Everything central needs to check the centre's work independently: every attempt with
all its answer changes (sequence number, server time), its state, times, score and
per-item scores (and which rule scored each item), the submission digest, signature and
receipt; the sitting's pauses; the
sitting's entries of the event log with their hashes and the chain head; and the cutoff
results of candidates whose subjects are all final. Signed with the centre's key.
Format: ``docs/result-package-format.md``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from exam_common.result_package import RESULTS_FORMAT, build_result_package
from exam_server.eventlog.models import ChainHead, Event
from exam_server.eventlog.service import GENESIS
from exam_server.plans.models import Pause, Sitting
from exam_server.scoring.service import sitting_rules
from exam_server.sittings.models import Answer, Attempt, CandidateResult
from exam_server.system.keys import public_key_hex, signing_key


def _t(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def result_document(
    session: Session, sitting: Sitting, now: datetime, centre_code: str
) -> dict[str, Any]:
    attempts = session.scalars(
        select(Attempt)
        .options(joinedload(Attempt.candidate), joinedload(Attempt.paper), joinedload(Attempt.seat))
        .where(Attempt.sitting_id == sitting.id)
        .order_by(Attempt.id)
    ).all()
    ids = [a.id for a in attempts]
    answers: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for ans in session.scalars(
        select(Answer).where(Answer.attempt_id.in_(ids)).order_by(Answer.attempt_id, Answer.seq)
    ):
        answers[ans.attempt_id].append(
            {
                "seq": ans.seq,
                "item_id": ans.item_id,
                "response": ans.response,
                "server_time": _t(ans.server_time),
            }
        )
    events = session.scalars(
        select(Event)
        .where(or_(Event.sitting_id == sitting.id, Event.attempt_id.in_(ids)))
        .order_by(Event.seq)
    ).all()
    head = session.get(ChainHead, 1)
    candidate_ids = {a.candidate_id for a in attempts}
    outcomes = session.scalars(
        select(CandidateResult).where(
            CandidateResult.plan_id == sitting.plan_id,
            CandidateResult.candidate_id.in_(candidate_ids),
        )
    ).all()
    tickets = {a.candidate_id: a.candidate.ticket for a in attempts}
    key = signing_key(session)
    return {
        "format": RESULTS_FORMAT,
        "centre_code": centre_code,
        "centre_key": public_key_hex(key),
        "generated_at": now.isoformat(),
        "sitting": {
            "code": sitting.code,
            "subject": sitting.subject,
            "level": sitting.level,
            "trade": sitting.trade,
            "start": _t(sitting.start),
            "end": _t(sitting.end),
            "closed_at": _t(sitting.closed_at),
            "scored": sitting.end_key is not None,
            "multiple_policy": sitting.plan.multiple_policy,
            "item_rules": sitting_rules(session, sitting),
        },
        "attempts": [
            {
                "ticket": a.candidate.ticket,
                "id_number": a.candidate.id_number,
                "name": a.candidate.name,
                "seat": a.seat.label,
                "paper_ref": a.paper.paper_ref,
                "variant": a.paper.variant,
                "state": a.state.value,
                "logged_in_at": _t(a.logged_in_at),
                "started_at": _t(a.started_at),
                "submitted_at": _t(a.submitted_at),
                "submitted_by": a.submitted_by,
                "extra_time_s": a.extra_time_s,
                "admitted_late": a.admitted_late,
                "last_seq": a.last_seq,
                "digest": a.digest,
                "signature": a.signature,
                "receipt": a.receipt,
                "score": None if a.score is None else str(a.score),
                "item_scores": a.item_scores,
                "answers": answers[a.id],
            }
            for a in attempts
        ],
        "pauses": [
            {
                "room": p.room_id,
                "started_at": _t(p.started_at),
                "ended_at": _t(p.ended_at),
                "reason": p.reason,
                "by": p.by,
            }
            for p in session.scalars(
                select(Pause).where(Pause.sitting_id == sitting.id).order_by(Pause.id)
            )
        ],
        "candidate_results": [
            {
                "ticket": tickets[r.candidate_id],
                "total": str(r.total),
                "passed": r.passed,
                "details": r.details,
                "decided_at": _t(r.decided_at),
            }
            for r in sorted(outcomes, key=lambda r: tickets[r.candidate_id])
        ],
        "event_log": {
            "head": {
                "seq": head.seq if head else 0,
                "hash": head.hash if head else GENESIS,
            },
            "entries": [
                {
                    "seq": e.seq,
                    "at": e.at.isoformat(timespec="microseconds"),
                    "actor": e.actor,
                    "kind": e.kind,
                    "sitting_id": e.sitting_id,
                    "room_id": e.room_id,
                    "attempt_id": e.attempt_id,
                    "data": e.data,
                    "reason": e.reason,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in events
            ],
        },
    }


def build_results(session: Session, sitting: Sitting, now: datetime, centre_code: str) -> bytes:
    """The signed result package of one sitting (flushes if the centre key is new)."""
    doc = result_document(session, sitting, now, centre_code)
    return build_result_package(doc, signing_key(session))
