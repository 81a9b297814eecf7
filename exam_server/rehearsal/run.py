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
    """One line of the verdict. ``judged`` checks decide READY; the others are figures
    reported for reference (they harm no candidate by themselves)."""

    name: str
    ok: bool
    measured: str
    target: str
    advice: str = ""
    #: why this threshold: the harm to a candidate it stands for
    reason: str = ""
    judged: bool = True


#: the thresholds of the verdict, each standing for a harm to a candidate
#: (seconds; see ``evaluate`` for the reasons)
#: a paper opening later than this after the start costs the candidate time the centre
#: would credit: the console proposes lost time from 30 s of silence (EXAM_CONSOLE_
#: LOST_TIME_MIN_S), so below it the rules themselves count no loss
PAPER_OPEN_MAX_S = 30.0
ACK_MAX_S = 10.0
DECIDED_AFTER_END_S = 60.0
#: where one process on SQLite was measured to hold (docs/benchmarks.md: 1,000 and 2,000
#: terminals held on one 2-core machine); beyond it the advice is PostgreSQL and workers
SQLITE_MEASURED_UP_TO = 2000


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
    # the rehearsal server's log, handed to the child
    log = open(folder / "server.log", "wb")  # noqa: SIM115  # not-durable: a log file
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
            f"演练开始 / rehearsal: {candidates} 台模拟终端，开考于 {start.astimezone(cfg.tz):%H:%M:%S}（{cfg.TIME_ZONE}），"
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


def advice_for(n: int) -> str:
    """What to look at when a check fails, for a centre of ``n`` candidates: PostgreSQL and
    several workers only beyond what one SQLite process was measured to carry."""
    if n > SQLITE_MEASURED_UP_TO:
        return (
            f"考生多于 {SQLITE_MEASURED_UP_TO} 人：请改用 PostgreSQL 并以多进程运行"
            "（exam-server run --workers 2，见 docs/operations.md）/ beyond "
            f"{SQLITE_MEASURED_UP_TO} candidates run PostgreSQL with --workers 2"
        )
    return (
        f"{n} 名考生在一台双核电脑上的 SQLite 考点已实测可行：请关闭本机上其他占用 CPU 和磁盘的"
        "程序，确认数据目录在本机硬盘（不是网络盘或 U 盘）上，再演练一次 / "
        f"{n} candidates were measured to run on SQLite on a 2-core machine: close other "
        "programs using the CPU and disk, keep the data folder on a local disk, rehearse again"
    )


def evaluate(
    report: dict[str, Any], n: int, submitted: int, last_decided: datetime | None, end: datetime
) -> list[Check]:
    """The verdict rests on what harms a candidate; latencies that harm nobody by
    themselves (the terminal journals every answer before sending it, so a slow
    acknowledgement is invisible to the candidate) are reported, not judged."""
    start = report.get("start_to_open_ms") or {}
    ack = report.get("ack_latency_ms") or {}
    advice = advice_for(n)
    end_s = (last_decided - end).total_seconds() if last_decided else None

    def seconds(ms: object) -> str:
        return f"{float(ms) / 1000:.2f} s" if isinstance(ms, int | float) else "—"

    open_max = start.get("max")
    ack_max = ack.get("max")
    return [
        Check(
            "全部终端登录 / every terminal logged in",
            report.get("logged_in") == n,
            f"{report.get('logged_in')}/{n}",
            f"{n}/{n}",
            "检查网络和服务器日志 / check the LAN and server log",
            reason="登录不上的考生失去作答时间 / a candidate who cannot log in loses time",
        ),
        Check(
            "开考时全部打开试卷 / every paper opened at the start",
            report.get("paper_opened") == n,
            f"{report.get('paper_opened')}/{n}",
            f"{n}/{n}",
            advice,
            reason="打不开试卷就无法作答 / no paper, no exam",
        ),
        Check(
            "试卷最晚打开 / the last paper opened",
            isinstance(open_max, int | float) and open_max < PAPER_OPEN_MAX_S * 1000,
            seconds(open_max),
            f"< {PAPER_OPEN_MAX_S:g} s",
            advice,
            reason=f"开考后 {PAPER_OPEN_MAX_S:g} 秒以上才打开，就是考生损失的作答时间（控制台从 "
            f"{PAPER_OPEN_MAX_S:g} 秒起提议补时）/ from {PAPER_OPEN_MAX_S:g} s it is time the "
            "candidate loses (the console proposes extra time from 30 s)",
        ),
        Check(
            "丢失或未送达的答案 / answers lost or unsent at the end",
            report.get("lost") == 0 and report.get("pending_at_end") == 0,
            f"{report.get('lost')}（结束时未送达 / unsent {report.get('pending_at_end')}）",
            "0",
            advice,
            reason="丢失一条答案就是考生的分数 / a lost answer is the candidate's score",
        ),
        Check(
            "答案最久未送达 / the longest an answer waited for the server",
            isinstance(ack_max, int | float) and ack_max < ACK_MAX_S * 1000,
            seconds(ack_max),
            f"< {ACK_MAX_S:g} s",
            advice,
            reason="答案先存在终端上；只有终端整机损坏时，尚未送达服务器的答案才有风险，"
            f"{ACK_MAX_S:g} 秒内送达即可 / answers are journaled on the terminal first; only "
            f"an answer not on the server when a PC dies is at risk, {ACK_MAX_S:g} s is enough",
        ),
        Check(
            "结束时自动交卷 / all submitted at the end",
            submitted == n,
            f"{submitted}/{n}",
            f"{n}/{n}",
            advice,
            reason="未交卷的考生没有成绩 / no submission, no score",
        ),
        Check(
            "结束后评分与合格线 / scored and decided after the end",
            end_s is not None and end_s <= DECIDED_AFTER_END_S,
            f"{end_s:.1f} s" if end_s is not None else "未完成 / not done",
            f"<= {DECIDED_AFTER_END_S:g} s",
            advice,
            reason="主考在结束后核对成绩；一分钟内完成不耽误任何人 / the chief checks the "
            "results after the end; within a minute delays nobody",
        ),
        Check(
            "答案保存确认 / answer acknowledgement",
            True,
            f"p50 {ack.get('p50')} ms, p99 {ack.get('p99')} ms",
            "仅供参考 / for reference",
            reason="考生看不到：终端先写入本机日志 / invisible to the candidate: the terminal "
            "journals first",
            judged=False,
        ),
        Check(
            "开考打开试卷 / paper open at the start",
            True,
            f"p50 {seconds(start.get('p50'))}, p99 {seconds(start.get('p99'))}",
            "仅供参考 / for reference",
            judged=False,
        ),
    ]
