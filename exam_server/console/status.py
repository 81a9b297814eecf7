"""Backups and sync, as the chief examiner's overview shows them.

Both belong to ``exam_server/sync`` (the link to central, the upload queue of result
packages and encrypted backups). The console reads them through that package's own
status report and queue table; when the link was never set up, or a build has no sync
package, it says "未配置" (not configured) instead of guessing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from exam_server.config import Config


def backup_and_sync(session: Session, cfg: Config, now: datetime) -> dict[str, Any]:
    """``{"configured": bool, "sync_lines": [...], "ok": bool, "backups": {...} | None}``."""
    out: dict[str, Any] = {"configured": False, "sync_lines": [], "ok": False, "backups": None}
    try:
        from exam_server.sync.models import OutboxItem
        from exam_server.sync.service import get_link
        from exam_server.sync.status import status_lines
    except ImportError:
        return out
    try:
        if get_link(session, cfg) is None:
            return out
        out["configured"] = True
        out["sync_lines"], out["ok"] = status_lines(session, cfg, now)
        counts = {
            k: v
            for k, v in session.execute(
                select(OutboxItem.state, func.count())
                .where(OutboxItem.kind == "backup")
                .group_by(OutboxItem.state)
            )
        }
        last = session.scalar(
            select(func.max(OutboxItem.done_at)).where(
                OutboxItem.kind == "backup", OutboxItem.state == "done"
            )
        )
        out["backups"] = {
            "done": counts.get("done", 0),
            "pending": counts.get("pending", 0),
            "refused": counts.get("refused", 0),
            "last_done": last,
        }
    except SQLAlchemyError:
        session.rollback()
        out["configured"] = False
    return out
