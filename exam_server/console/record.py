"""The room record (考场情况记录) of one room in one sitting, filled from the event log and
printed by :func:`seating.documents.room_records`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from exam_server.accounts.models import RoomAssignment, User
from exam_server.candidates.models import Candidate
from exam_server.centres.models import Centre, Room, Seat
from exam_server.eventlog.models import Event
from exam_server.plans.models import Pause, Sitting
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import Attempt
from seating import model as sm
from seating import records as rec
from seating.documents import room_records

#: event kinds that are printed as "other events" (其他情况)
NOTE_KINDS = {
    "attempt.admitted_late": ("准予迟到入场", "late entry admitted"),
    "attempt.photo_mismatch": ("照片核验不符", "photo did not match"),
    "attempt.force_submitted": ("强制交卷", "submitted by the invigilator"),
    "room.broadcast": ("发送通知", "message sent"),
    "lost_time.dismissed": ("终端失联，未补时", "terminal lost, no time credited"),
    "server.downtime": ("服务器停止运行", "the server was not running"),
}


def _centre_code(code: str) -> str:
    # seating prints 4-digit centre codes; older test data uses shorter ones
    return code.zfill(4) if code.isdigit() and len(code) <= 4 else "0000"


def _room_code(code: str) -> str:
    return code if code.isdigit() and 1 <= len(code) <= 3 and int(code) > 0 else "1"


def _gender(value: str) -> sm.Gender:
    return sm.Gender.MALE if value in ("男", "male", "M", "m") else sm.Gender.FEMALE


def _say(text: str, lang: str) -> str:
    """One language of a bilingual "中文 / English" text (the server writes its own reasons
    so), so that a Chinese record holds no English and an English one no Chinese."""
    zh, sep, en = (text or "").partition(" / ")
    if not sep:
        return text or ""
    return en.strip() if lang == "en" else zh.strip()


def _who(actor: str, lang: str) -> str:
    """Who recorded it: a person's name as logged, the server in words."""
    if actor in ("server", "scheduler", "system") or actor.startswith("server:"):
        return "server (automatic)" if lang == "en" else "服务器自动记录"
    return actor


