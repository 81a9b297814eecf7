"""Backups: a centre's sealed backup, checked and stored."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.models import (
    Backup,
    CentreAccount,
)
from central.service.base import CentralError, already_stored, audit, public_key_of

# --- backups -----------------------------------------------------------------------------


def check_backup(data: bytes, centre: CentreAccount) -> dict[str, Any]:
    """A backup's header, once its signature (the last 64 bytes, over everything before
    them) verifies with the centre's key and it names this centre. Central cannot decrypt
    the snapshot itself: only the centre's secret opens it (``docs/sync.md``)."""
    if not data.startswith(b"EXAMBAK1") or len(data) < 12 + 12 + 64:
        raise CentralError("not_a_backup", "这不是考点备份文件 / not a centre backup", 422)
    try:
        public_key_of(centre).verify(data[-64:], data[:-64])
    except InvalidSignature:
        raise CentralError(
            "bad_backup_signature",
            "备份签名验证失败：文件被改动，或不是本考点的密钥签名的 (bad backup signature)",
            422,
        ) from None
    n = int.from_bytes(data[8:12], "big")
    try:
        header = json.loads(data[12 : 12 + n])
        if not isinstance(header, dict):
            raise ValueError("header")
    except ValueError as exc:
        raise CentralError("not_a_backup", f"备份文件头无法读取：{exc}", 422) from None
    if header.get("centre") != centre.code:
        raise CentralError(
            "wrong_centre",
            f"备份属于考点 {header.get('centre')}，不能由考点 {centre.code} 上传",
            403,
        )
    return header


def take_backup(
    session: Session, centre: CentreAccount, data: bytes, upload_id: str, name: str, now: datetime
) -> dict[str, Any]:
    sha = hashlib.sha256(data).hexdigest()
    header = check_backup(data, centre)
    name = name or f"backup-{header.get('taken_at', '')}"
    if not already_stored(session, centre.code, "backup", sha):
        session.add(
            Backup(
                centre_code=centre.code,
                name=name,
                upload_id=upload_id,
                sha256=sha,
                size=len(data),
                data=data,
                received_at=now,
            )
        )
        audit(session, now, centre.code, "backup.received", name=name, sha256=sha, size=len(data))
        session.flush()
    return {"kind": "backup", "sha256": sha}


@dataclass(frozen=True)
class BackupsOfCentre:
    """What a province admin asks of a centre's backups: how many, how big, the latest,
    and whether the latest still verifies (the stored bytes are the ones received, and
    their signature is the centre's)."""

    centre_code: str
    count: int
    total_size: int
    latest_name: str
    latest_size: int
    latest_received_at: datetime
    #: when the centre took the latest (its header), and for which sitting, if any
    latest_taken_at: str
    latest_sitting: str | None
    #: "" when the latest verifies now, else what is wrong with it
    problem: str


def backups_by_centre(session: Session, centre: str | None = None) -> list[BackupsOfCentre]:
    """Per centre (or the one named), its backups at central; the latest is read back and
    checked again (SHA-256 as received, the centre's signature, the centre named inside).

    Args:
        session: central's database session.
        centre: a centre code, or every centre when None.
    """
    q = select(Backup.centre_code, func.count(), func.sum(Backup.size)).group_by(Backup.centre_code)
    if centre:
        q = q.where(Backup.centre_code == centre)
    out = []
    for code, count, total in session.execute(q.order_by(Backup.centre_code)).all():
        latest = session.scalars(
            select(Backup)
            .where(Backup.centre_code == code)
            .order_by(Backup.received_at.desc(), Backup.id.desc())
            .limit(1)
        ).one()
        account = session.scalar(select(CentreAccount).where(CentreAccount.code == code))
        header: dict[str, Any] = {}
        problem = ""
        if hashlib.sha256(latest.data).hexdigest() != latest.sha256:
            problem = "SHA-256 与收到时不符 / not the bytes received"
        elif account is None:
            problem = "考点未登记 / unknown centre"
        else:
            try:
                header = check_backup(latest.data, account)
            except CentralError as exc:
                problem = exc.message
        out.append(
            BackupsOfCentre(
                centre_code=code,
                count=int(count),
                total_size=int(total or 0),
                latest_name=latest.name,
                latest_size=latest.size,
                latest_received_at=latest.received_at,
                latest_taken_at=str(header.get("taken_at", "")),
                latest_sitting=header.get("sitting"),
                problem=problem,
            )
        )
    return out
