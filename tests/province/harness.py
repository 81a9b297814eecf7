"""A province's exam day in one process: central's database and commands' functions, a
centre server (its app on a ManualClock) and terminals on its ``/candidate`` namespace.

Central loads a catalogue and a plan, imports registrations, publishes; the centre
imports the signed package; each candidate logs in at their seat with the ticket the
province issued, answers, submits; keys come from central at start and end; the centre
scores and decides what it may; the result packages go back to central, which re-scores
them, takes the scores of the parts scored elsewhere and decides every candidate.
"""

from __future__ import annotations

import base64
import csv
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import undefer
from stdnum.cn import ric

from central import catalogue as central_catalogue
from central.db import CentralDatabase
from central.migrate import upgrade as central_upgrade
from central.models import CentreAccount, Package, PlanConfig, PublishedSitting
from central.plan import PlanDoc, check_trades, parse_plan, sitting_specs
from central.publishing import publish
from central.registrations import import_registrations
from central.service import release_key, take_results
from exam_common import protocol as p
from exam_server import create_app
from exam_server.clock import ManualClock
from exam_server.db import Database
from exam_server.extensions import socketio
from exam_server.migrate import upgrade
from exam_server.packages.service import enter_end_key, enter_sitting_key, import_package
from exam_server.plans.models import Sitting
from exam_server.results.package import build_results
from exam_server.runtime import runtime
from exam_server.scoring.service import score_sitting
from exam_server.sittings import service
from exam_server.sittings.models import Attempt
from exam_server.system.keys import public_key_hex, signing_key
from question_bank.package import decrypt_answer_key, derive_end_key, open_package
from question_bank.scoring import KeyedItem
from tests.live import enrol

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


def id_number(region: str, birth: str, seq: int) -> str:
    """A valid ID number (GB 11643 check digit); ``seq`` odd for men, even for women."""
    body = f"{region}{birth.replace('-', '')}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


@dataclass
class Person:
    ticket: str
    id_number: str
    name: str
    gender: str
    employer: str
    trade: str
    level: str
    centre: str

    def row(self) -> list[str]:
        birth = str(ric.get_birth_date(self.id_number))
        return [
            self.ticket,
            self.id_number,
            self.name,
            self.gender,
            birth,
            self.employer,
            self.trade,
            self.level,
            self.centre,
        ]


def write_rows(folder: Path, rows: list[list[str]], name: str = "报名信息.csv") -> Path:
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


