"""Admission tickets (准考证): two per A4 sheet, with photo, QR code and instructions."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache

from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from stdnum.cn import ric

from seating.documents.common import (
    GRID,
    PAGE_H,
    PAGE_W,
    Cell,
    PhotoFiles,
    Progress,
    draw_cells,
    draw_fit,
    draw_photo,
    new_canvas,
    plan_title,
    tick,
    wrap,
)
from seating.documents.fonts import cjk_font
from seating.i18n import (
    INSTRUCTIONS,
    fill_instructions,
    fmt_date,
    fmt_span,
    gender_name,
    level_text,
    t,
)
from seating.model import Assignment, SeatPlan
from seating.tickets import is_valid_ticket

HALF = PAGE_H / 2
SIDE = 11 * mm


def admission_tickets(
    plan: SeatPlan,
    *,
    tickets: Iterable[str] | None = None,
    lang: str = "zh_CN",
    instructions: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> bytes:
    """准考证 for the given ticket numbers (default: every candidate, in room and seat
    order), two per A4 page with a cut line between them: the fields of the province's
    ticket (姓名, 性别, 年龄, 准考证号, 身份证号, 工作单位, 申报工种, 申报等级), each subject
    with its date, time, room, venue and seat, and the 应考人员须知 with the sitting's own
    windows and the province's results website (``plan.texts``). Returns the PDF."""
    chosen = _chosen(plan, tickets)
    if instructions is not None:
        lines = tuple(instructions)
    else:
        lines = plan.texts.instructions or INSTRUCTIONS[lang]
    title = plan_title(plan, lang)
    buf = io.BytesIO()
    c = new_canvas(buf, f"{title} {t('admission', lang)}", lang)
    with PhotoFiles() as photos:
        for i, a in enumerate(chosen):
            top = PAGE_H if i % 2 == 0 else HALF
            _ticket(c, plan, a, top, lang, title, _lines(plan, a, lines, lang), photos)
            if i % 2 == 0:
                _cut_line(c, lang)
            if i % 2 == 1 or i == len(chosen) - 1:
                c.showPage()
            tick(progress, i + 1, len(chosen))
        if not chosen:
            c.showPage()
        c.save()
    return buf.getvalue()


def _lines(plan: SeatPlan, a: Assignment, lines: Sequence[str], lang: str) -> tuple[str, ...]:
    """The 须知 for this candidate: their first sitting's windows filled in."""
    windows = next((s.windows_s for s in plan.sittings_of(a.id_number) if s.windows_s), None)
    return tuple(
        fill_instructions(tuple(lines), lang, windows_s=windows, website=plan.texts.results_website)
    )


