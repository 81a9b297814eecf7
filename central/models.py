"""Central's tables: centres and their keys, registrations, the plan, packages and the
secrets they were sealed with, uploads in progress, result packages, re-scores, backups."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from central.db import Base, UTCDateTime


class CentreAccount(Base):
    """A test centre (考点) allowed to talk to central, with the key it signs with."""

    __tablename__ = "centre_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    #: the centre's Ed25519 public key, raw 32 bytes as hex (registered at setup)
    public_key: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlanConfig(Base):
    """The exam plan as loaded by ``exam-central plan load`` (one row; the JSON document)."""

    __tablename__ = "plan_config"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Registration(Base):
    """An approved registration (报名), as imported; seat and ticket once allocated."""

    __tablename__ = "registration"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    #: 准考证号: the province's (from the registration file, checked against the plan's
    #: ticket rule), or allocated by central at publication when the plan has no rule
    ticket: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str] = mapped_column(String(8))  #: male | female
    birth_date: Mapped[date] = mapped_column(Date)
    employer: Mapped[str] = mapped_column(String(200))
    trade: Mapped[str] = mapped_column(String(64))
    level: Mapped[int]
    #: registered centre code (考点代码); None: central chooses
    centre_code: Mapped[str | None] = mapped_column(String(32))
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    #: the allocated seat: room code and seat number, and the variant per sitting
    room: Mapped[str | None] = mapped_column(String(8))
    seat: Mapped[int | None]
    variants: Mapped[dict[str, str] | None] = mapped_column(JSON)
    batch: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Package(Base):
    """A signed exam package built for one centre."""

    __tablename__ = "package"

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[str] = mapped_column(String(64), unique=True)
    centre_code: Mapped[str] = mapped_column(String(32), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    #: first time the centre downloaded it (a package once fetched is never replaced)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sittings: Mapped[list[PublishedSitting]] = relationship(back_populates="package")


class PublishedSitting(Base):
    """A sitting as sealed into one centre's package: its times and the secrets central
    holds until start (release secret) and end (end secret)."""

    __tablename__ = "published_sitting"
    __table_args__ = (UniqueConstraint("centre_code", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"))
    centre_code: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(32))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    release_secret: Mapped[bytes] = mapped_column(LargeBinary)
    end_secret: Mapped[bytes] = mapped_column(LargeBinary)
    #: the sealed answer key (central re-scores with it after the end)
    answer_key_blob: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    multiple_policy: Mapped[str] = mapped_column(String(32), default="all_or_nothing")
    start_key_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_key_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    package: Mapped[Package] = relationship(back_populates="sittings")


class SeenNonce(Base):
    """Request nonces inside the replay window: a second use is a replay."""

    __tablename__ = "seen_nonce"
    __table_args__ = (UniqueConstraint("centre_code", "nonce"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    centre_code: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Upload(Base):
    """An upload in progress (chunked, resumable), keyed by the client's upload id."""

    __tablename__ = "upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[str] = mapped_column(String(64), unique=True)
    centre_code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  #: results | backup
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)

    chunks: Mapped[list[UploadChunk]] = relationship(
        order_by="UploadChunk.offset", cascade="all, delete-orphan"
    )


class UploadChunk(Base):
    __tablename__ = "upload_chunk"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    upload_pk: Mapped[int] = mapped_column(ForeignKey("upload.id"), index=True)
    offset: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ResultPackage(Base):
    """A centre's signed results for one sitting, as received (idempotent by content)."""

    __tablename__ = "result_package"
    __table_args__ = (UniqueConstraint("centre_code", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_code: Mapped[str] = mapped_column(String(32))
    sitting_code: Mapped[str] = mapped_column(String(64))
    upload_id: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the centre's event log head when the package was made
    chain_seq: Mapped[int] = mapped_column(BigInteger)
    chain_head: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int]
    #: attempts whose central score, receipt or digest differ from the centre's
    differences: Mapped[int]
    #: rescored | not_rescored (answer key not yet due)
    status: Mapped[str] = mapped_column(String(16))
    #: problems with the package as a whole (its event log entries, its chain head)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)

    rescored: Mapped[list[RescoredAttempt]] = relationship(cascade="all, delete-orphan")


class RescoredAttempt(Base):
    """Central's independent score of one attempt beside the centre's, and any difference."""

    __tablename__ = "rescored_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    result_package_id: Mapped[int] = mapped_column(ForeignKey("result_package.id"), index=True)
    ticket: Mapped[str] = mapped_column(String(32))
    sitting_code: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    centre_score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    central_score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    receipt_ok: Mapped[bool]
    #: empty when central agrees; otherwise one line per difference
    differences: Mapped[list[str]] = mapped_column(JSON, default=list)


class Backup(Base):
    """An encrypted centre backup, kept as received (central cannot read it: the key is
    the centre's own secret)."""

    __tablename__ = "backup"
    __table_args__ = (UniqueConstraint("centre_code", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    centre_code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    upload_id: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChainAnchor(Base):
    """A head of a centre's event log, signed by the centre and sent with a segment of
    the chain at a sync: central checked that the segment continues the chain it knew.
    Refused heads are kept too (``status`` refused, with the problem): the evidence that a
    centre's log was truncated or rewritten."""

    __tablename__ = "chain_anchor"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    centre_code: Mapped[str] = mapped_column(String(32), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    #: the centre's clock when it signed the head (as it said)
    signed_at: Mapped[str] = mapped_column(String(40))
    #: the centre's Ed25519 signature of the head (hex)
    signature: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: accepted | refused
    status: Mapped[str] = mapped_column(String(16))
    #: for a refused head: the problem code and the first entry concerned
    problem: Mapped[str] = mapped_column(String(500), default="")


class AuditEvent(Base):
    """What central did and refused: imports, publications, key releases, intake."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TradeCatalogue(Base):
    """The province's trade catalogue as loaded by ``exam-central catalogue load`` (one
    row; the trades as JSON rows of ``question_bank.catalogue.Catalogue.rows``)."""

    __tablename__ = "trade_catalogue"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the shipped catalogue's name or the loaded file's name
    name: Mapped[str] = mapped_column(String(200))
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    loaded_by: Mapped[str] = mapped_column(String(100))


class ExternalScore(Base):
    """A part scored outside the centre (应会 practical, 一级 综合评审) for one candidate,
    as entered at central; who entered it is in the row and in the audit trail."""

    __tablename__ = "external_score"
    __table_args__ = (UniqueConstraint("registration_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    #: the part's subject code in the plan's form (e.g. YH, ZHPS)
    subject: Mapped[str] = mapped_column(String(16))
    #: scored | absent (缺考) | voided (违纪)
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    #: for parts graded 合格 / 不合格
    verdict: Mapped[bool | None]
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the file it came from, or ``form`` for one typed in
    source: Mapped[str] = mapped_column(String(200))


class Outcome(Base):
    """Central's decision (合格判定) for one candidate, once every part of their level's
    form is in: the computer-based parts from central's own re-scoring, the others as
    entered."""

    __tablename__ = "outcome"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), unique=True)
    passed: Mapped[bool]
    total: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    #: {"parts": {name: {"status", "score", "verdict", "passed", "source"}},
    #:  "reasons": [...], "rule": {...}}
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(100))
