"""Building a centre's exam package: papers by blueprint, the seat plan, the roster.

Central assembles each sitting's variants from the bank, seals them (papers under their
own data keys, wrapped under the sitting key; answer keys under the end key), and signs
one package per centre holding its papers, rooms, sittings, cutoff rules and roster with
seats and paper variants. The release and end secrets stay at central until their time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from question_bank.assembly import Assembly, BankIndex, assemble
from question_bank.bindings import PaperBinding, sign_binding
from question_bank.blueprint import Blueprint
from question_bank.items import Item
from question_bank.package import (
    Part,
    SealedSitting,
    build_package,
    new_secret,
    seal_sitting,
)
from question_bank.package_parts import (
    CandidatePart,
    CentrePart,
    CentreParts,
    PlanPart,
    RoomPart,
    SeatingPart,
    SittingPart,
    centre_parts,
)
from seating.model import SeatPlan

GENDER_ZH = {"male": "男", "female": "女"}


def birth_date_from_id(id_number: str) -> date:
    """The birth date a Chinese ID number carries (digits 7-14)."""
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


@dataclass(frozen=True)
class SittingSpec:
    """A sitting as central schedules it, with the blueprint its papers follow."""

    code: str
    blueprint: Blueprint
    start: datetime
    end: datetime
    #: the plan's windows, seconds (no default: the province sets them)
    entry_opens_before_s: int
    late_entry_s: int
    earliest_submit_s: int


@dataclass(frozen=True)
class CentrePackage:
    data: bytes
    #: sitting code -> (release secret, end secret); central keeps these
    secrets: dict[str, tuple[bytes, bytes]]
    assemblies: tuple[Assembly, ...]
    sealed: tuple[SealedSitting, ...]


BINDINGS_PART = "bindings.json"
BINDINGS_FORMAT = "exam-bindings/1"


def bindings_part(
    centre_code: str,
    parts: CentreParts,
    sealed: Sequence[SealedSitting],
    signing_key: Ed25519PrivateKey,
) -> Part:
    """Central's signed binding of each candidate's paper in each sitting (ciphertext hash,
    sitting, variant, ticket, seat): the terminal checks it before showing the paper
    (:mod:`question_bank.bindings`)."""
    papers = {(s.sitting_code, p.variant): p for s in sealed for p in s.papers}
    out = []
    for cand in parts.roster:
        for seat in cand.seats:
            paper = papers[(seat.sitting, seat.variant)]
            binding = PaperBinding(
                centre=centre_code,
                sitting=seat.sitting,
                paper_id=paper.paper_id,
                variant=paper.variant,
                sha256=hashlib.sha256(paper.ciphertext).hexdigest(),
                ticket=cand.ticket,
                room=seat.room,
                seat=seat.seat,
            )
            out.append(sign_binding(signing_key, binding))
    return Part.json(BINDINGS_PART, {"format": BINDINGS_FORMAT, "bindings": out})


def build_centre_package(
    *,
    centre_code: str,
    seat_plan: SeatPlan,
    plan: PlanPart,
    sittings: Sequence[SittingSpec],
    bank: Iterable[Item] | BankIndex,
    seed: str,
    signing_key: Ed25519PrivateKey,
    created: datetime,
) -> CentrePackage:
    """Assemble, seal and package everything one centre needs for the plan."""
    index = bank if isinstance(bank, BankIndex) else BankIndex(bank)
    centre = seat_plan.centre(centre_code)
    secrets: dict[str, tuple[bytes, bytes]] = {}
    assemblies, sealed = [], []
    variant_labels: dict[str, tuple[str, ...]] = {}
    for spec in sittings:
        labels = seat_plan.sitting(spec.code).variants
        variant_labels[spec.code] = labels
        assembly = assemble(index, spec.blueprint, seed, len(labels), sitting_code=spec.code)
        secrets[spec.code] = (new_secret(), new_secret())
        sealed.append(seal_sitting(assembly.papers, *secrets[spec.code]))
        assemblies.append(assembly)
    spares = seat_plan.spares
    parts = CentreParts(
        centre=CentrePart(
            code=centre.code,
            name=centre.name,
            rooms=tuple(
                RoomPart(
                    code=r.code,
                    name=r.name,
                    rows=r.rows,
                    cols=r.cols,
                    spare_seats=tuple(spares.get((centre.code, r.code), ())),
                )
                for r in centre.rooms
            ),
        ),
        plan=plan,
        sittings=tuple(
            SittingPart(
                code=s.code,
                subject=s.blueprint.subject.value,
                level=s.blueprint.level,
                trade=s.blueprint.trade,
                start=s.start,
                end=s.end,
                entry_opens_before_s=s.entry_opens_before_s,
                late_entry_s=s.late_entry_s,
                earliest_submit_s=s.earliest_submit_s,
            )
            for s in sittings
        ),
        roster=tuple(
            CandidatePart(
                ticket=a.ticket,
                id_number=a.id_number,
                name=cand.name,
                gender=GENDER_ZH.get(cand.gender.value, cand.gender.value),
                birth_date=cand.birth_date or birth_date_from_id(a.id_number),
                trade=cand.trade,
                level=cand.level,
                employer=cand.employer,
                photo=f"photo-{a.ticket}.jpg" if cand.photo else None,
                seats=tuple(
                    SeatingPart(
                        sitting=code,
                        room=a.room,
                        seat=a.seat,
                        variant=variant_labels[code].index(label) + 1,
                    )
                    for code, label in sorted(a.variants.items())
                    if code in variant_labels
                ),
            )
            for a in seat_plan.assignments
            if a.centre == centre_code
            for cand in [seat_plan.candidate(a.id_number)]
        ),
    )
    photos = {
        f"photo-{a.ticket}.jpg": seat_plan.candidate(a.id_number).photo or b""
        for a in seat_plan.assignments
        if a.centre == centre_code and seat_plan.candidate(a.id_number).photo
    }
    data = build_package(
        centre_code=centre_code,
        sittings=sealed,
        signing_key=signing_key,
        created=created,
        extra_parts=[
            *centre_parts(parts, photos),
            bindings_part(centre_code, parts, sealed, signing_key),
        ],
    )
    return CentrePackage(data, secrets, tuple(assemblies), tuple(sealed))
