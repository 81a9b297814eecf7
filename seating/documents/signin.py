"""Sign-in sheets (签到表): one per room and sitting, photo beside each signature box."""

from __future__ import annotations

import io
from collections.abc import Iterable

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, PageBreak, Spacer

from seating.documents.common import (
    MARGIN,
    PAGE_W,
    PhotoCell,
    PhotoFiles,
    Progress,
    SectionMark,
    build_doc,
    grid_table,
    para,
    plan_title,
    styles,
    tick,
)
from seating.documents.fonts import cjk_font
from seating.i18n import fmt_date, fmt_span, t
from seating.model import RoomKey, SeatPlan, level_short, room_key


def _fit(text: str, width: float, st: dict[str, ParagraphStyle]) -> object:
    """Plain text when it fits the cell (fast for thousands of rows), else a wrapping
    paragraph."""
    if stringWidth(text, cjk_font(), 8.5) <= width - 6:
        return text
    return para(text, st["cell"])


def sign_in_sheets(
    plan: SeatPlan,
    *,
    sittings: Iterable[str] | None = None,
    rooms: Iterable[RoomKey] | None = None,
    lang: str = "zh_CN",
    progress: Progress | None = None,
) -> bytes:
    """签到表 for each (sitting, room) pair that has candidates: seat, photo, ticket, name,
    ID number, trade and level, and a box to sign. Tables run over pages with the header
    row repeated; each room and sitting starts a new page."""
    codes = list(sittings) if sittings is not None else [s.code for s in plan.sittings]
    keys = [room_key(*k) for k in rooms] if rooms is not None else plan.used_room_keys()
    st = styles()
    title = plan_title(plan, lang)
    state: dict[str, str] = {}
    story: list[Flowable] = []
    photos = PhotoFiles()
    jobs = [(code, key) for code in codes for key in keys if plan.in_room(key, code)]
    for i, (code, key) in enumerate(jobs):
        s = plan.sitting(code)
        centre = plan.centre(key[0])
        room = plan.room(key)
        people = plan.in_room(key, code)
        section = f"{t('door_room', lang, room=room.code)} · {s.subject} · {fmt_date(s.start, lang)} {fmt_span(s.start, s.end)}"
        if story:
            story.append(PageBreak())
        story += [
            SectionMark(state, section),
            para(title, st["subtitle"]),
            para(t("signin_title", lang), st["title"]),
            para(
                f"{t('centre', lang)}：{centre.name}　{t('room', lang)}：{room.code} {room.name}　"
                f"{t('subject', lang)}：{s.subject}　{t('time', lang)}：{fmt_date(s.start, lang)} "
                f"{fmt_span(s.start, s.end)}",
                st["info"],
            ),
            Spacer(1, 3 * mm),
        ]
        widths = [11 * mm, 15 * mm, 29 * mm, 22 * mm, 37 * mm, 31 * mm, 0.0, 14 * mm]
        widths[6] = PAGE_W - 2 * MARGIN - sum(widths)
        rows: list[list[object]] = [
            [
                t("seat", lang),
                t("photo", lang),
                t("ticket", lang),
                t("name", lang),
                t("id_number", lang),
                t("trade_level", lang),
                t("signature", lang),
                t("remarks", lang),
            ]
        ]
        for a in people:
            cand = plan.candidate(a.id_number)
            rows.append(
                [
                    f"{a.seat:02d}",
                    PhotoCell(photos.path(cand), 12 * mm, 16 * mm),
                    a.ticket,
                    cand.name,
                    cand.id_number,
                    _fit(f"{cand.trade} {level_short(cand.level, lang)}", widths[5], st),
                    "",
                    "",
                ]
            )
        story.append(
            grid_table(
                rows,
                widths,
                row_heights=[8 * mm] + [18 * mm] * len(people),
                align_center_cols=(0, 1),
            )
        )
        story.append(Spacer(1, 4 * mm))
        story.append(para(t("signin_footer", lang, n=len(people)), st["info"]))
        tick(progress, i + 1, len(jobs))
    if not story:
        story.append(Spacer(1, 1))
    buf = io.BytesIO()
    with photos:
        build_doc(buf, story, title=f"{title} {t('signin_title', lang)}", lang=lang, state=state)
    return buf.getvalue()
