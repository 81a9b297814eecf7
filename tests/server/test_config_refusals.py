"""An ``EXAM_*`` number that is not one is refused in one line naming the variable, by
every command, instead of a Python traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from exam_server.config import Config, ConfigError
from exam_server.console.settings import ConsoleSettings


@pytest.mark.parametrize(
    ("var", "build", "what"),
    [
        ("EXAM_GC_YOUNG_THRESHOLD", Config, "整数"),
        ("EXAM_GROUP_COMMIT_WAIT_MS", Config, "数字"),
        ("EXAM_CONSOLE_FLUSH_S", ConsoleSettings, "数字"),
        ("EXAM_CONSOLE_MAX_FAILURES", ConsoleSettings, "整数"),
    ],
)
def test_a_bad_number_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, build: type, what: str
) -> None:
    monkeypatch.setenv(var, "soon")
    with pytest.raises(ConfigError) as caught:
        build()
    assert var in str(caught.value) and what in str(caught.value) and "'soon'" in str(caught.value)


def test_a_good_number_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAM_GC_YOUNG_THRESHOLD", "2500")
    monkeypatch.setenv("EXAM_CONSOLE_FLUSH_S", "0.25")
    assert Config().GC_YOUNG_THRESHOLD == 2500
    assert ConsoleSettings().FLUSH_S == 0.25


@pytest.mark.parametrize(
    "command", [["exam_server.cli", "verify-log"], ["exam_server.sync.cli", "status"]]
)
def test_the_commands_refuse_in_one_line(command: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", *command],
        env={**os.environ, "EXAM_BACKUP_INTERVAL_S": "5min"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "EXAM_BACKUP_INTERVAL_S='5min'" in proc.stderr and "不是数字" in proc.stderr


@pytest.mark.parametrize(
    ("database", "says"),
    [
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "无法使用数据库"),
        ("postgres://nobody@127.0.0.1/none", "数据库地址无效"),
    ],
    ids=["unreachable", "not-a-url"],
)
@pytest.mark.parametrize("command", [["db", "upgrade"], ["run", "--no-scheduler"]])
def test_a_database_that_cannot_be_used_is_refused_in_one_line(
    tmp_path,
    database: str,
    says: str,
    command: list[str],  # type: ignore[no-untyped-def]
) -> None:
    extra = ["--port", "0"] if command[0] == "run" else []
    proc = subprocess.run(
        [sys.executable, "-m", "exam_server.cli", *command, *extra, "--database", database]
        + ["--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr, proc.stderr
    assert says in proc.stderr and "EXAM_DATABASE_URL" in proc.stderr, proc.stderr
