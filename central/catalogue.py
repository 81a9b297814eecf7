"""The province's trade catalogue at central: loaded once, checked against by the plan
and by every registration (``exam-central catalogue load``)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from central.models import AuditEvent, TradeCatalogue
from question_bank.catalogue import Catalogue, CatalogueError, catalogue_from


class NoCatalogue(ValueError):
    """Central has no catalogue yet: say which command loads one."""

    def __init__(self) -> None:
        super().__init__(
            "省中心尚未读入工种目录：请先运行 `exam-central catalogue load 目录文件`（省里的 "
            "xlsx/csv，或随系统提供的 hebei-2024、henan）(load a trade catalogue first)"
        )


def load(session: Session, source: str, now: datetime, *, by: str) -> Catalogue:
    """Read a shipped catalogue by name or a province's file, and make it central's
    catalogue (replacing the one before; flushes). Raises ``CatalogueError``."""
    cat = catalogue_from(source)
    rows = cat.rows()
    digest = hashlib.sha256(
        json.dumps(rows, ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()
    session.execute(delete(TradeCatalogue))
    session.add(
        TradeCatalogue(name=cat.name, rows=rows, sha256=digest, loaded_at=now, loaded_by=by)
    )
    session.add(
        AuditEvent(
            at=now,
            actor=by,
            kind="catalogue.loaded",
            data={"source": source, "name": cat.name, "trades": len(cat), "sha256": digest},
        )
    )
    session.flush()
    return cat


def current(session: Session) -> Catalogue | None:
    row = session.scalar(select(TradeCatalogue))
    return Catalogue.from_rows(row.name, row.rows) if row is not None else None


def require(session: Session) -> Catalogue:
    cat = current(session)
    if cat is None:
        raise NoCatalogue()
    return cat


__all__ = ["CatalogueError", "NoCatalogue", "current", "load", "require"]
