"""Backups: encrypted, consistent snapshots, and ``exam-server restore`` bringing one back
so that every table equals, row by row, the state the snapshot was taken from."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import inspect, select, text

from exam_server.backups.service import BackupError, read_backup, restore, write_backup
from exam_server.config import Config
from exam_server.db import Database
from exam_server.eventlog import service as eventlog
from exam_server.migrate import upgrade
from exam_server.sittings.models import Answer, Attempt
from tests.conftest import T0, drop_pg_database, make_pg_database
from tests.factories import make_world
from tests.sync.harness import centre_env, server_cli
from tests.threads import Checked

KEY = Ed25519PrivateKey.generate()  #: the centre's signing key


def populate(db: Database) -> None:
    with db.write() as session:
        make_world(session, start=T0, duration=timedelta(minutes=60), candidates=5)
        session.flush()
        attempt = session.scalars(select(Attempt)).first()
        assert attempt is not None
        for seq, item in enumerate(["Q001", "Q002", "Q007"], start=1):
            session.add(
                Answer(attempt_id=attempt.id, seq=seq, item_id=item, response="A", server_time=T0)
            )
        for n in range(5):
            eventlog.append(session, at=T0, actor="tests", kind="tests.event", data={"n": n})


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, ordered by primary key (the alembic and job tables included)."""
    out = {}
    with db.engine.connect() as conn:
        insp = inspect(conn)
        for table in sorted(insp.get_table_names()):
            pk = insp.get_pk_constraint(table)["constrained_columns"] or ["1"]
            order = ", ".join(f'"{c}"' for c in pk)
            rows = conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}')).all()
            out[table] = [tuple(r) for r in rows]
    return out


def cfg_for(url: str, data: Path) -> Config:
    data.mkdir(parents=True, exist_ok=True)
    (data / "secret_key").write_text("0f" * 32)
    return Config.from_mapping({"DATABASE_URL": url, "DATA_DIR": str(data)})


def test_sqlite_backup_restores_row_for_row(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)
    populate(db)
    cfg = cfg_for(db.url, tmp_path / "data")
    snap = write_backup(cfg, T0, centre="0101", sitting="S1", key=KEY)
    before = dump(db)
    assert before["answer"] and before["event_log"] and before["paper"]
    raw = snap.read_bytes()
    assert b"Q001" not in raw and b"SQLite format" not in raw, "the file is encrypted"

    target = tmp_path / "restored" / "centre.db"
    env = centre_env(f"sqlite:///{target}", tmp_path / "data")
    out = server_cli(env, "restore", str(snap))
    assert "已恢复" in out.stdout
    restored = Database(f"sqlite:///{target}")
    assert dump(restored) == before
    # Refused without --force over an existing database, which is left as it is.
    again = server_cli_fail(env, "restore", str(snap))
    assert "--force" in again and target.exists()
    restored.dispose()
    db.dispose()


def server_cli_fail(env: dict[str, str], *args: str) -> str:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "exam_server.cli", *args], env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0
    return proc.stderr


def test_a_snapshot_is_consistent_while_the_server_writes(tmp_path: Path) -> None:
    """Events are appended (one transaction each: entry + chain head) while the snapshot is
    taken; the restored log's hash chain is whole."""
    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)
    cfg = cfg_for(db.url, tmp_path / "data")
    stop, going = threading.Event(), threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            with db.write() as session:
                eventlog.append(session, at=T0, actor="tests", kind="tests.busy", data={"n": n})
            n += 1
            if n == 20:
                going.set()

    thread = Checked(writer, name="writer")
    thread.start()
    assert going.wait(30)
    try:
        snaps = [
            write_backup(cfg, T0 + timedelta(seconds=i), centre="0101", sitting=None, key=KEY)
            for i in range(3)
        ]
    finally:
        stop.set()
        thread.join(30)  # a failed write fails the test
    for i, snap in enumerate(snaps):
        target = tmp_path / f"r{i}.db"
        restore(snap, f"sqlite:///{target}", b"0f" * 32)
        restored = Database(f"sqlite:///{target}")
        with restored.read() as session:
            report = eventlog.verify_chain(session)
        assert report.ok and report.entries > 0, report
        restored.dispose()
    db.dispose()


