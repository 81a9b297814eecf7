"""The centre's side of the link to central: the link itself, the upload queue, status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from exam_server.schema import Base, UTCDateTime


class SyncLink(Base):
    """One row, written by ``exam-sync setup``: who we are to central and who central is."""

    __tablename__ = "sync_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_code: Mapped[str] = mapped_column(String(32))
    central_url: Mapped[str] = mapped_column(String(500))
    #: central's Ed25519 public key (PEM), pinned: packages must carry its signature
    central_public_key: Mapped[str] = mapped_column(Text)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxItem(Base):
    """A file waiting to go to central (a result package or a backup), and how it went.

    The upload id is fixed when the item is queued, so after a restart (of this server or
    of central) the upload resumes where central's copy ends.
    """

    __tablename__ = "sync_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: results | backup
    kind: Mapped[str] = mapped_column(String(16), index=True)
    upload_id: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("sitting.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: pending | done | refused (central refused it for good: see last_error) | carried
    #: (an offline centre's admin handed it to central on a USB stick)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    tries: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(String(1000), default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: central's answer when done (re-scoring summary for results)
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SyncStatus(Base):
    """Key-value facts for ``exam-sync status``: last pull, last key, last error..."""

    __tablename__ = "sync_status"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(2000), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)
