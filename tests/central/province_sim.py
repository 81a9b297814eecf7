"""A province of simulated centres that speak the real sync protocol to a real central.

Used by the production-server test (``tests/central/test_central_production.py``, a few
centres) and by the province's day bench (``bench/bench_central_day.py``, hundreds).
Each simulated centre has its own Ed25519 key registered at central and talks through
:class:`exam_server.sync.client.CentralClient`, the centre server's own client: signed
requests, package download, keys, chunked resumable uploads with retries.

What a simulated centre does not do is run sittings: its result package is built here,
honestly scored with the sitting's answer key (read from central's database, the same
key the centre would open with the end secret it fetches), with deliberate differences
where asked; its backup is a real backup file (``exam_server.backups.service``) of a
snapshot of a stated size.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import random
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from central.db import CentralDatabase
from central.models import CentreAccount, PlanConfig, PublishedSitting, Registration
from central.plan import PlanDoc, parse_plan
from central.publishing import publish
from central.registrations import import_registrations
from exam_common.receipts import answers_digest, receipt_code
from exam_common.result_package import RESULTS_FORMAT, build_result_package
from exam_server.backups.service import BackupHeader, encode_backup
from exam_server.sync.client import CentralClient, UploadResult
from question_bank.catalogue import shipped
from question_bank.package import decrypt_answer_key, derive_end_key
from question_bank.scoring import score_paper
from seating import sample

SITTING = "P-ZYDD-L4"
YEAR = 2026
LINE = 35
HEADER = [
    "准考证号",
    "身份证号",
    "姓名",
    "性别",
    "出生日期",
    "工作单位",
    "工种",
    "等级",
    "考点代码",
]


def centre_code(i: int) -> str:
    return f"{i + 1:04d}"


def plan_doc(centres: int, candidates: int, start: datetime, end: datetime) -> dict[str, Any]:
    """One level-4 职业道德 sitting (sample blueprint, three variants) at ``centres``
    centres, each with enough rooms of 30 seats (and 2 spare) for its share."""
    per_centre = -(-candidates // centres)
    rooms = max(1, -(-per_centre // 30))
    return {
        "year": YEAR,
        "name": f"{YEAR}年工勤技能岗位等级考核（省级压力测试）",
        "seed": "province-bench",
        "bank": "sample",
        "multiple_policy": "all_or_nothing",
        "forms": [
            {
                "level": 4,
                "parts": [
                    {
                        "subject": "ZYDD",
                        "name": "职业道德",
                        "delivery": "cbt",
                        "full_marks": 100,
                        "line": LINE,
                    }
                ],
            }
        ],
        "centres": [
            {
                "code": centre_code(i),
                "name": f"模拟考点{i + 1}",
                "rooms": [
                    {
                        "code": f"{r + 1:03d}",
                        "name": f"第{r + 1:02d}考场",
                        "rows": 5,
                        "cols": 6,
                        "spare_seats": 2,
                    }
                    for r in range(rooms)
                ],
            }
            for i in range(centres)
        ],
        "sittings": [
            {
                "code": SITTING,
                "subject_code": "ZYDD",
                "level": 4,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "variants": ["A", "B", "C"],
                "windows_s": [1800, 1800, 1800],
                "blueprint": "sample",
            }
        ],
    }


def write_registrations(folder: Path, centres: int, candidates: int) -> Path:
    """``candidates`` level-4 registrations spread evenly over the centres (csv)."""
    path = folder / "registrations.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i, c in enumerate(sample.candidates(candidates, seed=2026)):
            c = dataclasses.replace(c, level=4)
            w.writerow(
                [
                    "",
                    c.id_number,
                    c.name,
                    "男" if c.gender.value == "male" else "女",
                    str(c.birth_date),
                    c.employer,
                    c.trade,
                    "四级",
                    centre_code(i % centres),
                ]
            )
    return path


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


@dataclass
class Seeded:
    plan: PlanDoc
    keys: dict[str, Ed25519PrivateKey]  #: centre code -> its signing key
    packages: dict[str, str]  #: centre code -> package id
    import_s: float
    publish_s: float


def seed_province(
    db: CentralDatabase,
    folder: Path,
    centres: int,
    candidates: int,
    start: datetime,
    end: datetime,
    central_key: Ed25519PrivateKey,
) -> Seeded:
    """Plan, centres, registrations and one published package per centre, through
    central's own functions (what ``exam-central plan load / centre add / registrations
    import / publish`` call), timing the import and the publication."""
    import time

    plan = parse_plan(json.dumps(plan_doc(centres, candidates, start, end)))
    reg = write_registrations(folder, centres, candidates)
    keys = {centre_code(i): Ed25519PrivateKey.generate() for i in range(centres)}
    now = datetime.now(UTC)
    with db.write() as s:
        s.add(
            PlanConfig(
                year=plan.year,
                name=plan.name,
                doc=json.loads(plan.model_dump_json()),
                loaded_at=now,
            )
        )
        for code, key in keys.items():
            s.add(
                CentreAccount(code=code, name=code, public_key=public_hex(key), registered_at=now)
            )
    t = time.perf_counter()
    with db.write() as s:
        import_registrations(s, reg, now, plan=plan, catalogue=shipped("henan"))
    import_s = time.perf_counter() - t
    t = time.perf_counter()
    with db.write() as s:
        report = publish(s, plan, now, central_key)
        packages = {p.centre_code: p.package_id for p in report.published}
    publish_s = time.perf_counter() - t
    return Seeded(plan, keys, packages, import_s, publish_s)


def move_sitting(db: CentralDatabase, *, start: datetime, end: datetime) -> None:
    """Set the sitting's start and end at central (the bench's fast-forward of the day:
    the plan was published hours ahead; now its moments come)."""
    with db.write() as s:
        for ps in s.scalars(select(PublishedSitting).where(PublishedSitting.code == SITTING)):
            ps.start, ps.end = start, end


def answer_keys(db: CentralDatabase) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """Centre code -> (its papers' answer keys, its candidates' tickets)."""
    out: dict[str, tuple[dict[str, Any], list[str]]] = {}
    with db.read() as s:
        tickets: dict[str, list[str]] = {}
        for centre, ticket in s.execute(
            select(Registration.centre_code, Registration.ticket).order_by(Registration.id)
        ):
            if centre is not None and ticket is not None:  # every one is seated by now
                tickets.setdefault(centre, []).append(ticket)
        for ps in s.scalars(select(PublishedSitting).where(PublishedSitting.code == SITTING)):
            keys = decrypt_answer_key(ps.answer_key_blob, derive_end_key(ps.end_secret, SITTING))
            out[ps.centre_code] = (keys, tickets.get(ps.centre_code, []))
    return out


def results_package(
    centre: str,
    key: Ed25519PrivateKey,
    keys: dict[str, Any],
    tickets: list[str],
    *,
    lie_about: int | None = None,
    seed: int = 0,
) -> bytes:
    """The centre's signed result package: every candidate submitted, answers chosen at
    random, scored with the same pure scoring central uses; ``lie_about`` (an index)
    adds four points to that candidate's score, a difference central must find."""
    rng = random.Random(f"{centre}-{seed}")
    papers = sorted(keys)
    attempts: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    for n, ticket in enumerate(tickets):
        paper = papers[n % len(papers)]
        items = keys[paper]
        answers = [
            {
                "seq": i + 1,
                "item_id": k.item_id,
                "response": rng.choice("ABCD"),
                "server_time": "",
            }
            for i, k in enumerate(items)
        ]
        current = {a["item_id"]: a["response"] for a in answers}
        digest = answers_digest(ticket, SITTING, current)
        signature = key.sign(bytes.fromhex(digest)).hex()
        result = score_paper(items, {k: tuple(v) for k, v in current.items()})
        score = result.total + (Decimal(4) if n == lie_about else 0)
        attempts.append(
            {
                "ticket": ticket,
                "paper_ref": paper,
                "state": "submitted",
                "digest": digest,
                "signature": signature,
                "receipt": receipt_code(signature),
                "score": str(score),
                "item_scores": {i.item_id: str(i.awarded) for i in result.items},
                "answers": answers,
            }
        )
        outcomes.append({"ticket": ticket, "total": str(score), "passed": score >= LINE})
    doc = {
        "format": RESULTS_FORMAT,
        "candidate_results": outcomes,
        "centre_code": centre,
        "generated_at": datetime.now(UTC).isoformat(),
        "sitting": {"code": SITTING},
        "attempts": attempts,
        "event_log": {
            "head": {"seq": 1, "hash": hashlib.sha256(centre.encode()).hexdigest()},
            "entries": [],
        },
    }
    return build_result_package(doc, key)


