"""The running server's local-only door for the ``exam-sync`` tool: a released key.

``exam-sync key`` fetches a key from central (or decodes a typed offline code) and posts
it here, so that the server stores it, pushes the paper keys to the terminals at once, or
scores at the end. Only requests from this machine that show the token in the data
folder (``local_token``, readable only by the centre's account) are accepted.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from exam_server.messages import message
from exam_server.runtime import runtime

bp = Blueprint("sync_local", __name__, url_prefix="/local/sync")

LOOPBACK = ("127.0.0.1", "::1")


def _refuse(code: str, status: int, detail: str = "") -> tuple[Response, int]:
    text = message(code)
    return jsonify(ok=False, code=code, message=f"{text} {detail}".strip()), status


@bp.post("/key")
def key() -> Response | tuple[Response, int]:
    """The sync tool hands over a sitting's key (kind ``start``) or answer key (``end``)."""
    from exam_server.packages.release import release_end_key, release_sitting_key
    from exam_server.plans.models import Sitting
    from exam_server.sittings.service import ServiceError
    from exam_server.sync.service import local_token
    from question_bank.package import PackageError

    rt = runtime()
    if request.remote_addr not in LOOPBACK:
        return _refuse("local_only", 403)
    token = request.headers.get("X-Exam-Local-Token", "")
    if not hmac.compare_digest(token, local_token(rt.config)):
        return _refuse("local_only", 403, "(token)")
    body = request.get_json(silent=True) or {}
    try:
        code, kind = str(body["sitting"]), str(body["kind"])
        secret = bytes.fromhex(str(body["secret"]))
        by = str(body.get("by", "admin"))[:60]
    except (KeyError, ValueError):
        return _refuse("bad_message", 400)
    with rt.db.read() as session:
        sitting_id = session.scalar(select(Sitting.id).where(Sitting.code == code))
    if sitting_id is None or kind not in ("start", "end"):
        return _refuse("unknown_sitting", 404, code)
    try:
        if kind == "start":
            release_sitting_key(rt, sitting_id, secret, by=by)
        else:
            from exam_server.sync.jobs import after_sweep

            release_end_key(rt, sitting_id, secret, by=by)
            after_sweep(rt, sitting_id)
    except ServiceError as exc:
        return _refuse(exc.code, 409, exc.detail)
    except (PackageError, ValueError) as exc:
        return jsonify(ok=False, code="wrong_key", message=f"{message('wrong_key')} {exc}"), 409
    return jsonify(ok=True, sitting=code, kind=kind)
