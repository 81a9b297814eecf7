"""Packages: what a centre may pull, and the pull itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session, undefer

from central.models import (
    CentreAccount,
    Package,
)
from central.service.base import CentralError, audit

# --- packages ----------------------------------------------------------------------------


def list_packages(session: Session, centre: CentreAccount) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Package).where(Package.centre_code == centre.code).order_by(Package.id)
    )
    return [
        {
            "package_id": p.package_id,
            "sha256": p.sha256,
            "size": p.size,
            "created": p.created.isoformat(),
            "sittings": [s.code for s in p.sittings],
        }
        for p in rows
    ]


def fetch_package(session: Session, centre: CentreAccount, package_id: str, now: datetime) -> bytes:
    row = session.scalar(
        select(Package).options(undefer(Package.data)).where(Package.package_id == package_id)
    )
    if row is None:
        raise CentralError("unknown_package", f"没有考试包 {package_id} / no such package", 404)
    if row.centre_code != centre.code:
        raise CentralError(
            "wrong_centre",
            f"考试包 {package_id} 不属于考点 {centre.code} / not this centre's package",
            403,
        )
    if row.fetched_at is None:
        row.fetched_at = now
        audit(session, now, centre.code, "package.fetched", package_id=package_id)
    session.flush()
    return row.data
