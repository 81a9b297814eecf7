"""``exam-server run`` on PostgreSQL as one process says to run two workers or more (one
process on PostgreSQL fell behind at 1,000 terminals on a busy machine); SQLite, and the
workers that ``--workers`` starts, say nothing of the kind."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ADVICE = "PostgreSQL 请以多进程运行"
# Nothing listens on port 1: the server stops at its first query, after the advice.
UNREACHABLE_PG = "postgresql+psycopg://nobody@127.0.0.1:1/none"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(tmp_path: Path, database: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "exam_server.cli", "run", "--port", str(free_port())]
    cmd += ["--database", database, "--data-dir", str(tmp_path), "--no-scheduler", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_one_process_on_postgresql_is_told_to_run_workers(tmp_path: Path) -> None:
    done = run(tmp_path, UNREACHABLE_PG)
    assert done.returncode != 0  # no database there
    assert ADVICE in done.stderr and "--workers 2" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("extra", "stops_with"),
    [((), "数据库尚未初始化"), (("--reuse-port",), "无法使用数据库")],
    ids=["sqlite", "worker"],
)
def test_sqlite_and_started_workers_are_not(
    tmp_path: Path, extra: tuple[str, ...], stops_with: str
) -> None:
    database = UNREACHABLE_PG if extra else f"sqlite:///{tmp_path / 'empty.db'}"
    done = run(tmp_path, database, *extra)
    # it got past the point where the advice is given, and stopped for the expected
    # reason (no schema in SQLite, no PostgreSQL there), not for another one
    assert done.returncode != 0 and stops_with in done.stderr, done.stderr
    assert ADVICE not in done.stderr, done.stderr
