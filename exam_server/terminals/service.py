"""Enrolment codes, enrolments, and a terminal proving who it is at ``hello``.

Service functions take the caller's session and ``now`` and only flush. Refusals raise
:class:`TerminalError` with a code from :mod:`exam_server.messages`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from exam_common.pki import enrol_proof_message, hello_proof_message
from exam_server.centres.models import Room, Seat
from exam_server.config import Config
from exam_server.eventlog import service as eventlog
from exam_server.terminals.models import EnrolmentCode, TerminalEnrolment
from exam_server.throttle import service as throttle

#: Crockford's base32 without the letters people confuse (I, L, O, U)
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 12  # 60 bits: guessing is hopeless against the per-source throttle
TERMINAL_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
PUBLIC_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
#: wrong codes from one address before it must wait
ENROL_POLICY = throttle.Policy(10, timedelta(minutes=30), wait=timedelta(seconds=60))


class TerminalError(Exception):
    def __init__(self, code: str, detail: str = "", *, until: datetime | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail, self.until = code, detail, until


# --- codes -------------------------------------------------------------------------------


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_CHARS, 4))


def normalise_code(code: str) -> str:
    """Upper case, separators and spaces dropped, the look-alikes read as digits."""
    text = re.sub(r"[\s\-_]", "", code).upper()
    return text.translate(str.maketrans("OIL", "011"))


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


@dataclass(frozen=True)
class IssuedCode:
    seat: str  #: ROOM-SEAT
    code: str  #: shown once; only its hash is kept
    expires_at: datetime


def seats_for(
    session: Session, *, room: str | None = None, labels: list[str] | None = None
) -> list[Seat]:
    """The seats of one room (by code), the seats named ``ROOM-SEAT``, or every seat."""
    q = select(Seat).join(Room).options(joinedload(Seat.room)).order_by(Room.code, Seat.number)
    if room is not None:
        q = q.where(Room.code == room)
    seats = list(session.scalars(q))
    if labels is not None:
        by_label = {s.label: s for s in seats}
        missing = [x for x in labels if x not in by_label]
        if missing:
            raise TerminalError("no_such_seat", ", ".join(missing[:5]))
        return [by_label[x] for x in labels]
    if room is not None and not seats:
        raise TerminalError("no_such_seat", f"room {room}")
    return seats


def issue_codes(
    session: Session, now: datetime, seats: list[Seat], *, by: str, valid: timedelta
) -> list[IssuedCode]:
    """One fresh one-time code per seat (an older unused code of the seat stops working)."""
    out = []
    for seat in seats:
        for old in session.scalars(
            select(EnrolmentCode).where(
                EnrolmentCode.seat_id == seat.id,
                EnrolmentCode.used_at.is_(None),
                EnrolmentCode.expires_at > now,
            )
        ):
            old.expires_at = now
        code = new_code()
        session.add(
            EnrolmentCode(
                code_hash=code_hash(code),
                seat_id=seat.id,
                created_at=now,
                expires_at=now + valid,
                created_by=by[:100],
            )
        )
        out.append(IssuedCode(seat.label, code, now + valid))
    session.flush()
    if out:
        eventlog.append(
            session,
            at=now,
            actor=by,
            kind="terminal.codes_issued",
            data={"seats": [c.seat for c in out][:500], "count": len(out)},
        )
    return out


# --- enrolment ---------------------------------------------------------------------------


def _public_key(hex_key: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(hex_key))


def _verify(public_key_hex: str, signature_b64: str, message: bytes) -> bool:
    try:
        _public_key(public_key_hex).verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def enrol(
    session: Session,
    now: datetime,
    *,
    code: str,
    terminal_id: str,
    public_key: str,
    proof: str,
    address: str,
) -> TerminalEnrolment:
    """Bind the terminal holding ``public_key`` to the seat of a one-time ``code``.

    Wrong codes from one address are throttled. The seat's previous terminal, and this
    terminal's previous seat, are revoked: one terminal per seat, one seat per terminal."""
    source = address or "?"
    try:
        throttle.check(session, now, "enrol_source", source)
    except throttle.Throttled as exc:
        raise TerminalError("enrol_throttled", until=exc.until) from None
    if not TERMINAL_ID_RE.match(terminal_id) or not PUBLIC_KEY_RE.match(public_key):
        raise TerminalError("bad_enrolment", "terminal_id or public_key malformed")
    if not _verify(public_key, proof, enrol_proof_message(code, terminal_id, public_key)):
        raise TerminalError("bad_enrolment", "the proof does not match the key")
    row = session.scalar(
        select(EnrolmentCode)
        .options(joinedload(EnrolmentCode.seat).joinedload(Seat.room))
        .where(EnrolmentCode.code_hash == code_hash(code))
        .with_for_update(of=EnrolmentCode)
    )
    refusal = (
        "enrol_code_invalid"
        if row is None
        else "enrol_code_used"
        if row.used_at is not None
        else "enrol_code_expired"
        if now >= row.expires_at
        else None
    )
    if refusal is not None or row is None:
        throttle.fail(session, now, "enrol_source", source, ENROL_POLICY)
        eventlog.append(
            session,
            at=now,
            actor=f"terminal:{terminal_id}",
            kind="terminal.enrol_refused",
            data={"code": refusal, "address": address},
        )
        raise TerminalError(refusal or "enrol_code_invalid")
    seat = row.seat
    for old in session.scalars(
        select(TerminalEnrolment).where(
            TerminalEnrolment.revoked_at.is_(None),
            (TerminalEnrolment.seat_id == seat.id) | (TerminalEnrolment.terminal_id == terminal_id),
        )
    ):
        old.revoked_at, old.revoked_by = now, row.created_by
        old.revoke_reason = (
            "seat enrolled again" if old.seat_id == seat.id else "terminal enrolled elsewhere"
        )
    session.flush()
    enrolment = TerminalEnrolment(
        terminal_id=terminal_id,
        public_key=public_key,
        seat_id=seat.id,
        enrolled_at=now,
        enrolled_by=row.created_by,
        address=address[:64],
    )
    session.add(enrolment)
    session.flush()
    row.used_at, row.enrolment_id = now, enrolment.id
    throttle.succeeded(session, "enrol_source", source)
    eventlog.append(
        session,
        at=now,
        actor=row.created_by,
        kind="terminal.enrolled",
        room_id=seat.room_id,
        data={"terminal": terminal_id, "seat": seat.label, "address": address},
    )
    return enrolment


