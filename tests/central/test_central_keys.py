"""The key request at central, through its web API (Flask test client, central's clock
set by the test), on SQLite and PostgreSQL.

The key request is checked and answered in one transaction (the centre and its sitting
read in one query, the signature, the nonce recorded, the release or its refusal
recorded for audit): these tests hold it to what the request check has always
promised. No key before its time; every ask recorded, a refused one too; a nonce never
accepted twice, not even one first refused as too early; a bad signature leaves
nothing; a centre whose key is changed is checked against the new key at once (central
parses each key once per process); old nonces are pruned now and then, never one still
inside the replay window.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from sqlalchemy import func, select, update

from central.app import create_app
from central.db import CentralDatabase
from central.migrate import upgrade
from central.models import AuditEvent, CentreAccount, PublishedSitting, SeenNonce
from central.plan import parse_plan
from exam_common import offline_code
from exam_common.signed_requests import sign_request
from tests.central.test_central import seed
from tests.central.world import CENTRE, plan_doc
from tests.conftest import T0, drop_pg_database, make_pg_database

SITTING = "T-ZYDD-L4"
START = T0 + timedelta(hours=1)
KEY_PATH = f"/api/v1/keys/{SITTING}/start"
WINDOW = 300  # central's default replay window (s)


@dataclass
class Central:
    db: CentralDatabase
    app: Flask
    key: Ed25519PrivateKey  #: centre 0101's signing key
    now: list[datetime] = field(default_factory=lambda: [T0])  #: central's clock

    def at(self, when: datetime) -> None:
        self.now[0] = when

    def signed(
        self, path: str = KEY_PATH, *, key: Ed25519PrivateKey | None = None, centre: str = CENTRE
    ) -> dict[str, str]:
        """Headers of a request signed now (by central's clock) by ``key``."""
        return sign_request(key or self.key, centre, "GET", path, b"", self.now[0])

    def get(self, path: str = KEY_PATH, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        reply = self.app.test_client().get(path, headers=headers or self.signed(path))
        return reply.status_code, reply.get_json()

    def count(self, model: type, *where: Any) -> int:
        with self.db.read() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def kinds(self) -> list[str]:
        with self.db.read() as s:
            return list(s.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))

    def sitting(self) -> tuple[bytes, datetime | None]:
        """The sitting's release secret and when its key was first fetched."""
        with self.db.read() as s:
            row = s.execute(
                select(
                    PublishedSitting.release_secret, PublishedSitting.start_key_fetched_at
                ).where(PublishedSitting.centre_code == CENTRE)
            ).one()
            return row[0], row[1]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def central(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Central]:
    """Central with centre 0101 registered and its sitting starting at ``START``."""
    url = (
        f"sqlite:///{tmp_path / 'central.db'}" if request.param == "sqlite" else make_pg_database()
    )
    db = CentralDatabase(url)
    try:
        upgrade(db)
        key = seed(db, parse_plan(json.dumps(plan_doc(START))), tmp_path)
        now = [T0]
        app = create_app({"DATABASE_URL": url}, clock=lambda: now[0])
        yield Central(db, app, key, now)
        app.extensions["central"]["db"].dispose()
    finally:
        db.dispose()
        if request.param == "postgres":
            drop_pg_database(url)


def test_no_key_before_its_start_and_every_ask_is_recorded(central: Central) -> None:
    central.at(START - timedelta(seconds=1.25))
    early = central.signed()
    status, body = central.get(headers=early)
    assert status == 403 and body["code"] == "key_too_early" and "secret" not in body
    assert body["seconds_left"] == 1.25 and body["available_at"] == START.isoformat()
    # the refusal and the request's nonce are both recorded (same transaction)
    assert central.kinds()[-1] == "refused.key_too_early"
    assert central.count(SeenNonce) == 1
    assert central.sitting()[1] is None

    # The early request replayed after the start (its timestamp still inside the
    # window) would get the key if its nonce had not been kept: it is refused.
    central.at(START + timedelta(seconds=1))
    status, body = central.get(headers=early)
    assert status == 401 and body["code"] == "replayed_request" and "secret" not in body
    assert central.kinds()[-1] == "refused.replay"
    assert not any(k.startswith("key.released") for k in central.kinds())

    # A fresh request from the start gets the key, and its release is on record by
    # the time the reply is read.
    central.at(START)
    first = central.signed()
    status, body = central.get(headers=first)
    secret, fetched = central.sitting()
    assert status == 200 and bytes.fromhex(body["secret"]) == secret
    assert offline_code.decode(body["offline_code"]) == secret
    assert body == {
        "ok": True,
        "sitting": SITTING,
        "kind": "start",
        "secret": secret.hex(),
        "offline_code": body["offline_code"],
    }
    assert fetched == START
    with central.db.read() as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert last is not None and last.kind == "key.released.start"
        assert last.actor == CENTRE and last.at == START
        assert last.data == {"centre": CENTRE, "sitting": SITTING}

    # Asked again later: given again, recorded again, the first fetch's time kept.
    central.at(START + timedelta(seconds=10))  # the sitting lasts 14 s
    assert central.get()[0] == 200
    assert central.sitting()[1] == START
    assert central.kinds().count("key.released.start") == 2
    # The answer key is not due before the end.
    status, body = central.get(f"/api/v1/keys/{SITTING}/end")
    assert status == 403 and body["code"] == "key_too_early"

    # The successful request replayed: refused, nothing released.
    status, body = central.get(headers=first)
    assert status == 401 and body["code"] == "replayed_request"
    assert central.kinds().count("key.released.start") == 2
    assert central.kinds().count("refused.replay") == 2


def test_a_bad_signature_an_unknown_centre_or_a_stale_request_leaves_nothing(
    central: Central,
) -> None:
    central.at(START)
    nonces, events = central.count(SeenNonce), central.count(AuditEvent)
    forged = central.signed(key=Ed25519PrivateKey.generate())
    status, body = central.get(headers=forged)
    assert status == 401 and body["code"] == "bad_signature" and "secret" not in body
    status, body = central.get(headers=central.signed(centre="9999"))
    assert status == 401 and body["code"] == "unknown_centre"
    stale = central.signed()
    central.at(START + timedelta(seconds=WINDOW + 1))
    status, body = central.get(headers=stale)
    assert status == 401 and body["code"] == "stale_request"
    status, body = central.get(headers={"X-Exam-Centre": CENTRE})
    assert status == 401 and body["code"] == "unsigned_request"
    assert central.count(SeenNonce) == nonces and central.count(AuditEvent) == events
    assert central.sitting()[1] is None


def test_a_changed_centre_key_is_checked_from_the_next_request(central: Central) -> None:
    central.at(START)
    old, new = central.key, Ed25519PrivateKey.generate()
    # both paths: the key request (checked in its view) and any other (before its view)
    for path in (KEY_PATH, "/api/v1/packages"):
        assert central.get(path, central.signed(path, key=old))[0] == 200  # old key parsed
    with central.db.write() as s:
        s.execute(
            update(CentreAccount)
            .where(CentreAccount.code == CENTRE)
            .values(public_key=new.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex())
        )
    for path in (KEY_PATH, "/api/v1/packages"):
        status, body = central.get(path, central.signed(path, key=old))
        assert status == 401 and body["code"] == "bad_signature"
        assert central.get(path, central.signed(path, key=new))[0] == 200


def test_an_unknown_sitting_or_kind_is_refused_and_recorded(central: Central) -> None:
    central.at(START)
    status, body = central.get("/api/v1/keys/NOPE/start")
    assert status == 404 and body["code"] == "unknown_sitting"
    assert central.kinds()[-1] == "refused.unknown_sitting"
    status, body = central.get(f"/api/v1/keys/{SITTING}/middle")
    assert status == 400 and body["code"] == "bad_request"
    assert central.kinds()[-1] == "refused.bad_request"
    assert central.count(SeenNonce) == 2


def test_the_same_request_sent_at_once_many_times_is_answered_once(central: Central) -> None:
    central.at(START)
    headers = central.signed()
    replies: list[int] = []
    lock = threading.Lock()
    go = threading.Barrier(8)

    def send() -> None:
        go.wait()
        status, _ = central.get(headers=headers)
        with lock:
            replies.append(status)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(replies) == [200] + [401] * 7
    assert central.kinds().count("key.released.start") == 1
    assert central.kinds().count("refused.replay") == 7


def test_old_nonces_are_pruned_now_and_then_never_one_inside_the_window(
    central: Central,
) -> None:
    prune = central.app.extensions["central"]["prune"]
    central.at(START)
    old = central.signed()
    assert central.get(headers=old)[0] == 200
    prune["due"] = float("inf")  # not yet due: nothing is pruned, however old
    central.at(START + timedelta(seconds=2 * WINDOW + 5))
    assert central.get()[0] == 200
    assert central.count(SeenNonce) == 2
    prune["due"] = 0.0  # due: the next request prunes what is older than twice the window
    assert central.get()[0] == 200
    assert central.count(SeenNonce) == 2  # the first is gone, the last two are kept
    with central.db.read() as s:
        seen = set(s.scalars(select(SeenNonce.nonce)))
    assert old["X-Exam-Nonce"] not in seen
    assert prune["due"] > 0.0  # and the next pruning is a while away
    # the forgotten request, replayed, is refused by its timestamp
    status, body = central.get(headers=old)
    assert status == 401 and body["code"] == "stale_request"
