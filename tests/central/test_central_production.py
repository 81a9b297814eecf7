"""Central as it runs in production: ``exam-central run`` on gunicorn with several worker
processes over PostgreSQL, spoken to by centres through the real sync protocol.

A worker killed with SIGKILL, and central's database connection cut, each in the middle
of an upload (the chunk's request is inside central, waiting on the upload's row): the
upload resumes and completes, and the result package and backup are stored and counted
exactly once. How the moment is pinned: the test holds the upload's row lock from its
own connection, so the chunk's request is provably inside a worker's transaction when
the worker or its connection is killed; no sleeping for a race.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, func, select, text

from central.db import CentralDatabase
from central.migrate import upgrade
from central.models import (
    AuditEvent,
    Backup,
    PublishedSitting,
    RescoredAttempt,
    ResultPackage,
    Upload,
    UploadChunk,
)
from exam_common.signed_requests import sign_request
from exam_server.sync.client import SyncError
from tests.central.province_sim import (
    SITTING,
    SimCentre,
    answer_keys,
    backup_file,
    move_sitting,
    results_package,
    seed_province,
    upload_id,
)
from tests.conftest import drop_pg_database, make_pg_database
from tests.sync.harness import Central

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKERS = 3
CENTRES = 3


@dataclass
class Province:
    central: Central
    db: CentralDatabase
    keys: dict[str, Ed25519PrivateKey]
    packages: dict[str, str]

    def centre(self, code: str) -> SimCentre:
        return SimCentre(self.central.url, code, self.keys[code], timeout=20)

    def workers(self) -> list[psutil.Process]:
        assert self.central.proc is not None
        return psutil.Process(self.central.proc.pid).children()

    def count(self, model: type, *where: Any) -> int:
        with self.db.read() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Province]:
    url = make_pg_database()
    folder = tmp_path_factory.mktemp("province")
    db = CentralDatabase(url)
    upgrade(db)
    now = datetime.now(UTC)
    seeded = seed_province(
        db,
        folder,
        CENTRES,
        12,
        now + timedelta(hours=1),
        now + timedelta(hours=2),
        Ed25519PrivateKey.generate(),
    )
    central = Central(url, folder / "central")
    central.start(serving=("--workers", str(WORKERS), "--threads", "2"))
    try:
        yield Province(central, db, seeded.keys, seeded.packages)
    finally:
        central.stop()
        db.dispose()
        drop_pg_database(url)


def wait_until(predicate: Any, what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_several_workers_serve_the_protocol(province: Province) -> None:
    workers = province.workers()
    assert len(workers) == WORKERS, [p.cmdline() for p in workers]
    log = province.central.log_path.read_text()
    assert "gunicorn" in log.lower() and f"{WORKERS} workers" in log
    # no per-user control socket another central on the machine would fight over
    assert "Control socket" not in log

    # every centre pulls its own package (sha256 checked by the simulated centre)
    for code in province.keys:
        assert province.centre(code).pull() > 1000
    # the key: refused before its time, released from it, by central's clock
    a = province.centre("0001")
    with pytest.raises(SyncError) as early:
        a.client.key(SITTING, "start")
    assert early.value.code == "key_too_early"
    now = datetime.now(UTC)
    move_sitting(province.db, start=now - timedelta(seconds=1), end=now)
    secret = a.client.key(SITTING, "start")
    with province.db.read() as s:
        ps = s.scalar(
            select(PublishedSitting).where(
                PublishedSitting.centre_code == "0001", PublishedSitting.code == SITTING
            )
        )
        assert ps is not None and ps.release_secret == secret

    # a request replayed, over new connections that land on any worker, is refused by all
    path = "/api/v1/packages"
    headers = sign_request(province.keys["0002"], "0002", "GET", path, b"", datetime.now(UTC))
    first = requests.get(province.central.url + path, headers=headers, timeout=10)
    assert first.status_code == 200
    for _ in range(2 * WORKERS):
        again = requests.get(province.central.url + path, headers=headers, timeout=10)
        assert again.status_code == 401 and again.json()["code"] == "replayed_request"


def _lock_upload_and_send(
    province: Province, centre: SimCentre, data: bytes, kind: str, uid: str, chunk: int
) -> tuple[Any, threading.Thread, dict[str, Any]]:
    """Send the first two chunks, then lock the upload's row from the test's own
    connection and send the rest in a thread: the next chunk's request waits inside a
    worker's transaction. Returns the locking connection, the thread and its outcome."""
    sha = hashlib.sha256(data).hexdigest()
    c = centre.client
    c.post_json(
        "/api/v1/uploads",
        {"upload_id": uid, "kind": kind, "sha256": sha, "size": len(data), "name": uid},
    )
    for offset in (0, chunk):
        c.request(
            "PUT",
            f"/api/v1/uploads/{uid}?offset={offset}",
            body=data[offset : offset + chunk],
            content_type="application/octet-stream",
        )
    locker = create_engine(province.db.url).connect()
    locker.execute(text("SELECT id FROM upload WHERE upload_id = :u FOR UPDATE"), {"u": uid})
    outcome: dict[str, Any] = {}

    def send() -> None:
        try:
            outcome["result"] = centre.upload(
                data, kind=kind, upload_id=uid, chunk=chunk, retries=8, backoff=0.2
            )
        except Exception as exc:  # reported by the test's assertion
            outcome["error"] = exc

    thread = threading.Thread(target=send)
    thread.start()
    return locker, thread, outcome


