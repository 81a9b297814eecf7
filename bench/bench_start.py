"""Synchronized start: N terminals logged in and waiting; at the start, how long until
each has its key and its paper open (the agent measures it against server time).

Target at N = 1,000: p99 under 1 s and all under 3 s.

    .venv/bin/python bench/bench_start.py --terminals 100 500 1000
"""

from __future__ import annotations

import argparse
import time

from common import Sampler, add_generator_option, centre, machine, print_table, simulate


def run(
    n: int, mode: str, workers: int, db_url: str | None, green: bool = True
) -> dict[str, object]:
    lead = 15 + n / 25  # every terminal connected, preloaded and logged in before the start
    env = {"EXAM_MESSAGE_QUEUE": "redis://127.0.0.1:6379/0"} if workers > 1 else {}
    with centre(
        n,
        start_in=lead,
        duration=3600,
        async_mode=mode,
        workers=workers,
        database_url=db_url,
        env=env,
    ) as c:
        sampler = Sampler(c.proc.pid).start()
        # A slow pace: nothing but the start happens while we measure it.
        report = simulate(c.url, c.roster, n, pace=600, duration=lead + 10, drain=1, green=green)
        sampler.stop()
        t_start = c.plan.start.timestamp()
        res = sampler.window(t_start - 1, t_start + 5)
    opened = report["start_to_open_ms"]
    return {
        "N": n,
        "mode": mode + (f" x{workers}" if workers > 1 else ""),
        "db": "PostgreSQL" if db_url else "SQLite",
        "terminals as": "greenlets" if green else "threads",
        "logged in before start": report["logged_in"],
        "paper opened": report["paper_opened"],
        "p50 s": round(opened["p50"] / 1000, 3) if opened["p50"] is not None else None,
        "p99 s": round(opened["p99"] / 1000, 3) if opened["p99"] is not None else None,
        "max s": round(opened["max"] / 1000, 3) if opened["max"] is not None else None,
        "decrypt+shuffle p99 ms": report["key_to_open_ms"]["p99"],
        "server CPU % (start..+5 s)": res["cpu_pct"],
        "peak RSS MB": res["peak_rss_mb"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--terminals", type=int, nargs="+", default=[100])
    ap.add_argument("--mode", default="gevent", choices=["gevent", "threading"])
    ap.add_argument("--workers", type=int, default=1)
    add_generator_option(ap)
    ap.add_argument(
        "--database",
        default=None,
        help="PostgreSQL admin URL: a fresh database is made beside it (default: SQLite)",
    )
    args = ap.parse_args()
    print(f"machine: {machine()}")
    rows = []
    for n in args.terminals:
        rows.append(run(n, args.mode, args.workers, args.database, args.generator == "green"))
        time.sleep(2)
    print_table(
        "synchronized start: from the start instant to the paper open on every terminal", rows
    )


if __name__ == "__main__":
    main()
