"""``exam-server demo``: a fresh centre database with the demo package imported."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import requests

from exam_common.durable import ensure_dir
from exam_server.config import Config, write_file


def guard_demo(data_dir: Path, ports: list[int], *, reset: bool, interactive: bool) -> None:
    """Before anything is written: refuse to touch a demo that is running, and delete a
    stopped one only when asked (``reset``, or a yes at the prompt)."""
    from exam_server.serving import bind_failure, data_dir_holder

    # Another demo's ports: --port + 1 is the running demo's own central.
    port = ports[0]
    centre_dir = data_dir / "centre"
    holder = data_dir_holder(str(centre_dir))
    if holder is not None:
        raise click.ClickException(
            f"演示正在运行（pid {holder}，数据目录 {centre_dir}），未作任何改动：请先在它的窗口按 "
            f"Ctrl-C 或运行 `kill {holder}` 停止它，或用另一个目录和端口："
            f"`make demo DEMO_ARGS='--data-dir demo-data-2 --port {port + 10}'` "
            f"/ a demo is running there (pid {holder}); nothing was touched"
        )
    for each in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", each))
            except OSError as exc:
                raise click.ClickException(
                    f"{bind_failure('127.0.0.1', each, exc)}；未作任何改动 / nothing was touched"
                ) from None
    parts = [data_dir / "centre", data_dir / "central"]
    if not any(p.exists() and any(p.iterdir()) for p in parts):
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


@dataclass
class DemoCentral:
    """A real ``exam-central run`` beside the demo centre: its own database and port."""

    proc: subprocess.Popen[bytes]
    url: str
    folder: Path
    public_key: Path

    @property
    def database(self) -> str:
        return f"sqlite:///{self.folder / 'central.db'}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def _clean_env(**extra: str) -> dict[str, str]:
    """This shell's environment without its ``EXAM_*`` settings: the demo's parts are
    configured by their own folders, never by a real centre's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXAM_")}
    return {**env, **extra}


