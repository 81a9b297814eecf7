"""Start-up failures a person can cause, each one line in Chinese and English saying what
to do (never a traceback): a port below 1024 without the right, an address that is not this
machine's, a data folder this user may not use, and a demo whose port is taken while its
data folder is free. Run as an ordinary user: under root (a container, CI) the commands
run as ``nobody`` through setpriv, since root may bind any port and open any folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from exam_server.config import data_dir_problem
from exam_server.serving import bind_failure
from tests.conftest import free_port

NOBODY = 65534


def as_ordinary_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    if shutil.which("setpriv") is None:
        pytest.skip("running as root and setpriv (util-linux) is not installed")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *args]


def server(*args: str) -> subprocess.CompletedProcess[str]:
    # nor coverage's: under `make test` a subprocess measures itself into the checkout's
    # folder, which nobody may write to (its failure to would be the traceback we refuse)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXAM_", "COVERAGE_"))}
    return subprocess.run(
        as_ordinary_user([sys.executable, "-m", "exam_server.cli", *args]),
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        stdin=subprocess.DEVNULL,
        cwd="/",
    )


@pytest.fixture
def open_base() -> Iterator[Path]:
    """A folder every user can pass through (pytest's own tmp folder is root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="exam-startup-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Errno" not in proc.stderr, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def test_a_port_below_1024_is_refused_with_the_fix(open_base: Path) -> None:
    data = open_base / "data"
    data.mkdir()
    if os.geteuid() == 0:
        os.chown(data, NOBODY, NOBODY)  # the folder is nobody's: only the port fails
    port = 1000  # below /proc/sys/net/ipv4/ip_unprivileged_port_start's usual 1024
    line = one_line(server("run", "--port", str(port), "--insecure-http", "--data-dir", str(data)))
    assert f"没有权限监听端口 {port}" in line and "--port 5000" in line, line
    assert "use a port above 1024" in line


@pytest.mark.parametrize("host", ["192.0.2.1", "no-such-host.invalid"])
def test_an_address_not_of_this_machine_is_refused_with_the_fix(tmp_path: Path, host: str) -> None:
    """192.0.2.1 is TEST-NET-1: never an address of a machine; a name that does not
    resolve fails the same way."""
    port = free_port()
    with socket.socket() as probe, pytest.raises(OSError) as caught:
        probe.bind((host, port))
    said = bind_failure(host, port, caught.value)
    assert f"地址 {host} 不是本机的地址" in said and "--host 0.0.0.0" in said, said
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAM_")}
    proc = subprocess.run(
        [sys.executable, "-m", "exam_server.cli", "run", "--host", host, "--port", str(port)]
        + ["--insecure-http", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    line = one_line(proc)
    assert f"地址 {host} 不是本机的地址" in line and "not an address of this machine" in line


def test_a_data_folder_this_user_may_not_use_is_one_line(open_base: Path) -> None:
    data = open_base / "private"
    data.mkdir(mode=0o700)
    if os.geteuid() != 0:
        data.chmod(0o000)  # root would pass; an ordinary user may not enter
    try:
        line = one_line(server("db", "upgrade", "--data-dir", str(data)))
    finally:
        data.chmod(0o700)
    assert f"无法使用数据目录 {data}：本用户没有读写权限" in line, line
    assert "chown/chmod" in line and "--data-dir" in line
    # The function itself: a folder that does not exist yet is no problem.
    assert data_dir_problem(open_base / "not-yet") is None


def test_the_demo_refuses_a_port_in_use_when_its_data_folder_is_free(tmp_path: Path) -> None:
    from exam_server.demo import guard_demo

    free, taken = free_port(), free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen(1)
        with pytest.raises(click.ClickException) as caught:
            guard_demo(tmp_path / "demo", [free, taken], reset=False, interactive=False)
    said = caught.value.message
    assert f"端口 {taken} 已被占用" in said and "--port" in said, said
    assert "未作任何改动 / nothing was touched" in said
    assert not (tmp_path / "demo").exists()  # nothing written


def test_a_running_demo_is_refused_with_advice_that_works(tmp_path: Path) -> None:
    """The advice named --port + 1, which is the running demo's own central: a second demo
    started as told was refused again, on that port."""
    from exam_server.demo import guard_demo
    from exam_server.serving import hold_data_dir

    centre = tmp_path / "demo" / "centre"
    centre.mkdir(parents=True)
    held = hold_data_dir(str(centre))
    try:
        port = free_port()
        with pytest.raises(click.ClickException) as caught:
            guard_demo(tmp_path / "demo", [port, port + 1], reset=False, interactive=False)
    finally:
        held.close()
    said = caught.value.message
    assert f"演示正在运行（pid {os.getpid()}" in said and "未作任何改动" in said, said
    advised = int(said.split("--port ")[1].split("'")[0])
    assert advised not in (port, port + 1) and advised + 1 not in (port, port + 1), said
