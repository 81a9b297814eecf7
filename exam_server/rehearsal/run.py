"""``exam-server rehearse``: the week before the exam, is this centre ready?

Starts this centre's server software with this centre's settings on a scratch database
(the real one is never touched), seeds a rehearsal sitting for the expected number of
candidates, and drives it with ``exam-client simulate``: every terminal logs in before
the start, opens its paper at the start, answers every few seconds, and is submitted by
the server at the end. Then it says, in plain Chinese, whether each target was met.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select

from exam_client.identity import pinned_session
from exam_server.config import Config
from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.rehearsal.seed import seed_rehearsal
from exam_server.sittings.models import Attempt, CandidateResult
from exam_server.tls import tls_files


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    measured: str
    target: str
    advice: str = ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rehearse(cfg: Config, candidates: int, minutes: float, *, echo: Any = print) -> list[Check]:
    folder = Path(
        tempfile.mkdtemp(prefix="rehearsal-", dir=cfg.data_path("rehearsals", "-").parent)
    )
    db = Database(f"sqlite:///{folder / 'rehearsal.db'}")
    upgrade(db)
    port = _free_port()
    secrets = folder / "secrets.json"
    env = {
        **os.environ,
        "EXAM_KEY_ESCROW": str(secrets),
        "EXAM_ASYNC_MODE": cfg.ASYNC_MODE,
        # the rehearsal's own "central": its key signs the papers' bindings (seed below)
        "EXAM_CENTRAL_PUBLIC_KEY": str(folder / "central.pub"),
    }
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - handed to the child
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exam_server.cli",
            "run",
            "--port",
            str(port),
            "--database",
            db.url,
            "--data-dir",
            str(folder),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    log.close()
    url = f"https://127.0.0.1:{port}"  # TLS, as on the day
    files = tls_files(folder)
    try:
        for _ in range(600):
            try:
                if files.ca_cert.exists():
                    pinned_session(files.ca_cert).get(f"{url}/healthz", timeout=1)
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        # Seed once the server is up: its scheduler picks the sitting up within 15 s, and
        # the terminals have time to connect and log in before the start.
        lead = 25 + candidates / 25
        start = datetime.now(UTC) + timedelta(seconds=lead)
        with db.write() as session:
            plan = seed_rehearsal(
                session,
                candidates=candidates,
                start=start,
                duration=timedelta(minutes=minutes),
                windows_s=(3600, 3600, 3600),
            )
        roster, _ = plan.write(folder)
        codes = plan.write_codes(folder / "enrol-codes.json", files.fingerprint())
        echo(
            f"演练开始 / rehearsal: {candidates} 台模拟终端，开考于 {start.astimezone():%H:%M:%S}，"
            f"每科 {minutes:g} 分钟；数据在 {folder}"
        )
        from exam_client.simulate import green_processes

        report_path = folder / "simulate.json"
        duration = lead + minutes * 60 + 15
        subprocess.run(
            [
                sys.executable,
                "-m",
                "exam_client.cli",
                "simulate",
                "--server",
                url,
                "--roster",
                str(roster),
                "--enrol-codes",
                str(codes),
                "--terminals",
                str(candidates),
                "--pace",
                "5",
                "--duration",
                str(duration),
                "--report",
                str(report_path),
                "--drain",
                "5",
                # Greenlet terminals, about 250 per process: on the centre's own machine
                # the simulated terminals must cost little, or the rehearsal measures
                # them instead of the server (OS-thread terminals collapse a 2-core box
                # at 1,000; see docs/benchmarks.md).
                "--green",
                "--processes",
                str(green_processes(candidates)),
            ],
            check=False,  # exit 1 means something was lost: the report says what, and so do we
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        report = json.loads(report_path.read_text())
        with db.read() as s:
            submitted = s.scalar(select(func.count()).where(Attempt.submitted_at.is_not(None))) or 0
            last_decided = s.scalar(select(func.max(CandidateResult.decided_at)))
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
        db.dispose()
    return evaluate(report, candidates, submitted, last_decided, plan.end)


def evaluate(
    report: dict[str, Any], n: int, submitted: int, last_decided: datetime | None, end: datetime
) -> list[Check]:
    start = report.get("start_to_open_ms") or {}
    ack = report.get("ack_latency_ms") or {}
    big = "考生多于 500 人时，请改用 PostgreSQL 并以多进程运行（exam-server run --workers 2）"
    end_s = (last_decided - end).total_seconds() if last_decided else None
    return [
        Check(
            "全部终端登录 / every terminal logged in",
            report.get("logged_in") == n,
            f"{report.get('logged_in')}/{n}",
            f"{n}/{n}",
            "检查网络和服务器日志 / check the LAN and server log",
        ),
        Check(
            "开考时全部打开试卷 / every paper opened at the start",
            report.get("paper_opened") == n,
            f"{report.get('paper_opened')}/{n}",
            f"{n}/{n}",
        ),
        Check(
            "开考打开试卷 p99 / paper open p99",
            (start.get("p99") or 1e9) < 1000,
            f"{(start.get('p99') or 0) / 1000:.2f} s",
            "< 1 s",
            big,
        ),
        Check(
            "开考打开试卷最慢 / paper open, slowest",
            (start.get("max") or 1e9) < 3000,
            f"{(start.get('max') or 0) / 1000:.2f} s",
            "< 3 s",
            big,
        ),
        Check(
            "答案保存确认 p99 / answer save p99",
            (ack.get("p99") or 1e9) < 100,
            f"{ack.get('p99')} ms",
            "< 100 ms",
            big,
        ),
        Check(
            "丢失答案 / answers lost",
            report.get("lost") == 0 and report.get("pending_at_end") == 0,
            f"{report.get('lost')} (未确认 pending {report.get('pending_at_end')})",
            "0",
        ),
        Check(
            "结束时自动交卷 / all submitted at the end",
            submitted == n,
            f"{submitted}/{n}",
            f"{n}/{n}",
        ),
        Check(
            "结束后评分与合格线 / scored and decided after the end",
            end_s is not None and end_s <= 5,
            f"{end_s:.1f} s" if end_s is not None else "未完成 / not done",
            "<= 5 s",
        ),
    ]
