"""Central's web API (Flask): what a centre's sync tool talks to.

Every ``/api/v1`` request is signed by the centre's Ed25519 key
(:mod:`exam_common.signed_requests`): central looks the centre up, checks the time
window and the signature, and records the nonce (a second use is a replay) before the
view runs. A view then acts only on that centre's own packages, keys and uploads. The
key request, which every centre of a province sends in the same second, does all of
this in its own view, in the one transaction that releases the key (:func:`key`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from sqlalchemy import select

from central import service
from central.config import CentralConfig
from central.db import CentralDatabase
from central.models import CentreAccount
from central.service import CentralError
from exam_common.signed_requests import (
    RequestAuthError,
    SignedHeaders,
    parse_headers,
    verify_request,
)

Clock = Callable[[], datetime]

api = Blueprint("api", __name__, url_prefix="/api/v1")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    config: CentralConfig | dict[str, Any] | None = None, *, clock: Clock | None = None
) -> Flask:
    cfg = config if isinstance(config, CentralConfig) else CentralConfig.from_mapping(config)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=cfg.MAX_CHUNK + 64 * 1024)
    app.extensions["central"] = {
        "config": cfg,
        "db": CentralDatabase(cfg.DATABASE_URL),
        "clock": clock or _utcnow,
        # the first pruning of old nonces a minute after the worker starts
        "prune": {"due": time.monotonic() + PRUNE_EVERY_S, "lock": threading.Lock()},
    }
    app.register_blueprint(api)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(ok=True, service="exam-central", time=_ctx()["clock"]().isoformat())

    @app.errorhandler(CentralError)
    def refused(exc: CentralError) -> tuple[Response, int]:
        return jsonify(exc.to_json()), exc.status

    @app.errorhandler(413)
    def too_large(_exc: Exception) -> tuple[Response, int]:
        return jsonify(ok=False, code="too_large", message="请求过大 / request too large"), 413

    return app


def _ctx() -> dict[str, Any]:
    from flask import current_app

    ctx: dict[str, Any] = current_app.extensions["central"]
    return ctx


def _db() -> CentralDatabase:
    db: CentralDatabase = _ctx()["db"]
    return db


def _now() -> datetime:
    now: datetime = _ctx()["clock"]()
    return now


#: views that check their request themselves, in the same transaction as their work
#: (:func:`key`): the one request every centre sends in the same second
CHECKED_IN_VIEW = frozenset({"api.key"})

#: seconds between two prunings of old nonces by one worker
PRUNE_EVERY_S = 60.0


def _signed() -> tuple[SignedHeaders, str, bytes]:
    """The request's signature headers (checked for shape), its path, its body."""
    body = request.get_data(cache=True)
    path = request.path + (f"?{request.query_string.decode()}" if request.query_string else "")
    try:
        return parse_headers(dict(request.headers)), path, body
    except RequestAuthError as exc:
        raise CentralError(exc.code, str(exc), 401) from None


def _unknown_centre(code: str) -> CentralError:
    return CentralError(
        "unknown_centre",
        f"考点 {code} 未在省中心登记：请先由省中心登记考点公钥 (unknown centre)",
        401,
    )


def _replayed() -> CentralError:
    return CentralError(
        "replayed_request",
        "这个请求已经收到过（重放），已拒绝 / replayed request refused",
        401,
    )


def _check(
    session: service.Work,
    public_key_hex: str,
    signed: SignedHeaders,
    path: str,
    body: bytes,
    now: datetime,
) -> bool:
    """The time window and the signature (401 on failure, before anything is written),
    then the nonce recorded in ``session``; False for a replay, whose refusal is then
    recorded in the same transaction."""
    cfg: CentralConfig = _ctx()["config"]
    try:
        verify_request(
            service.public_key(public_key_hex),
            signed,
            request.method,
            path,
            body,
            now,
            cfg.REPLAY_WINDOW_S,
        )
    except RequestAuthError as exc:
        raise CentralError(exc.code, str(exc), 401) from None
    if service.remember_nonce(session, signed.centre, signed.nonce, now):
        return True
    service.audit(session, now, signed.centre, "refused.replay", path=path)
    return False


@api.before_request
def authenticate() -> None:
    """Signed request -> ``g.centre``; refusals are 401 with a code saying why."""
    if request.endpoint in CHECKED_IN_VIEW:
        return
    now = _now()
    signed, path, body = _signed()
    # One transaction: the centre's key, the signature, and the nonce recorded (a
    # refusal of the signature rolls it back and leaves nothing; a replay leaves its
    # refusal recorded).
    with _db().write() as session:
        row = session.execute(
            select(*CentreAccount.__table__.c).where(CentreAccount.code == signed.centre)
        ).first()
        if row is None:
            raise _unknown_centre(signed.centre)
        fresh = _check(session, row.public_key, signed, path, body, now)
    if not fresh:
        raise _replayed()
    # a plain record for the rest of the request (not attached to any session)
    g.centre = CentreAccount(**row._asdict())
    _prune_now_and_then(now)


@api.get("/packages")
def packages() -> Response:
    with _db().read() as session:
        return jsonify(ok=True, packages=service.list_packages(session, g.centre))


