"""A backup taken during a sitting, on a centre database of a realistic size, in a
gevent-patched process like the server: how long it takes, how long the event loop (every
terminal's socket) stands still meanwhile, and how much memory it holds.

The database is the end of an hour at 1,000 terminals (the soak stored about 500,000
answer rows): a rehearsal sitting with ``--attempts`` attempts and ``--changes-per-item``
saved changes of every item. Three ways, measured in the same run on the same file:

* ``before``: the way backups were written until this pass (the snapshot read into
  memory, compressed, encrypted and signed as one buffer) in the loop's own greenlet;
  the baseline of the ratio;
* ``streamed, in the loop``: the snapshot to a file, then hashed, compressed and encrypted
  in 1 MiB pieces, still in the greenlet;
* ``streamed, native thread``: what the server does (``write_backup(offload=
  Database.offload)``).

The loop stall is the longest gap of a 5 ms ticker greenlet during the backup (a round
without tracing); memory is tracemalloc's peak in a second round (Python allocations,
where the old way's copies live).

    .venv/bin/python bench/bench_backup.py --attempts 1000 --changes-per-item 20
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_sweep import seed
from common import machine, print_table
from sqlalchemy import func, select

from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.sittings.models import Answer

CHILD = """
from gevent import monkey
monkey.patch_all()
import hashlib, json, os, sys, time, tracemalloc
from datetime import datetime, timezone
from pathlib import Path
import gevent
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from exam_server.backups import service as backups
from exam_server.config import Config
from exam_server.db import Database

db_path, data = sys.argv[1], sys.argv[2]
cfg = Config.from_mapping({"DATABASE_URL": "sqlite:///" + db_path, "DATA_DIR": data})
db = Database(cfg.DATABASE_URL)
key = Ed25519PrivateKey.generate()
ticks = []

def ticker():
    while True:
        ticks.append(time.perf_counter())
        gevent.sleep(0.005)

def before(now):  # the code this pass replaced, as it was
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "snapshot.db")
        backups.snapshot_to(cfg.DATABASE_URL, out)
        plain = out.read_bytes()
    header = backups.BackupHeader("sqlite", now, "0101", None,
                                  hashlib.sha256(plain).hexdigest(), len(plain))
    data_ = backups.encode_backup(header, plain, backups.centre_secret(cfg), key)
    folder = backups.backup_folder(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"before-{now:%H%M%S}.exambak"
    with path.open("wb") as f:
        f.write(data_)
        f.flush()
        os.fsync(f.fileno())
    return path

gevent.spawn(ticker)
gevent.sleep(0.05)
out = []
modes = ["before", "streamed, in the loop", "streamed, native thread"]
for i, mode in enumerate(modes * 2):
    now = datetime(2026, 12, 5, 9, 0, i, tzinfo=timezone.utc)
    gevent.sleep(0.05)  # the ticker running steadily before each backup
    if i >= len(modes):
        tracemalloc.start()
    t0 = time.perf_counter()
    if mode == "before":
        path = before(now)
    else:
        offload = db.offload if mode.endswith("thread") else None
        path = backups.write_backup(cfg, now, centre="0101", sitting=None, key=key,
                                    offload=offload)
    t1 = time.perf_counter()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    gevent.sleep(0.02)
    # from the last tick before the backup to the first one after it
    first = max(i for i, t in enumerate(ticks) if t <= t0)
    last = min(i for i, t in enumerate(ticks) if t >= t1)
    inside = ticks[first : last + 1]
    gaps = [min(b, t1) - max(a, t0) for a, b in zip(inside, inside[1:])]
    header, _ = backups.read_backup(path, backups.centre_secret(cfg))
    out.append({"mode": mode, "round": i // len(modes) + 1, "s": t1 - t0,
                "stall_ms": 1000 * max(gaps, default=t1 - t0), "peak_mb": peak / 2**20, "ticks": len(inside),
                "file_mb": path.stat().st_size / 2**20, "plain_mb": header["size"] / 2**20})
db.dispose()
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--attempts", type=int, default=1000)
    ap.add_argument("--changes-per-item", type=int, default=20)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        db_path, data = Path(tmp, "centre.db"), Path(tmp, "data")
        data.mkdir()
        (data / "secret_key").write_text("0f" * 32)
        db = Database(f"sqlite:///{db_path}")
        upgrade(db)
        seed(db, args.attempts, args.changes_per_item)
        with db.read() as s:
            answers = s.scalar(select(func.count()).select_from(Answer))
        db.dispose()
        print(f"database: {args.attempts} attempts, {answers} answer rows")
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(db_path), str(data)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            sys.exit(proc.stderr)
        runs = json.loads(proc.stdout.strip().splitlines()[-1])
    timed = {r["mode"]: r for r in runs if r["round"] == 1}  # no tracing: the times
    traced = {r["mode"]: r for r in runs if r["round"] == 2}  # tracemalloc on: the memory
    before = timed["before"]
    rows = [
        {
            "way": mode,
            "snapshot MB": round(r["plain_mb"], 1),
            "file MB": round(r["file_mb"], 1),
            "took s": round(r["s"], 2),
            "loop stall ms": round(r["stall_ms"], 1),
            "stall / before": round(r["stall_ms"] / before["stall_ms"], 3),
            "peak MB (traced)": round(traced[mode]["peak_mb"], 1),
            "peak / before": round(traced[mode]["peak_mb"] / traced["before"]["peak_mb"], 2),
        }
        for mode, r in timed.items()
    ]
    print_table("a backup during a sitting (gevent, SQLite)", rows)


if __name__ == "__main__":
    main()
