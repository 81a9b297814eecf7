"""Importing a verified exam package at the centre, and entering the keys it needs.

``import_package`` writes everything in the caller's one transaction: the centre and its
rooms, the plan, the sittings, the still-encrypted papers and the roster with seats. The
package was verified completely (``question_bank.package.open_package``) before this
runs, and the data parts are validated before the first row is added, so an import is
all or nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam_server.candidates.models import Candidate
from exam_server.centres.models import Centre, Room, Seat
from exam_server.eventlog import service as eventlog
from exam_server.packages.models import ImportedPackage
from exam_server.plans.keys import end_key, sitting_key
from exam_server.plans.models import ExamPlan, Paper, Sitting
from exam_server.sittings.models import Attempt
from exam_server.sittings.service import ServiceError, end_key_wait
from exam_server.system.vault import KeyVault
from question_bank.bindings import BindingError, PaperBinding, read_binding
from question_bank.package import (
    OpenedPackage,
    decrypt_answer_key,
    derive_end_key,
    derive_sitting_key,
    unwrap_data_key,
)
from question_bank.package_parts import read_centre_parts

BINDINGS_PART = "bindings.json"
PHOTO_TYPES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}


@dataclass(frozen=True)
class ImportReport:
    package_id: str
    already_imported: bool
    sittings: int
    papers: int
    candidates: int
    rooms: int


def _bindings(
    package: OpenedPackage, central_key: Ed25519PublicKey
) -> dict[tuple[str, str], tuple[str, PaperBinding]]:
    """(sitting code, ticket) -> central's signed binding, each verified with central's
    key and checked against the package's own paper (hash, variant) before anything is
    written: what the terminal will check, the centre checks first."""
    if BINDINGS_PART not in package.data_part_names():
        raise ServiceError(
            "package_invalid",
            "考试包没有试卷签名（parts/bindings.json），终端无法验证试卷：请向省中心获取新版考试包",
        )
    try:
        doc = json.loads(package.data_part(BINDINGS_PART))
        signed = [str(x) for x in doc["bindings"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ServiceError("package_invalid", f"试卷签名部件格式错误：{exc!r}") from None
    out: dict[tuple[str, str], tuple[str, PaperBinding]] = {}
    centre = package.manifest.centre_code
    for text in signed:
        try:
            b = read_binding(text, central_key)
            ciphertext = package.paper_ciphertext(b.paper_id)
            entry = package.paper_entry(b.paper_id)
        except (BindingError, KeyError) as exc:
            raise ServiceError("package_invalid", f"试卷签名无效：{exc}") from None
        if (
            b.centre != centre
            or package.sitting_of(b.paper_id).sitting_code != b.sitting
            or entry.variant != b.variant
            or hashlib.sha256(ciphertext).hexdigest() != b.sha256
        ):
            raise ServiceError(
                "package_invalid", f"试卷签名与考试包中的试卷不符：{b.sitting} {b.ticket}"
            )
        out[(b.sitting, b.ticket)] = (text, b)
    return out


def _photo(package: OpenedPackage, name: str, ticket: str) -> bytes:
    """A candidate's photo: a part of this package, and a JPEG or PNG image."""
    if name not in package.data_part_names():
        raise ServiceError(
            "package_invalid", f"考生 {ticket} 的照片 {name} 不在考试包中 (photo part missing)"
        )
    data = package.data_part(name)
    kind = next((k for magic, k in PHOTO_TYPES.items() if data.startswith(magic)), None)
    try:
        from PIL import Image

        if kind is None:
            raise ValueError("not JPEG or PNG")
        Image.open(io.BytesIO(data)).verify()
    except Exception as exc:  # Pillow raises many kinds for a file that is not an image
        raise ServiceError(
            "package_invalid", f"考生 {ticket} 的照片 {name} 不是 JPEG/PNG 图片 ({exc})"
        ) from None
    return data


