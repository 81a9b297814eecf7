"""``exam-server``: run the centre server, migrate its database, seed the demo, check the log."""

from __future__ import annotations

import sys

from exam_server.boot import patch_if_serving

patch_if_serving(sys.argv)  # first of all: gevent before anything imports ssl

import contextlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402

from exam_common.durable import ensure_dir  # noqa: E402
from exam_server.cli_common import (  # noqa: E402
    Commands,
    check_data_dir,
    config_for,
    data_dir_option,
    database_option,
    insecure_option,
)
from exam_server.config import Config  # noqa: E402


@click.group(
    cls=Commands,
    help="考点服务器 / the centre server. Run `exam-server COMMAND --help` for each command.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.group(help="数据库 / the centre database: create and migrate it.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or migrate the database to the latest schema (safe to repeat).")
@database_option
@data_dir_option
def db_upgrade(database: str | None, data_dir: str | None) -> None:
    from exam_server.db import Database
    from exam_server.migrate import current, upgrade

    cfg = config_for(database, data_dir)
    check_data_dir(cfg, create=True)
    _ensure_sqlite_dir(cfg.DATABASE_URL)
    database_ = Database(cfg.DATABASE_URL)
    upgrade(database_)
    click.echo(
        f"数据库已是最新结构 / database at revision {current(database_)}: {cfg.DATABASE_URL}"
    )


@main.command(help="运行考点服务器 / run the centre server (Socket.IO for terminals, web console).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--scheduler/--no-scheduler",
    default=None,
    help="Run the scheduler in this process (default: EXAM_SCHEDULER, on).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=int,
    help="Several server processes on one port (needs PostgreSQL and EXAM_MESSAGE_QUEUE); "
    "the scheduler then runs in a process of its own.",
)
@click.option("--reuse-port", is_flag=True, help="Bind with SO_REUSEPORT (what --workers uses).")
@insecure_option
@database_option
@data_dir_option
def run(
    host: str,
    port: int,
    scheduler: bool | None,
    workers: int,
    reuse_port: bool,
    insecure_http: bool,
    database: str | None,
    data_dir: str | None,
) -> None:
    cfg = config_for(database, data_dir)
    if scheduler is not None:
        cfg.SCHEDULER = scheduler
    if insecure_http:
        cfg.INSECURE_HTTP = True
    if workers > 1:
        from exam_server.serving import hold_data_dir, run_workers

        check_data_dir(cfg, create=True)
        _lock = hold_data_dir(cfg.DATA_DIR)  # noqa: F841 - held while the workers run
        run_workers(cfg, host, port, workers, ["--insecure-http"] if cfg.INSECURE_HTTP else [])
        return
    advice = postgres_single_process_advice(cfg, workers, as_worker=reuse_port)
    if advice:
        click.echo(advice, err=True)
    serve(cfg, host, port, reuse_port=reuse_port)


def postgres_single_process_advice(cfg: Config, workers: int, *, as_worker: bool) -> str | None:
    """What ``exam-server run`` says when it starts one process on PostgreSQL: at 1,000
    terminals one such process held on a fast day but fell over on a busy machine (531 of
    1,000 logged in, ack p99 21 s; docs/benchmarks.md, fourth and fifth passes), where one
    process on SQLite, or two workers on PostgreSQL, held. None otherwise (SQLite, several
    workers, or a worker that ``--workers`` started)."""
    if workers > 1 or as_worker or cfg.DATABASE_URL.startswith("sqlite"):
        return None
    return (
        "提示：PostgreSQL 请以多进程运行：exam-server run --workers 2，并设置 "
        "EXAM_MESSAGE_QUEUE=redis://127.0.0.1:6379/0（单进程在服务器繁忙时，1000 台终端"
        "下无法稳定保存答案，见 docs/operations.md）/ note: on PostgreSQL run two workers "
        "or more (--workers 2 with EXAM_MESSAGE_QUEUE): one process on PostgreSQL fell "
        "behind at 1,000 terminals on a busy machine (docs/operations.md)"
    )


def serve(cfg: Config, host: str, port: int, *, reuse_port: bool = False) -> None:
    """Start the server (and, unless told otherwise, the one scheduler) and block."""
    if cfg.ASYNC_MODE == "gevent":
        from gevent import monkey

        if not monkey.is_module_patched("socket"):  # exam_server.boot patched already
            monkey.patch_all()
    from exam_common.durable import write_atomic
    from exam_server import create_app
    from exam_server.migrate import current
    from exam_server.runtime import runtime
    from exam_server.serving import insecure_logging, listen, serve_app
    from exam_server.sittings.scheduler import SittingScheduler

    check_data_dir(cfg, create=True)  # 0700: keys, the secret, the journal of uploads
    from exam_server.serving import hold_data_dir

    lock = None if reuse_port else hold_data_dir(cfg.DATA_DIR)  # workers: the parent holds it
    _ensure_sqlite_dir(cfg.DATABASE_URL)
    # Bind first: a port already taken fails here, before anything else starts.
    sock = listen(host, port, reuse_port=reuse_port)
    context = None
    if cfg.INSECURE_HTTP:
        insecure_logging()
        scheme = "http"
    else:
        from exam_server.tls import ensure_tls, now_utc, server_context

        hosts = [h for h in cfg.TLS_HOSTS.split(",") if h.strip()]
        if host not in ("0.0.0.0", "::", ""):
            hosts.insert(0, host)
        files = ensure_tls(cfg.DATA_DIR, centre=cfg.CENTRE_CODE, hosts=hosts, now=now_utc())
        context = server_context(files)
        cfg.TLS = True
        scheme = "https"
    app = create_app(cfg)
    rt = runtime(app)
    if current(rt.db) is None:
        raise click.ClickException(
            f"数据库尚未初始化（{cfg.where()}，数据库 {cfg.DATABASE_URL}）：请先运行 "
            f"`{cfg.fix('exam-server db upgrade')}` / the database has no schema"
        )
    _warn_shifted_clock(cfg)
    if cfg.SCHEDULER:
        SittingScheduler(rt).start()
    rt.writer.start()
    _log_sittings(rt, cfg)
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    write_atomic(cfg.data_path("server_url"), f"{scheme}://{local}:{port}\n")
    if context is not None:
        from exam_server.tls import tls_files

        click.echo(f"考点 CA 指纹 / centre CA fingerprint: {tls_files(cfg.DATA_DIR).fingerprint()}")
    else:
        click.echo(
            "警告：明文 HTTP，未加密，仅供演示和测试 / WARNING: INSECURE plain HTTP, not encrypted: "
            "for the demo and tests only (--insecure-http)",
            err=True,
        )
    click.echo(
        f"考点服务器已启动 / centre server listening on {scheme}://{host}:{port} "
        f"(pid {os.getpid()})"
    )
    sys.stdout.flush()
    try:
        serve_app(app, cfg, sock, ssl_context=context)
    finally:
        if lock is not None:
            lock.close()


def _warn_shifted_clock(cfg: Config) -> None:
    if cfg.CLOCK_OFFSET_FILE:
        click.echo(
            f"警告：时钟按文件 {cfg.CLOCK_OFFSET_FILE} 偏移，仅供测试和演练，不可用于正式考试 / "
            f"WARNING: the clock is shifted by {cfg.CLOCK_OFFSET_FILE}: tests and rehearsals only",
            err=True,
        )


def _log_sittings(rt: object, cfg: Config) -> None:
    from sqlalchemy import select

    from exam_server.plans.models import Sitting
    from exam_server.runtime import Runtime

    assert isinstance(rt, Runtime)
    tz = cfg.tz
    click.echo(f"场次（考点时区 {cfg.TIME_ZONE}）/ sittings (the centre's time zone):")
    with rt.db.read() as session:
        for s in session.scalars(select(Sitting).order_by(Sitting.start)):
            click.echo(
                f"  场次 sitting {s.id} {s.code} {s.subject}: "
                f"{s.start.astimezone(tz):%Y-%m-%d %H:%M:%S} - {s.end.astimezone(tz):%H:%M:%S}"
                + (" (closed)" if s.closed_at else "")
            )


@main.command(
    help="只运行调度器 / run only the scheduler (when several workers serve the sockets)."
)
@database_option
@data_dir_option
def scheduler(database: str | None, data_dir: str | None) -> None:
    import signal
    import threading

    from exam_server import create_app
    from exam_server.runtime import runtime
    from exam_server.sittings.scheduler import SittingScheduler

    cfg = config_for(database, data_dir)
    rt = runtime(create_app(cfg))
    _warn_shifted_clock(cfg)
    sched = SittingScheduler(rt)
    sched.start()
    click.echo("调度器已启动 / scheduler running")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    sched.shutdown()


#: ``exam-server verify-log`` exit codes
VERIFY_INTACT = 0  #: the chain holds and matches every head seen outside the centre
VERIFY_BROKEN = 2  #: the chain is broken, truncated or rewritten
VERIFY_LOCAL_ONLY = 3  #: the chain holds, but no head from outside was compared


@main.command(
    "verify-log",
    help="校验事件日志哈希链 / verify the event log's hash chain; names the first broken link, "
    "and checks the log against every head of it central received at the syncs (fetched over "
    "the signed sync link whenever there is one), so a truncated or rewritten log is found "
    "even if its hashes were recomputed. --heads FILE: a copy of the heads kept apart "
    "instead (an offline centre). Exit 0: intact and anchored; 2: broken, truncated or "
    "rewritten; 3: intact locally, but no outside head was compared (no sync link, central "
    "unreachable or holding no head yet): the local check alone cannot find a cut tail; "
    "1: the command could not run (with --central: central unreachable).",
)
@database_option
@data_dir_option
@click.option(
    "--heads",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON heads seen outside the centre ({"heads": [{"seq", "hash"}]}, as '
    "`exam-central chain CENTRE --out` or `--save-heads` writes them); central is then not "
    "asked unless --central is given too.",
)
@click.option(
    "--central",
    is_flag=True,
    help="Central's heads are required: fail (exit 1) when they cannot be fetched, instead of "
    "checking the local chain alone (exit 3).",
)
@click.option(
    "--save-heads",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also keep the heads fetched from central in this file (a copy apart from the centre).",
)
def verify_log(
    database: str | None,
    data_dir: str | None,
    heads: Path | None,
    central: bool,
    save_heads: Path | None,
) -> None:
    import json

    from exam_server.db import Database
    from exam_server.eventlog.service import check_heads, verify_chain

    cfg = config_for(database, data_dir)
    seen: list[tuple[int, str]] = []
    if heads is not None:
        seen += _read_heads(json.loads(heads.read_text(encoding="utf-8")))
    unanchored = ""  # why no head from outside was compared
    if central or heads is None:
        doc, unanchored = _central_heads(cfg)
        if doc is None and central:
            raise click.ClickException(
                f"无法取得省中心的链头 / cannot fetch central's heads: {unanchored}"
            )
        if doc is not None:
            seen += _read_heads(doc)
            if save_heads is not None:
                from exam_common.durable import write_atomic

                write_atomic(save_heads, json.dumps(doc, indent=1), 0o644)
            if not seen:
                unanchored = "省中心尚未收到任何链头 / central holds no head of this log yet"
    with Database(cfg.DATABASE_URL).read() as session:
        report = verify_chain(session)
        problems = check_heads(session, seen) if report.ok else []
    if not report.ok:
        click.echo(
            f"哈希链在第 {report.first_broken_seq} 条断开 / chain broken at entry "
            f"{report.first_broken_seq}: {report.problem}",
            err=True,
        )
        sys.exit(VERIFY_BROKEN)
    if problems:
        for p in problems:
            click.echo(
                f"与外部链头不符：第 {p.seq} 条 / does not match the head seen outside at entry "
                f"{p.seq}: {p.problem}",
                err=True,
            )
        sys.exit(VERIFY_BROKEN)
    if not seen:
        click.echo(
            f"只校验了本地哈希链（{report.entries} 条），未与任何外部链头比对：被截去尾部并改写链头的"
            f"日志在本地校验中看不出来 / only the local chain was checked ({report.entries} "
            f"entries): no outside anchor was compared, and a log cut short with its stored "
            f"head set back passes this check. {unanchored}",
            err=True,
        )
        sys.exit(VERIFY_LOCAL_ONLY)
    click.echo(
        f"哈希链完整 / chain intact: {report.entries} entries, head {report.head[:16]}…; "
        f"{len(seen)} heads seen outside all match"
    )


def _central_heads(cfg: Config) -> tuple[object | None, str]:
    """Central's heads of this centre's log over the signed sync link, or None and why not."""
    from exam_server.db import Database
    from exam_server.sync.client import SyncError
    from exam_server.sync.service import client, get_link

    db = Database(cfg.DATABASE_URL)
    try:
        with db.read() as session:
            link = get_link(session, cfg)
        if link is None:
            return None, "本考点没有与省中心的同步链接（exam-sync setup）/ no sync link to central"
        if not link.central_url:
            return (
                None,
                "离线考点，没有省中心地址 / an offline centre: no central URL (--heads FILE)",
            )
        try:
            return client(db, cfg).request("GET", "/api/v1/chain/heads"), ""
        except SyncError as exc:
            return None, f"无法连接省中心 / central unreachable: {exc.message}"
    finally:
        db.dispose()


def _read_heads(doc: object) -> list[tuple[int, str]]:
    rows = doc.get("heads", []) if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise click.ClickException("链头文件格式错误 / heads file: a list of {seq, hash} expected")
    try:
        return [
            (int(r["seq"]), str(r["hash"]))
            for r in rows
            if isinstance(r, dict) and r.get("status", "accepted") == "accepted"
        ]
    except (KeyError, ValueError, TypeError) as exc:
        raise click.ClickException(f"链头文件格式错误 / bad heads file: {exc!r}") from None


@main.command(
    help="一键演示 / the demo: a real central (its own port and database) and a centre that reaches it through exam-sync; refuses to touch a running demo."
)
@click.option(
    "--quick/--full",
    default=True,
    show_default=True,
    help="Quick: 6-minute sittings with proportionally short windows. Full: 60-minute sittings and the real 30-minute rules.",
)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--data-dir",
    default="demo-data",
    show_default=True,
    help="Where the demo's data lives (the centre in <data-dir>/centre).",
)
@click.option(
    "--package-dir",
    default=None,
    help="--escrow: use the package already built here instead of building one.",
)
@click.option("--seed-only", is_flag=True, help="Seed and exit without starting the server.")
@click.option(
    "--reset",
    is_flag=True,
    help="Delete the last demo's data in --data-dir without asking (a running demo is never "
    "touched).",
)
@click.option(
    "--central-port",
    default=None,
    type=int,
    help="The demo central's port (default: --port + 1).",
)
@click.option(
    "--escrow",
    is_flag=True,
    help="No central server: the centre releases the keys itself from central's secrets file "
    "(the package built by `exam-central demo-package`). Faster; shows no sync.",
)
@click.option("--tempo", default="", hidden=True, help="Tests: START_IN_S,DURATION_S,WINDOW_S.")
@click.option(
    "--tls/--insecure-http",
    default=False,
    show_default=True,
    help="TLS with the demo centre's own CA (browsers warn until ca.pem is trusted), or "
    "plain HTTP (the default for the demo: every page and log line says so).",
)
def demo(
    quick: bool,
    port: int,
    data_dir: str,
    package_dir: str | None,
    seed_only: bool,
    reset: bool,
    central_port: int | None,
    escrow: bool,
    tempo: str,
    tls: bool,
) -> None:
    from exam_server.demo import build_package, guard_demo, prepare_demo, start_central

    ports = [port] if escrow else [port, central_port or port + 1]
    guard_demo(Path(data_dir), ports, reset=reset, interactive=sys.stdin.isatty())
    if escrow:
        packages = Path(package_dir) if package_dir else Path(data_dir, "central")
        if package_dir is None:
            build_package(packages, quick=quick)
        cfg = prepare_demo(Path(data_dir), packages, quick=quick, port=port, tls=tls)
        if not seed_only:
            serve(cfg, "127.0.0.1", port)
        return
    central = start_central(Path(data_dir, "central"), ports[1], quick=quick, tempo=tempo)

    def stop(*_: object) -> None:
        """`kill PID` of the demo stops its central too, then ends as SIGTERM always did."""
        central.stop()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    if Config().ASYNC_MODE == "gevent":
        import gevent

        # A Python handler would wait for the blocked event loop to return; gevent's runs
        # in the loop.
        gevent.signal_handler(signal.SIGTERM, stop)
    else:
        signal.signal(signal.SIGTERM, stop)
    try:
        cfg = prepare_demo(Path(data_dir), None, quick=quick, port=port, tls=tls, central=central)
        if not seed_only:
            serve(cfg, "127.0.0.1", port)
    finally:
        central.stop()


@main.command(
    "import-package",
    help="导入考试包 / verify and import an exam package file (e.g. from a USB stick).",
)
@click.argument("package", type=click.Path(exists=True, dir_okay=False))
@database_option
@data_dir_option
def import_package_cmd(package: str, database: str | None, data_dir: str | None) -> None:
    from exam_server.db import Database
    from exam_server.packages.cli import import_file

    cfg = config_for(database, data_dir)
    report = import_file(cfg, Database(cfg.DATABASE_URL), Path(package), by="admin")
    if report.already_imported:
        click.echo(
            f"考试包 {report.package_id} 已导入过，未作改动 / already imported, nothing changed"
        )
    else:
        click.echo(
            f"已导入考试包 {report.package_id}：{report.sittings} 场次，{report.papers} 套试卷，"
            f"{report.candidates} 名考生，{report.rooms} 个考场"
        )


@main.command(
    help="从备份恢复 / restore the centre database from an encrypted backup (*.exambak). "
    "Stop the server first; the backup is decrypted with the centre secret of --data-dir "
    "(or --secret-file) and checked before anything is replaced."
)
@click.argument("snapshot", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@database_option
@data_dir_option
@click.option(
    "--secret-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The centre secret (a copy of <data-dir>/secret_key) if the data folder is lost.",
)
@click.option("--force", is_flag=True, help="Replace an existing SQLite database file.")
def restore(
    snapshot: Path,
    database: str | None,
    data_dir: str | None,
    secret_file: Path | None,
    force: bool,
) -> None:
    from exam_server.backups.service import BackupError, centre_secret
    from exam_server.backups.service import restore as do_restore

    cfg = config_for(database, data_dir)
    try:
        secret = secret_file.read_text().strip().encode() if secret_file else centre_secret(cfg)
        header = do_restore(snapshot, cfg.DATABASE_URL, secret, force=force)
    except BackupError as exc:
        raise click.ClickException(f"未恢复，原数据库未改动 / not restored: {exc}") from None
    taken = datetime.fromisoformat(str(header["taken_at"])).astimezone(cfg.tz)
    click.echo(
        f"已恢复 {taken:%Y-%m-%d %H:%M:%S}（{cfg.TIME_ZONE}）的备份（考点 {header['centre']}，"
        f"{header['dialect']}）到 {cfg.DATABASE_URL} / restored"
    )


@main.command(
    help="考前演练 / rehearse: is this centre ready for N candidates? Runs the simulator "
    "against this centre's server software on a scratch database and says what passed."
)
@click.option(
    "--candidates",
    required=True,
    type=click.IntRange(1, 5000),
    help="Expected number of candidates.",
)
@click.option(
    "--minutes", default=3.0, show_default=True, type=float, help="Length of the rehearsal sitting."
)
@data_dir_option
def rehearse(candidates: int, minutes: float, data_dir: str | None) -> None:
    from exam_server.rehearsal.run import rehearse as run_rehearsal

    cfg = config_for(None, data_dir)
    checks = run_rehearsal(cfg, candidates, minutes, echo=click.echo)
    for c in checks:
        if not c.judged:
            click.echo(f"  参考 ·  {c.name}: {c.measured}")
            continue
        mark = "通过 ✓" if c.ok else "未通过 ✗"
        click.echo(f"  {mark}  {c.name}: {c.measured}（标准 threshold {c.target}）")
        if c.reason:
            click.echo(f"         理由 / why: {c.reason}")
        if not c.ok and c.advice:
            click.echo(f"         建议 / advice: {c.advice}")
    if all(c.ok for c in checks if c.judged):
        click.echo(f"结论：本考点可以承载 {candidates} 名考生 / READY for {candidates} candidates")
    else:
        click.echo(f"结论：本考点尚未准备好承载 {candidates} 名考生 / NOT READY", err=True)
        sys.exit(3)


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        ensure_dir(Path(url.removeprefix("sqlite:///")).parent)


def _register_user_commands() -> None:
    from exam_server.accounts.cli import user
    from exam_server.terminals.cli import terminals, tls

    main.add_command(user)
    main.add_command(terminals)
    main.add_command(tls)


_register_user_commands()


if __name__ == "__main__":
    main()
