"""Central's common ground: refusals, the centres' public keys, the audit log and the
nonces of signed requests."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    Connection,
    CursorResult,
    Table,
    delete,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from central.models import (
    AuditEvent,
    Backup,
    CentreAccount,
    PublishedSitting,
    ResultPackage,
    SeenNonce,
)

SHA_RE = re.compile(r"^[0-9a-f]{64}$")
KINDS = ("results", "backup")


class CentralError(Exception):
    """A refusal: machine ``code``, Chinese-first ``message``, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.extra = code, message, status, extra

    def to_json(self) -> dict[str, Any]:
        return {"ok": False, "code": self.code, "message": self.message, **self.extra}


def public_key_of(centre: CentreAccount) -> Ed25519PublicKey:
    return public_key(centre.public_key)


@functools.lru_cache(maxsize=4096)
def public_key(hex_key: str) -> Ed25519PublicKey:
    """A centre's public key, parsed once per process. Keyed by the key itself (the hex
    stored at central), which every request reads afresh: a centre whose key is changed
    is checked against the new key from its next request on, never against a copy."""
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(hex_key))


_AUDIT = cast(Table, AuditEvent.__table__)
_NONCE = cast(Table, SeenNonce.__table__)
CENTRE_TABLE = cast(Table, CentreAccount.__table__)
SITTING_TABLE = cast(Table, PublishedSitting.__table__)


#: statements of the hot paths, built once (values bound when executed)
_AUDIT_INSERT = insert(_AUDIT)
_NONCE_INSERT = {
    "postgresql": postgresql.insert(_NONCE).on_conflict_do_nothing().returning(_NONCE.c.id),
    "sqlite": sqlite.insert(_NONCE).on_conflict_do_nothing().returning(_NONCE.c.id),
}


#: a unit of work: the ORM session of most requests, or the bare connection of a hot one
Work = Session | Connection


def _dialect(work: Work) -> str:
    return work.dialect.name if isinstance(work, Connection) else work.get_bind().dialect.name


def audit(session: Work, now: datetime, actor: str, kind: str, **data: Any) -> None:
    """Record what central did or refused, in the caller's transaction (written at once:
    it commits or rolls back with the rest of the unit of work)."""
    session.execute(_AUDIT_INSERT, {"at": now, "actor": actor, "kind": kind, "data": data})


def remember_nonce(session: Work, centre: str, nonce: str, now: datetime) -> bool:
    """Record a signed request's nonce for ``centre``; False when it was seen before (a
    replay). One statement that never fails on the duplicate (``ON CONFLICT DO
    NOTHING``), so the caller's transaction goes on to record the refusal; a concurrent
    request with the same nonce waits for the first to commit, then finds it. (The row's
    id comes back only when it was inserted.)"""
    stmt = _NONCE_INSERT[_dialect(session)]
    row = session.execute(stmt, {"centre_code": centre, "nonce": nonce, "seen_at": now}).first()
    return row is not None


def prune_nonces(session: Session, now: datetime, window_s: int) -> int:
    """Forget nonces older than twice the replay window, every centre's: a request that
    old is refused by its timestamp before its nonce is looked at. Run now and then
    (:func:`central.app` does it at most once a minute per worker), not per request; the
    rows deleted are ones no request touches any more, so nothing waits on them."""
    result = session.execute(
        delete(_NONCE).where(_NONCE.c.seen_at < now - timedelta(seconds=2 * window_s))
    )
    return cast(CursorResult[Any], result).rowcount


def published_sitting(session: Session, centre: str, code: str) -> PublishedSitting:
    ps = session.scalar(
        select(PublishedSitting).where(
            PublishedSitting.centre_code == centre, PublishedSitting.code == code
        )
    )
    if ps is None:
        raise CentralError(
            "unknown_sitting",
            f"考点 {centre} 没有场次 {code} / no such sitting for this centre",
            404,
        )
    return ps


def already_stored(session: Session, centre: str, kind: str, sha256: str) -> bool:
    model = ResultPackage if kind == "results" else Backup
    return (
        session.scalar(select(model.id).where(model.centre_code == centre, model.sha256 == sha256))
        is not None
    )
