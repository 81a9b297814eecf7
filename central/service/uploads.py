"""Uploads: resumable, chunked, checked by their SHA-256 before they are taken."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from sqlalchemy import (
    delete,
    select,
)
from sqlalchemy.orm import Session

from central.models import (
    CentreAccount,
    Upload,
    UploadChunk,
)
from central.service.backups import take_backup
from central.service.base import KINDS, SHA_RE, CentralError, already_stored
from central.service.results import take_results

UPLOAD_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")

# --- uploads -----------------------------------------------------------------------------


def _upload(session: Session, centre: str, upload_id: str, *, lock: bool = False) -> Upload:
    q = select(Upload).where(Upload.upload_id == upload_id)
    if lock:
        q = q.with_for_update()
    up = session.scalar(q)
    if up is None:
        raise CentralError(
            "unknown_upload", f"没有上传 {upload_id}（或已完成）/ no such upload", 404
        )
    if up.centre_code != centre:
        raise CentralError(
            "wrong_centre", f"上传 {upload_id} 不属于考点 {centre} / not this centre's upload", 403
        )
    return up


def begin_upload(
    session: Session, centre: str, body: dict[str, Any], now: datetime, max_size: int
) -> dict[str, Any]:
    """Start or resume an upload; says how many bytes central already holds."""
    try:
        upload_id, kind = str(body["upload_id"]), str(body["kind"])
        sha, size, name = str(body["sha256"]), int(body["size"]), str(body.get("name", ""))[:200]
    except (KeyError, TypeError, ValueError) as exc:
        raise CentralError("bad_request", f"上传请求缺少字段 {exc} / bad upload request") from None
    if not UPLOAD_ID_RE.match(upload_id) or kind not in KINDS or not SHA_RE.match(sha):
        raise CentralError("bad_request", "上传编号、类型或 SHA-256 格式错误 / bad upload fields")
    if not 0 < size <= max_size:
        raise CentralError("too_large", f"上传大小 {size} 字节不在允许范围内 / bad size", 413)
    if already_stored(session, centre, kind, sha):
        return {
            "ok": True,
            "upload_id": upload_id,
            "received": size,
            "complete": True,
            "duplicate": True,
        }
    up = session.scalar(select(Upload).where(Upload.upload_id == upload_id))
    if up is not None:
        if up.centre_code != centre:
            raise CentralError(
                "wrong_centre",
                f"上传编号 {upload_id} 属于另一个考点 / another centre's upload",
                403,
            )
        if (up.sha256, up.size, up.kind) != (sha, size, kind):
            raise CentralError(
                "upload_conflict",
                f"上传编号 {upload_id} 已用于另一份文件 / upload id reused for other content",
                409,
            )
        return {"ok": True, "upload_id": upload_id, "received": up.received, "complete": False}
    session.add(
        Upload(
            upload_id=upload_id,
            centre_code=centre,
            kind=kind,
            name=name,
            sha256=sha,
            size=size,
            received=0,
            started_at=now,
        )
    )
    session.flush()
    return {"ok": True, "upload_id": upload_id, "received": 0, "complete": False}


def upload_status(session: Session, centre: str, upload_id: str) -> dict[str, Any]:
    up = _upload(session, centre, upload_id)
    return {
        "ok": True,
        "upload_id": upload_id,
        "received": up.received,
        "size": up.size,
        "complete": False,
    }


def put_chunk(
    session: Session, centre: str, upload_id: str, offset: int, data: bytes, max_chunk: int
) -> dict[str, Any]:
    """Append one chunk at ``offset``; it must start where central's copy ends."""
    up = _upload(session, centre, upload_id, lock=True)
    if len(data) > max_chunk:
        raise CentralError("too_large", f"分块超过 {max_chunk} 字节 / chunk too large", 413)
    if offset != up.received:
        raise CentralError(
            "offset_mismatch",
            f"省中心已收到 {up.received} 字节，应从该处续传 / resume from {up.received}",
            409,
            received=up.received,
        )
    if offset + len(data) > up.size:
        raise CentralError("too_large", "分块超出声明的文件大小 / chunk beyond the declared size")
    session.add(UploadChunk(upload_pk=up.id, offset=offset, data=data))
    up.received = offset + len(data)
    session.flush()
    return {"ok": True, "upload_id": upload_id, "received": up.received}


def discard_upload(session: Session, centre: str, upload_id: str) -> None:
    up = session.scalar(
        select(Upload).where(Upload.upload_id == upload_id, Upload.centre_code == centre)
    )
    if up is not None:
        session.execute(delete(UploadChunk).where(UploadChunk.upload_pk == up.id))
        session.delete(up)
        session.flush()


def complete_upload(
    session: Session, centre: CentreAccount, upload_id: str, now: datetime
) -> dict[str, Any]:
    """Check the whole file and take it in. On any refusal the caller discards the upload."""
    up = _upload(session, centre.code, upload_id, lock=True)
    if up.received != up.size:
        raise CentralError(
            "upload_incomplete",
            f"还差 {up.size - up.received} 字节 / upload incomplete",
            409,
            received=up.received,
        )
    data = b"".join(
        session.scalars(
            select(UploadChunk.data)
            .where(UploadChunk.upload_pk == up.id)
            .order_by(UploadChunk.offset)
        )
    )
    if hashlib.sha256(data).hexdigest() != up.sha256:
        raise CentralError(
            "upload_corrupt", "收到的文件与声明的 SHA-256 不符，请重新上传 / checksum mismatch", 422
        )
    kind = up.kind
    session.execute(delete(UploadChunk).where(UploadChunk.upload_pk == up.id))
    session.delete(up)
    session.flush()
    if kind == "backup":
        report = take_backup(session, centre, data, upload_id, up.name, now)
    else:
        report = take_results(session, centre, data, upload_id, now)
    return {"ok": True, "upload_id": upload_id, "complete": True, **report}