def _step(what: str, args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        raise click.ClickException(f"演示准备失败：{what} / the demo failed at: {what}: {last[0]}")
    return done.stdout


def start_central(folder: Path, port: int, *, quick: bool, tempo: str = "") -> DemoCentral:
    """Central as the province runs it: the catalogue, the plan and the registrations
    loaded, the centre's package published, and ``exam-central run`` serving the sync API."""
    folder = folder.resolve()
    if folder.exists():
        shutil.rmtree(folder)  # guard_demo asked first
    ensure_dir(folder)
    env = _clean_env(
        EXAM_CENTRAL_DATABASE_URL=f"sqlite:///{folder / 'central.db'}",
        EXAM_CENTRAL_DATA_DIR=str(folder / "data"),
    )
    c = ["central.cli"]
    when = ["--quick" if quick else "--full"] + (["--tempo", tempo] if tempo else [])
    _step("演示计划", [*c, "demo-inputs", "--out", str(folder), *when], env)
    _step("省中心数据库", [*c, "db", "upgrade"], env)
    _step("省中心密钥", [*c, "init"], env)
    _step("工种目录", [*c, "catalogue", "load", "henan"], env)
    _step("考试计划", [*c, "plan", "load", str(folder / "plan.json")], env)
    _step("报名信息", [*c, "registrations", "import", str(folder / "registrations.csv")], env)
    _step("发布考试包", [*c, "publish"], env)
    # the demo central's log, handed to the child
    log = open(folder / "central.log", "ab")  # noqa: SIM115  # not-durable: a log file
    proc = subprocess.Popen(
        [sys.executable, "-m", "central.cli", "run", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # stopped with the demo, never by a broad kill
    )
    log.close()
    central = DemoCentral(proc, f"http://127.0.0.1:{port}", folder, folder / "data" / "central.pub")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(
                f"省中心没有启动，见 {folder / 'central.log'} / central did not start"
            )
        try:
            if requests.get(f"{central.url}/healthz", timeout=1).ok:
                return central
        except requests.RequestException:
            time.sleep(0.2)
    central.stop()
    raise click.ClickException(f"省中心 30 秒内没有应答，见 {folder / 'central.log'}")


def prepare_demo(
    data_dir: Path,
    package_dir: Path | None,
    *,
    quick: bool,
    port: int,
    tls: bool = False,
    central: DemoCentral | None = None,
) -> Config:
    """Recreate the demo's centre with its configuration file (``centre.toml``) and an
    enrolment code for every seat (``enrol-codes.json``); print where each part is and
    what to try. With ``central``, the centre is set up and pulls its package through
    ``exam-sync`` as in production, and central releases the keys; without it (an
    ``--escrow`` demo) the package comes from ``package_dir`` and the server releases the
    keys from central's secrets file. :func:`guard_demo` has checked that nothing running
    is touched."""
    from exam_server.db import Database
    from exam_server.migrate import upgrade
    from exam_server.packages.cli import import_file

    centre_dir = (data_dir / "centre").resolve()
    if centre_dir.exists():
        shutil.rmtree(centre_dir)
    ensure_dir(centre_dir)
    settings: dict[str, object] = {
        "DATABASE_URL": f"sqlite:///{centre_dir / 'centre.db'}",
        "INSECURE_HTTP": not tls,
    }
    if central is not None:
        # Keys and uploads within seconds of being due, a backup every minute of a sitting:
        # a quick demo shows the whole round trip.
        settings |= {"SYNC_INTERVAL_S": 2.0, "BACKUP_INTERVAL_S": 60.0}
    else:
        assert package_dir is not None
        package = package_dir / "package.zip"
        if not package.exists():
            raise click.ClickException(
                f"没有找到演示考试包 {package}：请先运行 `exam-central demo-package --out "
                f"{package_dir}` (or simply `make demo`)"
            )
        settings |= {
            "CENTRE_CODE": "0101",
            "CENTRAL_PUBLIC_KEY": str((package_dir / "central.pub").resolve()),
            "KEY_ESCROW": str((package_dir / "secrets.json").resolve()),
        }
    conf = write_file(centre_dir, settings)
    # The demo's own settings win over any EXAM_* of this shell (a real centre's database
    # URL in the environment must never receive the demo).
    cfg = Config.from_mapping({"DATA_DIR": str(centre_dir), **settings})
    db = Database(cfg.DATABASE_URL)
    upgrade(db)
    if central is None:
        assert package_dir is not None
        import_file(cfg, db, package_dir / "package.zip", by="demo-admin")
    else:
        env = _clean_env()
        where = ["--data-dir", str(centre_dir)]
        _step(
            "exam-sync setup",
            ["exam_server.sync.cli", "setup", "--centre", "0101", "--central-url", central.url]
            + ["--central-key", str(central.public_key), *where],
            env,
        )
        centre_key = (centre_dir / "centre.pub").read_text().strip()
        _step(
            "exam-central centre add",
            ["central.cli", "centre", "add", "0101", "--public-key", centre_key]
            + ["--database", central.database],
            env,
        )
        _step("exam-sync pull", ["exam_server.sync.cli", "pull", *where], env)
        cfg = Config.from_mapping({"DATA_DIR": str(centre_dir), **settings})
    counts, roster = _centre_roster(db)
    times = _first_sitting_times(db)
    roster_path = write_file_json(data_dir / "roster.json", roster)
    accounts = _demo_accounts(db)
    codes_path, first_code, fingerprint = _demo_codes(db, cfg)
    db.dispose()
    scheme = "https" if tls else "http"
    server = f"{scheme}://127.0.0.1:{port}"
    mode = _mode_line(quick, times)
    now = datetime.now(UTC).astimezone(cfg.tz)
    echo = click.echo
    echo("")
    echo("=" * 72)
    echo(
        f"演示考点已准备好 / demo centre ready ({now:%H:%M:%S}): {counts[0]} 场次, "
        f"{counts[1]} 套加密试卷, {counts[2]} 名考生"
    )
    echo(
        f"所有时间均为考点时区 {cfg.TIME_ZONE}（{now:%Z, UTC%z}），屏幕、打印件和命令行一致 "
        f"/ every time shown is the centre's time zone {cfg.TIME_ZONE}"
    )
    echo(mode)
    echo(f"考点数据目录 / centre data: {centre_dir}  (配置 / config: {conf})")
    echo(f"  同步状况 / sync status: .venv/bin/exam-sync status --data-dir {centre_dir}")
    if central is not None:
        echo(
            f"省中心 / central: {central.url}  (数据 / data: {central.folder}，"
            f"日志 / log: {central.folder / 'central.log'})"
        )
        echo(
            "  考试包已经由 exam-sync 从省中心取回并导入；开考时省中心下达试卷密钥，结束时下达答案密钥，"
            "考点自动取回；结束后成绩包和备份自动上传，省中心独立复核 / the package was pulled "
            "through exam-sync; central releases the keys at the start and the end; results "
            "and backups go up by themselves and central re-scores them"
        )
        echo(
            f"  省中心复核结果 / central's results: .venv/bin/exam-central results --database {central.database}"
        )
    else:
        echo(f"省中心考试包 / central's package: {package_dir}")
        echo(
            "试卷在开考前一直加密；本演示（--escrow）由考点服务器代省中心按时下达密钥 "
            "(papers stay encrypted until start; this --escrow demo releases keys itself)"
        )
    if tls:
        echo(f"考点 CA 指纹 / centre CA fingerprint: {fingerprint}")
        echo(f"  浏览器信任此 CA / let the browser trust {centre_dir / 'tls' / 'ca.pem'}")
    else:
        echo(
            "演示用明文 HTTP（--insecure-http），页面和日志都会标明；`exam-server demo --tls` "
            "演示加密 / the demo runs plain HTTP (every page and log line says so); "
            "--tls shows TLS"
        )
    echo(f"健康检查 / health: {server}/healthz")
    echo(f"监考控制台 / console: {server}/console/  (演示账号 / demo accounts:)")
    for username, password, role in accounts:
        echo(f"  {role}: {username} / {password}")
    fp = f" --ca-fingerprint {fingerprint}" if tls else ""
    terminal_dir = data_dir / "terminal-001-01"
    echo("考生终端 / a terminal at seat 001-01, in another shell (绑定一次 / enrol once):")
    echo(
        f"  .venv/bin/exam-client enrol --server {server} --code {first_code}{fp} "
        f"--data-dir {terminal_dir}"
    )
    echo(f"  .venv/bin/exam-client run --data-dir {terminal_dir}")
    echo("  然后用浏览器打开 / then open http://127.0.0.1:8765 (or `.venv/bin/exam-client kiosk`)")
    echo(
        f"  模拟全场 / or the whole room: .venv/bin/exam-client simulate --server "
        f"{server} --roster {roster_path} --enrol-codes {codes_path} --submit"
    )
    echo("前几名考生 / first candidates (准考证号 / 身份证号 / 座位):")
    for row in roster[:5]:
        echo(f"  {row['ticket']}  {row['id_number']}  {row['seat']}  {row['name']}")
    echo(f"全部名单 / full roster: {roster_path}")
    echo("=" * 72)
    return cfg


def write_file_json(path: Path, doc: object) -> Path:
    from exam_common.durable import write_atomic

    return write_atomic(path, json.dumps(doc, ensure_ascii=False, indent=1))


def _first_sitting_times(db: object) -> tuple[timedelta, timedelta, timedelta, timedelta] | None:
    """The first sitting's length and windows (entry, late entry, earliest submission), as
    the centre imported them: what the banner says is what the sittings do."""
    from sqlalchemy import select

    from exam_server.db import Database
    from exam_server.plans.models import Sitting

    assert isinstance(db, Database)
    with db.read() as session:
        first = session.scalars(select(Sitting).order_by(Sitting.start)).first()
        if first is None:
            return None
        return (
            first.end - first.start,
            timedelta(seconds=first.entry_opens_before_s),
            timedelta(seconds=first.late_entry_s),
            timedelta(seconds=first.earliest_submit_s),
        )


def _mode_line(quick: bool, times: tuple[timedelta, timedelta, timedelta, timedelta] | None) -> str:
    """Quick or full mode, with the sittings' own length and windows."""
    from exam_server.messages import duration

    name = ("快速模式", "quick mode") if quick else ("完整模式", "full mode")
    if times is None:
        return f"{name[0]} ({name[1]})"
    length, entry, late, submit = times
    return (
        f"{name[0]}：每科 {duration(length)}，开考前 {duration(entry)}可登录，开考 "
        f"{duration(late)}后不得入场，开考 {duration(submit)}后可交卷 ({name[1]}: "
        f"{duration(length, 'en')} sittings; login {duration(entry, 'en')} before the start, "
        f"late entry until {duration(late, 'en')}, submission from {duration(submit, 'en')})"
    )


def _centre_roster(db: object) -> tuple[tuple[int, int, int], list[dict[str, str]]]:
    """(sittings, papers, candidates) and every candidate's ticket, ID number, name and
    first seat, as the centre holds them after the import."""
    from sqlalchemy import func, select

    from exam_server.candidates.models import Candidate
    from exam_server.db import Database
    from exam_server.plans.models import Sitting
    from exam_server.sittings.models import Attempt

    assert isinstance(db, Database)
    with db.read() as session:
        sittings = session.scalar(select(func.count()).select_from(Sitting)) or 0
        first = session.scalars(select(Sitting).order_by(Sitting.start)).first()
        rows = []
        if first is not None:
            for attempt in session.scalars(
                select(Attempt).where(Attempt.sitting_id == first.id).order_by(Attempt.seat_id)
            ):
                cand = session.get(Candidate, attempt.candidate_id)
                assert cand is not None
                rows.append(
                    {
                        "ticket": cand.ticket,
                        "id_number": cand.id_number,
                        "name": cand.name,
                        "seat": attempt.seat.label,
                    }
                )
        papers = _paper_count(session)
    return (sittings, papers, len(rows)), rows


def _paper_count(session: object) -> int:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from exam_server.plans.models import Paper

    assert isinstance(session, Session)
    return session.scalar(select(func.count()).select_from(Paper)) or 0


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
    """A chief examiner, an invigilator for room 001 and a centre admin (demo passwords,
    printed): the admin's console shows the link to central, the keys, backups and
    results, and the terminals' enrolment."""
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
        create_user(
            session,
            now,
            username="admin",
            display_name="考点管理员（演示）",
            role=Role.ADMIN,
            password=DEMO_PASSWORD,
            by="demo",
        )
        room = session.scalars(select(Room).order_by(Room.code)).first()
        if room is not None:
            assign_room(session, now, inv, room, None, by="demo")
    return [
        ("chief", DEMO_PASSWORD, "主考 chief"),
        ("inv01", DEMO_PASSWORD, "监考 invigilator, room 001"),
        ("admin", DEMO_PASSWORD, "考点管理员 centre admin"),
    ]
