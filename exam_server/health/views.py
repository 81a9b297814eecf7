"""``/healthz``: is the server up, is its database reachable, what time does it keep."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from exam_server.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    rt = runtime()
    try:
        with rt.db.read() as session:
            session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # reported, not raised: this endpoint must answer
        database = f"error: {type(exc).__name__}"
    scheduler = rt.scheduler.state() if rt.scheduler else "not in this process"
    status = 200 if database == "ok" else 503
    return jsonify(
        status="ok" if status == 200 else "degraded",
        database=database,
        server_time=rt.clock.now().isoformat(),
        centre=rt.config.CENTRE_CODE,
        scheduler=scheduler,
        answer_writer=rt.writer.stats(),
    ), status
