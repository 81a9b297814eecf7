"""The console's pages and API for terminals and login locks (终端绑定, 登录锁定).

* ``/console/terminals``: each room's seats, which terminal is enrolled at each, a button
  that makes a one-time enrolment code (shown once, with the centre CA's fingerprint that
  the terminal must pin) and one that revokes an enrolment. The centre admin and the chief
  examiner see every room; an invigilator the rooms assigned to them.
* ``POST /console/api/locks/<id>/unlock``: an invigilator, having checked the candidate in
  person, unlocks a ticket or a terminal locked after too many wrong ID numbers (the room's
  live map lists the locks).
"""

from __future__ import annotations

from datetime import timedelta

from flask import jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam_server.accounts import service as accounts
from exam_server.accounts.models import Role, RoomAssignment
from exam_server.centres.models import Room, Seat
from exam_server.console import bodies
from exam_server.console.access import lang, login_required, refusal, signed_in_user
from exam_server.console.i18n import table
from exam_server.console.views import _bad_field, bp
from exam_server.eventlog import service as eventlog
from exam_server.runtime import runtime
from exam_server.terminals import service as terminals
from exam_server.throttle.models import LoginThrottle

MANAGERS = (Role.ADMIN, Role.CHIEF, Role.INVIGILATOR)


def _rooms_for(db: Session, user: accounts.SessionUser) -> list[Room]:
    """The rooms whose terminals ``user`` manages."""
    q = select(Room).order_by(Room.code)
    if user.role is Role.INVIGILATOR:
        q = q.where(
            Room.id.in_(
                select(RoomAssignment.room_id).where(RoomAssignment.user_id == user.user_id)
            )
        )
    return list(db.scalars(q))


def may_manage(db: Session, user: accounts.SessionUser, room_id: int) -> bool:
    return any(r.id == room_id for r in _rooms_for(db, user))


def _fingerprint() -> str | None:
    from exam_server.tls import tls_files

    files = tls_files(runtime().config.DATA_DIR)
    return files.fingerprint() if files.ca_cert.exists() else None


@bp.get("/terminals")
@login_required(*MANAGERS)
def terminals_page() -> ResponseReturnValue:
    user = signed_in_user()
    rt = runtime()
    with rt.db.read() as db:
        rooms = _rooms_for(db, user)
        active = {e.seat_id: e for e in terminals.enrolments(db)}
        view = [
            {
                "room": room,
                "seats": [
                    {"seat": seat, "enrolment": active.get(seat.id)}
                    for seat in db.scalars(
                        select(Seat).where(Seat.room_id == room.id).order_by(Seat.number)
                    )
                ],
            }
            for room in rooms
        ]
        return render_template(
            "console/terminals.html",
            rooms=view,
            fingerprint=_fingerprint(),
            boot={"text": table(lang()), "fingerprint": _fingerprint()},
        )


@bp.post("/api/seats/<id:seat_id>/enrolment-code")
@login_required(*MANAGERS)
def enrolment_code(seat_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    try:
        bodies.parse(bodies.NoBody)
    except bodies.BadField as exc:
        return _bad_field(exc)
    rt = runtime()
    with rt.db.write() as db:
        seat = db.get(Seat, seat_id)
        if seat is None:
            return refusal("no_such_seat", 404)
        if not may_manage(db, user, seat.room_id):
            return refusal("not_your_room", 403)
        (issued,) = terminals.issue_codes(
            db,
            rt.clock.now(),
            [seat],
            by=user.username,
            valid=timedelta(seconds=rt.config.ENROL_CODE_VALID_S),
        )
    return jsonify(
        ok=True,
        seat=issued.seat,
        code=issued.code,
        expires_at=issued.expires_at.isoformat(),
        ca_fingerprint=_fingerprint(),
    )


@bp.post("/api/enrolments/<id:enrolment_id>/revoke")
@login_required(*MANAGERS)
def revoke_enrolment(enrolment_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    try:
        body = bodies.parse(bodies.RevokeBody)
    except bodies.BadField as exc:
        return _bad_field(exc)
    rt = runtime()
    try:
        with rt.db.write() as db:
            from exam_server.terminals.models import TerminalEnrolment

            row = db.get(TerminalEnrolment, enrolment_id)
            if row is None:
                return refusal("no_such_enrolment", 404)
            if not may_manage(db, user, row.seat.room_id):
                return refusal("not_your_room", 403)
            terminals.revoke(db, rt.clock.now(), enrolment_id, by=user.username, reason=body.reason)
    except terminals.TerminalError as exc:
        status = 404 if exc.code == "no_such_enrolment" else 400
        return refusal(exc.code, status)
    rt.cut_off_terminals({enrolment_id})  # committed: the terminal is out at once
    return jsonify(ok=True)


@bp.post("/api/locks/<id:lock_id>/unlock")
@login_required(Role.CHIEF, Role.INVIGILATOR)
def unlock(lock_id: int) -> ResponseReturnValue:
    """The invigilator checked the candidate (or the terminal) and lets logins go on;
    the reason (what was checked) is required and kept in the event log."""
    user = signed_in_user()
    try:
        body = bodies.parse(bodies.RequiredReasonBody)
    except bodies.BadField as exc:
        return _bad_field(exc)
    rt = runtime()
    with rt.db.write() as db:
        row = db.get(LoginThrottle, lock_id)
        if row is None or row.locked_at is None:
            return refusal("no_such_lock", 404)
        if row.room_id is None or not may_manage(db, user, row.room_id):
            return refusal("not_your_room", 403)
        eventlog.append(
            db,
            at=rt.clock.now(),
            actor=user.username,
            kind="login.unlocked",
            room_id=row.room_id,
            reason=body.reason[:500],
            data={"scope": row.scope, "key": row.key, "failures": row.failures},
        )
        db.delete(row)
    return jsonify(ok=True)
