"""The terminals' HTTP door for enrolment (``/enrol``): no cookie, no CSRF.

``GET /enrol/ca.pem``: the centre's CA certificate, for a terminal to compare with the
fingerprint the admin gave it before it trusts anything else from this server.
``POST /enrol``: a terminal's one-time code, id, public key and proof -> its seat,
central's public key (to check papers) and whether the link is TLS.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import ValidationError

from exam_common import protocol as p
from exam_server.messages import message
from exam_server.runtime import runtime
from exam_server.terminals import service

bp = Blueprint("terminals", __name__, url_prefix="/enrol")


def _refuse(code: str, status: int, detail: str = "") -> ResponseReturnValue:
    lang = runtime().config.LANG
    return jsonify(ok=False, code=code, message=f"{message(code, lang)} {detail}".strip()), status


@bp.get("/ca.pem")
def ca_certificate() -> ResponseReturnValue:
    from exam_server.tls import tls_files

    files = tls_files(runtime().config.DATA_DIR)
    if not files.ca_cert.exists():
        return _refuse("no_tls", 404)
    return Response(files.ca_cert.read_bytes(), mimetype="application/x-pem-file")


@bp.post("")
def enrol() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    try:
        msg = p.EnrolRequest.model_validate(body if isinstance(body, dict) else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        return _refuse("bad_enrolment", 400, f"{where}: {first['msg']}")
    rt = runtime()
    refused: service.TerminalError | None = None
    with rt.db.write() as session:
        now = rt.clock.now()
        pem = service.central_public_key_pem(session, rt.config)
        if pem is None:
            return _refuse("centre_not_set_up", 409)
        try:
            enrolment = service.enrol(
                session,
                now,
                code=msg.code,
                terminal_id=msg.terminal_id,
                public_key=msg.public_key,
                proof=msg.proof,
                address=request.remote_addr or "",
            )
            seat = enrolment.seat.label
            replaced = service.replaced_by(session, enrolment)
            centre = enrolment.seat.room.centre.code
        except service.TerminalError as exc:
            refused = exc  # committed all the same: the failure count and the log entry
    if refused is not None:
        status = 429 if refused.code == "enrol_throttled" else 400
        if refused.code in ("enrol_code_invalid", "enrol_code_used", "enrol_code_expired"):
            status = 403
        return _refuse(refused.code, status)
    rt.cut_off_terminals(replaced)  # the seat's old terminal (or this one's old seat)
    return jsonify(
        p.dump(
            p.EnrolOk(
                terminal_id=msg.terminal_id,
                seat=seat,
                centre=centre,
                central_public_key=pem,
                tls=not rt.config.INSECURE_HTTP and request.is_secure,
            )
        )
    )
