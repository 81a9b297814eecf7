"""``exam-client``: the exam terminal (agent + candidate UI), its kiosk browser, and the
load simulator."""

from __future__ import annotations

import errno
import json
import logging
import re
import signal
import sys
import threading
from pathlib import Path

import click

from exam_common.durable import write_atomic

SEAT_RE = re.compile(r"^[0-9A-Za-z]+-\d{1,3}$")


def _seat(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not SEAT_RE.match(value):
        raise click.BadParameter(
            f"座位应写成 考场号-座号，例如 001-07 / a seat is ROOM-SEAT, e.g. 001-07 (got {value!r})"
        )
    return value


def _server(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise click.BadParameter(
            f"服务器地址应以 http:// 或 https:// 开头 / the server URL must start with "
            f"http:// or https:// (got {value!r})"
        )
    return value.rstrip("/")


def _warn_at(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(x) for x in value.split(",") if x.strip()}, reverse=True))
    except ValueError:
        raise click.BadParameter("秒数列表，例如 900,300 / seconds, e.g. 900,300") from None
    if any(x <= 0 for x in out):
        raise click.BadParameter("必须为正数 / must be positive")
    return out


server_option = click.option(
    "--server",
    required=True,
    callback=_server,
    envvar="EXAM_CLIENT_SERVER",
    help="考点服务器地址 / the centre server, e.g. https://192.168.10.2:5000",
)


@click.group(
    help="考试终端 / the exam terminal: `enrol` it to its seat once, `run` the agent and "
    "candidate UI, open the `kiosk` browser, `simulate` many terminals for a load test or "
    "rehearsal."
)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("werkzeug", "socketio", "engineio", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/client"),
    show_default=True,
    envvar="EXAM_CLIENT_DATA_DIR",
    help="本机数据目录 / where the journal (journal.db), the terminal's key and its "
    "enrolment live (private, 0700). Keep it on the local disk and do not delete it during "
    "an exam.",
)


@main.command(
    help="绑定本机到考场座位 / enrol this terminal to its seat, once, with the one-time code "
    "and the centre CA fingerprint shown on the console (终端绑定) or by `exam-server "
    "terminals codes`. The terminal then trusts only that CA and shows only papers signed "
    "by central."
)
@server_option
@click.option("--code", required=True, envvar="EXAM_CLIENT_ENROL_CODE", help="One-time code.")
@click.option(
    "--ca-fingerprint",
    default="",
    envvar="EXAM_CLIENT_CA_FINGERPRINT",
    help="考点 CA 指纹 / the centre CA's fingerprint (at least its first 20 hex digits); "
    "needed for https.",
)
@data_dir_option
def enrol(server: str, code: str, ca_fingerprint: str, data_dir: Path) -> None:
    from exam_client.identity import CA_FILE, EnrolError, save
    from exam_client.identity import enrol as do_enrol
    from exam_client.journal import SqliteJournal
    from exam_common.durable import ensure_dir

    ensure_dir(data_dir)
    journal = SqliteJournal(data_dir / "journal.db")
    try:
        identity, _ = do_enrol(
            server,
            code,
            terminal_id=journal.terminal_id,
            fingerprint=ca_fingerprint,
            ca_path=data_dir / CA_FILE,
        )
    except EnrolError as exc:
        raise click.ClickException(f"未绑定 / not enrolled [{exc.code}]: {exc.message}") from None
    finally:
        journal.close()
    save(identity, data_dir)
    plain = "" if identity.ca_path else "（明文 HTTP，仅供演示 / plain HTTP: demo only）"
    click.echo(
        f"已绑定 / enrolled: 终端 terminal {identity.terminal_id} -> 座位 seat {identity.seat} "
        f"(考点 centre {identity.centre}) {plain}"
    )


