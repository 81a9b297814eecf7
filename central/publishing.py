"""Seat allocation and publication: one signed exam package per centre.

Allocation is stable: a registration that came with a ticket number keeps the seat the
ticket names, and a candidate seated by an earlier publication keeps their seat; the
rest are placed by :func:`seating.allocation.allocate`. A centre's package, once the
centre has downloaded it, is never replaced (its sittings and keys are in use).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, undefer

from central.models import AuditEvent, Package, PublishedSitting, Registration
from central.packaging import build_centre_package
from central.plan import PlanDoc, load_bank, sitting_part, sitting_specs
from exam_common.forms import LEVEL_ZH, FormError, require_lines
from question_bank.package import open_package
from seating.allocation import allocate
from seating.model import Assignment, Candidate, Gender, ProblemKind, SeatPlan

#: problems that stop a publication (the rest are printed as warnings)
BLOCKING = {
    ProblemKind.NO_SEAT,
    ProblemKind.NO_SITTING,
    ProblemKind.UNKNOWN_CENTRE,
    ProblemKind.MOVED,
}


class PublishError(ValueError):
    pass


@dataclass(frozen=True)
class Published:
    centre_code: str
    package_id: str
    candidates: int
    sittings: int
    size: int


@dataclass(frozen=True)
class PublishReport:
    published: tuple[Published, ...]
    kept: tuple[str, ...]  #: centres whose package was already downloaded
    warnings: tuple[str, ...]


def allocate_registrations(session: Session, plan: PlanDoc) -> tuple[SeatPlan, list[str]]:
    """Seat every registration (stable), write ticket/room/seat/variants back."""
    regs = list(
        session.scalars(
            select(Registration).options(undefer(Registration.photo)).order_by(Registration.id)
        )
    )
    if not regs:
        raise PublishError("还没有导入任何报名信息 / no registrations imported yet")
    centres = plan.seating_centres()
    sittings = plan.seating_sittings()
    cands = [
        Candidate(
            id_number=r.id_number,
            name=r.name,
            gender=Gender(r.gender),
            employer=r.employer,
            trade=r.trade,
            level=r.level,
            birth_date=r.birth_date,
            photo=r.photo,
            centre=r.centre_code,
            ticket=r.ticket or "",
        )
        for r in regs
    ]
    check_forms_cover(plan, regs)
    kept = [
        Assignment(
            ticket=r.ticket or "",
            id_number=r.id_number,
            centre=r.centre_code or "",
            room=r.room.zfill(3),
            seat=r.seat,
            variants=dict(r.variants or {}),
        )
        for r in regs
        if r.room is not None and r.seat is not None and r.centre_code
    ]
    previous = SeatPlan(
        year=plan.year,
        seed=0,
        title=plan.name,
        centres=tuple(centres),
        sittings=tuple(sittings),
        candidates=tuple(cands),
        assignments=tuple(kept),
        spares={},
    )
    seed = int(hashlib.sha256(plan.seed.encode()).hexdigest()[:8], 16)
    seat_plan = allocate(
        cands, centres, sittings, year=plan.year, seed=seed, title=plan.name, previous=previous
    )
    blocking = [p for p in seat_plan.problems if p.kind in BLOCKING]
    if blocking:
        raise PublishError(
            "座位安排有问题，未发布 / allocation problems, nothing published:\n  "
            + "\n  ".join(p.zh for p in blocking[:20])
        )
    check_parts_seated(plan, seat_plan, regs)
    by_id = {r.id_number: r for r in regs}
    for a in seat_plan.assignments:
        reg = by_id[a.id_number]
        reg.ticket, reg.centre_code, reg.room, reg.seat = a.ticket, a.centre, a.room, a.seat
        reg.variants = dict(a.variants)
    session.flush()
    return seat_plan, [p.zh for p in seat_plan.problems]


def check_forms_cover(plan: PlanDoc, regs: list[Registration]) -> None:
    """Every registered level (and trade) has an exam form with its pass lines, none left
    unset; else nothing is published, and the refusal names the level (and the part)."""
    missing: dict[str, int] = {}
    for r in regs:
        if plan.form(r.level, r.trade) is None:
            key = f"{LEVEL_ZH[r.level]}（{r.trade}）"
            missing[key] = missing.get(key, 0) + 1
    if missing:
        raise PublishError(
            "考试计划没有这些等级的考核方式和合格线，未发布 / no exam form for these levels, "
            "nothing published:\n  " + "\n  ".join(f"{k}：{n} 名考生" for k, n in missing.items())
        )
    unset: dict[str, tuple[str, int]] = {}
    for r in regs:
        form = plan.form(r.level, r.trade)
        assert form is not None  # checked above
        try:
            require_lines(form, "考试计划")
        except FormError as exc:
            text, n = unset.get(form.label, (str(exc), 0))
            unset[form.label] = (text, n + 1)
    if unset:
        raise PublishError(
            "考试计划有科目没有合格线，未发布 / parts without a pass line, nothing published:\n  "
            + "\n  ".join(f"{text}（{n} 名考生）" for text, n in unset.values())
        )


def check_parts_seated(plan: PlanDoc, seat_plan: SeatPlan, regs: list[Registration]) -> None:
    """Every computer-based part of a candidate's form has a sitting that seats them."""
    by_id = {r.id_number: r for r in regs}
    subject_of = {s.code: sitting_part(plan, s).subject for s in plan.sittings}
    problems = []
    for a in seat_plan.assignments:
        r = by_id[a.id_number]
        form = plan.form(r.level, r.trade)
        assert form is not None  # check_forms_cover ran first
        taken = {subject_of[code] for code in a.variants}
        missing = [p.name for p in form.cbt_parts if p.subject not in taken]
        if missing:
            problems.append(
                f"考生 {r.name}（{form.label}，{r.trade}）的机考科目 {'、'.join(missing)} 没有场次"
            )
    if problems:
        raise PublishError(
            "有考生的机考科目没有场次，未发布 / parts without a sitting, nothing published:\n  "
            + "\n  ".join(problems[:20])
        )