def test_a_wrong_secret_or_a_damaged_file_is_refused(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)
    cfg = cfg_for(db.url, tmp_path / "data")
    snap = write_backup(cfg, T0, centre="0101", sitting=None, key=KEY)
    with pytest.raises(BackupError, match="考点密钥不对"):
        read_backup(snap, b"not the secret")
    damaged = tmp_path / "damaged.exambak"
    data = bytearray(snap.read_bytes())
    data[-64 - 5] ^= 1  # inside the ciphertext (the last 64 bytes are the signature)
    damaged.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="已损坏"):
        restore(damaged, f"sqlite:///{tmp_path / 'x.db'}", b"0f" * 32)
    assert not (tmp_path / "x.db").exists()
    db.dispose()


@pytest.mark.postgres
def test_postgres_backup_restores_row_for_row(tmp_path: Path) -> None:
    source_url, target_url = make_pg_database(), make_pg_database()
    try:
        db = Database(source_url)
        upgrade(db)
        populate(db)
        cfg = cfg_for(source_url, tmp_path / "data")
        snap = write_backup(cfg, T0, centre="0101", sitting="S1", key=KEY)
        header = restore(snap, target_url, b"0f" * 32)
        assert header["dialect"] == "postgresql"
        target = Database(target_url)
        assert dump(target) == dump(db)
        target.dispose()
        db.dispose()
    finally:
        drop_pg_database(source_url)
        drop_pg_database(target_url)


