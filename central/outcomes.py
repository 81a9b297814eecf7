"""Parts scored elsewhere, and central's decision (合格判定) for every candidate.

A level's form may have parts the centre does not deliver: Hebei's 应会 (a practical exam
scored by examiners), Henan's level-one 综合评审 (a review board's 合格/不合格). Their
scores come to central by xlsx/csv import (:func:`import_scores`) or one at a time
(:func:`enter_score`, the ``exam-central scores enter`` form); each entry records who
entered it and is written to the audit trail with the value it replaced.

:func:`decide` then decides every candidate whose parts are all in: the computer-based
parts from central's own re-scoring of the centre's results (never the centre's word),
the others as entered; a candidate with any part missing stays undecided and is listed.
The rule is the plan's form, applied by :func:`question_bank.scoring.apply_cutoffs`,
the same function the centre uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import (
    AuditEvent,
    ExternalScore,
    Outcome,
    PublishedSitting,
    Registration,
    RescoredAttempt,
    ResultPackage,
)
from central.plan import PlanDoc
from central.registrations import RegistrationError, RowProblem, read_rows
from exam_common.forms import Form, Part
from question_bank.scoring import (
    CutoffRule,
    SubjectResult,
    SubjectStatus,
    apply_cutoffs,
    rule_json,
)
from seating.records import ScoreReport

#: what a cell may say instead of a score (Chinese first)
STATUS_WORDS = {"缺考": "absent", "absent": "absent", "违纪": "voided", "voided": "voided"}
VERDICT_WORDS = {
    "合格": True,
    "通过": True,
    "pass": True,
    "不合格": False,
    "不通过": False,
    "fail": False,
}
TWO_PLACES = Decimal("0.01")


class ScoreError(ValueError):
    """One value that cannot be taken: says what to write instead."""


@dataclass(frozen=True)
class Value:
    status: str  #: scored | absent | voided
    score: Decimal | None = None
    verdict: bool | None = None

    def text(self) -> str:
        if self.status == "absent":
            return "缺考"
        if self.status == "voided":
            return "违纪"
        if self.verdict is not None:
            return "合格" if self.verdict else "不合格"
        return f"{self.score}"


def parse_value(part: Part, text: str) -> Value:
    """A cell or a typed answer for ``part``: a score within its full marks (two decimals
    at most), 合格/不合格 for a part graded that way, or 缺考/违纪."""
    raw = str(text).strip()
    word = raw.lower()
    if word in STATUS_WORDS:
        return Value(STATUS_WORDS[word])
    if part.grading == "verdict":
        if word in VERDICT_WORDS:
            return Value("scored", verdict=VERDICT_WORDS[word])
        raise ScoreError(
            f"{part.name}按合格/不合格评定：请填写 合格、不合格、缺考 或 违纪，现为“{raw}”"
        )
    try:
        score = Decimal(raw)
        if not score.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise ScoreError(
            f"{part.name}的成绩“{raw}”不是数字：请填写 0 至 {part.full_marks} 的分数，或 缺考、违纪"
        ) from None
    assert part.full_marks is not None  # a scored part has full marks (exam_common.forms)
    if not Decimal(0) <= score <= part.full_marks:
        raise ScoreError(f"{part.name}的成绩 {score} 不在 0 至 {part.full_marks} 之间")
    if score != score.quantize(TWO_PLACES):
        raise ScoreError(f"{part.name}的成绩 {score} 最多保留两位小数")
    return Value("scored", score=score.quantize(TWO_PLACES))


def _registration(session: Session, ticket: str) -> Registration | None:
    return session.scalar(select(Registration).where(Registration.ticket == ticket))


def _external_part(plan: PlanDoc, reg: Registration, subject: str) -> tuple[Form, Part]:
    form = plan.form(reg.level, reg.trade)
    if form is None:
        raise ScoreError(f"考试计划没有{reg.level}级（{reg.trade}）的考核方式")
    part = form.part(subject)
    if part is None or part.is_cbt:
        names = "、".join(p.name for p in form.external_parts) or "（没有另行评分的科目）"
        raise ScoreError(
            f"{form.label}的考核方式中没有另行评分的科目“{subject}”；可录入的科目：{names}"
        )
    return form, part


def _store(
    session: Session,
    now: datetime,
    reg: Registration,
    part: Part,
    value: Value,
    *,
    by: str,
    source: str,
) -> bool:
    """Write one value (flushes); audit it with the value it replaces. True if changed."""
    row = session.scalar(
        select(ExternalScore).where(
            ExternalScore.registration_id == reg.id, ExternalScore.subject == part.subject
        )
    )
    before = Value(row.status, row.score, row.verdict).text() if row is not None else None
    if before == value.text():
        return False
    if row is None:
        row = ExternalScore(registration_id=reg.id, subject=part.subject)
        session.add(row)
    row.status, row.score, row.verdict = value.status, value.score, value.verdict
    row.entered_by, row.entered_at, row.source = by, now, source
    session.add(
        AuditEvent(
            at=now,
            actor=by,
            kind="score.entered",
            data={
                "ticket": reg.ticket,
                "subject": part.subject,
                "name": part.name,
                "value": value.text(),
                "previous": before,
                "source": source,
            },
        )
    )
    session.flush()
    return True


def enter_score(
    session: Session,
    now: datetime,
    *,
    plan: PlanDoc,
    ticket: str,
    subject: str,
    value: str,
    by: str,
) -> tuple[Part, Value, bool]:
    """One candidate's score for one part scored elsewhere (the form). Raises
    :class:`ScoreError` saying what to fix; returns (part, value, changed)."""
    reg = _registration(session, plan.tickets.normalise(ticket))
    if reg is None:
        raise ScoreError(f"没有准考证号为 {ticket} 的考生")
    _, part = _external_part(plan, reg, subject)
    parsed = parse_value(part, value)
    return part, parsed, _store(session, now, reg, part, parsed, by=by, source="form")


@dataclass(frozen=True)
class ImportReport:
    rows: int
    values: int
    changed: int


def import_scores(
    session: Session, path: Path, now: datetime, *, plan: PlanDoc, by: str
) -> ImportReport:
    """Scores of the parts scored elsewhere from xlsx/csv: a 准考证号 column, optionally
    姓名 and 身份证号 (checked against the registration), and one column per part, headed
    by its name or code (应会, YH). Empty cells are left as they are. All or nothing:
    every problem is reported with its row (:class:`RegistrationError`)."""
    rows = read_rows(path)
    if not rows:
        raise RegistrationError([RowProblem(None, None, "文件是空的")])
    header = [h.strip() for h in rows[0]]
    lower = [h.lower() for h in header]
    externals = {p.subject: p for f in plan.forms for p in f.external_parts}
    by_name = {p.name: p.subject for p in externals.values()}
    problems: list[RowProblem] = []
    ticket_col = next((i for i, h in enumerate(lower) if h in ("准考证号", "ticket")), None)
    if ticket_col is None:
        raise RegistrationError([RowProblem(1, "准考证号", "缺少这一列")])
    name_col = next((i for i, h in enumerate(lower) if h in ("姓名", "name")), None)
    id_col = next((i for i, h in enumerate(lower) if h in ("身份证号", "id_number")), None)
    part_cols: dict[int, str] = {}
    for i, h in enumerate(header):
        if i in (ticket_col, name_col, id_col) or not h:
            continue
        code = h if h in externals else by_name.get(h)
        if code is None:
            known = "、".join(f"{p.name}（{p.subject}）" for p in externals.values())
            problems.append(
                RowProblem(1, h, f"不是考试计划中另行评分的科目；可用的列：{known or '无'}")
            )
        else:
            part_cols[i] = code
    if not part_cols and not problems:
        problems.append(RowProblem(1, None, "没有成绩列：请用科目名称作表头，如 应会"))
    if problems:
        raise RegistrationError(problems)
    entries: list[tuple[Registration, Part, Value]] = []
    seen: dict[str, int] = {}
    for rowno, r in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in r):
            continue

        def cell(i: int | None, r: list[str] = r) -> str:
            return r[i].strip() if i is not None and i < len(r) else ""

        ticket = plan.tickets.normalise(cell(ticket_col))
        reg = _registration(session, ticket) if ticket else None
        if reg is None:
            problems.append(RowProblem(rowno, "准考证号", f"没有准考证号为“{ticket}”的考生"))
            continue
        if ticket in seen:
            problems.append(RowProblem(rowno, "准考证号", f"与第 {seen[ticket]} 行重复"))
            continue
        seen[ticket] = rowno
        if name_col is not None and cell(name_col) and cell(name_col) != reg.name:
            problems.append(
                RowProblem(rowno, "姓名", f"“{cell(name_col)}”与报名信息的 {reg.name} 不符")
            )
        if id_col is not None and cell(id_col) and cell(id_col).upper() != reg.id_number:
            problems.append(RowProblem(rowno, "身份证号", "与报名信息不符"))
        for i, code in part_cols.items():
            text = cell(i)
            if not text:
                continue
            try:
                _, part = _external_part(plan, reg, code)
                entries.append((reg, part, parse_value(part, text)))
            except ScoreError as exc:
                problems.append(RowProblem(rowno, header[i], str(exc)))
    if problems:
        raise RegistrationError(problems)
    changed = sum(
        _store(session, now, reg, part, value, by=by, source=path.name)
        for reg, part, value in entries
    )
    session.add(
        AuditEvent(
            at=now,
            actor=by,
            kind="scores.imported",
            data={"file": path.name, "rows": len(seen), "values": len(entries), "changed": changed},
        )
    )
    session.flush()
    return ImportReport(len(seen), len(entries), changed)


# --- decisions -------------------------------------------------------------------------


def _cbt_results(session: Session) -> dict[str, dict[str, RescoredAttempt]]:
    """ticket -> subject name -> central's latest re-score of that sitting."""
    subject_of = {
        (ps.centre_code, ps.code): ps.subject for ps in session.scalars(select(PublishedSitting))
    }
    out: dict[str, dict[str, RescoredAttempt]] = {}
    for ra, centre in session.execute(
        select(RescoredAttempt, ResultPackage.centre_code)
        .join(ResultPackage)
        .where(ResultPackage.status == "rescored")
        .order_by(ResultPackage.id)
    ):
        subject = subject_of.get((centre, ra.sitting_code))
        if subject is not None:
            out.setdefault(ra.ticket, {})[subject] = ra
    return out


