"""Steady answering: N terminals each changing an answer every PACE seconds.

Reports ack latency p50/p99/max, saves per second, the server's CPU and peak memory,
and the same simulator against the bare echo server in the same run (the ratio is our
p99 over the echo's p99; target: p99 < 100 ms at N = 1,000 and ratio <= 2).

    .venv/bin/python bench/bench_answering.py --terminals 100 500 1000 --seconds 60
"""

from __future__ import annotations

import argparse
import time

from common import (
    Sampler,
    add_generator_option,
    centre,
    echo,
    machine,
    print_table,
    simulate,
)


def run(
    n: int,
    seconds: float,
    pace: float,
    mode: str,
    workers: int,
    db_url: str | None,
    green: bool = True,
) -> dict[str, object]:
    lead = 15 + n / 20  # time for every terminal to connect and log in (not measured)
    env = {"EXAM_MESSAGE_QUEUE": "redis://127.0.0.1:6379/0"} if workers > 1 else {}
    with centre(
        n,
        start_in=-5,
        duration=3600,
        async_mode=mode,
        workers=workers,
        database_url=db_url,
        env=env,
    ) as c:
        sampler = Sampler(c.proc.pid).start()
        report = simulate(
            c.url,
            c.roster,
            n,
            pace=pace,
            duration=lead + seconds,
            measure_after=lead,
            green=green,
        )
        t1 = time.time()
        sampler.stop()
        res = sampler.window(t1 - seconds, t1)
        writer = c.health().get("answer_writer", {})
    with echo(mode) as (url, proc):
        base = simulate(
            url, c.roster, n, pace=pace, duration=lead + seconds, measure_after=lead, green=green
        )
    ack, eack = report["ack_latency_ms"], base["ack_latency_ms"]
    return {
        "N": n,
        "mode": mode + (f" x{workers}" if workers > 1 else ""),
        "terminals as": "greenlets" if green else "threads",
        "db": "PostgreSQL" if db_url else "SQLite",
        "logged_in": report["logged_in"],
        "acked": report["acknowledged"],
        "lost": report["lost"],
        # a terminal that had to connect again (a dropped link, or a call that timed out)
        "reconnects": report["reconnects"],
        "resent dup": report["duplicates"],
        "saves/s": round(report["acked_measured"] / report["measured_s"], 1),
        "p50 ms": ack["p50"],
        "p99 ms": ack["p99"],
        "max ms": ack["max"],
        "echo p99 ms": eack["p99"],
        # None when either run had no acknowledgement in the measured window
        "ratio p99": round(ack["p99"] / eack["p99"], 2) if ack["p99"] and eack["p99"] else None,
        "server CPU %": res["cpu_pct"],
        "peak RSS MB": res["peak_rss_mb"],
        "batch": writer.get("recent_mean_batch"),
        # hand-over to the writer until the commit's result is back in the handler
        "in server p99 ms": writer.get("save_p99_ms"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--terminals", type=int, nargs="+", default=[100])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--pace", type=float, default=5)
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
    rows = [
        run(
            n,
            args.seconds,
            args.pace,
            args.mode,
            args.workers,
            args.database,
            args.generator == "green",
        )
        for n in args.terminals
    ]
    print_table(f"steady answering, one change every {args.pace:g} s per terminal", rows)


if __name__ == "__main__":
    main()
