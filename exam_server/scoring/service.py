"""Scoring at the centre (once the answer key is released) and the cutoffs (合格线).

The maths is ``question_bank.scoring`` (pure; central runs the same functions to re-score).
This module only gathers the answers, stores the scores and decides each candidate's
result once every part of their level's form is final for them. A level whose form has
parts scored elsewhere (应会, 综合评审) is decided at central, where those scores are
entered: the centre sends its computer-based scores and decides nothing for it. Which rule
scored each item (the plan's for its type, or the item's own map) is written to the event
log with the scoring (``sitting.scored``) and to the result package (:func:`sitting_rules`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from exam_common.forms import Form, form_for, forms_from_json
from exam_server.eventlog import service as eventlog
from exam_server.eventlog.models import Event
from exam_server.plans.keys import end_key
from exam_server.plans.models import ExamPlan, Sitting
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import Attempt, CandidateResult
from exam_server.sittings.service import current_answers_many
from exam_server.system.vault import KeyVault
from question_bank.package import decrypt_answer_key
from question_bank.scoring import (
    CutoffRule,
    KeyedItem,
    MultiplePolicy,
    SubjectResult,
    SubjectStatus,
    apply_cutoffs,
    centre_rule,
    rule_json,
    rules_of,
    score_paper,
)


def sitting_rules(session: Session, sitting: Sitting) -> dict[str, str] | None:
    """Item id -> the rule that scored it, as the centre recorded it when it scored the
    sitting (``sitting.scored``; None before it has scored anything). Read from the log,
    not recomputed: the answer key's end key is sealed, and what counts is what scored."""
    data = session.scalar(
        select(Event.data)
        .where(Event.sitting_id == sitting.id, Event.kind == "sitting.scored")
        .order_by(Event.seq.desc())
        .limit(1)
    )
    rules = (data or {}).get("rules")
    return dict(rules) if rules is not None else None


def _rules(keys: dict[str, list[KeyedItem]], policy: MultiplePolicy) -> dict[str, str]:
    rules: dict[str, str] = {}
    for items in keys.values():
        rules.update(rules_of(items, policy))
    return dict(sorted(rules.items()))


def score_sitting(session: Session, now: datetime, sitting: Sitting, vault: KeyVault) -> int:
    """Score every submitted, unscored attempt of the sitting; then decide results.
    Returns how many attempts were scored. Needs the end key (released at the end)."""
    end = end_key(sitting, vault)
    if end is None or sitting.answer_key_blob is None:
        return 0
    keys = decrypt_answer_key(sitting.answer_key_blob, end)
    policy = MultiplePolicy(sitting.plan.multiple_policy)
    attempts = session.scalars(
        select(Attempt)
        .options(joinedload(Attempt.paper))
        .where(
            Attempt.sitting_id == sitting.id,
            Attempt.state == AttemptState.SUBMITTED,
            Attempt.score.is_(None),
        )
    ).all()
    answers_by_id = current_answers_many(session, [a.id for a in attempts])
    for attempt in attempts:
        answers = answers_by_id[attempt.id]
        result = score_paper(
            keys[attempt.paper.paper_ref], {k: tuple(v) for k, v in answers.items()}, policy
        )
        attempt.score = result.total
        attempt.item_scores = {s.item_id: str(s.awarded) for s in result.items}
    session.flush()
    if attempts:
        eventlog.append(
            session,
            at=now,
            actor="server",
            kind="sitting.scored",
            sitting_id=sitting.id,
            data={
                "attempts": len(attempts),
                "multiple_policy": policy.value,
                "rules": _rules(keys, policy),
            },
        )
    decide_results(
        session,
        now,
        sitting.plan,
        {
            a.candidate_id
            for a in session.scalars(select(Attempt).where(Attempt.sitting_id == sitting.id))
        },
    )
    return len(attempts)


def form_of(plan: ExamPlan, level: int, trade: str) -> Form | None:
    """The plan's form for a level and trade (a trade's own form wins)."""
    return form_for(forms_from_json(plan.forms), level, trade)


def rule_for(plan: ExamPlan, level: int, trade: str) -> CutoffRule | None:
    """The cutoff rule the centre applies, or ``None`` when the centre does not decide
    this candidate: no form (refused at import, so only for data from elsewhere), or a
    form with parts scored elsewhere (central decides)."""
    return centre_rule(forms_from_json(plan.forms), level, trade)


_STATUS = {
    AttemptState.ABSENT: SubjectStatus.ABSENT,
    AttemptState.VOIDED: SubjectStatus.VOIDED,
}


def decide_results(session: Session, now: datetime, plan: ExamPlan, candidate_ids: set[int]) -> int:
    """Apply the cutoffs for each candidate whose subjects are all final. Returns decided."""
    decided = 0
    by_candidate: dict[int, list[Attempt]] = {cid: [] for cid in candidate_ids}
    existing: dict[int, CandidateResult] = {}
    ids = sorted(candidate_ids)
    for i in range(0, len(ids), 500):  # a few queries for a whole sitting, not two each
        part = ids[i : i + 500]
        for a in session.scalars(
            select(Attempt)
            .options(joinedload(Attempt.sitting), joinedload(Attempt.candidate))
            .join(Sitting)
            .where(Attempt.candidate_id.in_(part), Sitting.plan_id == plan.id)
            .order_by(Attempt.id)
        ):
            by_candidate[a.candidate_id].append(a)
        for row in session.scalars(
            select(CandidateResult).where(
                CandidateResult.plan_id == plan.id, CandidateResult.candidate_id.in_(part)
            )
        ):
            existing[row.candidate_id] = row
    rules: dict[tuple[int, str], CutoffRule | None] = {}
    for cid in ids:
        attempts = by_candidate[cid]
        if not attempts:
            continue
        cand = attempts[0].candidate
        key = (cand.level, cand.trade)
        if key not in rules:
            rules[key] = rule_for(plan, cand.level, cand.trade)
        rule = rules[key]
        if rule is None:
            continue
        results = []
        for a in attempts:
            if a.sitting.subject not in rule.subjects:
                continue
            if a.state in _STATUS:
                results.append(SubjectResult(a.sitting.subject, _STATUS[a.state]))
            elif a.state is AttemptState.SUBMITTED and a.score is not None:
                results.append(SubjectResult(a.sitting.subject, SubjectStatus.SCORED, a.score))
        outcome = apply_cutoffs(rule, results)
        if not outcome.complete:
            continue
        details: dict[str, Any] = {
            "subjects": {
                r.subject: {
                    "status": r.status.value,
                    "score": None if r.score is None else str(r.score),
                    "passed": outcome.subject_passed[r.subject],
                }
                for r in results
            },
            "reasons": list(outcome.reasons),
            "rule": rule_json(rule),
        }
        if cid not in existing:
            existing[cid] = CandidateResult(candidate_id=cid, plan_id=plan.id)
            session.add(existing[cid])
        row = existing[cid]
        row.total, row.passed, row.details, row.decided_at = (
            outcome.total,
            outcome.passed,
            details,
            now,
        )
        decided += 1
    session.flush()
    return decided
