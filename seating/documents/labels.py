"""Seat labels (桌贴): ten per A4 sheet, stuck on each desk; spare seats get one too."""

from __future__ import annotations

import io
from collections.abc import Iterable

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from seating.documents.common import (
    PAGE_H,
    PAGE_W,
    Progress,
    draw_fit,
    new_canvas,
    plan_title,
    tick,
)
from seating.documents.fonts import cjk_font
from seating.i18n import t
from seating.model import Assignment, RoomKey, SeatPlan, level_short, room_key

COLS, ROWS = 2, 5
MX, MY = 10 * mm, 12 * mm
LW = (PAGE_W - 2 * MX) / COLS
LH = (PAGE_H - 2 * MY) / ROWS


def seat_labels(
    plan: SeatPlan,
    *,
    rooms: Iterable[RoomKey] | None = None,
    include_spares: bool = True,
    lang: str = "zh_CN",
    progress: Progress | None = None,
) -> bytes:
    """桌贴: for each room (default: every room with candidates), a label per occupied seat
    in seat order, then one per spare seat marked 备用座位. Each room starts a new sheet."""
    keys = [room_key(*k) for k in rooms] if rooms is not None else plan.used_room_keys()
    title = plan_title(plan, lang)
    buf = io.BytesIO()
    c = new_canvas(buf, f"{title} {t('label_title', lang)}", lang)
    for i, key in enumerate(keys):
        items: list[tuple[int, Assignment | None]] = [(a.seat, a) for a in plan.in_room(key)]
        if include_spares:
            items += [(s, None) for s in plan.spares.get(key, ())]
        for j, (seat, a) in enumerate(items):
            if j and j % (COLS * ROWS) == 0:
                c.showPage()
            _label(c, plan, key, seat, a, j % (COLS * ROWS), lang)
        c.showPage()
        tick(progress, i + 1, len(keys))
    if not keys:
        c.showPage()
    c.save()
    return buf.getvalue()


def _label(
    c: Canvas, plan: SeatPlan, key: RoomKey, seat: int, a: Assignment | None, slot: int, lang: str
) -> None:
    font = cjk_font()
    x = MX + (slot % COLS) * LW
    y = PAGE_H - MY - (slot // COLS + 1) * LH
    c.setStrokeColor(colors.HexColor("#777777"))
    c.setDash(2, 2)
    c.setLineWidth(0.4)
    c.rect(x, y, LW, LH)
    c.setDash()
    pad = 5 * mm
    inner = LW - 2 * pad
    room = plan.room(key)
    c.setFillColor(colors.black)
    draw_fit(
        c,
        x + pad,
        y + LH - 9 * mm,
        f"{t('door_room', lang, room=room.code)}  {room.name}",
        inner,
        11,
    )
    # the seat number, large, at the right
    c.setFont(font, 42)
    c.drawRightString(x + LW - pad, y + LH - 25 * mm, f"{seat:02d}")
    c.setFont(font, 9)
    c.drawRightString(x + LW - pad, y + LH - 31 * mm, t("seat", lang))
    if a is None:
        c.setFillColor(colors.HexColor("#666666"))
        draw_fit(c, x + pad, y + LH - 24 * mm, t("spare", lang), inner - 30 * mm, 20)
        return
    cand = plan.candidate(a.id_number)
    draw_fit(c, x + pad, y + LH - 21 * mm, cand.name, inner - 30 * mm, 22)
    draw_fit(
        c, x + pad, y + LH - 30 * mm, f"{t('ticket', lang)}：{a.ticket}", inner - 26 * mm, 10.5
    )
    draw_fit(
        c,
        x + pad,
        y + 7 * mm,
        f"{cand.trade}  {level_short(cand.level, lang)}",
        inner,
        10,
    )
