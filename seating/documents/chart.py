"""The room seating chart (考场座位表): the room as a grid, front at the top, for
invigilators. Each seat shows its number, the candidate, and their paper variant(s)."""

from __future__ import annotations

import io
from collections.abc import Iterable

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm

from seating.documents.common import (
    GRID,
    SHADE,
    Progress,
    draw_fit,
    new_canvas,
    plan_title,
    tick,
)
from seating.documents.fonts import cjk_font
from seating.i18n import fmt_date, fmt_span, t
from seating.model import RoomKey, SeatPlan, room_key

PAGE = landscape(A4)


def seating_charts(
    plan: SeatPlan,
    *,
    rooms: Iterable[RoomKey] | None = None,
    sitting: str | None = None,
    lang: str = "zh_CN",
    progress: Progress | None = None,
) -> bytes:
    """One landscape page per room (default: rooms with candidates). With ``sitting``, only
    that sitting's candidates and variant; without, every candidate and their variants in
    sitting order (a legend says which order)."""
    keys = [room_key(*k) for k in rooms] if rooms is not None else plan.used_room_keys()
    title = plan_title(plan, lang)
    buf = io.BytesIO()
    c = new_canvas(buf, f"{title} {t('chart_title', lang)}", lang, pagesize=PAGE)
    font = cjk_font()
    pw, ph = PAGE
    m = 12 * mm
    for i, key in enumerate(keys):
        room = plan.room(key)
        centre = plan.centre(key[0])
        people = {a.seat: a for a in plan.in_room(key, sitting)}
        codes = [
            s.code for s in plan.sittings if any(s.code in a.variants for a in people.values())
        ]
        if sitting is not None:
            codes = [sitting]
        c.setFillColor(colors.black)
        draw_fit(c, m, ph - 14 * mm, f"{title}  {t('chart_title', lang)}", pw - 2 * m, 14, "center")
        head = (
            f"{centre.name}  {t('door_room', lang, room=room.code)}  {room.name}  {room.location}"
        )
        draw_fit(c, m, ph - 21 * mm, head, pw - 2 * m, 10.5, "center")
        subs = [plan.sitting(code) for code in codes]
        if sitting is not None and subs:
            s = subs[0]
            line = f"{s.subject}  {fmt_date(s.start, lang)} {fmt_span(s.start, s.end)}"
        else:
            line = t("chart_variants", lang, subjects=" · ".join(s.subject for s in subs))
        draw_fit(c, m, ph - 27 * mm, line, pw - 2 * m, 9.5, "center")
        # front of the room
        top = ph - 32 * mm
        c.setFillColor(SHADE)
        c.rect(pw / 2 - 40 * mm, top - 7 * mm, 80 * mm, 7 * mm, stroke=0, fill=1)
        c.setFillColor(colors.black)
        draw_fit(c, pw / 2 - 40 * mm, top - 5 * mm, t("front", lang), 80 * mm, 9.5, "center")
        grid_top = top - 10 * mm
        cw = (pw - 2 * m) / room.cols
        ch = min(26 * mm, (grid_top - 12 * mm) / room.rows)
        spares = set(plan.spares.get(key, ()))
        for seat in range(1, room.rows * room.cols + 1):
            r, col = room.position(seat)
            x = m + (col - 1) * cw
            y = grid_top - r * ch
            a = people.get(seat)
            if seat in room.blocked or a is None:
                c.setFillColor(colors.HexColor("#F4F4F4") if seat in room.blocked else colors.white)
                c.rect(x + 1, y + 1, cw - 2, ch - 2, stroke=0, fill=1)
            c.setStrokeColor(GRID)
            c.setLineWidth(0.6)
            c.rect(x + 1, y + 1, cw - 2, ch - 2)
            c.setFillColor(colors.black)
            c.setFont(font, 9)
            c.drawString(x + 2.5 * mm, y + ch - 5 * mm, f"{seat:02d}")
            if a is not None:
                cand = plan.candidate(a.id_number)
                draw_fit(c, x + 2.5 * mm, y + ch * 0.45, cand.name, cw - 5 * mm, 12)
                draw_fit(c, x + 2.5 * mm, y + ch * 0.45 - 4.2 * mm, a.ticket, cw - 5 * mm, 7.5)
                var = "·".join(a.variants.get(code, "-") for code in codes)
                c.setFont(font, 10)
                c.drawRightString(x + cw - 2.5 * mm, y + ch - 5 * mm, var)
            else:
                word = (
                    t("blocked", lang)
                    if seat in room.blocked
                    else t("spare_short", lang)
                    if seat in spares
                    else t("empty", lang)
                )
                c.setFillColor(colors.HexColor("#777777"))
                draw_fit(c, x + 2.5 * mm, y + ch * 0.4, word, cw - 5 * mm, 11)
        c.showPage()
        tick(progress, i + 1, len(keys))
    if not keys:
        c.showPage()
    c.save()
    return buf.getvalue()
