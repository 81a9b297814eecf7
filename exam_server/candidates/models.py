"""应考人员: candidates as the registration system approved them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from exam_server.schema import Base


class Candidate(Base):
    __tablename__ = "candidate"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 准考证号 as the province issues it, checked against the plan's ticket rule
    #: (docs/ticket-numbers.md)
    ticket: Mapped[str] = mapped_column(String(32), unique=True)
    #: 身份证号, 18 characters; compared exactly at login
    id_number: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str] = mapped_column(String(8))
    birth_date: Mapped[date]
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    #: 工种
    trade: Mapped[str] = mapped_column(String(64))
    #: 等级: 1..5 (一级..五级)
    level: Mapped[int]
    employer: Mapped[str] = mapped_column(String(200), default="")