def publish(
    session: Session,
    plan: PlanDoc,
    now: datetime,
    signing_key: Ed25519PrivateKey,
    *,
    only: set[str] | None = None,
    by: str = "central-admin",
) -> PublishReport:
    """Allocate, then build, sign and store a package for each centre (flushes)."""
    seat_plan, warnings = allocate_registrations(session, plan)
    bank = load_bank(plan)
    specs = {s.code: s for s in sitting_specs(plan)}
    published, kept = [], []
    for centre in plan.centres:
        if only is not None and centre.code not in only:
            continue
        mine = [a for a in seat_plan.assignments if a.centre == centre.code]
        if not mine:
            continue
        prior = session.scalars(select(Package).where(Package.centre_code == centre.code)).all()
        if any(p.fetched_at is not None for p in prior):
            kept.append(centre.code)
            continue
        for p in prior:
            session.execute(delete(PublishedSitting).where(PublishedSitting.package_id == p.id))
            session.delete(p)
        session.flush()
        used = sorted({code for a in mine for code in a.variants})
        pkg = build_centre_package(
            centre_code=centre.code,
            seat_plan=seat_plan,
            plan=plan.plan_part(),
            sittings=[specs[c] for c in used],
            bank=bank,
            seed=plan.seed,
            signing_key=signing_key,
            created=now,
        )
        opened = open_package(pkg.data, signing_key.public_key(), centre.code)
        row = Package(
            package_id=opened.manifest.package_id,
            centre_code=centre.code,
            sha256=hashlib.sha256(pkg.data).hexdigest(),
            size=len(pkg.data),
            data=pkg.data,
            created=now,
        )
        session.add(row)
        for code in used:
            release, end = pkg.secrets[code]
            spec = specs[code]
            session.add(
                PublishedSitting(
                    package=row,
                    centre_code=centre.code,
                    code=code,
                    subject=spec.blueprint.subject.value,
                    start=spec.start,
                    end=spec.end,
                    release_secret=release,
                    end_secret=end,
                    answer_key_blob=opened.answer_key_blob(code),
                    multiple_policy=plan.multiple_policy,
                )
            )
        session.add(
            AuditEvent(
                at=now,
                actor=by,
                kind="package.published",
                data={
                    "centre": centre.code,
                    "package_id": row.package_id,
                    "sha256": row.sha256,
                    "candidates": len(mine),
                    "sittings": used,
                },
            )
        )
        published.append(Published(centre.code, row.package_id, len(mine), len(used), row.size))
    session.flush()
    return PublishReport(tuple(published), tuple(kept), tuple(warnings))


def seat_plan_of(session: Session, plan: PlanDoc) -> SeatPlan:
    """The published seat plan as central holds it (registrations with their seats), for
    printing score reports and lists after publication."""
    regs = list(
        session.scalars(
            select(Registration)
            .options(undefer(Registration.photo))
            .where(Registration.ticket.is_not(None), Registration.room.is_not(None))
            .order_by(Registration.id)
        )
    )
    return SeatPlan(
        year=plan.year,
        seed=0,
        title=plan.name,
        centres=tuple(plan.seating_centres()),
        sittings=tuple(plan.seating_sittings()),
        candidates=tuple(
            Candidate(
                id_number=r.id_number,
                name=r.name,
                gender=Gender(r.gender),
                employer=r.employer,
                trade=r.trade,
                level=r.level,
                birth_date=r.birth_date,
                photo=r.photo,
                centre=r.centre_code,
                ticket=r.ticket or "",
            )
            for r in regs
        ),
        assignments=tuple(
            Assignment(
                ticket=r.ticket or "",
                id_number=r.id_number,
                centre=r.centre_code or "",
                room=(r.room or "").zfill(3),
                seat=r.seat or 0,
                variants=dict(r.variants or {}),
            )
            for r in regs
        ),
        spares={},
        texts=plan.printed_texts(),
    )