def age_at(birth: date, on: date) -> int:
    """Whole years on the day (the age the registration system prints: 年龄)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _age(plan: SeatPlan, a: Assignment) -> str:
    cand = plan.candidate(a.id_number)
    birth = cand.birth_date
    if birth is None and len(cand.id_number) == 18:
        try:
            birth = ric.get_birth_date(cand.id_number)
        except ValueError:
            birth = None
    sittings = plan.sittings_of(a.id_number)
    if birth is None or not sittings:
        return ""
    return str(age_at(birth, min(s.local_start() for s in sittings).date()))


def _chosen(plan: SeatPlan, tickets: Iterable[str] | None) -> list[Assignment]:
    if tickets is None:
        return sorted(plan.assignments, key=lambda a: (a.centre, a.room, a.seat))
    return [plan.by_ticket(tk) for tk in tickets]


def _cut_line(c: Canvas, lang: str) -> None:
    c.saveState()
    c.setDash(3, 3)
    c.setStrokeColor(colors.HexColor("#999999"))
    c.setLineWidth(0.5)
    c.line(6 * mm, HALF, PAGE_W - 6 * mm, HALF)
    c.setFont(cjk_font(), 6)
    c.setFillColor(colors.HexColor("#999999"))
    c.drawRightString(PAGE_W - 7 * mm, HALF + 1.2 * mm, t("cut_here", lang))
    c.restoreState()


def _qr(c: Canvas, value: str, x: float, y: float, size: float) -> None:
    """Draw a QR code (error correction M, 2-module quiet zone) as one filled path."""
    qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(value)
    qr.make()
    n = qr.getModuleCount()
    border = 2
    box = size / (n + 2 * border)
    path = c.beginPath()
    for r in range(n):
        col = 0
        while col < n:
            if qr.isDark(r, col):
                start = col
                while col < n and qr.isDark(r, col):
                    col += 1
                path.rect(
                    x + (start + border) * box,
                    y + size - (r + border + 1) * box,
                    (col - start) * box,
                    box,
                )
            else:
                col += 1
    c.saveState()
    c.setFillColor(colors.black)
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()


def _ticket(
    c: Canvas,
    plan: SeatPlan,
    a: Assignment,
    top: float,
    lang: str,
    title: str,
    instructions: Sequence[str],
    photos: PhotoFiles,
) -> None:
    font = cjk_font()
    cand = plan.candidate(a.id_number)
    centre = plan.centre(a.centre)
    room = centre.room(a.room)
    width = PAGE_W - 2 * SIDE

    c.setFillColor(colors.black)
    draw_fit(c, SIDE, top - 13 * mm, title, width, 13, align="center")
    c.setFont(font, 19)
    heading = t("admission", lang)
    c.drawCentredString(PAGE_W / 2, top - 22 * mm, " ".join(heading) if lang != "en" else heading)

    photo_w, photo_h = 26 * mm, 26 * mm * 4 / 3
    table_w = width - photo_w - 5 * mm
    lab = 24 * mm
    row_h = 6.6 * mm
    half_w = (table_w - 2 * lab) / 2
    room_text = f"{t('door_room', lang, room=room.code)}  {room.name}"
    if room.location:
        room_text += f"（{room.location}）" if lang != "en" else f" ({room.location})"
    short = 12 * mm
    third = (table_w - lab - 2 * short) / 3
    rows: list[list[Cell]] = [
        [
            (t("name", lang), lab, True),
            (cand.name, third + third / 2, False),
            (t("gender", lang), short, True),
            (gender_name(cand.gender, lang), third / 2 + third / 4, False),
            (t("age", lang), short, True),
            (_age(plan, a), third / 2 + third / 4, False),
        ],
        [(t("ticket", lang), lab, True), ("", table_w - lab, False)],
        [(t("id_number", lang), lab, True), (cand.id_number, table_w - lab, False)],
        [(t("employer", lang), lab, True), (cand.employer, table_w - lab, False)],
        [
            (t("applied_trade", lang), lab, True),
            (cand.trade, half_w, False),
            (t("applied_level", lang), lab, True),
            (level_text(cand.level, lang), half_w, False),
        ],
        [(t("centre", lang), lab, True), (f"{centre.name}（{centre.code}）", table_w - lab, False)],
        [
            (t("room", lang), lab, True),
            (room_text, table_w - 2 * lab - 14 * mm, False),
            (t("seat", lang), lab, True),
            (f"{a.seat:02d}", 14 * mm, False),
        ],
    ]
    table_top = top - 27 * mm
    bottom = draw_cells(c, SIDE, table_top, rows, row_h, 9.5)
    # the ticket number large and spaced, so it is easy to read out and type
    c.setFont(font, 14)
    c.drawString(SIDE + lab + 3 * mm, table_top - 2 * row_h + 1.9 * mm, _spaced(a.ticket))

    px = SIDE + width - photo_w
    draw_photo(c, photos.path(cand), px, table_top - photo_h, photo_w, photo_h)
    qr = 23 * mm
    _qr(c, a.ticket, px + (photo_w - qr) / 2, table_top - photo_h - qr - 1 * mm, qr)

    # schedule: every sitting this candidate takes, in the same room and seat
    sched_top = bottom - 3 * mm
    sittings = plan.sittings_of(a.id_number)
    venue = room.location or centre.address or centre.name
    colw = [table_w * 0.24, table_w * 0.24, table_w * 0.2, table_w * 0.32]
    rows = [
        [
            (t("subject", lang), colw[0], True),
            (t("date", lang), colw[1], True),
            (t("time", lang), colw[2], True),
            (t("venue", lang), colw[3], True),
        ]
    ]
    for s in sittings:
        rows.append(
            [
                (s.subject, colw[0], False),
                (fmt_date(s.start, lang), colw[1], False),
                (fmt_span(s.start, s.end), colw[2], False),
                (venue, colw[3], False),
            ]
        )
    sh = min(6 * mm, (sched_top - (top - 98 * mm)) / max(len(rows), 1))
    bottom = draw_cells(c, SIDE, sched_top, rows, sh, 9)

    # instructions fill the rest of the half page, shrunk to fit
    box_top = min(bottom, table_top - photo_h - qr - 2 * mm) - 3 * mm
    box_bottom = top - HALF + 6 * mm
    if plan.texts.issuer:
        c.setFont(font, 7)
        c.drawCentredString(
            PAGE_W / 2, box_bottom - 3 * mm, t("issuer", lang, issuer=plan.texts.issuer)
        )
    _instructions(c, instructions, SIDE, box_bottom, width, box_top - box_bottom, lang)
    c.setStrokeColor(GRID)


def _instructions(
    c: Canvas, lines: Sequence[str], x: float, y: float, w: float, h: float, lang: str
) -> None:
    font = cjk_font()
    c.setLineWidth(0.6)
    c.rect(x, y, w, h)
    size, wrapped = _fit_lines(tuple(lines), w - 6 * mm, h)
    lead = size * 1.32
    c.setFont(font, size + 1.5)
    ty = y + h - 3 * mm - (size + 1.5) * 0.8
    c.drawCentredString(x + w / 2, ty, t("instructions", lang))
    c.setFont(font, size)
    ty -= lead + 1
    for ln in wrapped:
        c.drawString(x + 3 * mm, ty, ln)
        ty -= lead


@lru_cache(maxsize=8)
def _fit_lines(lines: tuple[str, ...], width: float, height: float) -> tuple[float, list[str]]:
    """The largest size (8 pt down to 5 pt) at which the numbered lines fit the box."""
    size = 8.0
    numbered = [f"{i + 1}. {s}" for i, s in enumerate(lines)]
    while True:
        wrapped = [ln for s in numbered for ln in wrap(s, width, size)]
        if (len(wrapped) + 1) * size * 1.32 + 10 <= height or size <= 5:
            return size, wrapped
        size -= 0.25


def _spaced(ticket: str) -> str:
    """Groups that are easy to read out: ``26 0101 001 05 3`` for numbers central made
    (year, centre, room, seat, check digit), fours for the province's own."""
    if len(ticket) == 12 and ticket.isdigit() and is_valid_ticket(ticket):
        return f"{ticket[:2]} {ticket[2:6]} {ticket[6:9]} {ticket[9:11]} {ticket[11]}"
    return " ".join(ticket[i : i + 4] for i in range(0, len(ticket), 4))