def replaced_by(session: Session, enrolment: TerminalEnrolment) -> set[int]:
    """The enrolments that :func:`enrol` revoked to make ``enrolment`` (the seat's
    previous terminal, this terminal's previous seat): their terminals must be cut off."""
    return set(
        session.scalars(
            select(TerminalEnrolment.id).where(
                TerminalEnrolment.id != enrolment.id,
                TerminalEnrolment.revoked_at == enrolment.enrolled_at,
                (TerminalEnrolment.seat_id == enrolment.seat_id)
                | (TerminalEnrolment.terminal_id == enrolment.terminal_id),
            )
        )
    )


@dataclass(frozen=True)
class Identity:
    """A terminal that proved its key on this connection."""

    terminal_id: str
    enrolment_id: int
    seat: str  #: ROOM-SEAT, from the enrolment
    room_id: int


def prove(session: Session, terminal_id: str, challenge: bytes, proof: str | None) -> Identity:
    """Check a terminal's answer to this connection's challenge against its enrolment."""
    row = session.scalar(
        select(TerminalEnrolment)
        .options(joinedload(TerminalEnrolment.seat).joinedload(Seat.room))
        .where(TerminalEnrolment.terminal_id == terminal_id, TerminalEnrolment.revoked_at.is_(None))
    )
    if row is None:
        raise TerminalError("not_enrolled", terminal_id)
    if not proof or not _verify(row.public_key, proof, hello_proof_message(challenge, terminal_id)):
        raise TerminalError("bad_proof", terminal_id)
    return Identity(terminal_id, row.id, row.seat.label, row.seat.room_id)


def revoke(
    session: Session, now: datetime, enrolment_id: int, *, by: str, reason: str
) -> TerminalEnrolment:
    row = session.get(TerminalEnrolment, enrolment_id)
    if row is None or row.revoked_at is not None:
        raise TerminalError("no_such_enrolment", str(enrolment_id))
    reason = reason.strip()
    if not reason:
        raise TerminalError("reason_required")
    row.revoked_at, row.revoked_by, row.revoke_reason = now, by[:100], reason[:200]
    session.flush()
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="terminal.revoked",
        room_id=row.seat.room_id,
        reason=reason[:500],
        data={"terminal": row.terminal_id, "seat": row.seat.label},
    )
    return row


def enrolments(session: Session, room_id: int | None = None) -> list[TerminalEnrolment]:
    """Active enrolments (of one room), by seat."""
    q = (
        select(TerminalEnrolment)
        .join(Seat)
        .join(Room)
        .options(joinedload(TerminalEnrolment.seat).joinedload(Seat.room))
        .where(TerminalEnrolment.revoked_at.is_(None))
        .order_by(Room.code, Seat.number)
    )
    if room_id is not None:
        q = q.where(Seat.room_id == room_id)
    return list(session.scalars(q))


def central_public_key_pem(session: Session, cfg: Config) -> str | None:
    """Central's public key as this centre pinned it (``exam-sync setup`` or
    ``EXAM_CENTRAL_PUBLIC_KEY``): terminals pin it at enrolment to check papers."""
    from exam_server.sync.models import SyncLink

    if cfg.CENTRAL_PUBLIC_KEY and Path(cfg.CENTRAL_PUBLIC_KEY).exists():
        return Path(cfg.CENTRAL_PUBLIC_KEY).read_text()
    row = session.scalar(select(SyncLink).order_by(SyncLink.id.desc()))
    return row.central_public_key if row is not None else None
