"""Room door lists (考场门贴): posted at the door, with each candidate's photo and seat.

No ID numbers: the list hangs in a corridor.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from seating.documents.common import (
    MARGIN,
    PAGE_H,
    PAGE_W,
    PhotoFiles,
    Progress,
    draw_fit,
    draw_photo,
    new_canvas,
    plan_title,
    tick,
)
from seating.documents.fonts import cjk_font
from seating.i18n import fmt_date, fmt_span, t
from seating.model import RoomKey, SeatPlan, room_key

COLS = 5
CARD_W = (PAGE_W - 2 * MARGIN) / COLS
CARD_H = 47 * mm


def door_lists(
    plan: SeatPlan,
    *,
    rooms: Iterable[RoomKey] | None = None,
    lang: str = "zh_CN",
    progress: Progress | None = None,
) -> bytes:
    """考场门贴 for the given rooms (default: every room with candidates), each starting on
    a new page: room, place, the day's sittings, then a card per candidate in seat order
    (photo, seat, name, ticket). Long rooms continue on further pages under a short
    header."""
    keys = [room_key(*k) for k in rooms] if rooms is not None else plan.used_room_keys()
    title = plan_title(plan, lang)
    buf = io.BytesIO()
    c = new_canvas(buf, f"{title} {t('door_title', lang)}", lang)
    with PhotoFiles() as photos:
        for i, key in enumerate(keys):
            _room(c, plan, key, lang, title, photos)
            tick(progress, i + 1, len(keys))
        if not keys:
            c.showPage()
        c.save()
    return buf.getvalue()


def _room(
    c: Canvas, plan: SeatPlan, key: RoomKey, lang: str, title: str, photos: PhotoFiles
) -> None:
    font = cjk_font()
    centre = plan.centre(key[0])
    room = plan.room(key)
    people = plan.in_room(key)
    width = PAGE_W - 2 * MARGIN
    y = PAGE_H - 16 * mm
    draw_fit(c, MARGIN, y, title, width, 12, align="center")
    y -= 9 * mm
    draw_fit(c, MARGIN, y, t("door_title", lang), width, 14, align="center")
    y -= 20 * mm
    c.setFont(font, 40)
    c.drawCentredString(PAGE_W / 2, y, t("door_room", lang, room=room.code))
    y -= 9 * mm
    place = f"{centre.name}  {room.name}"
    if room.location:
        place += f"  {room.location}"
    draw_fit(c, MARGIN, y, place, width, 11, align="center")
    y -= 6.5 * mm
    codes = {s for a in people for s in a.variants}
    for s in plan.sittings:
        if s.code in codes:
            line = f"{s.subject}   {fmt_date(s.start, lang)}  {fmt_span(s.start, s.end)}"
            draw_fit(c, MARGIN, y, line, width, 10, align="center")
            y -= 5.2 * mm
    draw_fit(c, MARGIN, y, t("door_count", lang, n=len(people)), width, 10, align="center")
    y -= 4 * mm
    c.setStrokeColor(colors.HexColor("#444444"))
    c.line(MARGIN, y, PAGE_W - MARGIN, y)
    y -= 2 * mm
    col = 0
    for a in people:
        if col == 0 and y - CARD_H < 12 * mm:
            c.showPage()
            y = PAGE_H - 14 * mm
            head = f"{t('door_room', lang, room=room.code)}{t('continued', lang)}  {centre.name}"
            draw_fit(c, MARGIN, y, head, width, 11, align="center")
            y -= 5 * mm
        cand = plan.candidate(a.id_number)
        x = MARGIN + col * CARD_W
        pw, ph = 21 * mm, 28 * mm
        draw_photo(c, photos.path(cand), x + (CARD_W - pw) / 2, y - ph - 2 * mm, pw, ph)
        c.setFillColor(colors.black)
        c.setFont(font, 11)
        c.drawCentredString(x + CARD_W / 2, y - ph - 7.2 * mm, f"{t('seat', lang)} {a.seat:02d}")
        draw_fit(c, x + 1 * mm, y - ph - 12 * mm, cand.name, CARD_W - 2 * mm, 11, align="center")
        draw_fit(c, x + 1 * mm, y - ph - 16 * mm, a.ticket, CARD_W - 2 * mm, 8.5, align="center")
        col += 1
        if col == COLS:
            col = 0
            y -= CARD_H
    c.showPage()
