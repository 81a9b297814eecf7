"""``exam-server demo``: a fresh centre database with the demo package imported."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from exam_common.durable import ensure_dir
from exam_server.config import Config, write_file


def guard_demo(data_dir: Path, port: int, *, reset: bool, interactive: bool) -> None:
    """Before anything is written: refuse to touch a demo that is running, and delete a
    stopped one only when asked (``reset``, or a yes at the prompt)."""
    from exam_server.serving import bind_failure, data_dir_holder

    centre_dir = data_dir / "centre"
    holder = data_dir_holder(str(centre_dir))
    if holder is not None:
        raise click.ClickException(
            f"演示正在运行（pid {holder}，数据目录 {centre_dir}），未作任何改动：请先在它的窗口按 "
            f"Ctrl-C 或运行 `kill {holder}` 停止它，或用另一个目录和端口："
            f"`make demo DEMO_ARGS='--data-dir demo-data-2 --port {port + 1}'` "
            f"/ a demo is running there (pid {holder}); nothing was touched"
        )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise click.ClickException(
                f"{bind_failure('127.0.0.1', port, exc)}；未作任何改动 / nothing was touched"
            ) from None
    if not centre_dir.exists() or not any(centre_dir.iterdir()):
        return
    if reset:
        return
    question = (
        f"{data_dir} 里有上次演示的数据（数据库、备份、密钥）。删除并重新开始？"
        f" / delete the last demo's data in {data_dir} and start afresh?"
    )
    if interactive and click.confirm(question, default=False):
        return
    raise click.ClickException(
        f"未作任何改动：{data_dir} 里有上次演示的数据。要删除并重新开始，运行 "
        f"`make demo DEMO_ARGS=--reset`；要保留它，用另一个目录 "
        f"`make demo DEMO_ARGS='--data-dir demo-data-2'` / nothing was touched: the last demo's "
        f"data is in {data_dir} (--reset deletes it)"
    )


def build_package(package_dir: Path, *, quick: bool) -> None:
    """Build the demo's package the way central does, with central's own command (the
    centre never imports central's code)."""
    cmd = [sys.executable, "-m", "central.cli", "demo-package", "--out", str(package_dir)]
    done = subprocess.run(
        [*cmd, "--quick" if quick else "--full"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise click.ClickException(
            f"演示考试包生成失败 / building the demo package failed: "
            f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}"
        )


def prepare_demo(
    data_dir: Path, package_dir: Path, *, quick: bool, port: int, tls: bool = False
) -> Config:
    """Recreate the demo's centre from the package central built, with its configuration
    file (``centre.toml``) and an enrolment code for every seat (``enrol-codes.json``);
    print what to do next. :func:`guard_demo` has checked that nothing running is touched."""
    from exam_server.db import Database
    from exam_server.migrate import upgrade
    from exam_server.packages.cli import import_file

    package = package_dir / "package.zip"
    if not package.exists():
        raise click.ClickException(
            f"没有找到演示考试包 {package}：请先运行 `exam-central demo-package --out {package_dir}` "
            "(or simply `make demo`)"
        )
    centre_dir = data_dir / "centre"
    if centre_dir.exists():
        shutil.rmtree(centre_dir)
    ensure_dir(centre_dir)
    settings: dict[str, object] = {
        "DATABASE_URL": f"sqlite:///{(centre_dir / 'centre.db').resolve()}",
        "CENTRE_CODE": "0101",
        "CENTRAL_PUBLIC_KEY": str((package_dir / "central.pub").resolve()),
        "KEY_ESCROW": str((package_dir / "secrets.json").resolve()),
        "INSECURE_HTTP": not tls,
    }
    conf = write_file(centre_dir, settings)
    # The demo's own settings win over any EXAM_* of this shell (a real centre's database
    # URL in the environment must never receive the demo).
    cfg = Config.from_mapping({"DATA_DIR": str(centre_dir), **settings})
    db = Database(cfg.DATABASE_URL)
    upgrade(db)
    report = import_file(cfg, db, package, by="demo-admin")
    accounts = _demo_accounts(db)
    codes_path, first_code, fingerprint = _demo_codes(db, cfg)
    db.dispose()
    scheme = "https" if tls else "http"
    server = f"{scheme}://127.0.0.1:{port}"
    roster = json.loads((package_dir / "roster.json").read_text())
    mode = (
        "快速模式：每科 6 分钟，登录窗口、迟到入场和最早交卷按 6/60 比例缩短为 3 分钟 "
        "(quick mode: 6-minute sittings; the 30-minute windows are scaled to 3 minutes)"
        if quick
        else "完整模式：每科 60 分钟，按考试须知的 30 分钟规则 (full mode: the real rules)"
    )
    now = datetime.now(UTC).astimezone(cfg.tz)
    click.echo("")
    click.echo("=" * 72)
    click.echo(
        f"演示考点已准备好 / demo centre ready ({now:%H:%M:%S}): {report.sittings} 场次, "
        f"{report.papers} 套加密试卷, {report.candidates} 名考生"
    )
    click.echo(
        f"所有时间均为考点时区 {cfg.TIME_ZONE}（{now:%Z, UTC%z}），屏幕、打印件和命令行一致 "
        f"/ every time shown is the centre's time zone {cfg.TIME_ZONE}"
    )
    click.echo(mode)
    click.echo(f"考点数据目录 / centre data: {centre_dir}  (配置 / config: {conf})")
    click.echo(f"省中心考试包 / central's package: {package_dir}")
    click.echo(f"  同步状况 / sync status: .venv/bin/exam-sync status --data-dir {centre_dir}")
    click.echo(
        "试卷在开考前一直加密；演示中由本机扮演省中心，在开考时下达密钥 "
        "(papers stay encrypted until start; the demo plays central and releases keys on time)"
    )
    if tls:
        click.echo(f"考点 CA 指纹 / centre CA fingerprint: {fingerprint}")
        click.echo(f"  浏览器信任此 CA / let the browser trust {centre_dir / 'tls' / 'ca.pem'}")
    else:
        click.echo(
            "演示用明文 HTTP（--insecure-http），页面和日志都会标明；`exam-server demo --tls` "
            "演示加密 / the demo runs plain HTTP (every page and log line says so); "
            "--tls shows TLS"
        )
    click.echo(f"健康检查 / health: {server}/healthz")
    click.echo(f"监考控制台 / console: {server}/console/  (演示账号 / demo accounts:)")
    for username, password, role in accounts:
        click.echo(f"  {role}: {username} / {password}")
    fp = f" --ca-fingerprint {fingerprint}" if tls else ""
    terminal_dir = data_dir / "terminal-001-01"
    click.echo("考生终端 / a terminal at seat 001-01, in another shell (绑定一次 / enrol once):")
    click.echo(
        f"  .venv/bin/exam-client enrol --server {server} --code {first_code}{fp} "
        f"--data-dir {terminal_dir}"
    )
    click.echo(f"  .venv/bin/exam-client run --data-dir {terminal_dir}")
    click.echo(
        "  然后用浏览器打开 / then open http://127.0.0.1:8765 (or `.venv/bin/exam-client kiosk`)"
    )
    click.echo(
        f"  模拟全场 / or the whole room: .venv/bin/exam-client simulate --server "
        f"{server} --roster {package_dir / 'roster.json'} --enrol-codes {codes_path} --submit"
    )

    click.echo("前几名考生 / first candidates (准考证号 / 身份证号 / 座位):")
    for row in roster[:5]:
        click.echo(f"  {row['ticket']}  {row['id_number']}  {row['seat']}  {row['name']}")
    click.echo(f"全部名单 / full roster: {package_dir / 'roster.json'}")
    click.echo("=" * 72)
    return cfg


def _demo_codes(db: object, cfg: Config) -> tuple[Path, str, str]:
    """One-time enrolment codes for every seat of the demo centre, in a file the
    simulator reads; (the file, seat 001-01's code, the CA fingerprint)."""
    from datetime import timedelta

    from exam_common.durable import write_atomic
    from exam_server.clock import SystemClock
    from exam_server.db import Database
    from exam_server.terminals import service
    from exam_server.terminals.cli import codes_document
    from exam_server.tls import ensure_tls

    assert isinstance(db, Database)
    now = SystemClock().now()
    with db.write() as session:
        issued = service.issue_codes(
            session, now, service.seats_for(session), by="demo", valid=timedelta(days=1)
        )
    fingerprint = ensure_tls(cfg.DATA_DIR, centre=cfg.CENTRE_CODE, now=now).fingerprint()
    path = Path(cfg.DATA_DIR) / "enrol-codes.json"
    write_atomic(path, json.dumps(codes_document(issued, fingerprint), indent=1))
    first = next((c.code for c in issued if c.seat == "001-01"), issued[0].code if issued else "")
    return path, first, fingerprint


DEMO_PASSWORD = "demo-2026-exam"


def _demo_accounts(db: object) -> list[tuple[str, str, str]]:
    """A chief examiner and an invigilator for room 001 (demo passwords, printed)."""
    from sqlalchemy import select

    from exam_server.accounts.models import Role
    from exam_server.accounts.service import assign_room, create_user
    from exam_server.centres.models import Room
    from exam_server.clock import SystemClock
    from exam_server.db import Database

    assert isinstance(db, Database)
    now = SystemClock().now()
    with db.write() as session:
        create_user(
            session,
            now,
            username="chief",
            display_name="主考（演示）",
            role=Role.CHIEF,
            password=DEMO_PASSWORD,
            by="demo",
        )
        inv = create_user(
            session,
            now,
            username="inv01",
            display_name="监考 第01考场（演示）",
            role=Role.INVIGILATOR,
            password=DEMO_PASSWORD,
            by="demo",
        )
        room = session.scalars(select(Room).order_by(Room.code)).first()
        if room is not None:
            assign_room(session, now, inv, room, None, by="demo")
    return [
        ("chief", DEMO_PASSWORD, "主考 chief"),
        ("inv01", DEMO_PASSWORD, "监考 invigilator, room 001"),
    ]
