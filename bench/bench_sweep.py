"""The end sweep alone: the server's own work to submit, sign, log, score and decide N
attempts at a sitting's end, on a file database with nothing else running.

Each attempt has answered every item (several changes each, like a real sitting). The
sweep is what the scheduler runs at the end (``service.sweep`` then ``score_sitting`` in
one transaction). The baseline, measured in the same run on the same database, is the
floor any end must pay: one transaction that updates the N attempt rows.

    .venv/bin/python bench/bench_sweep.py --attempts 100 500 1000 2000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import machine, print_table
from sqlalchemy import func, insert, select, update

from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.plans.models import Paper, Sitting
from exam_server.rehearsal.seed import seed_rehearsal
from exam_server.scoring.service import score_sitting
from exam_server.sittings import service
from exam_server.sittings.models import Answer, Attempt, AttemptState, CandidateResult
from exam_server.system.vault import KeyVault
from question_bank.package import derive_end_key, derive_sitting_key

#: the vault of the bench's centre secret (the sweep runs in this process)
vault = KeyVault(b"bench-centre-secret-0123456789abcdef")
START = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
DURATION = timedelta(minutes=60)


def seed(db: Database, n: int, changes_per_item: int) -> int:
    rng = random.Random(n)
    with db.write() as s:
        plan = seed_rehearsal(s, candidates=n, start=START, duration=DURATION)
        sitting = s.scalar(select(Sitting).where(Sitting.code == plan.sitting_code))
        assert sitting is not None
        release, end_secret = plan.secrets[plan.sitting_code]
        sitting.sitting_key = vault.seal(
            derive_sitting_key(release, plan.sitting_code),
            sitting_code=plan.sitting_code,
            kind="sitting",
        )
        sitting.sitting_key_at = START
        sitting.end_key = vault.seal(
            derive_end_key(end_secret, plan.sitting_code),
            sitting_code=plan.sitting_code,
            kind="end",
        )
        items = {
            paper.id: [i["item_id"] for i in paper.items]
            for paper in s.scalars(select(Paper).where(Paper.sitting_id == sitting.id))
        }
        rows = []
        for attempt in s.scalars(select(Attempt).where(Attempt.sitting_id == sitting.id)):
            attempt.state = AttemptState.IN_PROGRESS
            attempt.logged_in_at = START - timedelta(minutes=10)
            attempt.started_at = START
            seq = 0
            for _ in range(changes_per_item):
                for item in items[attempt.paper_id]:
                    seq += 1
                    rows.append(
                        {
                            "attempt_id": attempt.id,
                            "seq": seq,
                            "item_id": item,
                            "response": rng.choice("ABCD"),
                            "server_time": START + timedelta(seconds=seq),
                        }
                    )
            attempt.last_seq = seq
        s.flush()
        for i in range(0, len(rows), 5000):
            s.execute(insert(Answer), rows[i : i + 5000])
        return sitting.id


def run(n: int, changes_per_item: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'centre.db'}")
        upgrade(db)
        sitting_id = seed(db, n, changes_per_item)
        with db.read() as s:
            answers = s.scalar(select(func.count()).select_from(Answer))
        end = START + DURATION

        # Baseline: touch every attempt row once, one transaction.
        t0 = time.perf_counter()
        with db.write() as s:
            s.execute(
                update(Attempt)
                .where(Attempt.sitting_id == sitting_id)
                .values(extra_time_s=Attempt.extra_time_s)
            )
        baseline = time.perf_counter() - t0

        t0 = time.perf_counter()
        with db.write() as s:
            t_sweep = time.perf_counter()
            result = service.sweep(s, sitting_id, end)
            t_sweep = time.perf_counter() - t_sweep
            sitting = s.get(Sitting, sitting_id)
            assert sitting is not None
            t_score = time.perf_counter()
            scored = score_sitting(s, end, sitting, vault)
            t_score = time.perf_counter() - t_score
        total = time.perf_counter() - t0
        with db.read() as s:
            decided = s.scalar(select(func.count()).select_from(CandidateResult))
        db.dispose()
    return {
        "attempts": n,
        "answer rows": answers,
        "submitted": len(result.submitted),
        "scored": scored,
        "decided": decided,
        "sweep s": round(t_sweep, 3),
        "score+decide s": round(t_score, 3),
        "total with commit s": round(total, 3),
        "baseline s": round(baseline, 4),
        "ratio": round(total / baseline, 1) if baseline else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--attempts", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--changes-per-item", type=int, default=2)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    rows = [run(n, args.changes_per_item) for n in args.attempts]
    print_table("the end sweep alone (no load)", rows)


if __name__ == "__main__":
    main()
