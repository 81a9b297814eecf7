"""One centre configuration: ``<data dir>/centre.toml``, read by every centre tool, the
environment over it and options over both; and start-up failures a person can cause are
one line in Chinese and English that names the directory and the command that fixes it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from exam_server.config import Config, ConfigError, read_file, write_file
from tests.conftest import free_port

CENTRAL_PUB = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----
"""


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EXAM_")}


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=cwd,
        env=env if env is not None else _clean_env(),
        stdin=subprocess.DEVNULL,
    )


def test_the_file_is_read_and_the_environment_and_options_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in [v for v in os.environ if v.startswith("EXAM_")]:
        monkeypatch.delenv(var)
    write_file(tmp_path, {"CENTRE_CODE": "0207", "SYNC_INTERVAL_S": 30, "INSECURE_HTTP": True})
    cfg = Config.from_mapping({"DATA_DIR": str(tmp_path)})
    assert cfg.CENTRE_CODE == "0207" and cfg.SYNC_INTERVAL_S == 30.0 and cfg.INSECURE_HTTP
    assert str(tmp_path / "centre.toml") == cfg.SOURCE_FILE
    # The database is the data directory's own unless something says otherwise.
    assert f"sqlite:///{tmp_path / 'centre.db'}" == cfg.DATABASE_URL
    monkeypatch.setenv("EXAM_CENTRE_CODE", "0301")
    assert Config.from_mapping({"DATA_DIR": str(tmp_path)}).CENTRE_CODE == "0301"
    assert (
        Config.from_mapping({"DATA_DIR": str(tmp_path), "CENTRE_CODE": "0409"}).CENTRE_CODE
        == "0409"
    )
    # Writing again keeps what was there.
    write_file(tmp_path, {"CENTRAL_URL": "http://127.0.0.1:9"})
    assert read_file(tmp_path / "centre.toml")["CENTRE_CODE"] == "0207"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("centre_code = 101\n", "centre_code = 101 类型不对"),
        ("centre = '0101'\n", "未知的设置 'centre'"),
        ("centre_code = \n", "格式错误"),
    ],
    ids=["wrong-type", "unknown-key", "not-toml"],
)
def test_a_bad_file_is_refused_naming_it(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "centre.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping({"DATA_DIR": str(tmp_path)})
    assert says in str(caught.value) and str(tmp_path / "centre.toml") in str(caught.value)


def test_setup_once_and_every_tool_finds_the_centre(tmp_path: Path) -> None:
    """The issue's trap: after `exam-sync setup`, `import-package` asked for
    EXAM_CENTRE_CODE and `status` kept the old `not_set_up` error. Now setup writes the
    file, every tool reads it, and the error before setup names the folder and the fix."""
    data = tmp_path / "site"
    key = tmp_path / "central.pub"
    key.write_text(CENTRAL_PUB)
    up = run("exam_server.cli", "db", "upgrade", "--data-dir", str(data))
    assert up.returncode == 0, up.stderr
    assert str(data / "centre.db") in up.stdout  # the database is the folder's own
    before = run("exam_server.sync.cli", "status", "--data-dir", str(data))
    assert before.returncode == 1
    assert f"数据目录 / data dir {data}" in before.stdout
    assert "exam-sync setup --centre 考点代码" in before.stdout
    assert f"--data-dir {data}" in before.stdout
    pulled = run("exam_server.sync.cli", "pull", "--data-dir", str(data))
    assert pulled.returncode == 1 and "Traceback" not in pulled.stderr
    assert "尚未完成同步设置" in pulled.stderr and str(data) in pulled.stderr
    setup = run(
        "exam_server.sync.cli",
        "setup",
        "--centre",
        "0101",
        "--central-key",
        str(key),
        "--data-dir",
        str(data),
    )
    assert setup.returncode == 0, setup.stderr
    assert "centre.toml" in setup.stdout
    conf = read_file(data / "centre.toml")
    assert conf["CENTRE_CODE"] == "0101"
    assert Path(conf["CENTRAL_PUBLIC_KEY"]).read_text() == CENTRAL_PUB
    after = run("exam_server.sync.cli", "status", "--data-dir", str(data))
    assert "考点 0101" in after.stdout
    assert "not_set_up" not in after.stdout  # the error from before setup is gone
    assert "最近错误：无" in after.stdout
    # import-package reads the same file: it gets past the centre check to the package.
    bogus = tmp_path / "package.zip"
    bogus.write_bytes(b"not a zip")
    imported = run("exam_server.cli", "import-package", str(bogus), "--data-dir", str(data))
    assert imported.returncode == 1 and "Traceback" not in imported.stderr
    assert "考试包未导入" in imported.stderr and "EXAM_CENTRE_CODE" not in imported.stderr


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen(1)
        proc = run(
            "exam_server.cli",
            "run",
            "--port",
            str(port),
            "--insecure-http",
            "--data-dir",
            str(tmp_path),
        )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "Errno" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert f"端口 {port} 已被占用" in line and "--port" in line and "in use" in line


def test_a_data_dir_that_cannot_be_used_is_one_line(tmp_path: Path) -> None:
    """A file where the folder should be (root reads every folder, so a 0000 folder would
    not fail here; the same check refuses it for an ordinary user)."""
    data = tmp_path / "not-a-folder"
    data.write_text("")
    for cmd in (
        ["exam_server.cli", "db", "upgrade"],
        ["exam_server.sync.cli", "status"],
        ["exam_server.cli", "run", "--insecure-http", "--port", str(free_port())],
    ):
        proc = run(*cmd, "--data-dir", str(data))
        assert proc.returncode == 1, proc
        assert "Traceback" not in proc.stderr
        assert f"无法使用数据目录 {data}：不是目录" in proc.stderr, proc.stderr


def test_a_second_server_on_one_data_dir_is_refused(tmp_path: Path) -> None:
    from exam_server.db import Database
    from exam_server.migrate import upgrade
    from tests.live import LiveServer

    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)
    db.dispose()
    first = LiveServer(db.url, tmp_path / "data").start()
    try:
        second = run(
            "exam_server.cli",
            "run",
            "--insecure-http",
            "--port",
            str(free_port()),
            "--database",
            db.url,
            "--data-dir",
            str(tmp_path / "data"),
        )
        assert second.returncode == 1 and "Traceback" not in second.stderr
        assert f"pid {first.proc.pid}" in second.stderr  # type: ignore[union-attr]
        assert "正被另一个考点服务器" in second.stderr
    finally:
        first.stop()


