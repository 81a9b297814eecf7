"""The server's own state: heartbeat (to measure downtime after a crash) and its keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from exam_server.schema import Base, UTCDateTime


class ServerState(Base):
    """Key-value rows: ``heartbeat`` (last instant the server was known alive),
    ``signing_key`` (the centre's Ed25519 private key, raw 32 bytes)."""

    __tablename__ = "server_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(500), default="")
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)
