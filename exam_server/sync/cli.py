"""``exam-sync``: the centre admin's link to central (pull, key, push, status)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click

from exam_common.durable import PUBLIC, write_atomic
from exam_server.cli_common import (
    Commands,
    check_data_dir,
    data_dir_option,
    database_option,
)
from exam_server.cli_common import config_for as _config
from exam_server.config import Config, write_file


def _now() -> datetime:
    return datetime.now(UTC)


def _db(cfg: Config):  # type: ignore[no-untyped-def]
    from exam_server.db import Database
    from exam_server.migrate import current

    check_data_dir(cfg)
    db = Database(cfg.DATABASE_URL)
    if current(db) is None:
        raise click.ClickException(
            f"考点数据库尚未初始化（{cfg.where()}，数据库 {cfg.DATABASE_URL}）：请先运行 "
            f"`{cfg.fix('exam-server db upgrade')}` / the centre database has no schema"
        )
    return db


@contextlib.contextmanager
def _errors(cfg: Config, db) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """A refusal or a dead link: say what and what to do, note it for status, exit 1."""
    from exam_server.sync.client import SyncError
    from exam_server.sync.service import record_error

    try:
        yield
    except SyncError as exc:
        record_error(db, _now(), f"[{exc.code}] {exc.message}")
        raise click.ClickException(f"{exc.message} [{exc.code}]") from None


@click.group(
    cls=Commands,
    help="考点同步工具 / the centre admin's sync tool: setup, pull, key, push, status.\n\n"
    "Run `exam-sync COMMAND --help` for each command.",
)
def main() -> None:
    pass


@main.command(
    help="设置与省中心的连接 / set the centre code, central's URL and public key; prints this centre's key to register at central."
)
@click.option("--centre", required=True, help="考点代码, e.g. 0101.")
@click.option(
    "--central-url",
    default="",
    help="省中心地址, e.g. https://exam.example.gov.cn (empty: offline only).",
)
@click.option(
    "--central-key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="省中心公钥文件 central.pub (from `exam-central init`).",
)
@database_option
@data_dir_option
def setup(
    centre: str, central_url: str, central_key: Path, database: str | None, data_dir: str | None
) -> None:
    from exam_server.sync.service import setup as do_setup

    cfg = _config(database, data_dir)
    db = _db(cfg)
    try:
        with db.write() as session:
            key = do_setup(
                session,
                _now(),
                centre=centre,
                url=central_url,
                central_public_key=central_key.read_bytes(),
            )
    except ValueError as exc:
        raise click.ClickException(f"省中心公钥无效 / bad central key: {exc}") from None
    pinned = write_atomic(cfg.data_path("central.pub"), central_key.read_bytes(), PUBLIC)
    conf = write_file(
        cfg.DATA_DIR,
        {
            "CENTRE_CODE": centre,
            "CENTRAL_URL": central_url,
            "CENTRAL_PUBLIC_KEY": str(pinned.resolve()),
        },
    )
    out = write_atomic(cfg.data_path("centre.pub"), key + "\n", PUBLIC)
    click.echo(f"已保存：考点 {centre}，省中心 {central_url or '（离线）'}")
    click.echo(
        f"考点配置已写入 {conf}（exam-server、exam-sync、控制台和恢复都读它；EXAM_* 环境变量优先）"
        f" / saved to {conf}, read by every centre tool"
    )
    click.echo(f"本考点公钥（请交省中心登记：exam-central centre add {centre} --public-key …）：")
    click.echo(f"  {key}")
    click.echo(f"  （也已写入 {out}）")


@main.command(
    help="获取并导入考试包 / fetch this centre's packages from central and import them, or --file from a USB stick."
)
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A package file (USB stick) instead of central.",
)
@database_option
@data_dir_option
def pull(file: Path | None, database: str | None, data_dir: str | None) -> None:
    from exam_server.sync.service import pull as do_pull

    cfg = _config(database, data_dir)
    db = _db(cfg)
    with _errors(cfg, db):
        reports = do_pull(cfg, db, _now(), file=file)
    if not reports:
        click.echo("没有新的考试包 / nothing new")
    for r in reports:
        if r.already_imported:
            click.echo(f"考试包 {r.package_id} 已导入过，未作改动")
        else:
            click.echo(
                f"已导入考试包 {r.package_id}：{r.sittings} 场次，{r.papers} 套试卷，{r.candidates} 名考生，{r.rooms} 个考场"
            )


@main.command(
    help="下达密钥 / fetch the due keys from central (or type an offline code with --code) and give them to the running server."
)
@click.argument("sitting", required=False)
@click.option(
    "--end", "end", is_flag=True, help="The answer key (due at the end) instead of the paper key."
)
@click.option(
    "--code", "code", help="离线密钥码 read out by central over the phone (needs SITTING)."
)
@database_option
@data_dir_option
def key(
    sitting: str | None, end: bool, code: str | None, database: str | None, data_dir: str | None
) -> None:
    from exam_common.offline_code import OfflineCodeError, decode
    from exam_server.sync.client import SyncError
    from exam_server.sync.service import client, deliver_key, due_keys

    cfg = _config(database, data_dir)
    db = _db(cfg)
    kind = "end" if end else "start"
    what = "答案密钥" if end else "试卷密钥"
    with _errors(cfg, db):
        if code is not None:
            if not sitting:
                raise click.UsageError(
                    "输入离线密钥码时请写明场次代码：exam-sync key 场次代码 --code …"
                )
            try:
                secret = decode(code)
            except OfflineCodeError as exc:
                raise click.ClickException(str(exc)) from None
            how = deliver_key(cfg, db, sitting, kind, secret, by="admin:offline-code")
            click.echo(f"场次 {sitting} 的{what}已录入（离线密钥码，{_how(how, kind)}）")
            return
        with db.read() as session:
            due = [
                (c, k)
                for _, c, k in due_keys(session, _now())
                if (sitting in (None, c)) and (sitting is None or k == kind)
            ]
        if sitting and not due:
            due = [(sitting, kind)]
        if not due:
            click.echo("目前没有到期未下达的密钥 / no key is due")
            return
        api = client(db, cfg)
        failed = 0
        for c, k in due:
            try:
                secret = api.key(c, k)
                how = deliver_key(cfg, db, c, k, secret, by="admin:sync")
                click.echo(
                    f"场次 {c} 的{'答案密钥' if k == 'end' else '试卷密钥'}已下达（{_how(how, k)}）"
                )
            except SyncError as exc:
                failed += 1
                click.echo(f"场次 {c}：{exc.message} [{exc.code}]", err=True)
        if failed:
            sys.exit(1)


def _how(how: str, kind: str = "start") -> str:
    if how != "server":
        return "服务器未运行，已写入数据库"
    return (
        "已通知运行中的服务器，终端即时开卷" if kind == "start" else "已通知运行中的服务器，已评分"
    )


@main.command(
    help="上传成绩包和备份 / upload queued result packages and backups (resumes interrupted uploads)."
)
@click.option("--results/--no-results", default=True, help="Upload result packages.")
@click.option("--backups/--no-backups", default=True, help="Upload backups.")
@click.option("--backup-now", is_flag=True, help="Take a backup first and queue it.")
@click.option(
    "--carried",
    is_flag=True,
    help="离线考点：已把列出的文件拷贝到 U 盘交给省中心 / offline centre: the files listed have "
    "been handed to central on a USB stick (status then counts them as delivered).",
)
@click.option(
    "--retries",
    default=5,
    show_default=True,
    help="Retries per file on a dropped link (with backoff).",
)
@database_option
@data_dir_option
def push(
    results: bool,
    backups: bool,
    backup_now: bool,
    carried: bool,
    retries: int,
    database: str | None,
    data_dir: str | None,
) -> None:
    from sqlalchemy import select

    from exam_server.plans.models import Sitting
    from exam_server.sync.service import get_link, queue_backup, queue_results, results_queued
    from exam_server.sync.service import push as do_push

    cfg = _config(database, data_dir)
    db = _db(cfg)
    now = _now()
    with _errors(cfg, db):
        with db.write() as session:
            for s in session.scalars(select(Sitting).where(Sitting.closed_at.is_not(None))):
                if not results_queued(session, s.id):
                    queue_results(session, cfg, now, s)
                    click.echo(f"已生成场次 {s.code} 的成绩包")
        if backup_now:
            item = queue_backup(cfg, db, now, sitting=None)
            click.echo(f"已备份：{Path(item.path).name}")
        kinds = tuple(k for k, on in (("results", results), ("backup", backups)) if on)
        with db.read() as session:
            link = get_link(session, cfg)
        if link is not None and not link.central_url:
            _offline_outbox(db, kinds, carried=carried, now=now)
            return
        if carried:
            raise click.ClickException(
                "--carried 只用于没有省中心地址的离线考点；本考点的文件会自动上传 "
                "/ --carried is for offline centres only"
            )
        report = do_push(cfg, db, now, kinds=kinds, retries=retries)
    for name, reply, resumed in zip(report.done, report.replies, report.resumed_from, strict=True):
        extra = f"，从第 {resumed} 字节续传" if resumed else ""
        if reply.get("kind") == "results":
            diff = reply.get("differences")
            extra += "，省中心复核一致" if diff == 0 else f"，省中心复核有 {diff} 人不一致！"
        if reply.get("duplicate"):
            extra += "（省中心已有，未重复保存）"
        click.echo(f"已上传 {name}{extra}")
    for name in report.failed:
        click.echo(f"未上传 {name}：连接失败，稍后自动重试", err=True)
    for name in report.refused:
        click.echo(f"被省中心拒收 {name}：见 `exam-sync status`", err=True)
    if not (report.done or report.failed or report.refused):
        click.echo("没有待上传的文件 / nothing to upload")
    if report.failed or report.refused:
        sys.exit(1)


def _offline_outbox(  # type: ignore[no-untyped-def]
    db, kinds: tuple[str, ...], *, carried: bool, now: datetime
) -> None:
    """An offline centre: say which files to carry to central on a USB stick; with
    ``carried``, record that they were handed over (status then stops asking for them)."""
    from sqlalchemy import select

    from exam_server.eventlog import service as eventlog
    from exam_server.sync.models import OutboxItem

    with db.write() as session:
        items = session.scalars(
            select(OutboxItem).where(OutboxItem.state == "pending", OutboxItem.kind.in_(kinds))
        ).all()
        paths = [i.path for i in items]
        if carried:
            for item in items:
                item.state, item.done_at = "carried", now
            if items:
                eventlog.append(
                    session,
                    at=now,
                    actor="admin",
                    kind="sync.carried",
                    data={"files": [Path(p).name for p in paths]},
                )
    if carried:
        for path in paths:
            click.echo(f"已记为拷贝交省中心 / recorded as handed over: {Path(path).name}")
        if not paths:
            click.echo("没有待交的文件 / nothing to hand over")
        return
    click.echo("本考点没有填写省中心地址：请把下列文件拷贝到 U 盘交省中心（exam-central intake），")
    click.echo("交出后运行 `exam-sync push --carried` 记下 / then record it with --carried：")
    for path in paths:
        click.echo(f"  {path}")
    if not paths:
        click.echo("  （没有待交的文件）")


@main.command(
    help="同步状况 / what is synced, what is pending, the last error (exit 1 if something is not done)."
)
@database_option
@data_dir_option
def status(database: str | None, data_dir: str | None) -> None:
    from exam_server.sync.status import status_lines

    cfg = _config(database, data_dir)
    with _db(cfg).read() as session:
        lines, ok = status_lines(session, cfg, _now())
    for line in lines:
        click.echo(line)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