def backup_file(centre: str, key: Ed25519PrivateKey, size: int, taken_at: datetime) -> bytes:
    """A real backup file (encrypted, signed) of a ``size``-byte snapshot that does not
    compress (random bytes), so the file is the size stated."""
    plain = os.urandom(size)
    header = BackupHeader(
        dialect="sqlite",
        taken_at=taken_at,
        centre=centre,
        sitting=SITTING,
        sha256=hashlib.sha256(plain).hexdigest(),
        size=len(plain),
    )
    return encode_backup(header, plain, b"bench-secret-" + centre.encode(), key)


class SimCentre:
    """One centre's side of the link, as its sync tool speaks it."""

    def __init__(self, url: str, code: str, key: Ed25519PrivateKey, *, timeout: float = 60):
        self.code, self.key = code, key
        self.client = CentralClient(url, code, key, timeout=timeout)
        # A real centre is a machine of its own; here hundreds share the bench's cores
        # with central. Central is on loopback, so no proxy: requests need not scan the
        # environment for proxy settings and ~/.netrc on every request (about 0.5 ms of
        # the bench's CPU per request, measured; the protocol is unchanged).
        self.client.http.trust_env = False
        self.folder = Path(tempfile.mkdtemp(prefix=f"simcentre-{code}-"))

    def pull(self) -> int:
        """List and download this centre's packages, checking each SHA-256; bytes."""
        got = 0
        for p in self.client.packages():
            data = self.client.package(p["package_id"])
            if hashlib.sha256(data).hexdigest() != p["sha256"]:
                raise AssertionError(f"{self.code}: package {p['package_id']} damaged")
            got += len(data)
        return got

    def upload(
        self,
        data: bytes,
        *,
        kind: str,
        upload_id: str,
        chunk: int = 1 << 20,
        retries: int = 8,
        backoff: float = 0.2,
    ) -> UploadResult:
        path = self.folder / upload_id
        path.write_bytes(data)
        try:
            return self.client.upload(
                path,
                kind=kind,
                upload_id=upload_id,
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                chunk=chunk,
                retries=retries,
                backoff=backoff,
            )
        finally:
            path.unlink(missing_ok=True)


def upload_id(kind: str, centre: str, n: int = 0) -> str:
    return f"{kind}-{centre}-{n}-{os.urandom(4).hex()}"
