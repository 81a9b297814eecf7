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
    # it names the configuration file it read, in the folder given
    assert str(tmp_path / "centre.toml") in proc.stderr, proc.stderr


def test_the_server_never_starts_on_a_damaged_centre_secret(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A power cut before the secret reached the disk leaves it empty: the server stops
    and says which file and what to do, instead of running (and sealing every later
    backup) under an empty secret."""
    from exam_server.db import Database
    from exam_server.migrate import upgrade

    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_bytes(b"")
    db = f"sqlite:///{tmp_path / 'centre.db'}"
    upgrade(Database(db))
    env = {k: v for k, v in os.environ.items() if k != "EXAM_SECRET_KEY"}
    proc = subprocess.run(
        [sys.executable, "-m", "exam_server.cli", "run", "--port", "0", "--database", db]
        + ["--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert str(data / "secret_key") in proc.stderr and "为空" in proc.stderr
    assert "sealed copy" in proc.stderr and "已启动" not in proc.stdout


@pytest.mark.parametrize(("content", "says"), [(b"\n", "为空"), (b"0123abcd\n", "只有 8 字节")])
def test_app_and_backups_refuse_a_damaged_centre_secret(
    tmp_path, content: bytes, says: str
) -> None:  # type: ignore[no-untyped-def]
    from exam_common.durable import DamagedSecret
    from exam_server import create_app
    from exam_server.backups.service import BackupError, centre_secret

    (tmp_path / "secret_key").write_bytes(content)
    cfg = {"DATA_DIR": str(tmp_path), "SECRET_KEY": "", "DATABASE_URL": "sqlite://"}
    with pytest.raises(DamagedSecret, match=says):
        create_app(cfg)
    with pytest.raises(BackupError, match=says):
        centre_secret(Config.from_mapping(cfg))


# --- damaged TLS files and tokens: one line naming the file and the right remedy ---------

TLS_REMEDIES = {
    "ca.key": "rotate-ca",  # the CA's sealed copy, or a new CA and every terminal enrolled again
    "ca.pem": "rotate-ca",
    "server.key": "rotate-server",  # a new server certificate under the same CA
    "server.pem": "rotate-server",
}
DAMAGE = {
    "empty": lambda path: path.write_bytes(b""),
    "cut short": lambda path: path.write_bytes(path.read_bytes()[:60]),
    "unreadable": lambda path: (path.unlink(), path.mkdir()),  # root reads any mode: a folder
}


def _tls(folder):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from exam_server.tls import ensure_tls

    return ensure_tls(folder, centre="4101001", hosts=["127.0.0.1"], now=datetime.now(UTC))


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("name", list(TLS_REMEDIES))
def test_a_damaged_tls_file_is_refused_naming_it_and_its_remedy(
    tmp_path,
    name: str,
    damage: str,  # type: ignore[no-untyped-def]
) -> None:
    """The CA or the server certificate and key, empty after a cut, cut short or
    unreadable: the server never starts on them, nor makes a new CA that every terminal
    would then refuse; the message says which file and which command repairs it."""
    from exam_common.durable import DamagedSecret
    from exam_server.tls import server_context

    files = _tls(tmp_path)
    path = files.folder / name
    DAMAGE[damage](path)
    with pytest.raises(DamagedSecret) as caught:
        server_context(_tls(tmp_path))
    message = str(caught.value)
    assert str(path) in message and TLS_REMEDIES[name] in message, message
    assert "\n" not in message


def test_a_server_key_of_another_certificate_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from exam_server.tls import TlsError, server_context

    files = _tls(tmp_path)
    other = _tls(tmp_path / "other")
    files.server_key.write_bytes(other.server_key.read_bytes())
    with pytest.raises(TlsError, match="do not go together.*rotate-server"):
        server_context(files)


def _run_server(data, db: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "exam_server.cli", "run", "--port", "0", "--database", db]
        + ["--data-dir", str(data), "--no-scheduler"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_server_refuses_a_damaged_server_key_and_the_remedy_repairs_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """End to end: `exam-server run` stops in one line (no traceback) naming server.key
    and `exam-server tls rotate-server`; that command, run as told, repairs it under the
    same CA (the terminals' pinned fingerprint unchanged)."""
    from exam_server.db import Database
    from exam_server.migrate import upgrade

    data = tmp_path / "data"
    files = _tls(data)
    fingerprint = files.fingerprint()
    files.server_key.write_bytes(b"")
    db = f"sqlite:///{tmp_path / 'centre.db'}"
    upgrade(Database(db))
    proc = _run_server(data, db)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    [line] = [x for x in proc.stderr.splitlines() if x.strip()]
    assert str(files.server_key) in line and "exam-server tls rotate-server" in line, line
    fixed = subprocess.run(
        [sys.executable, "-m", "exam_server.cli", "tls", "rotate-server", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert fixed.returncode == 0, fixed.stderr
    assert files.fingerprint() == fingerprint
    from exam_server.tls import server_context

    server_context(files)


def test_the_tls_commands_refuse_a_damaged_ca_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    files = _tls(data)
    files.ca_cert.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB")
    proc = subprocess.run(
        [sys.executable, "-m", "exam_server.cli", "tls", "show", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    [line] = [x for x in proc.stderr.splitlines() if x.strip()]
    assert str(files.ca_cert) in line and "rotate-ca" in line and "sealed copy" in line, line


@pytest.mark.parametrize("content", [b"", b"0123abcd\n"], ids=["empty", "short"])
def test_a_damaged_sync_token_is_refused_saying_to_delete_it(tmp_path, content: bytes) -> None:  # type: ignore[no-untyped-def]
    """The sync tool's token is only shared by exam-sync and the server, both reading the
    file each time: a damaged one is deleted and made again, not restored."""
    from exam_common.durable import DamagedSecret
    from exam_server.sync.service import local_token

    cfg = Config.from_mapping({"DATA_DIR": str(tmp_path)})
    (tmp_path / "local_token").write_bytes(content)
    with pytest.raises(DamagedSecret) as caught:
        local_token(cfg)
    message = str(caught.value)
    assert str(tmp_path / "local_token") in message and "delete it" in message, message
    assert "sealed copy" not in message and "\n" not in message
    (tmp_path / "local_token").unlink()  # the remedy, as it says
    assert len(local_token(cfg)) == 64
