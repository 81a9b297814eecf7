"""The running server's local-only door for the ``exam-sync`` tool: a released key.

``exam-sync key`` fetches a key from central (or decodes a typed offline code) and posts
it here, so that the server stores it, pushes the paper keys to the terminals at once, or
scores at the end. Only requests from this machine that show the token in the data
folder (``local_token``, readable only by the centre's account) are accepted.
"""

from __future__ import annotations

import hmac
from typing import Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from exam_server.messages import message
from exam_server.runtime import runtime

bp = Blueprint("sync_local", __name__, url_prefix="/local/sync")

LOOPBACK = ("127.0.0.1", "::1")


class KeyBody(BaseModel):
    """What ``exam-sync key`` posts: a sitting's code, which key, the secret in hex."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sitting: str = Field(min_length=1, max_length=64)
    kind: Literal["start", "end"]
    secret: str = Field(min_length=2, max_length=512, pattern=r"^(?:[0-9a-fA-F]{2})+$")
    by: str = Field(default="admin", max_length=200)


def _refuse(code: str, status: int, detail: str = "") -> tuple[Response, int]:
    text = message(code)
    return jsonify(ok=False, code=code, message=f"{text} {detail}".strip()), status


def _bad_field(field: str, problem: str) -> tuple[Response, int]:
    """400 naming the field that is wrong (``field`` in the reply too)."""
    reply = jsonify(
        ok=False,
        code="bad_message",
        field=field,
        message=f"{message('bad_message')} {field}: {problem}",
    )
    return reply, 400


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
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        # a list, a number, a string or no JSON at all: never a 500
        what = "no JSON" if body is None else type(body).__name__
        return _bad_field("body", f"a JSON object is expected, not {what}")
    try:
        msg = KeyBody.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        return _bad_field(".".join(str(x) for x in first["loc"]) or "body", first["msg"])
    code, kind, by = msg.sitting, msg.kind, msg.by[:60]
    secret = bytes.fromhex(msg.secret)
    with rt.db.read() as session:
        sitting_id = session.scalar(select(Sitting.id).where(Sitting.code == code))
    if sitting_id is None:
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
