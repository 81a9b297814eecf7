"""考点 (centre), 考场 (room) and 座号 (seat)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exam_server.schema import Base


class Centre(Base):
    __tablename__ = "centre"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the province's code for this centre (考点代码), as in ticket numbers
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    rooms: Mapped[list[Room]] = relationship(back_populates="centre", order_by="Room.code")


class Room(Base):
    __tablename__ = "room"
    __table_args__ = (UniqueConstraint("centre_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centre.id"))
    #: 考场号, e.g. "01"
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int]
    cols: Mapped[int]

    centre: Mapped[Centre] = relationship(back_populates="rooms")
    seats: Mapped[list[Seat]] = relationship(back_populates="room", order_by="Seat.number")


class Seat(Base):
    __tablename__ = "seat"
    __table_args__ = (UniqueConstraint("room_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id"))
    #: 座号 within the room, from 1
    number: Mapped[int]
    row: Mapped[int]
    col: Mapped[int]
    #: held back for seat changes when a terminal dies
    is_spare: Mapped[bool] = mapped_column(default=False)

    room: Mapped[Room] = relationship(back_populates="seats")

    @property
    def label(self) -> str:
        """ROOM-SEAT as a terminal is bound to it, e.g. ``01-07``."""
        return f"{self.room.code}-{self.number:02d}"