def room_record_pdf(
    session: Session,
    sitting_id: int,
    room_id: int,
    *,
    lang: str = "zh_CN",
    now: datetime | None = None,
) -> tuple[bytes, str]:
    """The PDF and a file name for it. Before late entry closes (``now``) the counts of
    present and absent are left blank: nobody is absent yet."""
    sitting = session.get(Sitting, sitting_id)
    room = session.get(Room, room_id)
    if sitting is None or room is None:
        raise LookupError("no such sitting or room")
    centre = session.get(Centre, room.centre_id)
    assert centre is not None
    ccode, rcode = _centre_code(centre.code), _room_code(room.code)
    rows = session.execute(
        select(Attempt, Candidate, Seat)
        .join(Candidate, Attempt.candidate_id == Candidate.id)
        .join(Seat, Attempt.seat_id == Seat.id)
        .where(Attempt.sitting_id == sitting_id, Seat.room_id == room_id)
        .order_by(Seat.number)
    ).all()
    by_attempt = {a.id: (a, c, s) for a, c, s in rows}
    candidates = tuple(
        sm.Candidate(
            id_number=c.id_number,
            name=c.name,
            gender=_gender(c.gender),
            employer=c.employer,
            trade=c.trade,
            level=c.level if 1 <= c.level <= 5 else 5,
            birth_date=c.birth_date,
        )
        for _, c, _ in rows
    )
    plan = sm.SeatPlan(
        year=sitting.start.year,
        seed=0,
        title=sitting.plan.name,
        centres=(
            sm.Centre(
                ccode,
                centre.name,
                (sm.Room(rcode, room.name, room.rows, room.cols, spare_seats=0),),
            ),
        ),
        sittings=(
            sm.Sitting(sitting.code, sitting.subject, sitting.start, sitting.end, variants=("A",)),
        ),
        candidates=candidates,
        assignments=tuple(
            sm.Assignment(
                c.ticket, c.id_number, ccode, rcode.zfill(3), s.number, {sitting.code: "A"}
            )
            for _, c, s in rows
        ),
        spares={},
    )
    events: list[rec.RoomEvent] = []
    ticket = {a.id: c.ticket for a, c, _ in rows}
    log = session.scalars(
        select(Event)
        .where(
            Event.sitting_id == sitting_id,
            or_(Event.room_id == room_id, Event.room_id.is_(None)),
        )
        .order_by(Event.seq)
    ).all()
    absent_logged = set()
    authorisations: dict[int, Event] = {}
    for ev in log:
        t = ticket.get(ev.attempt_id) if ev.attempt_id else None
        if ev.attempt_id and t is None:
            continue  # another room's candidate
        if ev.kind == "attempt.absent" and t:
            absent_logged.add(ev.attempt_id)
            who = _who(ev.actor, lang)
            reason = _say(ev.reason, lang)
            said = f"{reason} ({who})" if lang == "en" else f"{reason}（{who}）"
            events.append(rec.Absence(t, said if reason else who))
        elif ev.kind == "attempt.voided" and t:
            void = "score void" if lang == "en" else "本科目成绩作废"
            events.append(
                rec.Violation(t, ev.at, _say(ev.reason, lang), void, _who(ev.actor, lang))
            )
        elif ev.kind == "attempt.extra_time" and t:
            minutes = round(int(ev.data.get("seconds", 0)) / 60)
            events.append(
                rec.ExtraTime(t, ev.at, minutes, _say(ev.reason, lang), _who(ev.actor, lang))
            )
        elif ev.kind == "attempt.relogin_authorised" and ev.attempt_id:
            authorisations[ev.attempt_id] = ev
        elif ev.kind == "candidate.seat_changed" and t and ev.attempt_id:
            auth = authorisations.get(ev.attempt_id)
            events.append(
                rec.SeatChange(
                    t,
                    ev.at,
                    _seat_number(ev.data.get("from_seat")),
                    _seat_number(ev.data.get("seat")),
                    _say(auth.reason, lang) if auth else "",
                    _who(auth.actor, lang) if auth else "",
                )
            )
        elif ev.kind in NOTE_KINDS and (t or ev.room_id in (room_id, None)):
            text = NOTE_KINDS[ev.kind][1 if lang == "en" else 0]
            whom = f" {t}" if t else ""
            detail = _say(ev.reason or str(ev.data.get("text", "")), lang)
            sep = ": " if lang == "en" else "："
            events.append(
                rec.Note(
                    ev.at,
                    f"{text}{whom}{sep}{detail}" if detail else f"{text}{whom}",
                    _who(ev.actor, lang),
                )
            )
    for attempt_id, (a, c, _) in by_attempt.items():
        if a.state is AttemptState.ABSENT and attempt_id not in absent_logged:
            events.append(rec.Absence(c.ticket))
    for pause in session.scalars(
        select(Pause)
        .where(
            Pause.sitting_id == sitting_id, or_(Pause.room_id == room_id, Pause.room_id.is_(None))
        )
        .order_by(Pause.started_at)
    ):
        events.append(
            rec.Pause(
                pause.started_at, pause.ended_at, _say(pause.reason, lang), _who(pause.by, lang)
            )
        )
    invigilators = tuple(
        session.scalars(
            select(User.display_name)
            .join(RoomAssignment, RoomAssignment.user_id == User.id)
            .where(
                RoomAssignment.room_id == room_id,
                or_(RoomAssignment.sitting_id.is_(None), RoomAssignment.sitting_id == sitting_id),
            )
            .order_by(User.display_name)
        )
    )
    final = now is not None and (
        sitting.closed_at is not None or now >= sitting.start + sitting.rules.late_entry
    )
    record = rec.RoomRecord(
        ccode, rcode, sitting.code, tuple(events), invigilators, counts_final=final
    )
    pdf = room_records(plan, [record], lang=lang)
    return pdf, f"room-record-{sitting.code}-{room.code}.pdf"


def _seat_number(label: object) -> int:
    text = str(label or "")
    tail = text.rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0
