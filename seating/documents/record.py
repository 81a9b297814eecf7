"""The room record (考场情况记录): per room and sitting, filled from the server's log."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import TypeVar

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, PageBreak, Spacer

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
from seating.i18n import fmt_date, fmt_span, fmt_time, t
from seating.model import SeatPlan, room_key
from seating.records import (
    Absence,
    ExtraTime,
    Note,
    Pause,
    RoomEvent,
    RoomRecord,
    SeatChange,
    Violation,
)

WIDTH = PAGE_W - 2 * MARGIN
E = TypeVar("E")


def room_records(
    plan: SeatPlan,
    records: Iterable[RoomRecord],
    *,
    lang: str = "zh_CN",
    progress: Progress | None = None,
) -> bytes:
    """考场情况记录, one or more pages per :class:`RoomRecord`: counts (expected, present,
    absent), then absences, violations, extra time, seat changes, pauses and other events
    (each table says 无 when empty), then the invigilators' and chief examiner's signatures.

    Raises ``KeyError`` for a ticket that is not in the plan.
    """
    recs = list(records)
    st = styles()
    title = plan_title(plan, lang)
    state: dict[str, str] = {}
    story: list[Flowable] = []
    for i, rec in enumerate(recs):
        if story:
            story.append(PageBreak())
        story += _one(plan, rec, lang, title, state, st)
        tick(progress, i + 1, len(recs))
    if not story:
        story.append(Spacer(1, 1))
    buf = io.BytesIO()
    build_doc(buf, story, title=f"{title} {t('record_title', lang)}", lang=lang, state=state)
    return buf.getvalue()


def _one(
    plan: SeatPlan,
    rec: RoomRecord,
    lang: str,
    title: str,
    state: dict[str, str],
    st: dict[str, ParagraphStyle],
) -> list[Flowable]:
    key = room_key(rec.centre, rec.room)
    s = plan.sitting(rec.sitting)
    room = plan.room(key)
    centre = plan.centre(key[0])
    expected = plan.in_room(key, s.code)
    absent = [e for e in rec.events if isinstance(e, Absence)]
    when = f"{fmt_date(s.start, lang)} {fmt_span(s.start, s.end)}"
    out: list[Flowable] = [
        SectionMark(state, f"{t('door_room', lang, room=room.code)} · {s.subject} · {when}"),
        para(title, st["subtitle"]),
        para(t("record_title", lang), st["title"]),
    ]
    half = WIDTH / 4
    info = [
        [t("centre", lang), centre.name, t("room", lang), f"{room.code}  {room.name}"],
        [t("subject", lang), s.subject, t("time", lang), when],
        [
            t("expected", lang),
            str(len(expected)),
            t("present", lang) + " / " + t("absent_count", lang),
            f"{len(expected) - len(absent)} / {len(absent)}" if rec.counts_final else "____ / ____",
        ],
        [t("invigilators", lang), "、".join(rec.invigilators) or "", "", ""],
    ]
    tbl = grid_table(
        info, [half * 0.6, half * 1.4, half * 0.7, half * 1.3], header_rows=0, font_size=9.5
    )
    tbl.setStyle([("SPAN", (1, 3), (3, 3))])
    out += [tbl, Spacer(1, 2 * mm)]

    def who(ticket: str) -> tuple[str, str]:
        a = plan.by_ticket(ticket)
        return f"{a.seat:02d}", plan.candidate(a.id_number).name

    def section(
        head: str, header: Sequence[str], rows: list[list[object]], widths: Sequence[float]
    ) -> None:
        body: list[list[object]] = [list(header)]
        if rows:
            body += rows
        else:
            body.append([t("none", lang), *([""] * (len(header) - 1))])
        tbl = grid_table(body, [w * WIDTH for w in widths], font_size=8.5)
        if not rows:
            tbl.setStyle([("SPAN", (0, 1), (-1, 1)), ("ALIGN", (0, 1), (-1, 1), "CENTER")])
        out.append(
            KeepTogether([para(head, st["h2"]), tbl]) if len(body) < 6 else para(head, st["h2"])
        )
        if len(body) >= 6:
            out.append(tbl)

    def cell(text: str) -> object:
        return para(text, st["cell"])

    events = rec.events
    section(
        t("absences", lang),
        [t("seat", lang), t("ticket", lang), t("name", lang), t("remarks", lang)],
        [
            [*who(e.ticket)[:1], e.ticket, who(e.ticket)[1], cell(e.note)]
            for e in _of(events, Absence)
        ],
        [0.1, 0.25, 0.2, 0.45],
    )
    section(
        t("violations", lang),
        [
            t("at", lang),
            t("seat", lang),
            t("ticket", lang),
            t("name", lang),
            t("description", lang),
            t("action", lang),
            t("recorded_by", lang),
        ],
        [
            [
                fmt_time(e.at),
                who(e.ticket)[0],
                e.ticket,
                who(e.ticket)[1],
                cell(e.description),
                cell(e.action),
                e.recorded_by,
            ]
            for e in _of(events, Violation)
        ],
        [0.08, 0.07, 0.17, 0.12, 0.28, 0.16, 0.12],
    )
    section(
        t("extra_time", lang),
        [
            t("at", lang),
            t("seat", lang),
            t("ticket", lang),
            t("name", lang),
            t("minutes_h", lang),
            t("reason", lang),
            t("granted_by", lang),
        ],
        [
            [
                fmt_time(e.at),
                who(e.ticket)[0],
                e.ticket,
                who(e.ticket)[1],
                str(e.minutes),
                cell(e.reason),
                e.granted_by,
            ]
            for e in _of(events, ExtraTime)
        ],
        [0.08, 0.07, 0.17, 0.12, 0.12, 0.32, 0.12],
    )
    section(
        t("seat_changes", lang),
        [
            t("at", lang),
            t("ticket", lang),
            t("name", lang),
            t("from_seat", lang),
            t("to_seat", lang),
            t("reason", lang),
            t("granted_by", lang),
        ],
        [
            [
                fmt_time(e.at),
                e.ticket,
                who(e.ticket)[1],
                f"{e.from_seat:02d}",
                f"{e.to_seat:02d}",
                cell(e.reason),
                e.authorised_by,
            ]
            for e in _of(events, SeatChange)
        ],
        [0.08, 0.17, 0.12, 0.09, 0.09, 0.33, 0.12],
    )
    section(
        t("pauses", lang),
        [t("from_to", lang), t("reason", lang), t("recorded_by", lang)],
        [
            [f"{fmt_time(e.start)}-{fmt_time(e.end) if e.end else ''}", cell(e.reason), e.by]
            for e in _of(events, Pause)
        ],
        [0.18, 0.67, 0.15],
    )
    section(
        t("notes", lang),
        [t("at", lang), t("description", lang), t("recorded_by", lang)],
        [[fmt_time(e.at), cell(e.text), e.by] for e in _of(events, Note)],
        [0.1, 0.75, 0.15],
    )
    out += [Spacer(1, 10 * mm), para(t("invigilators_sign", lang), st["info"])]
    return out


def _of(events: Sequence[RoomEvent], kind: type[E]) -> list[E]:
    return [e for e in events if isinstance(e, kind)]