def import_package(
    session: Session,
    now: datetime,
    package: OpenedPackage,
    *,
    by: str,
    central_key: Ed25519PublicKey,
) -> ImportReport:
    """Import a verified package (flushes; the caller commits or rolls back)."""
    manifest = package.manifest
    digest = hashlib.sha256(package.manifest_bytes).hexdigest()
    prior = session.scalar(
        select(ImportedPackage).where(ImportedPackage.package_id == manifest.package_id)
    )
    if prior is not None:
        if prior.manifest_sha256 != digest:
            raise ServiceError(
                "package_conflict",
                f"考试包 {manifest.package_id} 已导入，但内容不同；请联系省中心 (same id, other content)",
            )
        return ImportReport(manifest.package_id, True, 0, 0, 0, 0)
    parts = read_centre_parts({n: package.data_part(n) for n in package.data_part_names()})
    bindings = _bindings(package, central_key)
    codes = [s.code for s in parts.sittings]
    in_manifest = {s.sitting_code for s in manifest.sittings}
    if set(codes) != in_manifest:
        raise ServiceError(
            "package_invalid", f"场次清单与试卷不一致：{sorted(set(codes) ^ in_manifest)}"
        )
    existing = session.scalars(select(Sitting.code).where(Sitting.code.in_(codes))).all()
    if existing:
        raise ServiceError(
            "package_conflict",
            f"场次 {', '.join(existing)} 已由另一个考试包导入 (sittings already imported)",
        )

    centre = session.scalar(select(Centre).where(Centre.code == parts.centre.code))
    if centre is None:
        centre = Centre(code=parts.centre.code, name=parts.centre.name)
        session.add(centre)
    rooms: dict[str, Room] = {r.code: r for r in centre.rooms}
    for rp in parts.centre.rooms:
        if rp.code in rooms:
            continue
        room = Room(centre=centre, code=rp.code, name=rp.name, rows=rp.rows, cols=rp.cols)
        session.add(room)
        for n in range(1, rp.rows * rp.cols + 1):
            session.add(
                Seat(
                    room=room,
                    number=n,
                    row=(n - 1) // rp.cols + 1,
                    col=(n - 1) % rp.cols + 1,
                    is_spare=n in rp.spare_seats,
                )
            )
        rooms[rp.code] = room
    plan = session.scalar(
        select(ExamPlan).where(ExamPlan.year == parts.plan.year, ExamPlan.name == parts.plan.name)
    )
    if plan is None:
        plan = ExamPlan(
            year=parts.plan.year,
            name=parts.plan.name,
            forms=[f.model_dump(mode="json") for f in parts.plan.forms],
            ticket_rule=parts.plan.ticket_rule.model_dump(mode="json"),
            documents=parts.plan.documents.model_dump(mode="json"),
            multiple_policy=parts.plan.multiple_policy,
        )
        session.add(plan)
    sittings: dict[str, Sitting] = {}
    papers: dict[tuple[str, int], Paper] = {}
    for sp in parts.sittings:
        sitting = Sitting(
            plan=plan,
            code=sp.code,
            subject=sp.subject,
            level=sp.level,
            trade=sp.trade,
            start=sp.start,
            end=sp.end,
            entry_opens_before_s=sp.entry_opens_before_s,
            late_entry_s=sp.late_entry_s,
            earliest_submit_s=sp.earliest_submit_s,
            answer_key_blob=package.answer_key_blob(sp.code),
        )
        session.add(sitting)
        sittings[sp.code] = sitting
        entry = package.sitting(sp.code)
        wrapped = package.wrapped_keys(sp.code)
        for pe in entry.papers:
            paper = Paper(
                sitting=sitting,
                variant=pe.variant,
                paper_ref=pe.paper_id,
                items=[i.to_json() for i in pe.items],
                ciphertext=package.paper_ciphertext(pe.paper_id),
                wrapped_key=wrapped[pe.paper_id],
            )
            session.add(paper)
            papers[(sp.code, pe.variant)] = paper
    session.flush()
    seats = {
        (room_code, seat.number): seat for room_code, room in rooms.items() for seat in room.seats
    }
    count = 0
    for cp in parts.roster:
        cand = session.scalar(select(Candidate).where(Candidate.ticket == cp.ticket))
        if cand is None:
            cand = Candidate(
                ticket=cp.ticket,
                id_number=cp.id_number,
                name=cp.name,
                gender=cp.gender,
                birth_date=cp.birth_date,
                trade=cp.trade,
                level=cp.level,
                employer=cp.employer,
                photo=_photo(package, cp.photo, cp.ticket) if cp.photo else None,
            )
            session.add(cand)
            count += 1
        for s in cp.seats:
            seat_paper = papers.get((s.sitting, s.variant))
            if seat_paper is None:
                raise ServiceError(
                    "package_invalid",
                    f"考生 {cp.ticket}: 场次 {s.sitting} 没有第 {s.variant} 套试卷",
                )
            found = bindings.get((s.sitting, cp.ticket))
            if found is None:
                raise ServiceError(
                    "package_invalid", f"考生 {cp.ticket} 在场次 {s.sitting} 的试卷没有省中心签名"
                )
            binding, bound = found
            if (bound.room, bound.seat, bound.variant) != (s.room, s.seat, s.variant):
                raise ServiceError(
                    "package_invalid",
                    f"考生 {cp.ticket} 在场次 {s.sitting} 的试卷签名与座位表不符",
                )
            session.add(
                Attempt(
                    candidate=cand,
                    sitting=sittings[s.sitting],
                    paper=seat_paper,
                    seat=seats[(s.room, s.seat)],
                    binding=binding,
                )
            )
    session.add(
        ImportedPackage(
            package_id=manifest.package_id,
            manifest_sha256=digest,
            created=manifest.created,
            imported_at=now,
            sittings=",".join(codes),
        )
    )
    session.flush()
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="package.imported",
        data={
            "package_id": manifest.package_id,
            "manifest_sha256": digest,
            "sittings": codes,
            "candidates": count,
        },
    )
    return ImportReport(
        manifest.package_id, False, len(sittings), len(papers), count, len(parts.centre.rooms)
    )