def results_of(
    session: Session,
    reg: Registration,
    form: Form,
    cbt: dict[str, dict[str, RescoredAttempt]],
) -> tuple[list[SubjectResult], list[str], dict[str, str]]:
    """A candidate's results for every part of their form that is in, the parts still
    missing, and where each came from (``机考`` / who entered it)."""
    mine = cbt.get(reg.ticket or "", {})
    entered = {
        e.subject: e
        for e in session.scalars(
            select(ExternalScore).where(ExternalScore.registration_id == reg.id)
        )
    }
    results: list[SubjectResult] = []
    missing: list[str] = []
    source: dict[str, str] = {}
    for part in form.parts:
        if part.is_cbt:
            ra = mine.get(part.name)
            if ra is None or (ra.state == "submitted" and ra.central_score is None):
                missing.append(part.name)
                continue
            if ra.state in ("absent", "voided"):
                results.append(SubjectResult(part.name, SubjectStatus(ra.state)))
            elif ra.state == "submitted":
                results.append(SubjectResult(part.name, SubjectStatus.SCORED, ra.central_score))
            else:  # not final at the centre yet
                missing.append(part.name)
                continue
            source[part.name] = "机考（省中心复核）"
        else:
            e = entered.get(part.subject)
            if e is None:
                missing.append(part.name)
                continue
            if e.status in ("absent", "voided"):
                results.append(SubjectResult(part.name, SubjectStatus(e.status)))
            else:
                results.append(
                    SubjectResult(part.name, SubjectStatus.SCORED, e.score, verdict=e.verdict)
                )
            source[part.name] = f"录入：{e.entered_by}（{e.source}）"
    return results, missing, source


