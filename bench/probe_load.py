"""Quick load probe: N asyncio Socket.IO terminals against a live centre server.

Not the official benchmark (that drives `exam-client simulate`); a lead's tool to find the
server's bottlenecks early. Seeds a rehearsal sitting in a fresh SQLite database, starts
`exam-server run`, connects N terminals, logs them in before the start, measures the time
from the start until each has its paper key, then saves every PACE seconds and reports
ack latency percentiles, server CPU and peak RSS.

    .venv/bin/python bench/probe_load.py --terminals 300 --pace 5 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import socketio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exam_common import protocol as p  # noqa: E402
from exam_server.db import Database  # noqa: E402
from exam_server.migrate import upgrade  # noqa: E402
from exam_server.rehearsal.seed import seed_rehearsal  # noqa: E402


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


async def terminal(
    url: str,
    row: dict[str, str],
    stats: dict[str, list[float]],
    start_at: float,
    stop_at: float,
    pace: float,
    counters: dict[str, int],
) -> None:
    sio = socketio.AsyncClient(reconnection=False)
    got_key = asyncio.Event()

    @sio.on("sitting_started", namespace=p.NAMESPACE)
    async def _started(data: dict) -> None:  # type: ignore[type-arg]
        if data.get("paper_key"):
            stats["key"].append(time.time() - start_at)
            got_key.set()

    await sio.connect(url, namespaces=[p.NAMESPACE], transports=["websocket"], wait_timeout=60)
    counters["connected"] += 1
    identity = row.get("identity")
    hello: dict[str, Any] = {"protocol": 1, "client": "probe", "seat": row["seat"]}
    if identity is not None:  # the centre server: prove the enrolment (the echo has none)
        challenge = await sio.call("challenge", {}, namespace=p.NAMESPACE, timeout=60)
        hello["terminal_id"] = identity.terminal_id
        hello["proof"] = identity.prove(base64.b64decode(challenge["challenge"]))
    else:
        hello["terminal_id"] = "probe-" + row["ticket"]
    await sio.call("hello", hello, namespace=p.NAMESPACE, timeout=60)
    t_login = time.perf_counter()
    reply = await sio.call(
        "login",
        {"ticket": row["ticket"], "id_number": row["id_number"]},
        namespace=p.NAMESPACE,
        timeout=60,
    )
    stats["login"].append(time.perf_counter() - t_login)
    if not reply.get("ok"):
        counters["login_failed"] += 1
        await sio.disconnect()
        return
    counters["logged_in"] += 1
    attempt = reply["attempt_id"]
    items = [i["item_id"] for i in reply["items"]]
    if reply.get("paper_key"):
        got_key.set()
    await got_key.wait()
    await asyncio.sleep(random.uniform(0, pace))
    seq = 0
    while time.time() < stop_at:
        seq += 1
        t0 = time.perf_counter()
        ack = await sio.call(
            "save",
            {
                "attempt_id": attempt,
                "seq": seq,
                "item_id": random.choice(items),
                "response": [random.choice("ABCD")],
            },
            namespace=p.NAMESPACE,
            timeout=60,
        )
        if ack.get("ok"):
            stats["ack"].append(time.perf_counter() - t0)
            counters["acked"] += 1
        else:
            counters["refused_" + ack.get("code", "?")] = (
                counters.get("refused_" + ack.get("code", "?"), 0) + 1
            )
        await asyncio.sleep(pace)
    await sio.disconnect()


async def drive(
    url: str,
    roster: list[dict[str, str]],
    start: datetime,
    seconds: float,
    pace: float,
    proc: psutil.Process,
) -> dict[str, object]:
    stats: dict[str, list[float]] = {"key": [], "ack": [], "login": []}
    counters: dict[str, int] = {"connected": 0, "logged_in": 0, "login_failed": 0, "acked": 0}
    start_at = start.timestamp()
    stop_at = start_at + seconds
    tasks = []
    for row in roster:
        tasks.append(
            asyncio.create_task(terminal(url, row, stats, start_at, stop_at, pace, counters))
        )
        await asyncio.sleep(0.005)
    cpu0 = proc.cpu_times()
    t0 = time.time()
    peak = 0
    while not all(t.done() for t in tasks):
        peak = max(peak, proc.memory_info().rss)
        await asyncio.sleep(0.5)
    cpu1 = proc.cpu_times()
    wall = time.time() - t0
    errors = [t.exception() for t in tasks if t.exception()]
    return {
        **counters,
        "errors": len(errors),
        "first_error": repr(errors[0]) if errors else None,
        "login_p50_ms": pct(stats["login"], 50) * 1000,
        "login_p99_ms": pct(stats["login"], 99) * 1000,
        "login_max_ms": max(stats["login"], default=float("nan")) * 1000,
        "key_p50_s": pct(stats["key"], 50),
        "key_p99_s": pct(stats["key"], 99),
        "key_max_s": max(stats["key"], default=float("nan")),
        "ack_p50_ms": pct(stats["ack"], 50) * 1000,
        "ack_p99_ms": pct(stats["ack"], 99) * 1000,
        "ack_max_ms": max(stats["ack"], default=float("nan")) * 1000,
        "ack_mean_ms": statistics.mean(stats["ack"]) * 1000 if stats["ack"] else None,
        "server_cpu_pct": 100 * ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / wall,
        "server_peak_rss_mb": peak / 2**20,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--terminals", type=int, default=100)
    ap.add_argument("--pace", type=float, default=5)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--lead", type=float, default=20, help="seconds from seeding to the start")
    ap.add_argument("--async-mode", default="gevent")
    ap.add_argument("--echo", action="store_true", help="drive the bare echo baseline instead")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="probe-"))
    db = Database(f"sqlite:///{tmp / 'c.db'}")
    upgrade(db)
    start = datetime.now(UTC) + timedelta(seconds=args.lead)
    with db.write() as s:
        plan = seed_rehearsal(
            s,
            candidates=args.terminals,
            start=start,
            duration=timedelta(seconds=args.seconds + 60),
            windows_s=(600, 600, 600),
        )
    roster_path, secrets = plan.write(tmp)
    port = 5600 + random.randrange(300)
    env = {
        **os.environ,
        "EXAM_KEY_ESCROW": str(secrets),
        "EXAM_ASYNC_MODE": args.async_mode,
        "EXAM_CENTRAL_PUBLIC_KEY": str(tmp / "central.pub"),
    }
    log = open(tmp / "server.log", "wb")  # noqa: SIM115
    cmd = [
        sys.executable,
        "-m",
        "exam_server.cli",
        "run",
        "--port",
        str(port),
        "--database",
        db.url,
        "--data-dir",
        str(tmp),
        "--insecure-http",
    ]
    if args.echo:
        cmd = [
            sys.executable,
            str(Path(__file__).parent / "echo_server.py"),
            "--port",
            str(port),
            "--async-mode",
            args.async_mode,
        ]
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if os.environ.get("PROBE_PYSPY"):
        subprocess.Popen(  # noqa: S603 - records until -d runs out
            [
                "py-spy",
                "record",
                "-o",
                os.environ["PROBE_PYSPY"],
                "-f",
                "speedscope",
                "-d",
                str(int(args.lead + args.seconds)),
                "-p",
                str(server.pid),
                "--nonblocking",
                "--threads",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        time.sleep(3)
        roster = plan.roster
        if not args.echo:
            from tests.faults.fleet import enrol_fleet

            fleet = enrol_fleet(f"http://127.0.0.1:{port}", plan.codes)
            roster = [{**row, "identity": fleet[row["seat"]]} for row in plan.roster]
        result = asyncio.run(
            drive(
                f"http://127.0.0.1:{port}",
                roster,
                start,
                args.seconds,
                args.pace,
                psutil.Process(server.pid),
            )
        )
        if not args.echo:
            import requests

            try:  # the server can be busy with 1,000 disconnects right now
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30).json()
                result["writer"] = health["answer_writer"]
            except requests.RequestException as exc:
                result["writer"] = f"/healthz did not answer: {exc}"
    finally:
        server.terminate()
        server.wait(10)
    print(
        json.dumps(
            {"terminals": args.terminals, "pace_s": args.pace, **result}, indent=1, default=str
        )
    )


if __name__ == "__main__":
    main()