def enter_sitting_key(
    session: Session,
    now: datetime,
    sitting: Sitting,
    release_secret: bytes,
    *,
    by: str,
    vault: KeyVault,
) -> None:
    """Store a sitting's key (fetched from central, or typed as an offline code), sealed
    under the centre secret, after checking it opens every paper of the sitting. Refused
    before the start."""
    if now < sitting.start:
        raise ServiceError("key_too_early", f"场次 {sitting.code} 尚未开考，不能录入试卷密钥")
    key = derive_sitting_key(release_secret, sitting.code)
    for paper in sitting.papers:
        unwrap_data_key(paper.wrapped_key, key)  # raises WrongKeyError
    if sitting.sitting_key is not None and sitting_key(sitting, now, vault) == key:
        return
    sitting.sitting_key = vault.seal(key, sitting_code=sitting.code, kind="sitting")
    sitting.sitting_key_at = now
    session.flush()
    eventlog.append(session, at=now, actor=by, kind="sitting.key_entered", sitting_id=sitting.id)
    end_key_wait(session, now, sitting)


def enter_end_key(
    session: Session,
    now: datetime,
    sitting: Sitting,
    end_secret: bytes,
    *,
    by: str,
    vault: KeyVault,
) -> None:
    """Store the end key, sealed under the centre secret, after checking it opens the
    answer key. Refused before the end."""
    if now < sitting.end:
        raise ServiceError("key_too_early", f"场次 {sitting.code} 尚未结束，不能录入答案密钥")
    if sitting.answer_key_blob is None:
        raise ServiceError("package_invalid", f"场次 {sitting.code} 没有答案数据")
    key = derive_end_key(end_secret, sitting.code)
    decrypt_answer_key(sitting.answer_key_blob, key)  # raises WrongKeyError
    if sitting.end_key is not None and end_key(sitting, vault) == key:
        return
    sitting.end_key = vault.seal(key, sitting_code=sitting.code, kind="end")
    session.flush()
    eventlog.append(
        session, at=now, actor=by, kind="sitting.end_key_entered", sitting_id=sitting.id
    )
