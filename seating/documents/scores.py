"""Score reports (成绩单): one A4 page per candidate, pass lines as the notices print them."""

from __future__ import annotations

import io
from collections.abc import Iterable
from decimal import Decimal

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Spacer

from question_bank.scoring import SubjectStatus, TotalBasis, apply_cutoffs, total_on_basis
from seating.documents.common import (
    MARGIN,
    PAGE_W,
    Progress,
    SectionMark,
    build_doc,
    grid_table,
    para,
    plan_title,
    styles,
    tick,
)
from seating.i18n import gender_name, level_text, t
from seating.model import SeatPlan
from seating.records import ScoreReport

WIDTH = PAGE_W - 2 * MARGIN


def points(d: Decimal) -> str:
    """``72`` rather than ``72.00``; ``72.5`` stays."""
    s = f"{d.normalize():f}"
    return s


def rule_text(rep: ScoreReport, lang: str) -> str:
    """The pass rule in words, from the report's own rule (never a fixed sentence)."""
    lines = []
    for p in rep.rule.parts:
        if p.verdict:
            lines.append(t("rule_part_verdict", lang, subject=p.subject))
        elif p.line is not None:
            lines.append(t("rule_part", lang, subject=p.subject, line=points(p.line)))
    text = t("rule_parts_join", lang).join(lines)
    if rep.rule.total_min is not None:
        key = "rule_total_mean" if rep.rule.total_basis is TotalBasis.MEAN else "rule_total"
        text += t(key, lang, total=points(rep.rule.total_min))
    return t("rule_sentence", lang, rules=text)


def status_text(status: SubjectStatus, lang: str) -> str:
    return {
        SubjectStatus.ABSENT: t("status_absent", lang),
        SubjectStatus.VOIDED: t("status_voided", lang),
        SubjectStatus.MISSING: t("status_missing", lang),
        SubjectStatus.SCORED: "",
    }[status]


def score_reports(
    plan: SeatPlan,
    reports: Iterable[ScoreReport],
    *,
    lang: str = "zh_CN",
    website: str = "",
    progress: Progress | None = None,
) -> bytes:
    """成绩单, one page per report: the candidate, each part with its score (or 缺考 /
    违纪, or 合格 / 不合格 for a part graded that way), its single-subject line and whether
    it was reached, the total with the total line where the plan sets one, the result
    (合格 / 不合格 / 待定 while a part is not in), and the province's results website."""
    reps = list(reports)
    st = styles()
    title = plan_title(plan, lang)
    state: dict[str, str] = {}
    story: list[Flowable] = []
    for i, rep in enumerate(reps):
        if story:
            story.append(PageBreak())
        a = plan.by_ticket(rep.ticket)
        cand = plan.candidate(a.id_number)
        centre = plan.centre(a.centre)
        outcome = apply_cutoffs(rep.rule, rep.results)
        by_subject = {r.subject: r for r in rep.results}
        story += [
            SectionMark(state, f"{rep.ticket} {cand.name}"),
            Spacer(1, 8 * mm),
            para(title, st["subtitle"]),
            para(t("score_title", lang), st["title"]),
            Spacer(1, 4 * mm),
        ]
        q = WIDTH / 4
        info = grid_table(
            [
                [t("name", lang), cand.name, t("gender", lang), gender_name(cand.gender, lang)],
                [t("ticket", lang), rep.ticket, t("id_number", lang), cand.id_number],
                [t("employer", lang), cand.employer, "", ""],
                [t("trade_level", lang), f"{cand.trade}  {level_text(cand.level, lang)}", "", ""],
                [t("centre", lang), f"{centre.name}（{centre.code}）", "", ""],
            ],
            [q * 0.8, q * 1.3, q * 0.7, q * 1.2],
            header_rows=0,
            font_size=10,
            row_heights=8 * mm,
        )
        info.setStyle([("SPAN", (1, r), (3, r)) for r in (2, 3, 4)])
        story += [info, Spacer(1, 6 * mm)]
        rows: list[list[object]] = [
            [t("subject", lang), t("score", lang), t("subject_line", lang), t("reached", lang)]
        ]
        for part in rep.rule.parts:
            subject = part.subject
            r = by_subject.get(subject)
            status = r.status if r is not None else SubjectStatus.MISSING
            if status is SubjectStatus.SCORED and r is not None and part.verdict:
                shown = t("passed" if r.verdict else "failed", lang)
            elif status is SubjectStatus.SCORED and r is not None and r.score is not None:
                shown = points(r.score)
            else:
                shown = status_text(status, lang)
            if part.verdict:
                line = t("verdict_line", lang)
            elif part.line is None:
                line = t("no_line", lang)
            else:
                line = points(part.line)
            ok = outcome.subject_passed.get(subject, False)
            rows.append(
                [
                    subject,
                    shown,
                    line,
                    t("yes", lang)
                    if ok
                    else t("no", lang)
                    if status is not SubjectStatus.MISSING
                    else t("pending", lang),
                ]
            )
        mean = rep.rule.total_basis is TotalBasis.MEAN
        total_shown = total_on_basis(rep.rule, outcome.total)
        has_scores = any(not p.verdict for p in rep.rule.parts)
        if has_scores and rep.rule.total_min is not None:
            total_ok = total_shown >= rep.rule.total_min
            rows.append(
                [
                    t("total_mean" if mean else "total", lang),
                    points(total_shown),
                    f"{t('total_line', lang)} {points(rep.rule.total_min)}",
                    t("yes", lang)
                    if total_ok and outcome.complete
                    else t("no", lang)
                    if outcome.complete
                    else t("pending", lang),
                ]
            )
        elif has_scores:
            rows.append([t("total", lang), points(outcome.total), t("no_total_line", lang), ""])
        tbl = grid_table(
            rows,
            [WIDTH * 0.34, WIDTH * 0.2, WIDTH * 0.26, WIDTH * 0.2],
            font_size=11,
            row_heights=9 * mm,
            align_center_cols=(1, 2, 3),
        )
        story += [tbl, Spacer(1, 6 * mm)]
        result = (
            t("passed", lang)
            if outcome.passed
            else t("failed", lang)
            if outcome.complete
            else t("pending", lang)
        )
        res = grid_table(
            [[t("result", lang), result]],
            [WIDTH * 0.34, WIDTH * 0.66],
            header_rows=0,
            font_size=15,
            row_heights=13 * mm,
            align_center_cols=(1,),
        )
        story += [res, Spacer(1, 5 * mm)]
        story.append(para(rule_text(rep, lang), st["info"]))
        if website:
            story.append(para(t("results_website", lang, website=website), st["info"]))
        if rep.issued is not None:
            when = (
                f"{rep.issued:%Y-%m-%d}"
                if lang == "en"
                else f"{rep.issued.year}年{rep.issued.month}月{rep.issued.day}日"
            )
            story += [Spacer(1, 12 * mm), para(t("issued", lang, date=when), st["info"])]
        tick(progress, i + 1, len(reps))
    if not story:
        story.append(Spacer(1, 1))
    buf = io.BytesIO()
    build_doc(buf, story, title=f"{title} {t('score_title', lang)}", lang=lang, state=state)
    return buf.getvalue()