@dataclass(frozen=True)
class DecideReport:
    decided: int
    changed: int
    passed: int
    #: (ticket, name, parts still missing)
    pending: tuple[tuple[str, str, tuple[str, ...]], ...]


def decide(session: Session, now: datetime, *, plan: PlanDoc, by: str) -> DecideReport:
    """Decide every candidate whose parts are all in (flushes). A decision already made
    is replaced when a score changed, and the change is audited."""
    cbt = _cbt_results(session)
    existing = {o.registration_id: o for o in session.scalars(select(Outcome))}
    decided = changed = passed = 0
    pending: list[tuple[str, str, tuple[str, ...]]] = []
    for reg in session.scalars(
        select(Registration).where(Registration.ticket.is_not(None)).order_by(Registration.ticket)
    ):
        form = plan.form(reg.level, reg.trade)
        if form is None:
            pending.append((reg.ticket or "", reg.name, ("（计划中没有考核方式）",)))
            continue
        if form.unlined:  # the province has still to set a line: nothing decides them
            pending.append(
                (
                    reg.ticket or "",
                    reg.name,
                    tuple(f"{p.name}（合格线未设定）" for p in form.unlined),
                )
            )
            continue
        results, missing, source = results_of(session, reg, form, cbt)
        if missing:
            pending.append((reg.ticket or "", reg.name, tuple(missing)))
            continue
        rule = CutoffRule.of(form)
        outcome = apply_cutoffs(rule, results)
        details: dict[str, Any] = {
            "parts": {
                r.subject: {
                    "status": r.status.value,
                    "score": None if r.score is None else str(r.score),
                    "verdict": r.verdict,
                    "passed": outcome.subject_passed[r.subject],
                    "source": source[r.subject],
                }
                for r in results
            },
            "reasons": list(outcome.reasons),
            "rule": rule_json(rule),
        }
        decided += 1
        passed += outcome.passed
        row = existing.get(reg.id)
        if row is not None and (row.passed, row.total, row.details) == (
            outcome.passed,
            outcome.total,
            details,
        ):
            continue
        before = None if row is None else {"passed": row.passed, "total": str(row.total)}
        if row is None:
            row = Outcome(registration_id=reg.id)
            session.add(row)
        row.passed, row.total, row.details = outcome.passed, outcome.total, details
        row.decided_at, row.decided_by = now, by
        changed += 1
        session.add(
            AuditEvent(
                at=now,
                actor=by,
                kind="outcome.decided",
                data={
                    "ticket": reg.ticket,
                    "passed": outcome.passed,
                    "total": str(outcome.total),
                    "previous": before,
                },
            )
        )
    session.flush()
    return DecideReport(decided, changed, passed, tuple(pending))


def score_reports(session: Session, plan: PlanDoc, issued: date) -> list[ScoreReport]:
    """One report per candidate with a ticket: decided ones with every part, the rest
    with what is in (printed as 待定); none for a level whose form still has a line unset."""
    cbt = _cbt_results(session)
    reports = []
    for reg in session.scalars(
        select(Registration).where(Registration.ticket.is_not(None)).order_by(Registration.ticket)
    ):
        form = plan.form(reg.level, reg.trade)
        if form is None or form.unlined:  # no rule to print until the province sets it
            continue
        results, _, _ = results_of(session, reg, form, cbt)
        reports.append(ScoreReport(reg.ticket or "", CutoffRule.of(form), tuple(results), issued))
    return reports