def _waiting_backend(province: Province) -> tuple[int, int] | None:
    """(pid, client port) of the central connection waiting on the test's row lock."""
    with province.db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT pid, client_port FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).first()
    return (int(row[0]), int(row[1])) if row else None


def test_a_worker_killed_mid_upload_loses_nothing_and_counts_nothing_twice(
    province: Province,
) -> None:
    now = datetime.now(UTC)
    move_sitting(province.db, start=now - timedelta(minutes=2), end=now - timedelta(seconds=1))
    keys, tickets = answer_keys(province.db)["0002"]
    centre = province.centre("0002")
    data = results_package("0002", province.keys["0002"], keys, tickets, lie_about=1)
    chunk = max(1024, len(data) // 6)
    uid = upload_id("results", "0002")
    locker, thread, outcome = _lock_upload_and_send(province, centre, data, "results", uid, chunk)
    try:
        _pid, port = wait_until(
            lambda: _waiting_backend(province),
            "the chunk's request to wait on the upload's row",
        )
        serving = [
            w
            for w in province.workers()
            if any(c.laddr and c.laddr.port == port for c in w.net_connections("tcp"))
        ]
        assert len(serving) == 1, "exactly one worker holds the waiting connection"
        victim = serving[0].pid
        serving[0].kill()  # SIGKILL, in the middle of the chunk's transaction
    finally:
        locker.rollback()
        locker.close()
    thread.join(60)
    assert "error" not in outcome, outcome
    reply = outcome["result"].reply
    assert reply["complete"] and reply["attempts"] == len(tickets) and reply["differences"] == 1
    assert outcome["result"].resumed_from >= 2 * chunk  # went on from central's count
    # nothing lost, nothing twice; the master replaced the killed worker
    sha = hashlib.sha256(data).hexdigest()
    assert province.count(ResultPackage, ResultPackage.sha256 == sha) == 1
    with province.db.read() as s:
        row = s.scalar(select(ResultPackage).where(ResultPackage.sha256 == sha))
        assert row is not None
        assert province.count(RescoredAttempt, RescoredAttempt.result_package_id == row.id) == len(
            tickets
        )
    assert province.count(AuditEvent, AuditEvent.kind == "results.received") == 1
    assert province.count(Upload, Upload.upload_id == uid) == 0
    assert f"Worker (pid:{victim}) was sent SIGKILL" in province.central.log_path.read_text()
    wait_until(lambda: len(province.workers()) == WORKERS, "a replacement worker")
    assert victim not in [w.pid for w in province.workers()]

    # the same package sent again under a new upload id is stored once
    again = centre.upload(data, kind="results", upload_id=upload_id("results", "0002"))
    assert again.reply.get("duplicate") is True
    assert province.count(ResultPackage, ResultPackage.sha256 == sha) == 1


def test_central_database_connection_cut_mid_upload(province: Province) -> None:
    centre = province.centre("0003")
    data = backup_file("0003", province.keys["0003"], 96 * 1024, datetime.now(UTC))
    chunk = 16 * 1024
    uid = upload_id("backup", "0003")
    locker, thread, outcome = _lock_upload_and_send(province, centre, data, "backup", uid, chunk)
    try:
        pid, _port = wait_until(
            lambda: _waiting_backend(province),
            "the chunk's request to wait on the upload's row",
        )
        with province.db.engine.connect() as conn:
            killed = conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        assert killed is True
    finally:
        locker.rollback()
        locker.close()
    thread.join(60)
    assert "error" not in outcome, outcome
    assert outcome["result"].reply["complete"] is True
    # the worker's transaction failed on the cut connection (500), and the client retried
    assert "terminating connection due to administrator command" in (
        province.central.log_path.read_text()
    )
    sha = hashlib.sha256(data).hexdigest()
    with province.db.read() as s:
        stored = s.scalars(select(Backup).where(Backup.sha256 == sha)).all()
        assert len(stored) == 1 and stored[0].data == data and stored[0].size == len(data)
    assert province.count(UploadChunk) == 0, "no chunk left behind"
    assert province.count(AuditEvent, AuditEvent.kind == "backup.received") == 1
    # central kept serving on its other connections throughout
    assert len(province.workers()) == WORKERS
    assert province.centre("0001").client.packages()


def test_the_development_server_says_it_is_for_the_demo(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import free_port

    db = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade(CentralDatabase(db))
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "central.cli",
            "run",
            "--dev",
            "--port",
            str(port),
            "--database",
            db,
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: _healthy(port), "the development server")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert "开发用服务器" in err and "demo" in err, (out, err)


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok
    except requests.RequestException:
        return False
