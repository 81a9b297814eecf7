"""``/healthz``: is the server up, is its database reachable, what time does it keep."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select, text

from exam_server.centres.models import Centre
from exam_server.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    rt = runtime()
    centre = rt.config.CENTRE_CODE
    try:
        with rt.db.read() as session:
            session.execute(text("SELECT 1"))
            # the centre the terminals enrolled at (the imported package's), for
            # `exam-client run` to see it reached its own centre's server
            codes = session.scalars(select(Centre.code).limit(2)).all()
        if len(codes) == 1:
            centre = codes[0]
        database = "ok"
    except Exception as exc:  # reported, not raised: this endpoint must answer
        database = f"error: {type(exc).__name__}"
    scheduler = rt.scheduler.state() if rt.scheduler else "not in this process"
    status = 200 if database == "ok" else 503
    return jsonify(
        status="ok" if status == 200 else "degraded",
        database=database,
        server_time=rt.clock.now().isoformat(),
        centre=centre,
        scheduler=scheduler,
        answer_writer=rt.writer.stats(),
    ), status