@api.get("/packages/<package_id>")
def package(package_id: str) -> Response:
    try:
        with _db().write() as session:
            data = service.fetch_package(session, g.centre, package_id, _now())
    except CentralError as exc:
        if exc.code == "wrong_centre":
            _record_refusal(exc, package_id=package_id)
        raise
    return Response(data, mimetype="application/zip")


@api.get("/keys/<sitting_code>/<kind>")
def key(sitting_code: str, kind: str) -> Response:
    """A sitting's key, in one transaction with the request's check: the centre and its
    sitting read in one query, the signature and the time window checked, the nonce
    recorded, then the release (or its refusal) recorded for audit; the reply is sent
    only once all of it is committed. A refusal of the signature writes nothing."""
    now = _now()
    signed, path, body = _signed()
    refused: CentralError | None = None
    with _db().write_core() as session:
        found = service.centre_and_sitting(session, signed.centre, sitting_code)
        if found is None:
            raise _unknown_centre(signed.centre)
        public_key_hex, sitting = found
        if not _check(session, public_key_hex, signed, path, body, now):
            refused = _replayed()
        else:
            try:
                reply = service.release_key(
                    session,
                    signed.centre,
                    sitting_code,
                    kind,
                    now,
                    actor=signed.centre,
                    sitting=sitting,
                )
            except CentralError as exc:
                # the refusal recorded with the nonce, in this same transaction
                service.audit(
                    session,
                    now,
                    signed.centre,
                    f"refused.{exc.code}",
                    sitting=sitting_code,
                    key=kind,
                )
                refused = exc
    _prune_now_and_then(now)
    if refused is not None:
        raise refused
    return jsonify(reply)


@api.post("/uploads")
def begin_upload() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise CentralError("bad_request", "请求体应为 JSON 对象 / JSON object expected")
    cfg: CentralConfig = _ctx()["config"]
    with _db().write() as session:
        return jsonify(service.begin_upload(session, g.centre.code, body, _now(), cfg.MAX_UPLOAD))


@api.get("/uploads/<upload_id>")
def upload_status(upload_id: str) -> Response:
    with _db().read() as session:
        return jsonify(service.upload_status(session, g.centre.code, upload_id))


@api.put("/uploads/<upload_id>")
def put_chunk(upload_id: str) -> Response:
    try:
        offset = int(request.args["offset"])
    except (KeyError, ValueError):
        raise CentralError("bad_request", "缺少 offset 参数 / offset required") from None
    cfg: CentralConfig = _ctx()["config"]
    with _db().write() as session:
        return jsonify(
            service.put_chunk(
                session, g.centre.code, upload_id, offset, request.get_data(), cfg.MAX_CHUNK
            )
        )


@api.post("/uploads/<upload_id>/complete")
def complete(upload_id: str) -> Response:
    now = _now()
    try:
        with _db().write() as session:
            return jsonify(service.complete_upload(session, g.centre, upload_id, now))
    except CentralError as exc:
        if exc.code not in ("upload_incomplete", "unknown_upload"):
            # A refused file leaves nothing behind: the partial upload goes too.
            with _db().write() as session:
                service.discard_upload(session, g.centre.code, upload_id)
            _record_refusal(exc, upload_id=upload_id)
        raise


@api.get("/results/<sitting_code>")
def results(sitting_code: str) -> Response:
    from central.models import ResultPackage

    with _db().read() as session:
        rows = session.scalars(
            select(ResultPackage)
            .where(
                ResultPackage.centre_code == g.centre.code,
                ResultPackage.sitting_code == sitting_code,
            )
            .order_by(ResultPackage.id)
        ).all()
        return jsonify(ok=True, results=[service.summary(r) for r in rows])


@api.get("/chain")
def chain_last() -> Response:
    """The last head of this centre's event log central accepted (where to continue)."""
    with _db().read() as session:
        last = service.last_anchor(session, g.centre.code)
        return jsonify(ok=True, last=None if last is None else {"seq": last.seq, "hash": last.hash})


@api.get("/chain/heads")
def chain_heads() -> Response:
    with _db().read() as session:
        return jsonify(
            ok=True, centre=g.centre.code, heads=service.chain_heads(session, g.centre.code)
        )


@api.post("/chain")
def chain_push() -> tuple[Response, int]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise CentralError("bad_request", "请求体应为 JSON 对象 / JSON object expected")
    with _db().write() as session:
        reply = service.take_chain(session, g.centre, body, _now())
    return jsonify(reply), 200 if reply["ok"] else 409


def _prune_now_and_then(now: datetime) -> None:
    """Forget old nonces, at most once every :data:`PRUNE_EVERY_S` per worker (one
    thread of it; the others go on), in a transaction of its own."""
    state = _ctx()["prune"]
    if time.monotonic() < state["due"] or not state["lock"].acquire(blocking=False):
        return
    try:
        if time.monotonic() < state["due"]:
            return
        state["due"] = time.monotonic() + PRUNE_EVERY_S
        cfg: CentralConfig = _ctx()["config"]
        with _db().write() as session:
            service.prune_nonces(session, now, cfg.REPLAY_WINDOW_S)
    finally:
        state["lock"].release()


def _record_refusal(exc: CentralError, **data: Any) -> None:
    with _db().write() as session:
        service.audit(session, _now(), g.centre.code, f"refused.{exc.code}", **data)