@main.command(help="运行考试终端 / run the terminal: agent + candidate UI on 127.0.0.1.")
@click.option(
    "--server",
    default="",
    callback=lambda ctx, param, v: _server(ctx, param, v) if v else v,
    envvar="EXAM_CLIENT_SERVER",
    help="考点服务器地址 / the centre server (default: the one it enrolled at).",
)
@click.option(
    "--seat",
    default="",
    callback=lambda ctx, param, v: _seat(ctx, param, v) if v else v,
    envvar="EXAM_CLIENT_SEAT",
    help="Only checked: the seat comes from the enrolment (a different one is refused).",
)
@click.option("--ui-port", default=8765, show_default=True, help="Local port of the candidate UI.")
@data_dir_option
@click.option(
    "--seb-config-key",
    default="",
    envvar="EXAM_CLIENT_SEB_CONFIG_KEY",
    help="Require Safe Exam Browser with this config key (hex); empty: no check.",
)
@click.option(
    "--warn-at",
    default="900,300",
    show_default=True,
    callback=_warn_at,
    help="Warn the candidate this many seconds before the end (comma-separated).",
)
@click.option(
    "--insecure-http",
    is_flag=True,
    help="演示和测试专用 / demo and tests only: let a terminal enrolled over TLS talk to an "
    "http:// server (nothing encrypted; the candidate page and every log line say so).",
)
def run(
    server: str,
    seat: str,
    ui_port: int,
    data_dir: Path,
    seb_config_key: str,
    warn_at: tuple[int, ...],
    insecure_http: bool,
) -> None:
    from exam_client.agent import Agent, AgentConfig
    from exam_client.identity import EnrolError, load
    from exam_client.journal import SqliteJournal
    from exam_client.ui import UiOptions, UiServer
    from exam_common.durable import DamagedSecret, ensure_dir

    ensure_dir(data_dir)
    try:
        identity = load(data_dir)
    except (EnrolError, DamagedSecret, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if identity is None:
        raise click.ClickException(
            f"本机尚未绑定座位（{data_dir}）：请先运行 exam-client enrol --server URL --code CODE "
            "--ca-fingerprint FP / this terminal is not enrolled: run `exam-client enrol` first"
        )
    if seat and seat != identity.seat:
        raise click.ClickException(
            f"本机绑定的座位是 {identity.seat}，不是 {seat}：换座位请重新绑定 / enrolled at "
            f"{identity.seat}, not {seat}: enrol again to change seats"
        )
    server = server or identity.server
    plain = server.startswith("http://")
    if plain and identity.ca_path is not None and not insecure_http:
        raise click.ClickException(
            f"本机绑定时使用 TLS（已固定考点 CA），拒绝以明文 HTTP 连接 {server}：请用 https:// 地址；"
            "演示和测试专用：--insecure-http / this terminal enrolled over TLS (its centre CA "
            f"pinned): it refuses plain HTTP to {server}; use https:// (demo and tests only: "
            "--insecure-http)"
        )
    if plain:
        from exam_common.insecure import insecure_logging

        insecure_logging()  # every line of this terminal's log says so
    journal = SqliteJournal(data_dir / "journal.db")
    agent = Agent(AgentConfig(server=server, seat=identity.seat, identity=identity), journal)
    try:
        ui = UiServer(
            agent,
            UiOptions(
                port=ui_port,
                seb_config_key=seb_config_key,
                warn_at_s=warn_at,
                insecure_http=plain,
            ),
        )
    except OSError as exc:
        raise click.ClickException(ui_port_failure(ui_port, exc)) from None
    reachable = check_server(server, identity.centre, identity.ca_path)
    agent.start()
    ui.start()
    if plain:
        logging.getLogger(__name__).warning(
            "明文 HTTP，未加密 / plain HTTP to %s: nothing is encrypted (demo only)", server
        )
    click.echo(
        f"考试终端已启动 / terminal {identity.terminal_id} at seat {identity.seat} -> {server}\n"
        f"考生界面 / candidate UI: {ui.url}"
    )
    if reachable is not None:
        click.echo(reachable, err=True)
    sys.stdout.flush()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    ui.stop()
    agent.stop()
    journal.close()


def ui_port_failure(port: int, exc: OSError) -> str:
    """What to say when the candidate UI cannot listen on 127.0.0.1:``port``: the fix
    (``--ui-port``), never the raw error."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"考生界面端口 {port} 已被占用（127.0.0.1:{port}），可能本机已有一个考试终端在运行："
            f"请先停止它，或用 --ui-port 换一个端口 / UI port {port} is in use: stop the terminal "
            "that runs there or use --ui-port"
        )
    if exc.errno == errno.EACCES:
        return (
            f"没有权限监听端口 {port}（1024 以下的端口需要管理员权限）：请用 --ui-port 8765 等端口 "
            f"/ no permission to listen on port {port}: use --ui-port above 1024"
        )
    return (
        f"考生界面无法监听 127.0.0.1:{port}（{exc.strerror or exc}）：请用 --ui-port 换一个端口 "
        f"/ the candidate UI cannot listen on 127.0.0.1:{port}: use another --ui-port"
    )


def check_server(server: str, centre: str, ca_path: Path | None, timeout: float = 3) -> str | None:
    """Ask ``server``'s ``/healthz`` before the terminal starts. A server that answers as
    another centre, or is no exam server, is refused (a wrong URL); one that does not answer
    is a warning the terminal starts with, since a terminal restarted during an outage must
    still serve its candidate from the journal. None when all is well."""
    import requests

    from exam_client.identity import pinned_session

    try:
        resp = pinned_session(ca_path).get(f"{server}/healthz", timeout=timeout)
    except requests.exceptions.SSLError:
        raise click.ClickException(
            f"{server} 的证书不是本机绑定时信任的考点 CA 签发的：地址错了，或考点换了 CA（请重新绑定）"
            f" / {server} is not the centre this terminal trusts (its certificate is from "
            "another CA)"
        ) from None
    except requests.RequestException as exc:
        reason = type(exc).__name__
        return (
            f"警告：无法连接考点服务器 {server}（{reason}）：终端会一直自动重连，但在连上之前考生"
            f"无法登录。请检查服务器是否在运行、地址和网络 / WARNING: cannot reach {server}: "
            "the terminal keeps trying, but no candidate can log in until it answers"
        )
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "server_time" not in doc:
        raise click.ClickException(
            f"{server} 不是考点服务器（/healthz 返回 HTTP {resp.status_code}）：请检查 --server 地址"
            f" / {server} is not a centre server: check --server"
        )
    if doc.get("centre") and centre and doc["centre"] != centre:
        raise click.ClickException(
            f"{server} 是考点 {doc['centre']} 的服务器，本机绑定的是考点 {centre}：请检查 --server "
            f"地址 / {server} serves centre {doc['centre']}, this terminal is enrolled at {centre}"
        )
    return None


@main.command(help="以全屏锁定方式打开考生界面 / open the candidate UI in Chromium kiosk mode.")
@click.option("--ui-port", default=8765, show_default=True)
@click.option("--chromium", default="/usr/bin/chromium", show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the command instead of starting Chromium.")
def kiosk(ui_port: int, chromium: str, dry_run: bool) -> None:
    from exam_client.kiosk import run_kiosk

    try:
        code = run_kiosk(f"http://127.0.0.1:{ui_port}/", chromium, dry_run=dry_run)
    except FileNotFoundError:
        raise click.ClickException(
            f"找不到浏览器 {chromium} / Chromium not found: apt-get install chromium, "
            "or pass --chromium PATH"
        ) from None
    sys.exit(code)


@main.command(
    help="模拟多台考试终端 / simulate N headless terminals (the real agent, no UI) logging "
    "in roster candidates, answering at a pace and submitting; writes a JSON report."
)
@server_option
@click.option(
    "--terminals", type=click.IntRange(min=1), help="How many terminals (default: the roster)."
)
@click.option(
    "--roster",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON list of {ticket, id_number, seat} (the demo writes demo-data/roster.json).",
)
@click.option("--pace", default=5.0, show_default=True, help="Seconds between answers (±50 %).")
@click.option("--submit", is_flag=True, help="Submit once allowed and every item is answered.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON here.")
@click.option("--duration", type=float, help="Stop after this many seconds (default: when done).")
@click.option(
    "--journal",
    type=click.Choice(["memory", "sqlite"]),
    default="memory",
    show_default=True,
    help="Journals in memory, or one SQLite file per terminal in a temp dir.",
)
@click.option(
    "--enrol-codes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="绑定码文件 / the enrolment codes of the roster's seats (`exam-server terminals codes "
    "--out FILE`): each simulated terminal enrols at its seat first, pinning the CA.",
)
@click.option("--no-preload", is_flag=True, help="Skip pre-loading papers at connect.")
@click.option(
    "--drain", default=20.0, show_default=True, help="Seconds to let pending changes drain."
)
@click.option(
    "--seed", default=1, show_default=True, help="Random seed of the candidates' choices."
)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Spread the terminals over this many processes (for 1,000 and more).",
)
@click.option(
    "--measure-after",
    default=0.0,
    show_default=True,
    help="Count latencies and acknowledgements only from this many seconds after the start.",
)
@click.option(
    "--green",
    is_flag=True,
    help="Run the terminals as gevent greenlets instead of threads (same agent code, far "
    "less CPU: one machine can simulate 1,000 terminals).",
)
def simulate(
    server: str,
    terminals: int | None,
    roster: Path,
    pace: float,
    submit: bool,
    report: Path | None,
    duration: float | None,
    journal: str,
    enrol_codes: Path | None,
    no_preload: bool,
    drain: float,
    seed: int,
    processes: int,
    measure_after: float,
    green: bool,
) -> None:
    from exam_client.simulate import RosterError, SimOptions, load_codes, load_roster
    from exam_client.simulate import simulate as run_simulation

    try:
        entries = load_roster(roster)
        codes, fingerprint = load_codes(enrol_codes) if enrol_codes else ({}, "")
        options = SimOptions(
            server=server,
            terminals=terminals or len(entries),
            pace_s=pace,
            submit=submit,
            duration_s=duration,
            journal=journal,
            preload=not no_preload,
            drain_s=drain,
            seed=seed,
            processes=processes,
            measure_after_s=measure_after,
            green=green,
            enrol_codes=codes,
            ca_fingerprint=fingerprint,
        )
        result = run_simulation(options, entries, progress=lambda m: click.echo(m, err=True))
    except RosterError as exc:
        raise click.ClickException(str(exc)) from None
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if report:
        write_atomic(report, text)
        click.echo(f"报告 / report: {report}", err=True)
    else:
        click.echo(text)
    sys.exit(0 if result["lost"] == 0 else 1)


if __name__ == "__main__":
    main()
