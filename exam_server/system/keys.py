"""The centre's own Ed25519 key: signs submission digests (receipts) and result packages."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy.orm import Session

from exam_server.system.models import ServerState

SIGNING_KEY = "signing_key"


def signing_key(session: Session) -> Ed25519PrivateKey:
    """The centre's signing key, created on first use (flushes; the caller commits)."""
    row = session.get(ServerState, SIGNING_KEY)
    if row is None or row.blob is None:
        key = Ed25519PrivateKey.generate()
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        session.add(ServerState(key=SIGNING_KEY, value="ed25519", blob=raw))
        session.flush()
        return key
    return Ed25519PrivateKey.from_private_bytes(row.blob)


def public_key_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
