"""A rehearsal sitting: synthetic candidates and real encrypted papers from the sample bank.

A centre rehearses the week before the exam with its own server, its own rooms and as
many simulated terminals as it expects candidates. The papers are assembled from the
sample bank and sealed exactly as central seals real ones, each candidate's paper bound by
a signature of a rehearsal "central" key (the server is given its public key, and the
simulated terminals pin it at enrolment); the keys are held in an escrow file that the
scheduler releases at the start and the end, as central would. Every seat used gets a
one-time enrolment code, which the simulated terminals enrol with.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam_common.durable import PUBLIC, write_atomic
from exam_common.samples import sample_plan
from exam_common.tickets import GENERATED
from exam_server.candidates.models import Candidate
from exam_server.centres.models import Centre, Room, Seat
from exam_server.plans.models import ExamPlan, Paper, Sitting
from exam_server.sittings.models import Attempt
from question_bank.assembly import assemble
from question_bank.bindings import PaperBinding, sign_binding
from question_bank.package import new_secret, public_key_pem, seal_sitting, secrets_to_json
from question_bank.sample import load_sample_bank, sample_blueprint
from seating.model import Gender
from seating.sample import id_number
from seating.tickets import make_ticket

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


@dataclass(frozen=True)
class RehearsalPlan:
    sitting_code: str
    start: datetime
    end: datetime
    #: [{"ticket", "id_number", "seat", "name"}] for the simulator
    roster: list[dict[str, str]]
    rooms: int
    secrets: dict[str, tuple[bytes, bytes]]
    #: the rehearsal central's public key (PEM): the server checks bindings with it
    central_public_pem: bytes = b""
    #: seat -> one-time enrolment code
    codes: dict[str, str] = field(default_factory=dict)

    def write(self, folder: Path) -> tuple[Path, Path]:
        """roster.json (for ``exam-client simulate``) and secrets.json (the escrow), and
        central.pub (``EXAM_CENTRAL_PUBLIC_KEY`` of the rehearsal server)."""
        roster = write_atomic(folder / "roster.json", json.dumps(self.roster, ensure_ascii=False))
        secrets = write_atomic(folder / "secrets.json", json.dumps(secrets_to_json(self.secrets)))
        write_atomic(folder / "central.pub", self.central_public_pem, PUBLIC)
        return roster, secrets

    def write_codes(self, path: Path, ca_fingerprint: str) -> Path:
        """The codes file ``exam-client simulate --enrol-codes`` reads."""
        doc = {
            "format": "exam-enrol-codes/1",
            "ca_fingerprint": ca_fingerprint,
            "codes": self.codes,
        }
        return write_atomic(path, json.dumps(doc, indent=1))


def seed_rehearsal(
    session: Session,
    *,
    candidates: int,
    start: datetime,
    duration: timedelta,
    windows_s: tuple[int, int, int] = (1800, 1800, 1800),
    rows: int = 6,
    cols: int = 6,
    spare: int = 4,
    centre_code: str = "9999",
    code: str | None = None,
    seed: int = 1,
    central_key: Ed25519PrivateKey | None = None,
) -> RehearsalPlan:
    """Add a rehearsal sitting with ``candidates`` seated in rooms of rows x cols (the
    last ``spare`` seats of each room held back). Flushes; the caller commits.

    The defaults (``windows_s`` the notices' 30 minutes each, the room's size, centre
    9999) are the rehearsal's own, for a load test of one sitting: no exam plan takes
    them; a province's windows come from its plan's sittings."""
    if candidates < 1:
        raise ValueError("a rehearsal needs at least one candidate")
    per_room = rows * cols - spare
    if per_room < 1:
        raise ValueError("the rooms have no seats left after the spares")
    code = code or f"REHEARSAL-{start:%Y%m%d%H%M%S}"
    rng = random.Random(seed)
    centre = session.scalar(select(Centre).where(Centre.code == centre_code))
    if centre is None:
        centre = Centre(code=centre_code, name="演练考点 (rehearsal)")
        session.add(centre)
    n_rooms = -(-candidates // per_room)
    existing = {r.code: r for r in centre.rooms}
    rooms: list[Room] = []
    for r in range(1, n_rooms + 1):
        room_code = f"{r:03d}"
        room = existing.get(room_code)
        if room is None:
            room = Room(
                centre=centre, code=room_code, name=f"演练第{r:02d}考场", rows=rows, cols=cols
            )
            session.add(room)
            for n in range(1, rows * cols + 1):
                session.add(
                    Seat(
                        room=room,
                        number=n,
                        row=(n - 1) // cols + 1,
                        col=(n - 1) % cols + 1,
                        is_spare=n > per_room,
                    )
                )
        rooms.append(room)
    # One subject, so results are decided as soon as the sitting is scored: its part of the
    # sample Henan plan's level-four form (its line is the notice's, not the rehearsal's).
    henan = next(f for f in sample_plan("henan-2026")["forms"] if f["level"] == 4)
    plan = ExamPlan(
        year=start.year,
        name=f"演练 {code}",
        forms=[{**henan, "parts": [p for p in henan["parts"] if p["subject"] == "ZYDD"]}],
        ticket_rule=GENERATED.model_dump(mode="json"),
        documents={},
    )
    session.add(plan)
    release, end_secret = new_secret(), new_secret()
    blueprint = sample_blueprint("ZYDD", 4)
    assembly = assemble(load_sample_bank(), blueprint, str(seed), 3, sitting_code=code)
    sealed = seal_sitting(assembly.papers, release, end_secret)
    sitting = Sitting(
        plan=plan,
        code=code,
        subject=sealed.subject.value,
        level=sealed.level,
        trade=None,
        start=start,
        end=start + duration,
        entry_opens_before_s=windows_s[0],
        late_entry_s=windows_s[1],
        earliest_submit_s=windows_s[2],
        answer_key_blob=sealed.answer_key,
    )
    session.add(sitting)
    papers = [
        Paper(
            sitting=sitting,
            variant=p.variant,
            paper_ref=p.paper_id,
            items=[i.to_json() for i in p.public_items],
            ciphertext=p.ciphertext,
            wrapped_key=p.wrapped_key,
        )
        for p in sealed.papers
    ]
    session.add_all(papers)
    session.flush()
    seats = {
        (room.code, s.number): s
        for room in rooms
        for s in session.scalars(select(Seat).where(Seat.room_id == room.id))
    }
    central_key = central_key or Ed25519PrivateKey.generate()
    hashes = {p.id: hashlib.sha256(p.ciphertext).hexdigest() for p in papers}
    roster = []
    used: list[Seat] = []
    for i in range(candidates):
        room = rooms[i // per_room]
        number = i % per_room + 1
        ticket = make_ticket(start.year, centre_code, room.code, number)
        taken = session.scalar(select(Candidate).where(Candidate.ticket == ticket))
        if taken is not None:
            raise ValueError(
                f"ticket {ticket} already exists: use a fresh database for each rehearsal"
            )
        gender = rng.choice([Gender.MALE, Gender.FEMALE])
        birth = date(1970, 1, 1) + timedelta(days=rng.randrange(0, 365 * 30))
        idn = id_number(rng, gender, birth)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(2))
        cand = Candidate(
            ticket=ticket,
            id_number=idn,
            name=name,
            gender="男" if gender is Gender.MALE else "女",
            birth_date=birth,
            trade="电工",
            level=4,
            employer="演练单位",
        )
        session.add(cand)
        # Neighbours get different variants (the seat number cycles through them).
        paper = papers[(number - 1) % len(papers)]
        binding = PaperBinding(
            centre=centre_code,
            sitting=code,
            paper_id=paper.paper_ref,
            variant=paper.variant,
            sha256=hashes[paper.id],
            ticket=ticket,
            room=room.code,
            seat=number,
        )
        session.add(
            Attempt(
                candidate=cand,
                sitting=sitting,
                paper=paper,
                seat=seats[(room.code, number)],
                binding=sign_binding(central_key, binding),
            )
        )
        used.append(seats[(room.code, number)])
        roster.append(
            {"ticket": ticket, "id_number": idn, "seat": f"{room.code}-{number:02d}", "name": name}
        )
    session.flush()
    from exam_server.terminals.service import issue_codes

    issued = issue_codes(session, start, used, by="rehearsal", valid=duration + timedelta(days=1))
    return RehearsalPlan(
        code,
        start,
        start + duration,
        roster,
        n_rooms,
        {code: (release, end_secret)},
        public_key_pem(central_key.public_key()),
        {c.seat: c.code for c in issued},
    )
