"""Console accounts: centre admin, chief examiner (主考), invigilators (监考)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exam_server.schema import Base, UTCDateTime


class Role(str, enum.Enum):
    ADMIN = "admin"  #: 考点管理员: sync, imports, accounts
    CHIEF = "chief"  #: 主考: the whole centre, pauses for the centre
    INVIGILATOR = "invigilator"  #: 监考: their own room(s) for a sitting


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    #: argon2id hash (argon2-cffi)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    active: Mapped[bool] = mapped_column(default=True)

    rooms: Mapped[list[RoomAssignment]] = relationship(back_populates="user")


class RoomAssignment(Base):
    """An invigilator bound to a room, for one sitting or (sitting_id NULL) all of them."""

    __tablename__ = "room_assignment"
    __table_args__ = (UniqueConstraint("user_id", "room_id", "sitting_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id"))
    sitting_id: Mapped[int | None] = mapped_column(ForeignKey("sitting.id"))

    user: Mapped[User] = relationship(back_populates="rooms")


class LoginSession(Base):
    """A console login, held on the server so that logging out, a lock or a password
    change ends it everywhere (the browser's cookie carries only a random token)."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 (hex) of the cookie's token; the token itself is never stored
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: last request seen (updated at most once a minute)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: absolute end, whatever the activity
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: set at logout, lock or password change
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the browser's address at login (for the log)
    address: Mapped[str] = mapped_column(String(64), default="")

    user: Mapped[User] = relationship()
