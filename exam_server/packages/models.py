"""Exam packages imported at this centre (one row per package, for idempotent import)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from exam_server.schema import Base, UTCDateTime


class ImportedPackage(Base):
    __tablename__ = "imported_package"

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: SHA-256 of the signed manifest: the same id with other content is refused
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sittings: Mapped[str] = mapped_column(String(2000))
