"""Spreadsheets for the offices: the seating plan and the results, as xlsx with Chinese
headers (``lang="en"`` for English)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from exam_common.durable import atomic_writer
from question_bank.scoring import SubjectStatus, apply_cutoffs, total_on_basis
from seating.i18n import gender_name, level_text, t
from seating.model import SeatPlan
from seating.records import ScoreReport

HEAD_FILL = PatternFill("solid", fgColor="DCE3EC")


def _sheet(ws: Worksheet, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEAD_FILL
        cell.alignment = Alignment(horizontal="center")
    widths = [max(6, len(h) * 2 + 2) for h in header]
    for row in rows:
        ws.append(list(row))
        for i, v in enumerate(row):
            widths[i] = min(40, max(widths[i], len(str(v)) + 2 if v is not None else 0))
    for i, w in enumerate(widths):
        ws.column_dimensions[ws.cell(1, i + 1).column_letter].width = w
    ws.freeze_panes = "A2"


def plan_workbook(plan: SeatPlan, lang: str = "zh_CN") -> Workbook:
    """Sheets: the seats (one row per candidate, a variant column per sitting), the spare
    seats, and the constraint report."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "座位安排" if lang != "en" else "Seats"
    header = [
        t("centre_code", lang),
        t("centre", lang),
        t("room_code", lang),
        t("room_name", lang),
        t("seat", lang),
        t("ticket", lang),
        t("name", lang),
        t("gender", lang),
        t("id_number", lang),
        t("employer", lang),
        t("trade", lang),
        t("level", lang),
    ] + [f"{t('variant', lang)}·{s.subject}（{s.code}）" for s in plan.sittings]
    rows = []
    for a in sorted(plan.assignments, key=lambda a: (a.centre, a.room, a.seat)):
        c = plan.candidate(a.id_number)
        centre = plan.centre(a.centre)
        room = centre.room(a.room)
        rows.append(
            [
                a.centre,
                centre.name,
                a.room,
                room.name,
                a.seat,
                a.ticket,
                c.name,
                gender_name(c.gender, lang),
                c.id_number,
                c.employer,
                c.trade,
                level_text(c.level, lang),
            ]
            + [a.variants.get(s.code, "") for s in plan.sittings]
        )
    _sheet(ws, header, rows)
    # tickets and ID numbers are text: keep leading zeros, no scientific notation
    for col in (1, 3, 6, 9):
        for cell in ws.iter_cols(min_col=col, max_col=col, min_row=2).__next__():
            cell.number_format = "@"
    spare = wb.create_sheet("备用座位" if lang != "en" else "Spare seats")
    _sheet(
        spare,
        [t("centre_code", lang), t("room_code", lang), t("spare", lang)],
        [[k[0], k[1], "、".join(f"{s:02d}" for s in v)] for k, v in plan.spares.items() if v],
    )
    rep = wb.create_sheet("问题" if lang != "en" else "Problems")
    _sheet(
        rep,
        [
            "类型" if lang != "en" else "Kind",
            t("centre_code", lang),
            t("room_code", lang),
            t("seat", lang),
            t("sitting", lang),
            "说明" if lang != "en" else "What and why",
        ],
        [
            [
                p.kind.value,
                p.centre or "",
                p.room or "",
                "、".join(map(str, p.seats)),
                p.sitting or "",
                p.en if lang == "en" else p.zh,
            ]
            for p in plan.problems
        ],
    )
    return wb


def export_plan_xlsx(plan: SeatPlan, path: Path, lang: str = "zh_CN") -> None:
    with atomic_writer(path) as f:
        plan_workbook(plan, lang).save(f)


def results_workbook(
    plan: SeatPlan, reports: Iterable[ScoreReport], lang: str = "zh_CN"
) -> Workbook:
    """One row per candidate: each subject's score (or 缺考 / 违纪), the total and the result."""
    reps = list(reports)
    subjects: list[str] = []
    for rp in reps:
        for s in rp.rule.subjects:
            if s not in subjects:
                subjects.append(s)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "成绩" if lang != "en" else "Results"
    header = [
        t("ticket", lang),
        t("name", lang),
        t("id_number", lang),
        t("employer", lang),
        t("trade", lang),
        t("level", lang),
        *subjects,
        t("total", lang),
        t("result", lang),
    ]
    rows = []
    for rep in reps:
        a = plan.by_ticket(rep.ticket)
        c = plan.candidate(a.id_number)
        out = apply_cutoffs(rep.rule, rep.results)
        by = {r.subject: r for r in rep.results}
        cells: list[object] = []
        for s in subjects:
            r = by.get(s)
            if s not in rep.rule.subjects:
                cells.append("")
            elif r is None or r.status is SubjectStatus.MISSING:
                cells.append(t("status_missing", lang))
            elif r.status is SubjectStatus.ABSENT:
                cells.append(t("status_absent", lang))
            elif r.status is SubjectStatus.VOIDED:
                cells.append(t("status_voided", lang))
            elif r.verdict is not None:
                cells.append(t("passed" if r.verdict else "failed", lang))
            else:
                cells.append(float(r.score) if r.score is not None else "")
        total: Decimal = total_on_basis(rep.rule, out.total)
        result = (
            t("passed", lang)
            if out.passed
            else t("failed", lang)
            if out.complete
            else t("pending", lang)
        )
        rows.append(
            [
                rep.ticket,
                c.name,
                c.id_number,
                c.employer,
                c.trade,
                level_text(c.level, lang),
                *cells,
                float(total),
                result,
            ]
        )
    _sheet(ws, header, rows)
    return wb


def export_results_xlsx(
    plan: SeatPlan, reports: Iterable[ScoreReport], path: Path, lang: str = "zh_CN"
) -> None:
    with atomic_writer(path) as f:
        results_workbook(plan, reports, lang).save(f)
