"""Soak: terminals answer for a long time (an hour by default) while a proxy cuts a
share of their connections every few seconds; they reconnect and re-send. Compares the
server's memory at the end with its memory after warm-up (target: within 10 %), and
checks that nothing acknowledged was lost.

    .venv/bin/python bench/bench_soak.py --terminals 300 --seconds 3600
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

from common import (
    PY,
    Sampler,
    add_generator_option,
    centre,
    free_port,
    machine,
    print_table,
    simulate,
)
from sqlalchemy import func, select

from exam_server.sittings.models import Answer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--terminals", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=3600)
    ap.add_argument("--pace", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=300, help="memory is compared with this point")
    ap.add_argument("--cut-every", type=float, default=10)
    ap.add_argument("--cut-share", type=float, default=0.02)
    ap.add_argument("--mode", default="gevent", choices=["gevent", "threading"])
    add_generator_option(ap)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    n = args.terminals
    lead = 10 + n / 40
    with centre(n, start_in=-5, duration=args.seconds + 3600, async_mode=args.mode) as c:
        port = free_port()
        target = c.url.removeprefix("http://")
        proxy = subprocess.Popen(
            [
                PY,
                str(Path(__file__).parent / "cutting_proxy.py"),
                "--listen",
                str(port),
                "--target",
                target,
                "--every",
                str(args.cut_every),
                "--share",
                str(args.cut_share),
            ]
        )
        sampler = Sampler(c.proc.pid).start()
        t0 = time.time()
        try:
            report = simulate(
                f"http://127.0.0.1:{port}",
                c.roster,
                n,
                pace=args.pace,
                duration=lead + args.seconds,
                drain=60,
                green=args.generator == "green",
            )
        finally:
            proxy.terminate()
            sampler.stop()
        t1 = time.time()
        with c.db.read() as s:
            stored = s.scalar(select(func.count()).select_from(Answer)) or 0
    warm = sampler.rss_at(t0 + lead + args.warmup)
    end = sampler.rss_at(t1)
    print_table(
        f"soak: {args.seconds / 60:.0f} min, {n} terminals, {args.cut_share:.0%} of links cut every {args.cut_every:g} s",
        [
            {
                "N": n,
                "terminals as": "greenlets" if args.generator == "green" else "threads",
                "acked": report["acknowledged"],
                "answers stored": stored,
                "lost": report["lost"],
                "pending at end": report["pending_at_end"],
                "reconnects": report["reconnects"],
                "ack p99 ms": report["ack_latency_ms"]["p99"],
                "RSS after warm-up MB": round(warm, 1),
                "RSS at end MB": round(end, 1),
                "growth %": round((end - warm) / warm * 100, 1),
            }
        ],
    )


if __name__ == "__main__":
    main()