def test_one_time_zone_from_the_file_for_the_console_the_pdfs_and_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from exam_common import protocol as p
    from exam_server import create_app
    from seating.i18n import fmt_time, printing_in

    for var in [v for v in os.environ if v.startswith("EXAM_")]:
        monkeypatch.delenv(var)
    write_file(tmp_path, {"TIME_ZONE": "Asia/Urumqi"})
    cfg = Config.from_mapping({"DATA_DIR": str(tmp_path)})
    noon = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    assert f"{noon.astimezone(cfg.tz):%H:%M}" == "10:00"  # UTC+6
    assert fmt_time(noon) == "12:00"  # documents print China time by default
    with printing_in(cfg.tz):
        assert fmt_time(noon) == "10:00"
    assert fmt_time(noon) == "12:00"
    # The console's pages carry the zone to their scripts, and the terminal hears it at hello.
    from exam_server.migrate import upgrade

    app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True})
    from exam_server.runtime import runtime

    upgrade(runtime(app).db)
    page = app.test_client().get("/console/login").get_data(as_text=True)
    assert '<meta name="time-zone" content="Asia/Urumqi">' in page
    assert p.HelloOk(protocol=1, server_time=noon).time_zone == "Asia/Shanghai"
    runtime(app).db.dispose()
    bad = Config.from_mapping({"DATA_DIR": str(tmp_path), "TIME_ZONE": "Mars/Olympus"})
    with pytest.raises(ConfigError, match="未知的时区"):
        _ = bad.tz


def test_accounts_and_terminals_commands_take_the_data_dir(tmp_path: Path) -> None:
    """`exam-server user ...` and `terminals list/revoke` had no --data-dir: they went to
    sqlite:///var/centre.db whatever folder the centre was set up in."""
    data = tmp_path / "site"
    up = run("exam_server.cli", "db", "upgrade", "--data-dir", str(data))
    assert up.returncode == 0, up.stderr
    added = run(
        "exam_server.cli",
        "user",
        "add",
        "wang",
        "--role",
        "chief",
        "--name",
        "王主考",
        "--password",
        "a-long-password-1",
        "--data-dir",
        str(data),
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    listed = run("exam_server.cli", "user", "list", "--data-dir", str(data), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "wang" in listed.stdout and "王主考" in listed.stdout
    assert not (tmp_path / "var").exists()  # nothing went to the default folder
    for cmd in (["user", "unlock", "wang"], ["terminals", "list"]):
        done = run("exam_server.cli", *cmd, "--data-dir", str(data), cwd=tmp_path)
        assert done.returncode == 0, (cmd, done.stderr)
    revoked = run(
        "exam_server.cli",
        "terminals",
        "revoke",
        "01-01",
        "--reason",
        "test",
        "--data-dir",
        str(data),
        cwd=tmp_path,
    )
    assert "no_such_enrolment" in revoked.stderr and "Traceback" not in revoked.stderr
    for cmd in (["user", "add"], ["user", "list"], ["terminals", "list"]):
        helped = run("exam_server.cli", *cmd, "--help").stdout
        assert "--data-dir" in helped and "sqlite:///var/centre.db" not in helped, cmd
