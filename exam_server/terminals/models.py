"""A terminal's enrolment to a seat, and the one-time codes that make enrolments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exam_server.centres.models import Seat
from exam_server.schema import Base, UTCDateTime


class TerminalEnrolment(Base):
    """An exam PC bound to a seat, known by its Ed25519 public key. At most one active
    enrolment per seat and per terminal: a new one revokes the old."""

    __tablename__ = "terminal_enrolment"
    __table_args__ = (
        Index(
            "ux_terminal_enrolment_active_seat",
            "seat_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index(
            "ux_terminal_enrolment_active_terminal",
            "terminal_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the terminal's own id (``T-`` and 16 hex digits), generated on the PC
    terminal_id: Mapped[str] = mapped_column(String(64))
    #: its Ed25519 public key, raw 32 bytes as hex
    public_key: Mapped[str] = mapped_column(String(64))
    seat_id: Mapped[int] = mapped_column(ForeignKey("seat.id"), index=True)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: who made the code it used (a console user, or ``admin:cli``)
    enrolled_by: Mapped[str] = mapped_column(String(100))
    #: the address it enrolled from (for the record)
    address: Mapped[str] = mapped_column(String(64), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    #: why: replaced by a new enrolment of the seat or of the terminal, or an admin's reason
    revoke_reason: Mapped[str | None] = mapped_column(String(200))

    seat: Mapped[Seat] = relationship()


class EnrolmentCode(Base):
    """A one-time code that enrols one terminal to one seat, until it expires."""

    __tablename__ = "enrolment_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 (hex) of the code; the code itself is shown once and never stored
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    seat_id: Mapped[int] = mapped_column(ForeignKey("seat.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the enrolment it made
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("terminal_enrolment.id"))

    seat: Mapped[Seat] = relationship()
