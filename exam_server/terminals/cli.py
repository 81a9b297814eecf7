"""``exam-server terminals ...`` and ``exam-server tls ...``: enrolments and certificates.

The console makes one code at a time (终端绑定 page); this is the admin's bulk path: a
file of codes for a room or the whole centre, which ``exam-client simulate``, the
rehearsal and the benchmarks enrol with, and which a centre can print for its
technicians on setup day.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from exam_server.cli_common import config_for, data_dir_option, database_option

CODES_FORMAT = "exam-enrol-codes/1"


@click.group("terminals", help="终端绑定 / enrolled terminals: codes, list, revoke.")
def terminals() -> None:
    pass


def codes_document(issued: list[Any], fingerprint: str) -> dict[str, Any]:
    return {
        "format": CODES_FORMAT,
        "ca_fingerprint": fingerprint,
        "expires_at": min(c.expires_at for c in issued).isoformat() if issued else None,
        "codes": {c.seat: c.code for c in issued},
    }


@terminals.command(
    "codes",
    help="生成绑定码 / make one-time enrolment codes for a room's seats (--room), named seats "
    "(--seat, repeatable) or every seat; prints them with the CA fingerprint, or writes a JSON "
    "file (--out) for `exam-client simulate --enrol-codes`.",
)
@click.option("--room", help="Room code (考场号), e.g. 001.")
@click.option("--seat", "seats", multiple=True, help="ROOM-SEAT, e.g. 001-07 (repeatable).")
@click.option("--valid-hours", default=12.0, show_default=True, type=float)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON here.")
@database_option
@data_dir_option
def codes(
    room: str | None,
    seats: tuple[str, ...],
    valid_hours: float,
    out: Path | None,
    database: str | None,
    data_dir: str | None,
) -> None:
    from exam_common.durable import write_atomic
    from exam_server.clock import SystemClock
    from exam_server.db import Database
    from exam_server.terminals import service
    from exam_server.tls import ensure_tls

    cfg = config_for(database, data_dir)
    now = SystemClock().now()
    try:
        with Database(cfg.DATABASE_URL).write() as session:
            chosen = service.seats_for(session, room=room, labels=list(seats) or None)
            issued = service.issue_codes(
                session, now, chosen, by="admin:cli", valid=timedelta(hours=valid_hours)
            )
    except service.TerminalError as exc:
        raise click.ClickException(
            f"没有这个座位或考场 / no such seat or room: {exc.detail}"
        ) from None
    fingerprint = ensure_tls(cfg.DATA_DIR, centre=cfg.CENTRE_CODE, now=now).fingerprint()
    if out is not None:
        write_atomic(out, json.dumps(codes_document(issued, fingerprint), indent=1))
        click.echo(f"已生成 {len(issued)} 个绑定码 / {len(issued)} codes written to {out}")
        return
    click.echo(f"考点 CA 指纹 / CA fingerprint: {fingerprint}")
    for c in issued:
        until = c.expires_at.astimezone(cfg.tz)
        click.echo(f"  {c.seat:10} {c.code}   (有效至 valid until {until:%Y-%m-%d %H:%M})")
    if issued:
        click.echo(f"（时间为考点时区 {cfg.TIME_ZONE} / times in the centre's time zone）")


@terminals.command("list", help="已绑定的终端 / the enrolled terminals, by seat.")
@database_option
@data_dir_option
def list_(database: str | None, data_dir: str | None) -> None:
    from exam_server.db import Database
    from exam_server.terminals import service

    cfg = config_for(database, data_dir)
    with Database(cfg.DATABASE_URL).read() as session:
        rows = service.enrolments(session)
        for r in rows:
            click.echo(
                f"{r.seat.label:10} {r.terminal_id:20} {r.public_key[:16]}…  "
                f"{r.enrolled_at.astimezone(cfg.tz):%Y-%m-%d %H:%M} by {r.enrolled_by}"
            )
        if rows:
            click.echo(f"（时间为考点时区 {cfg.TIME_ZONE} / times in the centre's time zone）")
        if not rows:
            click.echo("没有已绑定的终端 / no terminal is enrolled")


@terminals.command("revoke", help="撤销座位的终端绑定 / revoke the terminal enrolled at a seat.")
@click.argument("seat")
@click.option("--reason", required=True, help="Why (kept in the event log).")
@database_option
@data_dir_option
def revoke(seat: str, reason: str, database: str | None, data_dir: str | None) -> None:
    from exam_server.clock import SystemClock
    from exam_server.db import Database
    from exam_server.terminals import service

    try:
        with Database(config_for(database, data_dir).DATABASE_URL).write() as session:
            match = [e for e in service.enrolments(session) if e.seat.label == seat]
            if not match:
                raise service.TerminalError("no_such_enrolment", seat)
            service.revoke(session, SystemClock().now(), match[0].id, by="admin:cli", reason=reason)
    except service.TerminalError as exc:
        raise click.ClickException(f"{exc.code}: {exc.detail}") from None
    click.echo(f"已撤销座位 {seat} 的终端绑定 / revoked")


@click.group("tls", help="考点证书 / the centre's CA and server certificate.")
def tls() -> None:
    pass


@tls.command("show", help="证书信息 / the CA fingerprint, the server certificate's names and end.")
@data_dir_option
def show(data_dir: str | None) -> None:
    from exam_server.tls import server_cert_expires, server_hosts, tls_files

    files = tls_files(config_for(None, data_dir).DATA_DIR)
    if not files.exists():
        raise click.ClickException(
            f"{files.folder} 中没有证书：运行 `exam-server tls setup` / no certificates yet"
        )
    click.echo(f"CA 指纹 / CA fingerprint: {files.fingerprint()}")
    click.echo(f"CA 证书 / CA certificate: {files.ca_cert}")
    click.echo(f"服务器证书适用 / server certificate for: {', '.join(server_hosts(files))}")
    click.echo(f"服务器证书到期 / server certificate ends: {server_cert_expires(files):%Y-%m-%d}")


host_option = click.option(
    "--host",
    "hosts",
    multiple=True,
    help="A name or address terminals and browsers use for this server (repeatable); "
    "127.0.0.1, localhost, this machine's name and addresses are always included.",
)


@tls.command("setup", help="建立考点 CA 和服务器证书（已有则保留）/ make the CA and certificate.")
@host_option
@data_dir_option
def setup(hosts: tuple[str, ...], data_dir: str | None) -> None:
    from exam_server.tls import ensure_tls, now_utc

    cfg = config_for(None, data_dir)
    files = ensure_tls(cfg.DATA_DIR, centre=cfg.CENTRE_CODE, hosts=list(hosts), now=now_utc())
    click.echo(f"CA 指纹 / CA fingerprint: {files.fingerprint()}")


@tls.command(
    "rotate-server",
    help="换发服务器证书（同一 CA，终端无需重新绑定）/ a new server certificate under the same "
    "CA: terminals need nothing. Restart the server afterwards.",
)
@host_option
@data_dir_option
def rotate_server(hosts: tuple[str, ...], data_dir: str | None) -> None:
    from exam_common.durable import DamagedSecret
    from exam_server.tls import default_hosts, issue_server_cert, now_utc, server_hosts, tls_files

    files = tls_files(config_for(None, data_dir).DATA_DIR)
    try:
        keep = server_hosts(files) if files.server_cert.exists() else []
    except DamagedSecret:
        keep = []  # the damaged certificate this command replaces: its names are lost
    issue_server_cert(files, [*hosts, *keep, *default_hosts()], now_utc())
    click.echo(f"已换发服务器证书 / new server certificate for {', '.join(server_hosts(files))}")


@tls.command(
    "rotate-ca",
    help="更换考点 CA（CA 私钥泄露或丢失时）：此后每台终端都须重新绑定 / a new centre CA "
    "(its key leaked or lost): every terminal must enrol again. Needs --yes.",
)
@click.option("--yes", is_flag=True, help="Yes: every terminal will have to enrol again.")
@host_option
@data_dir_option
def rotate_ca(yes: bool, hosts: tuple[str, ...], data_dir: str | None) -> None:
    from exam_server.tls import create_ca, default_hosts, issue_server_cert, now_utc, tls_files

    if not yes:
        raise click.ClickException(
            "更换 CA 后所有终端须重新绑定；确认请加 --yes / every terminal must enrol again: --yes"
        )
    cfg = config_for(None, data_dir)
    files = tls_files(cfg.DATA_DIR)
    now = now_utc()
    create_ca(files, cfg.CENTRE_CODE, now)
    issue_server_cert(files, [*hosts, *default_hosts()], now)
    click.echo(f"新的 CA 指纹 / new CA fingerprint: {files.fingerprint()}")
    click.echo(
        "请重启服务器，并为每个座位生成绑定码重新绑定终端 / restart, then enrol every terminal"
    )
    sys.stdout.flush()
