"""Attempts (one per candidate per sitting) and the answers stored for them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exam_server.candidates.models import Candidate
from exam_server.centres.models import Seat
from exam_server.plans.models import Paper, Sitting
from exam_server.schema import Base, UTCDateTime
from exam_server.sittings.engine import AttemptState


class Attempt(Base):
    __tablename__ = "attempt"
    __table_args__ = (UniqueConstraint("candidate_id", "sitting_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidate.id"))
    sitting_id: Mapped[int] = mapped_column(ForeignKey("sitting.id"), index=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("paper.id"))
    #: the seat the plan gave; a seat change moves it
    seat_id: Mapped[int] = mapped_column(ForeignKey("seat.id"))
    state: Mapped[AttemptState] = mapped_column(
        Enum(
            AttemptState,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=AttemptState.WAITING,
    )
    #: the enrolled terminal the candidate is logged in at (proved by its key at hello)
    terminal_id: Mapped[str | None] = mapped_column(String(64))
    #: SHA-256 (hex) of the token that lets that terminal log its candidate in again
    #: after a reconnect without the ID number (which the terminal never keeps)
    resume_token_hash: Mapped[str | None] = mapped_column(String(64))
    #: central's signed binding of this attempt's paper (ciphertext hash, sitting,
    #: variant, ticket, seat) as the package carried it; the terminal verifies it
    binding: Mapped[str | None] = mapped_column(Text)
    logged_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: candidate | deadline | invigilator
    submitted_by: Mapped[str | None] = mapped_column(String(32))
    #: individual extra time granted by an invigilator, in seconds (always with a reason)
    extra_time_s: Mapped[int] = mapped_column(default=0)
    #: an invigilator admitted this candidate late (before start + late entry)
    admitted_late: Mapped[bool] = mapped_column(default=False)
    #: a seat change / re-login authorised by an invigilator, not yet used
    relogin_authorised: Mapped[bool] = mapped_column(default=False)
    #: highest answer sequence number stored
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    #: SHA-256 (hex) of the submitted answers, and the server's signature of it
    digest: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(String(128))
    receipt: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    #: per-item scores once scored: {item_id: "2.00"}
    item_scores: Mapped[dict[str, str] | None] = mapped_column(JSON)

    candidate: Mapped[Candidate] = relationship()
    sitting: Mapped[Sitting] = relationship()
    paper: Mapped[Paper] = relationship()
    seat: Mapped[Seat] = relationship()

    @property
    def extra_time(self) -> timedelta:
        return timedelta(seconds=self.extra_time_s)


class Answer(Base):
    """Every answer change, append-only. An item's answer is its highest-``seq`` row."""

    __tablename__ = "answer"
    __table_args__ = (
        UniqueConstraint("attempt_id", "seq"),
        # seq and response too: the current answers are read from the index alone
        Index("ix_answer_attempt_item", "attempt_id", "item_id", "seq", "response"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"))
    #: per-attempt sequence number from the terminal
    seq: Mapped[int] = mapped_column(BigInteger)
    item_id: Mapped[str] = mapped_column(String(64))
    #: canonical option labels, sorted and joined ("AC"; "" clears the answer)
    response: Mapped[str] = mapped_column(String(16))
    #: when the server stored it (server time)
    server_time: Mapped[datetime] = mapped_column(UTCDateTime)


class CandidateResult(Base):
    """成绩: a candidate's subjects against the plan's cutoffs, once every subject is final."""

    __tablename__ = "candidate_result"
    __table_args__ = (UniqueConstraint("candidate_id", "plan_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidate.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("exam_plan.id"))
    total: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    passed: Mapped[bool]
    #: {"subjects": {subject: {"status", "score", "passed"}}, "reasons": [...], "rule": {...}}
    details: Mapped[dict[str, object]] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