@dataclass
class Province:
    """Central, and one centre server with its terminals."""

    folder: Path
    doc: dict[str, Any]
    catalogue: str
    clock: ManualClock = field(init=False)
    central: CentralDatabase = field(init=False)
    central_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    plan: PlanDoc = field(init=False)
    app: Flask | None = None
    centre: Database | None = None
    centre_code: str = ""

    def __post_init__(self) -> None:
        self.plan = parse_plan(json.dumps(self.doc, ensure_ascii=False))
        sitting_specs(self.plan)
        self.clock = ManualClock(min(s.start for s in self.plan.sittings) - timedelta(days=3))
        self.central = CentralDatabase(f"sqlite:///{self.folder / 'central.db'}")
        central_upgrade(self.central)
        self.centre_code = self.plan.centres[0].code
        now = self.clock.now()
        with self.central.write() as s:
            cat = central_catalogue.load(s, self.catalogue, now, by="省中心")
            check_trades(self.plan, cat)
            s.add(
                PlanConfig(
                    year=self.plan.year,
                    name=self.plan.name,
                    doc=json.loads(self.plan.model_dump_json()),
                    loaded_at=now,
                )
            )

    # --- central -------------------------------------------------------------------

    def register(self, people: list[Person]) -> None:
        path = write_rows(self.folder, [x.row() for x in people])
        with self.central.write() as s:
            cat = central_catalogue.require(s)
            import_registrations(s, path, self.clock.now(), plan=self.plan, catalogue=cat)

    def publish_and_import(self) -> None:
        """Central publishes; the centre server imports the package it pulled."""
        now = self.clock.now()
        with self.central.write() as s:
            publish(s, self.plan, now, self.central_key)
            data = s.scalar(select(Package.data).where(Package.centre_code == self.centre_code))
        assert data is not None
        url = f"sqlite:///{self.folder / 'centre.db'}"
        self.app = create_app(
            {"DATABASE_URL": url, "DATA_DIR": str(self.folder), "CENTRE_CODE": self.centre_code},
            clock=self.clock,
        )
        self.centre = runtime(self.app).db
        upgrade(self.centre)
        opened = open_package(data, self.central_key.public_key(), self.centre_code)
        with self.centre.write() as session:
            import_package(
                session, now, opened, by="考点管理员", central_key=self.central_key.public_key()
            )
            key = signing_key(session)
        with self.central.write() as s:
            s.add(
                CentreAccount(
                    code=self.centre_code,
                    name="",
                    public_key=public_key_hex(key),
                    registered_at=now,
                )
            )

    def answer_key(self, code: str) -> dict[str, list[KeyedItem]]:
        """The test looks at the key to answer as it means to (never a terminal's view)."""
        with self.central.read() as s:
            ps = s.scalar(
                select(PublishedSitting)
                .options(undefer(PublishedSitting.answer_key_blob))
                .where(PublishedSitting.code == code)
            )
            assert ps is not None
            return decrypt_answer_key(ps.answer_key_blob, derive_end_key(ps.end_secret, code))

    # --- the centre ----------------------------------------------------------------

    def sittings(self) -> list[tuple[int, str, datetime, datetime]]:
        assert self.centre is not None
        with self.centre.read() as session:
            return [
                (x.id, x.code, x.start, x.end)
                for x in session.scalars(select(Sitting).order_by(Sitting.start))
            ]

    def seat_of(self, ticket: str) -> str:
        assert self.centre is not None
        with self.centre.read() as session:
            a = session.scalars(
                select(Attempt).join(Attempt.candidate).where(Attempt.candidate.has(ticket=ticket))
            ).first()
            assert a is not None, ticket
            return a.seat.label

    def terminal(self, seat: str) -> Terminal:
        """An exam PC enrolled at ``seat`` (a one-time code and its proof, as ``exam-client
        enrol`` does), connected and past its challenge and hello."""
        assert self.app is not None and self.centre is not None
        identity = enrol(self.centre.url, seat, terminal_id=f"T-{seat}")
        t = Terminal(socketio.test_client(self.app, namespace=p.NAMESPACE), seat)
        challenge = t.call("challenge", {})
        proof = identity.prove(base64.b64decode(challenge["challenge"]))
        assert t.call("hello", {**t.hello_doc(), "proof": proof})["ok"]
        return t

    def start(self, sitting_id: int, code: str, start: datetime) -> None:
        """The start: central releases the key at its time; the centre enters it."""
        self.clock.set(start)
        with self.central.write() as s:
            secret = release_key(s, self.centre_code, code, "start", start, actor=self.centre_code)
        assert self.centre is not None
        with self.centre.write() as session:
            sitting = session.get(Sitting, sitting_id)
            assert sitting is not None
            enter_sitting_key(
                session,
                start,
                sitting,
                bytes.fromhex(secret["secret"]),
                by="sync",
                vault=runtime(self.app).vault,
            )
            service.sweep(session, sitting_id, start)

    def end(self, sitting_id: int, code: str, end: datetime) -> None:
        """The end: everyone still open is submitted; the answer key comes; scores."""
        self.clock.set(end)
        with self.central.write() as s:
            secret = release_key(s, self.centre_code, code, "end", end, actor=self.centre_code)
        assert self.centre is not None
        with self.centre.write() as session:
            sitting = session.get(Sitting, sitting_id)
            assert sitting is not None
            service.sweep(session, sitting_id, end)
            enter_end_key(
                session,
                end,
                sitting,
                bytes.fromhex(secret["secret"]),
                by="sync",
                vault=runtime(self.app).vault,
            )
            score_sitting(session, end, sitting, runtime(self.app).vault)

    def push_results(self) -> list[dict[str, Any]]:
        """Every sitting's signed result package, taken in and re-scored by central."""
        assert self.centre is not None
        reports = []
        now = self.clock.now()
        for sitting_id, _, _, _ in self.sittings():
            with self.centre.write() as session:
                sitting = session.get(Sitting, sitting_id)
                assert sitting is not None
                data = build_results(session, sitting, now, self.centre_code)
            with self.central.write() as s:
                account = s.scalar(select(CentreAccount))
                assert account is not None
                reports.append(take_results(s, account, data, f"up-{sitting_id}", now))
        return reports

    def close(self) -> None:
        if self.centre is not None:
            self.centre.dispose()
        self.central.dispose()


@dataclass
class Terminal:
    """One exam PC on the ``/candidate`` namespace (Flask-SocketIO's test client)."""

    client: Any
    seat: str
    seq: int = 0

    def hello_doc(self) -> dict[str, Any]:
        return {"protocol": p.PROTOCOL_VERSION, "client": "test", "terminal_id": f"T-{self.seat}"}

    def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        reply = self.client.emit(event, data, namespace=p.NAMESPACE, callback=True)
        assert isinstance(reply, dict), reply
        return reply

    def login(self, ticket: str, id_number: str) -> dict[str, Any]:
        self.seq = 0
        return self.call("login", {"ticket": ticket, "id_number": id_number})

    def answer(self, attempt_id: int, items: list[tuple[str, list[str]]]) -> None:
        for item_id, labels in items:
            self.seq += 1
            reply = self.call(
                "save",
                {"attempt_id": attempt_id, "seq": self.seq, "item_id": item_id, "response": labels},
            )
            assert reply["ok"], reply

    def submit(self, attempt_id: int) -> dict[str, Any]:
        return self.call("submit", {"attempt_id": attempt_id, "last_seq": self.seq})

    def close(self) -> None:
        self.client.disconnect(namespace=p.NAMESPACE)


def answers_for(
    items: list[dict[str, Any]], key: list[KeyedItem], target: Decimal
) -> list[tuple[str, list[str]]]:
    """Right answers to items worth exactly ``target`` points, wrong ones to the rest: the
    score the test wants, from the paper's own points (a small subset sum)."""
    by_id = {k.item_id: k for k in key}
    refs = [by_id[ref["item_id"]] for ref in items]
    reach: dict[Decimal, list[int]] = {Decimal(0): []}
    for i, k in enumerate(refs):
        for total, chosen in list(reach.items()):
            new = total + k.points
            if new <= target and new not in reach:
                reach[new] = [*chosen, i]
    if target not in reach:
        raise AssertionError(f"no items add up to {target}")
    right = set(reach[target])
    out = []
    for i, k in enumerate(refs):
        if i in right:
            out.append((k.item_id, sorted(k.key)))
        elif k.type.value == "true_false":
            out.append((k.item_id, ["F"] if k.key == frozenset("T") else ["T"]))
        else:
            out.append((k.item_id, sorted({"A", "B", "C", "D"} - k.key)[:1]))
    return out