def big_sqlite(path: Path, rows: int) -> int:
    """A database of answer-like text (compressible, as a centre's is); its size in bytes."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE answer (id INTEGER PRIMARY KEY, response TEXT)")
    conn.executemany(
        "INSERT INTO answer (response) VALUES (?)",
        (
            (f"candidate {i % 997} chose option {'ABCD'[i % 4]} at seq {i}; " * 8,)
            for i in range(rows)
        ),
    )
    conn.commit()
    conn.close()
    return path.stat().st_size


def count_rows(path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM answer").fetchone()[0])
    finally:
        conn.close()


def test_the_streamed_file_is_the_in_memory_format_and_holds_no_whole_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``write_backup`` hashes, compresses and encrypts the snapshot in pieces from a file:
    byte for byte what ``encode_backup`` makes of the whole (same nonce), without the
    snapshot ever in memory (the old way held it five times over)."""
    import tracemalloc

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from exam_server.backups import service as backups

    size = big_sqlite(tmp_path / "centre.db", 40_000)
    assert size > 14_000_000
    cfg = cfg_for(f"sqlite:///{tmp_path / 'centre.db'}", tmp_path / "data")
    monkeypatch.setattr(backups.os, "urandom", lambda n: b"\x07" * n)
    tracemalloc.start()
    try:
        path = write_backup(cfg, T0, centre="0101", sitting="S1", key=KEY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    streamed = path.read_bytes()
    # What is held: the compressed file once (to be signed) and a few 1 MiB pieces.
    assert peak < len(streamed) + 3 * backups.CHUNK, (peak, len(streamed))
    assert peak < size / 4, f"peak {peak} bytes traced for a {size}-byte snapshot"

    header, plain = read_backup(path, b"0f" * 32)
    assert header["size"] == len(plain) == size
    (tmp_path / "back.db").write_bytes(plain)
    assert count_rows(tmp_path / "back.db") == count_rows(tmp_path / "centre.db") == 40_000
    again = backups.BackupHeader("sqlite", T0, "0101", "S1", header["sha256"], size)
    assert streamed == backups.encode_backup(again, plain, b"0f" * 32, KEY)
    public: Ed25519PublicKey = KEY.public_key()
    public.verify(streamed[-64:], streamed[:-64])  # what central checks
    # Nothing left behind: no temporary file, no plain snapshot beside the data.
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert not list((tmp_path / "data").glob(".snapshot-*"))


def test_a_backup_that_fails_half_way_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exam_server.backups import service as backups

    big_sqlite(tmp_path / "centre.db", 2_000)
    cfg = cfg_for(f"sqlite:///{tmp_path / 'centre.db'}", tmp_path / "data")
    real_seal = backups.seal

    def disk_full(header: Any, snapshot_file: Path, out: Path, *rest: Any) -> None:
        real_seal(header, snapshot_file, out, *rest)  # the file is written, then...
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backups, "seal", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_backup(cfg, T0, centre="0101", sitting=None, key=KEY)
    folder = backups.backup_folder(cfg)
    assert list(folder.iterdir()) == []
    assert not list((tmp_path / "data").glob(".snapshot-*"))


GREEN_BACKUP = """
from gevent import monkey
monkey.patch_all()
import json, sys, time
from datetime import datetime, timezone
from pathlib import Path
import gevent
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from exam_server.backups.service import write_backup
from exam_server.config import Config
from exam_server.db import Database

db_path, data = sys.argv[1], sys.argv[2]
cfg = Config.from_mapping({"DATABASE_URL": "sqlite:///" + db_path, "DATA_DIR": data})
db = Database(cfg.DATABASE_URL)
from tests import loop_ticker
ticks = loop_ticker.start()
out = {}
key = Ed25519PrivateKey.generate()
for i, mode in enumerate(("offload", "inline")):
    t0 = time.perf_counter()
    write_backup(cfg, datetime(2026, 6, 1, 9, 0, i, tzinfo=timezone.utc), centre="0101",
                 sitting=None, key=key, offload=db.offload if mode == "offload" else None)
    t1 = time.perf_counter()
    gaps = [b - a for a, b in zip(ticks, ticks[1:]) if a >= t0 and b <= t1 + 0.01]
    out[mode] = {"s": t1 - t0, "ticks": len([t for t in ticks if t0 <= t <= t1]),
                 "max_gap": max(gaps, default=t1 - t0)}
out["files"] = len(list(Path(data, "backups").glob("*.exambak")))
db.dispose()
print(json.dumps(out))
"""


def test_under_gevent_a_backup_leaves_the_loop_running(tmp_path: Path) -> None:
    """The server's backups (every 5 minutes of a sitting) copy, hash, compress and encrypt
    on a native thread: the terminals' sockets are served all the while."""
    from tests.loop_ticker import run_patched

    big_sqlite(tmp_path / "centre.db", 40_000)
    cfg_for("sqlite://", tmp_path / "data")  # writes the centre secret
    out = run_patched(GREEN_BACKUP, str(tmp_path / "centre.db"), str(tmp_path / "data"))
    assert out["files"] == 2
    # Control: done in the greenlet, the backup stops the 5 ms ticker for most of its length.
    assert out["inline"]["max_gap"] > out["inline"]["s"] / 3, out
    # Offloaded, the ticker keeps going: at least a quarter of its ticks, no long stall.
    assert out["offload"]["ticks"] >= max(3, out["offload"]["s"] / 0.005 / 4), out
    assert out["offload"]["max_gap"] < out["inline"]["max_gap"] / 2, out


def test_central_lists_each_centres_backups_and_checks_the_latest(tmp_path: Path) -> None:
    """`exam-central backups`: what a province admin needs of a centre's backups (how many,
    how big, the latest, verified); a stored backup altered since is said and exits 3."""
    import subprocess
    import sys

    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from central.db import CentralDatabase
    from central.migrate import upgrade as central_upgrade
    from central.models import Backup, CentreAccount
    from central.service import take_backup

    def backups() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "central.cli", "backups", "--database", central.url],
            capture_output=True,
            text=True,
        )

    central = CentralDatabase(f"sqlite:///{tmp_path / 'central.db'}")
    central_upgrade(central)
    none = backups()
    assert none.returncode == 0 and "尚未收到备份" in none.stdout, none
    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)
    populate(db)
    cfg = cfg_for(db.url, tmp_path / "data")
    raw = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    with central.write() as s:
        account = CentreAccount(code="0101", name="", public_key=raw, registered_at=T0)
        s.add(account)
        for n, sitting in enumerate(("S1", "S2")):
            snap = write_backup(
                cfg, T0 + timedelta(hours=n), centre="0101", sitting=sitting, key=KEY
            )
            take_backup(s, account, snap.read_bytes(), f"u{n}", snap.name, T0 + timedelta(hours=n))
    out = backups()
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.strip().splitlines()
    assert line.startswith("考点 0101: 2 份备份") and "已核验 verified" in line, line
    assert snap.name in line and "场次 S2" in line and "taken 2026-06-01 02:00:00 UTC" in line
    with central.write() as s:
        latest = s.scalars(select(Backup).order_by(Backup.id.desc())).first()
        assert latest is not None
        latest.data = latest.data[:-1] + bytes([latest.data[-1] ^ 1])
    bad = backups()
    assert bad.returncode == 3 and "核验失败 FAILED" in bad.stdout, bad
    central.dispose()
    db.dispose()
