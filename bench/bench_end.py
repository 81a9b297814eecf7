"""The end: N attempts auto-submitted by the server at the sitting's end, scored once
the answer key is released, and the cutoffs applied. Reports how long after the end the
last attempt was submitted, scored and its result decided (read from the database).

Target at N = 1,000: everything done within 5 s of the end.

    .venv/bin/python bench/bench_end.py --terminals 100 500 1000
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import UTC, datetime, timedelta

from common import add_generator_option, centre, machine, print_table, simulate
from sqlalchemy import func, select

from exam_server.plans.models import Sitting
from exam_server.sittings.models import Attempt, CandidateResult

SWEPT = re.compile(
    r"swept at \S+: committed \+(?P<committed>[\d.]+) s, terminals told \+(?P<told>[\d.]+) s; "
    r"\d+ started, (?P<submitted>\d+) submitted"
)


def run(n: int, mode: str, green: bool = True) -> dict[str, object]:
    lead = 10 + n / 25
    answering = 20.0
    with centre(
        n, start_in=lead, duration=answering, windows=(3600, 3600, 3600), async_mode=mode
    ) as c:
        # Terminals answer until the server submits at the end; nobody submits early.
        report = simulate(
            c.url, c.roster, n, pace=2, duration=lead + answering + 12, drain=2, green=green
        )
        end = c.plan.end
        # The server may still be submitting and scoring: wait for it (up to 120 s after
        # the end) rather than report a half-done end.
        while datetime.now(UTC) < end + timedelta(seconds=120):
            with c.db.read() as s:
                closed = s.scalar(select(func.count()).where(Sitting.closed_at.is_not(None)))
            if closed:
                break
            time.sleep(0.25)
        # Times stamped by the server are its sweep's "now" (when it began); this one is
        # when the committed result could be read.
        seen = (datetime.now(UTC) - end).total_seconds()
        # The server logs when the end's sweep committed and when it had told the
        # terminals (relative to the sweep's start, which is stamped on the attempts).
        swept = [
            m
            for m in SWEPT.finditer((c.folder / "server.log").read_text(errors="replace"))
            if int(m["submitted"]) > 0
        ]
        with c.db.read() as s:
            submitted = (
                s.scalar(select(func.count()).where(Attempt.submitted_by == "deadline")) or 0
            )
            scored = s.scalar(select(func.count()).where(Attempt.score.is_not(None))) or 0
            last_submit = s.scalar(select(func.max(Attempt.submitted_at)))
            decided = s.scalar(select(func.count()).select_from(CandidateResult)) or 0
            last_decided = s.scalar(select(func.max(CandidateResult.decided_at)))
    return {
        "N": n,
        "mode": mode,
        "terminals as": "greenlets" if green else "threads",
        "answers acked": report["acknowledged"],
        "submitted at end": submitted,
        "scored": scored,
        "results decided": decided,
        "last submit after end s": round((last_submit - end).total_seconds(), 2)
        if last_submit
        else None,
        "all scored+decided after end s": round((last_decided - end).total_seconds(), 2)
        if last_decided
        else None,
        "committed after end s": round(
            (last_submit - end).total_seconds() + float(swept[-1]["committed"]), 2
        )
        if swept and last_submit
        else None,
        "terminals told after end s": round(
            (last_submit - end).total_seconds() + float(swept[-1]["told"]), 2
        )
        if swept and last_submit
        else None,
        "committed, seen by the bench after end s": round(seen, 1),
        "terminals told": report["submitted"].get("deadline", 0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--terminals", type=int, nargs="+", default=[100])
    ap.add_argument("--mode", default="gevent", choices=["gevent", "threading"])
    add_generator_option(ap)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    rows = [run(n, args.mode, args.generator == "green") for n in args.terminals]
    print_table("the end: auto-submit, scoring and cutoffs", rows)


if __name__ == "__main__":
    main()
