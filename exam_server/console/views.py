"""The console's pages and JSON API (blueprint ``console`` under ``/console``).

Each handler: check who is asking and whether they may reach this room, run one service
in one unit of work, then (after the commit) tell the terminals and the live map.
Every POST carries the CSRF token (forms: a hidden field; scripts: ``X-CSRFToken``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam_common import protocol as p
from exam_server.accounts import service as accounts
from exam_server.accounts.models import Role, User
from exam_server.centres.models import Room
from exam_server.console import bodies, service, tiles
from exam_server.console.access import (
    TOKEN,
    current_user,
    lang,
    login_required,
    may_watch,
    refusal,
    settings,
    signed_in_user,
)
from exam_server.console.i18n import t, table
from exam_server.console.live import ConsoleHub
from exam_server.console.models import TerminalGap
from exam_server.db import after_commit
from exam_server.messages import message
from exam_server.plans.models import Sitting
from exam_server.runtime import runtime
from exam_server.sittings.engine import RuleError
from exam_server.sittings.models import Attempt
from exam_server.sittings.namespace import attempt_room, sitting_room
from exam_server.sittings.service import ServiceError
from exam_server.throttle import service as throttle

bp = Blueprint(
    "console", __name__, url_prefix="/console", template_folder="templates", static_folder="static"
)

EXAMINERS = (Role.CHIEF, Role.INVIGILATOR)


def hub() -> ConsoleHub:
    h: ConsoleHub = current_app.extensions["console_hub"]
    return h


@bp.app_template_filter("local")
def local_time(value: datetime | None, fmt: str = "%H:%M") -> str:
    return value.astimezone(runtime().config.tz).strftime(fmt) if value else ""


@bp.context_processor
def _globals() -> dict[str, Any]:
    lg = lang()
    return {
        "t": lambda key, **kw: t(key, lg, **kw),
        "lang": lg,
        "user": current_user(),
        "insecure": runtime().config.INSECURE_HTTP,
        "time_zone": runtime().config.TIME_ZONE,
    }


# --- login -----------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    error = None
    if request.method == "POST":
        rt = runtime()
        cfg = settings()
        refused: accounts.AccountError | None = None
        with rt.db.write() as db:
            now = rt.clock.now()
            try:
                user = accounts.authenticate(
                    db,
                    now,
                    request.form.get("username", ""),
                    request.form.get("password", ""),
                    policy=accounts.LoginPolicy(
                        per_user=cfg.MAX_FAILURES,
                        per_source=cfg.SOURCE_MAX_FAILURES,
                        wait=_seconds(cfg.THROTTLE_S),
                        max_wait=_seconds(cfg.LOCKOUT_S),
                    ),
                    address=request.remote_addr or "",
                )
                token = accounts.start_session(
                    db,
                    now,
                    user,
                    max_age=_seconds(cfg.SESSION_MAX_S),
                    address=request.remote_addr or "",
                )
            except accounts.AccountError as exc:
                refused = exc  # committed all the same: the failure count and the lock
        if refused is not None:
            error = message(refused.code, lang())
            if refused.until is not None:
                error += " " + t("retry_at", lang(), t=local_time(refused.until, "%H:%M:%S"))
            status = 429 if refused.code == "login_throttled" else 401
            return render_template("console/login.html", error=error), status
        chosen = session.get("lang")
        session.clear()  # a fresh session at login: no fixation
        session[TOKEN] = token
        if chosen:
            session["lang"] = chosen
        session.permanent = True
        target = request.args.get("next") or ""
        if not target.startswith("/console/") or target.startswith("//"):
            target = url_for("console.home")
        return redirect(target)
    return render_template("console/login.html", error=error)


def _seconds(n: int) -> Any:
    from datetime import timedelta

    return timedelta(seconds=n)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    token = session.get(TOKEN)
    user = current_user()
    if token and user:
        rt = runtime()
        with rt.db.write() as db:
            accounts.end_session(db, rt.clock.now(), token, by=user.username)
    session.pop(TOKEN, None)
    return redirect(url_for("console.login"))


@bp.get("/lang/<code>")
def set_lang(code: str) -> ResponseReturnValue:
    if code in ("zh_CN", "en"):
        session["lang"] = code
    back = request.referrer or ""
    return redirect(back if "/console/" in back else url_for("console.home"))


# --- pages -----------------------------------------------------------------------------


@bp.get("/")
@login_required()
def home() -> ResponseReturnValue:
    user = signed_in_user()
    rt = runtime()
    with rt.db.read() as db:
        now = rt.clock.now()
        sittings = list(db.scalars(select(Sitting).order_by(Sitting.start)))
        rooms = {r.id: r for r in db.scalars(select(Room))}
        entries = []
        row = db.get(User, user.user_id)
        for s in sittings:
            counts = tiles.room_counts(db, s.id)
            if user.role is Role.INVIGILATOR and row is not None:
                allowed = accounts.rooms_of(db, row, s.id) & set(counts)
            elif user.role is Role.CHIEF:
                allowed = set(counts)
            else:
                allowed = set()
            entries.append(
                {
                    "sitting": s,
                    "rooms": [
                        (rooms[r], counts[r]) for r in sorted(allowed, key=lambda i: rooms[i].code)
                    ],
                }
            )
        if user.role is Role.INVIGILATOR:
            entries = [e for e in entries if e["rooms"]]
        return render_template("console/home.html", entries=entries, now=now)


@bp.get("/sittings/<id:sitting_id>/rooms/<id:room_id>")
@login_required(*EXAMINERS)
def room_page(sitting_id: int, room_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    if not may_watch(user, sitting_id, room_id):
        return refusal("not_your_room", 403)
    rt = runtime()
    with rt.db.read() as db:
        sitting = db.get(Sitting, sitting_id)
        room = db.get(Room, room_id)
        if sitting is None or room is None:
            abort(404)
        return render_template(
            "console/room.html",
            sitting=sitting,
            room=room,
            boot={
                "sitting_id": sitting_id,
                "room_id": room_id,
                "role": user.role.value,
                "alerts": _alert_settings(sitting),
                "text": table(lang()),
            },
        )


def _alert_settings(sitting: Sitting) -> dict[str, int]:
    cfg = settings()
    return {
        "amber_s": cfg.AMBER_S,
        "red_s": cfg.RED_S,
        "not_arrived_s": min(cfg.NOT_ARRIVED_S, sitting.late_entry_s // 2),
        "reconnect_flag": cfg.RECONNECT_FLAG,
        "clock_warning_s": int(runtime().config.CLOCK_WARNING_S),
    }


@bp.get("/sittings/<id:sitting_id>")
@login_required(Role.CHIEF, Role.ADMIN)
def centre_page(sitting_id: int) -> ResponseReturnValue:
    rt = runtime()
    user = signed_in_user()
    with rt.db.read() as db:
        sitting = db.get(Sitting, sitting_id)
        if sitting is None:
            abort(404)
        from exam_server.console.status import backup_and_sync

        status = backup_and_sync(db, rt.config, rt.clock.now())
        return render_template(
            "console/centre.html",
            sitting=sitting,
            status=status,
            boot={"sitting_id": sitting_id, "role": user.role.value, "text": table(lang())},
        )


@bp.get("/vendor/socket.io.min.js")
def socketio_client() -> ResponseReturnValue:
    """The official socket.io-client build from npm (``npm install`` puts it in
    node_modules; it is never copied into the repository)."""
    path = _node_modules() / "socket.io-client" / "dist" / "socket.io.min.js"
    if not path.is_file():
        return Response(
            f"console.error({message('no_client_js', lang())!r});",
            status=404,
            mimetype="application/javascript",
        )
    return send_file(path, mimetype="application/javascript", max_age=3600)


def _node_modules() -> Path:
    import os

    configured = os.environ.get("EXAM_CONSOLE_NODE_MODULES")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "node_modules"


# --- JSON reads ------------------------------------------------------------------------


@bp.get("/api/sittings/<id:sitting_id>/rooms/<id:room_id>")
@login_required(*EXAMINERS)
def room_snapshot(sitting_id: int, room_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    if not may_watch(user, sitting_id, room_id):
        return refusal("not_your_room", 403)
    return jsonify(snapshot(sitting_id, room_id))


def snapshot(sitting_id: int, room_id: int) -> dict[str, Any]:
    rt = runtime()
    with rt.db.read() as db:
        now = rt.clock.now()
        sitting = db.get(Sitting, sitting_id)
        room = db.get(Room, room_id)
        if sitting is None or room is None:
            raise LookupError("no such sitting or room")
        return {
            "ok": True,
            "server_time": now.isoformat(),
            "sitting": tiles.sitting_summary(db, now, sitting),
            "layout": tiles.room_layout(db, room_id),
            "room_paused": service.open_pause(db, sitting_id, room_id) is not None,
            "tiles": tiles.tiles(db, now, sitting_id, room_id=room_id),
            "presence": current_app.extensions["console_hub"].presence(room.code),
            "locks": [
                {
                    "id": row.id,
                    "scope": row.scope,
                    "label": row.label,
                    "failures": row.failures,
                    "locked_at": row.locked_at.isoformat() if row.locked_at else None,
                }
                for row in throttle.locks_in_room(db, room_id)
            ],
        }


@bp.get("/api/sittings/<id:sitting_id>/overview")
@login_required(Role.CHIEF, Role.ADMIN)
def overview(sitting_id: int) -> ResponseReturnValue:
    return jsonify(centre_overview(sitting_id))


def centre_overview(sitting_id: int) -> dict[str, Any]:
    rt = runtime()
    with rt.db.read() as db:
        now = rt.clock.now()
        sitting = db.get(Sitting, sitting_id)
        if sitting is None:
            raise LookupError("no such sitting")
        counts = tiles.room_counts(db, sitting_id)
        rooms = {r.id: r for r in db.scalars(select(Room).where(Room.id.in_(list(counts))))}
        return {
            "ok": True,
            "server_time": now.isoformat(),
            "sitting": tiles.sitting_summary(db, now, sitting),
            "rooms": [
                {
                    "room_id": rid,
                    "code": rooms[rid].code,
                    "name": rooms[rid].name,
                    "paused": service.open_pause(db, sitting_id, rid) is not None,
                    **counts[rid],
                }
                for rid in sorted(counts, key=lambda i: rooms[i].code)
            ],
        }


@bp.get("/api/sittings/<id:sitting_id>/progress")
@login_required(Role.CHIEF, Role.ADMIN)
def progress(sitting_id: int) -> ResponseReturnValue:
    rt = runtime()
    with rt.db.read() as db:
        sitting = db.get(Sitting, sitting_id)
        if sitting is None:
            abort(404)
        return jsonify(tiles.progress_series(db, rt.clock.now(), sitting))


@bp.get("/photos/<id:attempt_id>")
@login_required(*EXAMINERS)
def photo(attempt_id: int) -> ResponseReturnValue:
    rt = runtime()
    user = signed_in_user()
    with rt.db.read() as db:
        try:
            attempt = service.load_attempt(db, attempt_id)
        except ServiceError:
            abort(404)
        sitting_id, room_id = attempt.sitting_id, attempt.seat.room_id
        data = attempt.candidate.photo
    if not may_watch(user, sitting_id, room_id):
        return refusal("not_your_room", 403)
    if not data:
        return refusal("no_photo", 404)
    media = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    resp = Response(data, mimetype=media)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/sittings/<id:sitting_id>/rooms/<id:room_id>/record.pdf")
@login_required(*EXAMINERS)
def room_record(sitting_id: int, room_id: int) -> ResponseReturnValue:
    user = signed_in_user()
    if not may_watch(user, sitting_id, room_id):
        return refusal("not_your_room", 403)
    from exam_server.console.record import room_record_pdf
    from seating.i18n import printing_in

    rt = runtime()
    with rt.db.read() as db, printing_in(rt.config.tz):
        pdf, name = room_record_pdf(db, sitting_id, room_id, lang=lang(), now=rt.clock.now())
    with rt.db.write() as db:
        from exam_server.eventlog import service as eventlog

        eventlog.append(
            db,
            at=rt.clock.now(),
            actor=user.username,
            kind="room.record_printed",
            sitting_id=sitting_id,
            room_id=room_id,
        )
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return resp


# --- actions ---------------------------------------------------------------------------


ACTION_BODIES: dict[str, type[bodies.Body]] = {
    "checkin": bodies.CheckInBody,
    "extra": bodies.ExtraBody,
}


def _bad_field(exc: bodies.BadField) -> ResponseReturnValue:
    body = {
        "ok": False,
        "code": exc.code,
        "field": exc.field,
        "message": f"{message(exc.code, lang())} {exc.field}: {exc.problem}",
    }
    return jsonify(body), 400


def _int(value: Any, code: str = "bad_number") -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ServiceError(code) from None


def _refused(exc: Exception) -> ResponseReturnValue:
    code = service.refuse_if_rule(exc)
    status = 400 if code in _BAD_INPUT else 404 if code.startswith("no_such") else 409
    return refusal(code, status, getattr(exc, "detail", ""))


_BAD_INPUT = {
    "reason_required",
    "reason_too_long",
    "bad_extra_time",
    "bad_number",
    "message_required",
    "message_too_long",
    "unknown_action",
}

#: an invigilator's action on one attempt: (session, now, attempt, form, by) -> the reply's
#: extra fields ("push": an event for the terminal, "rescheduled", ...)
AttemptAction = Callable[[Session, datetime, Attempt, dict[str, Any], str], dict[str, Any]]
ATTEMPT_ACTIONS: dict[str, AttemptAction] = {}


def attempt_action(name: str) -> Callable[[AttemptAction], AttemptAction]:
    def register(fn: AttemptAction) -> AttemptAction:
        ATTEMPT_ACTIONS[name] = fn
        return fn

    return register


@attempt_action("checkin")
def _checkin(
    db: Session, now: datetime, attempt: Attempt, form: dict[str, Any], by: str
) -> dict[str, Any]:
    matches = str(form.get("photo_matches", "")).lower() in ("1", "true", "yes", "on")
    service.check_in(db, now, attempt, photo_matches=matches, note=form.get("note", ""), by=by)
    return {}


@attempt_action("admit")
def _admit(
    db: Session, now: datetime, attempt: Attempt, form: dict[str, Any], by: str
) -> dict[str, Any]:
    service.admit_late(db, now, attempt, reason=form.get("reason", ""), by=by)
    return {}


@attempt_action("absent")
def _absent(
    db: Session, now: datetime, attempt: Attempt, form: dict[str, Any], by: str
) -> dict[str, Any]:
    service.mark_absent(db, now, attempt, reason=form.get("reason", ""), by=by)
    return {}


@attempt_action("void")
def _void(
    db: Session, now: datetime, attempt: Attempt, form: dict[str, Any], by: str
) -> dict[str, Any]:
    service.void_attempt(db, now, attempt, reason=form.get("reason", ""), by=by)
    return {"push": ("clock", p.dump(p.ClockChanged(attempt_id=attempt.id, state="voided")))}


@attempt_action("relogin")
def _relogin(
    db: Session, now: datetime, attempt: Attempt, form: dict[str, Any], by: str
) -> dict[str, Any]:
    service.authorise_move(db, now, attempt, reason=form.get("reason", ""), by=by)
    return {}


@attempt_action("extra")
def _extra(
    db: Session, now: datetime, attempt: Attempt, form: dict[str, Any], by: str
) -> dict[str, Any]:
    deadline = service.grant_extra(
        db,
        now,
        attempt,
        minutes=_int(form.get("minutes"), "bad_extra_time"),
        reason=form.get("reason", ""),
        by=by,
    )
    return {
        "deadline": deadline.isoformat(),
        "push": ("clock", p.dump(p.ClockChanged(attempt_id=attempt.id, deadline=deadline))),
        "rescheduled": True,
    }


@attempt_action("submit")
def _submit(
    db: Session, now: datetime, attempt: Attempt, form: dict[str, Any], by: str
) -> dict[str, Any]:
    receipt = service.force_submit(db, now, attempt, reason=form.get("reason", ""), by=by)
    push = p.AttemptSubmitted(
        attempt_id=attempt.id,
        reason="invigilator",
        submitted_at=receipt.submitted_at,
        receipt=receipt.receipt,
    )
    return {
        "receipt": receipt.receipt,
        "push": ("attempt_submitted", p.dump(push)),
        "submitted": True,
    }


@bp.post("/api/attempts/<id:attempt_id>/<action>")
@login_required(*EXAMINERS)
def act_on_attempt(attempt_id: int, action: str) -> ResponseReturnValue:
    user = signed_in_user()
    handler = ATTEMPT_ACTIONS.get(action)
    if handler is None:
        return refusal("unknown_action", 404)
    rt = runtime()
    try:
        form = bodies.parse(ACTION_BODIES.get(action, bodies.ReasonBody)).model_dump()
    except bodies.BadField as exc:
        return _bad_field(exc)
    try:
        with rt.db.write() as db:
            now = rt.clock.now()
            attempt = service.load_attempt(db, attempt_id)
            if not may_watch(user, attempt.sitting_id, attempt.seat.room_id):
                return refusal("not_your_room", 403)
            result = handler(db, now, attempt, form, user.username)
            _tell_after_commit(db, rt, attempt.sitting_id, [attempt_id], result)
    except (ServiceError, RuleError) as exc:
        return _refused(exc)
    return jsonify({"ok": True, **{k: v for k, v in result.items() if k not in ("push",)}})


def _tell_after_commit(
    db: Session, rt: Any, sitting_id: int, attempt_ids: list[int], result: dict[str, Any]
) -> None:
    """Once the action has committed: tell the terminals, wake the scheduler, refresh the
    live map (never when it rolls back: the unit of work runs this, ``after_commit``)."""
    after_commit(db, lambda: _tell(rt, sitting_id, attempt_ids, result))


def _tell(rt: Any, sitting_id: int, attempt_ids: list[int], result: dict[str, Any]) -> None:
    push = result.get("push")
    if push:
        for attempt_id in attempt_ids:
            rt.emit(push[0], push[1], to=attempt_room(attempt_id), namespace=p.NAMESPACE)
    if (result.get("rescheduled") or result.get("submitted")) and rt.scheduler is not None:
        rt.scheduler.sitting_changed(sitting_id)
    hub().touch(attempt_ids, (sitting_id,))


@bp.post("/api/gaps/<id:gap_id>/<decision>")
@login_required(*EXAMINERS)
def decide_gap(gap_id: int, decision: str) -> ResponseReturnValue:
    user = signed_in_user()
    if decision not in ("accept", "dismiss"):
        return refusal("unknown_action", 404)
    rt = runtime()
    model = bodies.AcceptGapBody if decision == "accept" else bodies.ReasonBody
    try:
        form = bodies.parse(model).model_dump()
    except bodies.BadField as exc:
        return _bad_field(exc)
    try:
        with rt.db.write() as db:
            now = rt.clock.now()
            gap = db.get(TerminalGap, gap_id)
            if gap is None:
                raise ServiceError("no_such_gap")
            attempt = service.load_attempt(db, gap.attempt_id)
            if not may_watch(user, attempt.sitting_id, attempt.seat.room_id):
                return refusal("not_your_room", 403)
            if decision == "accept":
                minutes = form.get("minutes")
                outcome = service.accept_lost_time(
                    db,
                    now,
                    gap_id,
                    minutes=None if minutes in (None, "") else _int(minutes, "bad_extra_time"),
                    by=user.username,
                    tz=rt.config.tz,
                )
            else:
                outcome = service.dismiss_lost_time(
                    db, now, gap_id, reason=form.get("reason", ""), by=user.username
                )
            result: dict[str, Any] = {}
            if outcome.new_deadline is not None:
                result = {
                    "push": (
                        "clock",
                        p.dump(
                            p.ClockChanged(attempt_id=attempt.id, deadline=outcome.new_deadline)
                        ),
                    ),
                    "rescheduled": True,
                }
            _tell_after_commit(db, rt, attempt.sitting_id, [attempt.id], result)
    except (ServiceError, RuleError) as exc:
        return _refused(exc)
    return jsonify({"ok": True, "credited_s": outcome.gap.credited_s})


@bp.post("/api/sittings/<id:sitting_id>/rooms/<id:room_id>/<action>")
@login_required(*EXAMINERS)
def act_on_room(sitting_id: int, room_id: int, action: str) -> ResponseReturnValue:
    user = signed_in_user()
    if not may_watch(user, sitting_id, room_id):
        return refusal("not_your_room", 403)
    return _scope_action(sitting_id, room_id, action, user.username)


@bp.post("/api/sittings/<id:sitting_id>/<action>")
@login_required(Role.CHIEF)
def act_on_centre(sitting_id: int, action: str) -> ResponseReturnValue:
    user = signed_in_user()
    return _scope_action(sitting_id, None, action, user.username)


def _scope_action(
    sitting_id: int, room_id: int | None, action: str, by: str
) -> ResponseReturnValue:
    if action not in ("pause", "resume", "broadcast"):
        return refusal("unknown_action", 404)
    rt = runtime()
    models: dict[str, type[bodies.Body]] = {
        "broadcast": bodies.BroadcastBody,
        "resume": bodies.NoBody,
    }
    model = models.get(action, bodies.ReasonBody)
    try:
        form = bodies.parse(model).model_dump()
    except bodies.BadField as exc:
        return _bad_field(exc)
    try:
        with rt.db.write() as db:
            now = rt.clock.now()
            if action == "pause":
                service.pause(db, now, sitting_id, room_id, reason=form.get("reason", ""), by=by)
                push = (
                    "paused",
                    p.dump(
                        p.Paused(
                            sitting_id=sitting_id,
                            room_id=room_id,
                            reason=form.get("reason", "").strip(),
                            at=now,
                        )
                    ),
                )
            elif action == "resume":
                service.resume(db, now, sitting_id, room_id, by=by)
                push = (
                    "resumed",
                    p.dump(p.Resumed(sitting_id=sitting_id, room_id=room_id, at=now)),
                )
            else:
                text = service.broadcast(
                    db, now, sitting_id, room_id, text=form.get("text", ""), by=by
                )
                push = (
                    "broadcast",
                    p.dump(
                        p.Broadcast(
                            sitting_id=sitting_id,
                            room_id=room_id,
                            text=text,
                            sender="主考" if room_id is None else "监考",
                            at=now,
                        )
                    ),
                )
            ids = service.attempt_ids_in(db, sitting_id, room_id)
            after_commit(db, lambda: _tell_scope(rt, sitting_id, room_id, action, push, ids))
    except (ServiceError, RuleError) as exc:
        return _refused(exc)
    return jsonify({"ok": True})


def _tell_scope(
    rt: Any,
    sitting_id: int,
    room_id: int | None,
    action: str,
    push: tuple[str, dict[str, Any]],
    ids: list[int],
) -> None:
    """Once a pause, resume or broadcast has committed: the terminals, the scheduler, the
    live map and every console watching the room or the centre."""
    if room_id is None:
        rt.emit(push[0], push[1], to=sitting_room(sitting_id), namespace=p.NAMESPACE)
    else:
        for attempt_id in ids:
            rt.emit(push[0], push[1], to=attempt_room(attempt_id), namespace=p.NAMESPACE)
    if action != "broadcast" and rt.scheduler is not None:
        rt.scheduler.sitting_changed(sitting_id)
    hub().touch(ids if action != "broadcast" else [], (sitting_id,))
    if action != "broadcast":
        from exam_server.console.live import NAMESPACE, centre_channel, room_channel
        from exam_server.extensions import socketio

        rooms = [room_id] if room_id is not None else _rooms_of(sitting_id)
        for rid in rooms:
            socketio.emit(
                "room_state",
                {"sitting_id": sitting_id, "room_id": rid},
                to=room_channel(sitting_id, rid),
                namespace=NAMESPACE,
            )
        socketio.emit(
            "room_state",
            {"sitting_id": sitting_id},
            to=centre_channel(sitting_id),
            namespace=NAMESPACE,
        )


def _rooms_of(sitting_id: int) -> list[int]:
    rt = runtime()
    with rt.db.read() as db:
        return list(tiles.room_counts(db, sitting_id))
