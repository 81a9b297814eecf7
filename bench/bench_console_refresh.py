"""The console's live refresh: the tiles of the attempts that changed since the last push.

At 1,000 terminals saving every 5 s and a push every 0.5 s, each refresh rebuilds about
100 tiles; it runs in the event loop, so while it works no socket is served. Its cost
grew with the answer history (the answered count read each item's latest change), so
it is measured on a 1,000-attempt sitting with ``--changes-per-item`` saved changes of
every item (20: the end of an hour at one change every 5 s). "history" is that refresh;
"kept" is the live map's now, the answered counts kept from the saves
(``exam_server.console.answered``: each round first reports one save per changed
attempt, as the terminals' saves do). The baseline, in the same run on the same database,
is the floor of any refresh: reading the same attempt rows.

    .venv/bin/python bench/bench_console_refresh.py --changes-per-item 2 20
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench_sweep import START, seed
from common import machine, print_table
from sqlalchemy import func, select

from exam_server.console import tiles
from exam_server.console.answered import AnsweredCounts
from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.sittings.models import Answer, Attempt


def run(attempts: int, changes: int, dirty: int, rounds: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'centre.db'}")
        upgrade(db)
        sitting_id = seed(db, attempts, changes)
        with db.read() as s:
            ids = list(s.scalars(select(Attempt.id)))
            rows = s.scalar(select(func.count()).select_from(Answer))
        rng = random.Random(attempts * 31 + changes)
        now = START + timedelta(minutes=30)
        samples = [rng.sample(ids, dirty) for _ in range(rounds + 1)]

        def refresh(chosen: list[int]) -> int:
            with db.read() as s:
                return len(tiles.tiles(s, now, sitting_id, attempt_ids=chosen))

        kept = AnsweredCounts()
        for attempt_id in ids:
            kept.logged_in(attempt_id)
        with db.read() as s:
            kept.counts(s, ids)  # read once, as each attempt's first push does
        seqs = dict.fromkeys(ids, 10**6)

        def refresh_kept(chosen: list[int]) -> int:
            for attempt_id in chosen:
                seqs[attempt_id] += 1
                kept.saved(attempt_id, seqs[attempt_id], "Q001", "A")
            with db.read() as s:
                count = functools.partial(kept.counts, s)
                return len(tiles.tiles(s, now, sitting_id, attempt_ids=chosen, answered=count))

        def floor(chosen: list[int]) -> int:
            with db.read() as s:
                return len(s.scalars(select(Attempt).where(Attempt.id.in_(chosen))).all())

        refresh(samples[0])  # warm the statement caches
        timed: dict[str, list[float]] = {"refresh": [], "kept": [], "floor": []}
        for chosen in samples[1:]:
            for name, fn in (("refresh", refresh), ("kept", refresh_kept), ("floor", floor)):
                t0 = time.perf_counter()
                assert fn(chosen) == dirty
                timed[name].append(time.perf_counter() - t0)
        db.dispose()
    ms = {k: 1000 * statistics.median(v) for k, v in timed.items()}
    return {
        "attempts": attempts,
        "answer rows": rows,
        "tiles per refresh": dirty,
        "history ms (median)": round(ms["refresh"], 1),
        "history ms (max)": round(1000 * max(timed["refresh"]), 1),
        "kept ms (median)": round(ms["kept"], 1),
        "kept ms (max)": round(1000 * max(timed["kept"]), 1),
        "baseline ms": round(ms["floor"], 2),
        "ratio history": round(ms["refresh"] / ms["floor"], 1),
        "ratio kept": round(ms["kept"] / ms["floor"], 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--attempts", type=int, default=1000)
    ap.add_argument("--changes-per-item", type=int, nargs="+", default=[2, 20])
    ap.add_argument("--dirty", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    rows = [run(args.attempts, c, args.dirty, args.rounds) for c in args.changes_per_item]
    print_table("the console's live refresh (tiles of the changed attempts)", rows)


if __name__ == "__main__":
    main()
