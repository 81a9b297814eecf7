"""考试计划 (exam plan), 场次 (sitting), the encrypted papers and the pauses of a sitting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exam_server.schema import Base, UTCDateTime
from exam_server.sittings.engine import SittingRules


class ExamPlan(Base):
    __tablename__ = "exam_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    #: the exam of each level: parts, delivery, full marks and pass lines, as
    #: ``exam_common.forms.Form`` JSON (the package's plan.json)
    forms: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: the province's ticket rule (``exam_common.tickets.TicketRule`` JSON)
    ticket_rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: what printed documents say: results website, 须知, issuer
    documents: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: how multiple-choice items score partly right answers (question_bank MultiplePolicy)
    multiple_policy: Mapped[str] = mapped_column(String(32), default="all_or_nothing")

    sittings: Mapped[list[Sitting]] = relationship(back_populates="plan", order_by="Sitting.start")


class Sitting(Base):
    """One timed paper: a subject for a level (and a trade for 岗位技能)."""

    __tablename__ = "sitting"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("exam_plan.id"))
    #: the province's code for this sitting; names its keys and packages
    code: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(32))
    level: Mapped[int | None]
    trade: Mapped[str | None] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    #: fixed end; late arrival never extends it
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the plan's windows (seconds): entry before start, late entry, earliest submission
    entry_opens_before_s: Mapped[int]
    late_entry_s: Mapped[int]
    earliest_submit_s: Mapped[int]
    #: the per-sitting key (unwraps paper data keys); present only from start
    sitting_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    sitting_key_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the answer key, encrypted under the end key (question_bank package format)
    answer_key_blob: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    #: the end key; present only from the end
    end_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: when the server closed the sitting (every attempt final, scored where possible)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    plan: Mapped[ExamPlan] = relationship(back_populates="sittings")
    papers: Mapped[list[Paper]] = relationship(back_populates="sitting", order_by="Paper.variant")

    @property
    def rules(self) -> SittingRules:
        return SittingRules(
            entry_opens_before=timedelta(seconds=self.entry_opens_before_s),
            late_entry=timedelta(seconds=self.late_entry_s),
            earliest_submit=timedelta(seconds=self.earliest_submit_s),
        )


class Paper(Base):
    """One variant of a sitting's paper, still encrypted (no plaintext before start)."""

    __tablename__ = "paper"
    __table_args__ = (UniqueConstraint("sitting_id", "variant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sitting.id"))
    variant: Mapped[int]
    #: question_bank's paper id
    paper_ref: Mapped[str] = mapped_column(String(64))
    #: public item list: [{"item_id", "type", "points"}]; no stems, no keys
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    #: the paper's data key wrapped under the sitting key
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)

    sitting: Mapped[Sitting] = relationship(back_populates="papers")


class Pause(Base):
    """A stop of the clock (power cut, emergency) for a room, or the centre (room_id NULL)."""

    __tablename__ = "pause"

    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sitting.id"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500))
    #: who paused (a user name, or "server" for recorded downtime)
    by: Mapped[str] = mapped_column(String(100))
