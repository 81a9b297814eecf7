"""``exam-central``: the province's central service and its tools."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click

from central.config import CentralConfig


def _config(database: str | None, data_dir: str | None) -> CentralConfig:
    overrides: dict[str, object] = {}
    if database:
        overrides["DATABASE_URL"] = database
    if data_dir:
        overrides["DATA_DIR"] = data_dir
    return CentralConfig.from_mapping(overrides)


database_option = click.option(
    "--database",
    envvar="EXAM_CENTRAL_DATABASE_URL",
    help="SQLAlchemy URL of central's database (default: sqlite:///var/central/central.db).",
)
data_dir_option = click.option(
    "--data-dir",
    envvar="EXAM_CENTRAL_DATA_DIR",
    help="Folder of central's signing key (default: var/central).",
)


def _db(cfg: CentralConfig):  # type: ignore[no-untyped-def]
    from central.db import CentralDatabase

    url = cfg.DATABASE_URL
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return CentralDatabase(url)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Domain refusals become a clear message and exit code 1, never a traceback."""
    from central.plan import PlanError
    from central.publishing import PublishError
    from central.registrations import RegistrationError
    from central.service import CentralError

    try:
        yield
    except RegistrationError as exc:
        click.echo(
            f"报名信息有 {len(exc.problems)} 处错误，未导入任何记录 / "
            f"{len(exc.problems)} problems, nothing imported:",
            err=True,
        )
        for p in exc.problems:
            click.echo(f"  {p}", err=True)
        sys.exit(1)
    except CentralError as exc:
        raise click.ClickException(f"{exc.message} [{exc.code}]") from None
    except (PlanError, PublishError) as exc:
        raise click.ClickException(str(exc)) from None


def signing_key(cfg: CentralConfig, *, create: bool = False):  # type: ignore[no-untyped-def]
    """Central's Ed25519 signing key (``central.key`` in the data folder)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from question_bank.package import load_private_key, private_key_pem, public_key_pem

    path = cfg.data_path("central.key")
    if not path.exists():
        if not create:
            raise click.ClickException(
                f"没有省中心签名密钥 {path}：请先运行 `exam-central init` / run `exam-central init`"
            )
        key = Ed25519PrivateKey.generate()
        path.write_bytes(private_key_pem(key))
        path.chmod(0o600)
        cfg.data_path("central.pub").write_bytes(public_key_pem(key.public_key()))
    return load_private_key(path.read_bytes())


@click.group(help="省中心服务 / the central service: packages out, keys at start, results in.")
def main() -> None:
    pass


@main.group(help="数据库 / central's database: create and migrate it.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or migrate central's database (safe to repeat).")
@database_option
def db_upgrade(database: str | None) -> None:
    from central.migrate import current, upgrade

    cfg = _config(database, None)
    d = _db(cfg)
    upgrade(d)
    click.echo(f"省中心数据库已是最新结构 / at revision {current(d)}: {cfg.DATABASE_URL}")


@main.command(
    help="生成省中心签名密钥 / create central's signing key (once) and show its public key."
)
@data_dir_option
def init(data_dir: str | None) -> None:
    from question_bank.package import key_id

    cfg = _config(None, data_dir)
    key = signing_key(cfg, create=True)
    click.echo(f"省中心公钥 / central public key: {cfg.data_path('central.pub')}")
    click.echo(f"指纹 / fingerprint: {key_id(key.public_key())}")
    click.echo(
        "把 central.pub 交给各考点，在 `exam-sync setup` 时使用 / give central.pub to each centre"
    )


@main.group(help="考点 / centres allowed to talk to central.")
def centre() -> None:
    pass


@centre.command(
    "add", help="登记考点及其公钥 / register a centre and the public key `exam-sync setup` printed."
)
@click.argument("code")
@click.option("--name", default="", help="考点名称.")
@click.option(
    "--public-key",
    "public_key",
    required=True,
    help="Hex of the centre's Ed25519 public key (64 hex digits), or a file holding it.",
)
@database_option
def centre_add(code: str, name: str, public_key: str, database: str | None) -> None:
    from sqlalchemy import select

    from central.models import AuditEvent, CentreAccount
    from question_bank.package import key_id, load_public_key

    text = Path(public_key).read_text().strip() if Path(public_key).is_file() else public_key
    try:
        key = load_public_key(text.encode())
    except ValueError as exc:
        raise click.ClickException(f"公钥无效 / bad public key: {exc}") from None
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    now = datetime.now(UTC)
    with _db(_config(database, None)).write() as session:
        row = session.scalar(select(CentreAccount).where(CentreAccount.code == code))
        if row is None:
            session.add(CentreAccount(code=code, name=name, public_key=raw, registered_at=now))
        else:
            row.public_key, row.name, row.registered_at = raw, name or row.name, now
        session.add(
            AuditEvent(
                at=now,
                actor="central-admin",
                kind="centre.registered",
                data={"centre": code, "key_id": key_id(key)},
            )
        )
    click.echo(f"已登记考点 {code}，密钥指纹 {key_id(key)} / centre registered")


@main.group(help="考试计划 / the exam plan: centres, rooms, sittings, blueprints, cutoffs.")
def plan() -> None:
    pass


@plan.command("load", help="读入考试计划 JSON / load the plan file (see docs/central.md).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@database_option
def plan_load(path: Path, database: str | None) -> None:
    from sqlalchemy import delete

    from central.models import AuditEvent, PlanConfig
    from central.plan import parse_plan, sitting_specs

    with _errors():
        doc = parse_plan(path.read_bytes())
        sitting_specs(doc)  # every blueprint must resolve
    now = datetime.now(UTC)
    with _db(_config(database, None)).write() as session:
        session.execute(delete(PlanConfig))
        session.add(
            PlanConfig(
                year=doc.year, name=doc.name, doc=json.loads(doc.model_dump_json()), loaded_at=now
            )
        )
        session.add(
            AuditEvent(at=now, actor="central-admin", kind="plan.loaded", data={"file": path.name})
        )
    click.echo(f"已读入考试计划“{doc.name}”：{len(doc.centres)} 个考点，{len(doc.sittings)} 个场次")


def _plan(session):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from central.models import PlanConfig
    from central.plan import PlanDoc

    row = session.scalar(select(PlanConfig))
    if row is None:
        raise click.ClickException(
            "尚未读入考试计划：请先运行 `exam-central plan load` / load a plan first"
        )
    return PlanDoc.model_validate(row.doc)


@main.group(help="报名信息 / approved registrations.")
def registrations() -> None:
    pass


@registrations.command(
    "import", help="导入报名信息 xlsx/csv（全部通过才导入）/ import registrations, all or nothing."
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--photos",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of photo files named in the 照片 column.",
)
@database_option
def registrations_import(path: Path, photos: Path | None, database: str | None) -> None:
    from central.registrations import import_registrations

    with _errors(), _db(_config(database, None)).write() as session:
        doc = _plan(session)
        s = import_registrations(
            session, path, datetime.now(UTC), year=doc.year, centres=doc.room_codes(), photos=photos
        )
    click.echo(
        f"已导入 {s.imported} 名考生，更新 {s.updated} 名（其中 {s.with_ticket} 名自带准考证号）"
    )


@main.command(
    help="编排座位并发布各考点考试包 / allocate seats and publish each centre's signed package."
)
@click.option("--centre", "centres", multiple=True, help="Only these centres (repeatable).")
@database_option
@data_dir_option
def publish(centres: tuple[str, ...], database: str | None, data_dir: str | None) -> None:
    from central.publishing import publish as do_publish

    cfg = _config(database, data_dir)
    key = signing_key(cfg)
    with _errors(), _db(cfg).write() as session:
        click.echo("正在编排座位并组卷… / allocating and assembling…")
        report = do_publish(
            session, _plan(session), datetime.now(UTC), key, only=set(centres) or None
        )
    for p in report.published:
        click.echo(
            f"  考点 {p.centre_code}: 考试包 {p.package_id}（{p.candidates} 名考生，{p.sittings} 个场次，{p.size} 字节）"
        )
    for code in report.kept:
        click.echo(f"  考点 {code}: 已下载过考试包，保持不变 / already downloaded, kept")
    for w in report.warnings:
        click.echo(f"  注意 / warning: {w}")


@main.command(
    "offline-code",
    help="打印离线密钥码（到时间才给）/ print a sitting's offline key code, only from its time.",
)
@click.argument("sitting")
@click.option("--centre", required=True, help="考点代码.")
@click.option(
    "--end",
    "end",
    is_flag=True,
    help="The answer key's code (from the end) instead of the paper key's.",
)
@database_option
def offline_code_cmd(sitting: str, centre: str, end: bool, database: str | None) -> None:
    from central.service import release_key

    with _errors(), _db(_config(database, None)).write() as session:
        reply = release_key(
            session,
            centre,
            sitting,
            "end" if end else "start",
            datetime.now(UTC),
            actor="central-admin:phone",
        )
    what = "答案密钥" if end else "试卷密钥"
    click.echo(f"考点 {centre} 场次 {sitting} 的{what}离线密钥码：")
    click.echo(f"  {reply['offline_code']}")
    click.echo(
        "请逐组读给考点主考，由其用 `exam-sync key --code` 输入 / read it out group by group"
    )


@main.command(help="运行省中心服务 / run central's web API for the centres' sync tools.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@database_option
@data_dir_option
def run(host: str, port: int, database: str | None, data_dir: str | None) -> None:
    from werkzeug.serving import run_simple

    from central.app import create_app
    from central.migrate import current

    cfg = _config(database, data_dir)
    app = create_app(cfg)
    if current(app.extensions["central"]["db"]) is None:
        raise click.ClickException("省中心数据库尚未初始化：请先运行 `exam-central db upgrade`")
    click.echo(f"省中心服务已启动 / central listening on http://{host}:{port}")
    sys.stdout.flush()
    run_simple(host, port, app, threaded=True)


@main.command(
    help="收取 U 盘带来的成绩包或备份 / take in a result package or backup brought on a USB stick."
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--centre", required=True, help="The centre it came from (its signature must verify)."
)
@database_option
def intake(path: Path, centre: str, database: str | None) -> None:
    from sqlalchemy import select

    from central.models import CentreAccount
    from central.service import take_backup, take_results

    data = path.read_bytes()
    now = datetime.now(UTC)
    upload_id = f"usb-{now:%Y%m%d%H%M%S}"
    with _errors(), _db(_config(database, None)).write() as session:
        account = session.scalar(select(CentreAccount).where(CentreAccount.code == centre))
        if account is None:
            raise click.ClickException(f"考点 {centre} 未登记 / unknown centre")
        if data.startswith(b"EXAMBAK1"):
            take_backup(session, account, data, upload_id, path.name, now)
            click.echo(f"已收取考点 {centre} 的备份 {path.name}")
            return
        report = take_results(session, account, data, upload_id, now)
    state = "（省中心已有，未重复保存）" if report.get("duplicate") else ""
    click.echo(
        f"已收取考点 {centre} 场次 {report['sitting']} 的成绩包{state}：{report['attempts']} 人，"
        f"复核差异 {report['differences']} 人，问题 {len(report['problems'])} 项"
    )


@main.command(
    help="复核结果 / results received and central's re-scoring: any difference is listed."
)
@click.option("--centre", default=None)
@database_option
def results(centre: str | None, database: str | None) -> None:
    from sqlalchemy import select

    from central.models import ResultPackage
    from central.service import rescore_pending

    d = _db(_config(database, None))
    with d.write() as session:
        n = rescore_pending(session, datetime.now(UTC))
    if n:
        click.echo(f"已复核 {n} 个在考试结束前收到的成绩包")
    with d.read() as session:
        q = select(ResultPackage).order_by(ResultPackage.id)
        if centre:
            q = q.where(ResultPackage.centre_code == centre)
        rows = session.scalars(q).all()
        if not rows:
            click.echo("尚未收到成绩包 / no results received yet")
        for r in rows:
            state = "一致" if r.differences == 0 else f"{r.differences} 人有差异"
            click.echo(
                f"考点 {r.centre_code} 场次 {r.sitting_code}: {r.attempts} 人，复核{state} ({r.status})"
            )
            for a in r.rescored:
                for d in a.differences:
                    click.echo(f"  {a.ticket}: {d}")
            for p in r.problems or []:
                click.echo(f"  成绩包: {p}")
        if any(r.differences or r.problems for r in rows):
            sys.exit(3)


@main.command(
    "chain",
    help="考点事件日志链头 / the heads of a centre's event log central received (and any it "
    "refused: a log truncated or rewritten at the centre). --out writes them for "
    "`exam-server verify-log --heads FILE`.",
)
@click.argument("centre")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON here.")
@database_option
def chain(centre: str, out: Path | None, database: str | None) -> None:
    import json

    from central.service import chain_heads

    with _db(_config(database, None)).read() as session:
        heads = chain_heads(session, centre)
    if out is not None:
        from exam_common.durable import PUBLIC, write_atomic

        write_atomic(out, json.dumps({"centre": centre, "heads": heads}, indent=1), PUBLIC)
    refused = [h for h in heads if h["status"] != "accepted"]
    accepted = [h for h in heads if h["status"] == "accepted"]
    last = accepted[-1] if accepted else None
    click.echo(
        f"考点 {centre}: {len(accepted)} 个链头"
        + (f"，最新第 {last['seq']} 条 {last['hash'][:16]}…" if last else "")
    )
    for h in refused:
        click.echo(f"  已拒绝 refused ({h['received_at']}): {h['problem']}", err=True)
    if refused:
        sys.exit(3)


@main.command(
    "demo-package",
    help="生成演示考试包 / build the demo's signed exam package from the sample bank.",
)
@click.option(
    "--out",
    "out",
    default="demo-data/central",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for package.zip, central.pub, secrets.json, roster.json.",
)
@click.option(
    "--quick/--full",
    default=True,
    show_default=True,
    help="Quick: 6-minute sittings with windows scaled to match. Full: 60-minute sittings, the real rules.",
)
def demo_package(out: str, quick: bool) -> None:
    from central.demo import write_demo_package

    files = write_demo_package(Path(out), datetime.now(UTC), quick=quick)
    for name, path in files.items():
        click.echo(f"  {name}: {path}")


if __name__ == "__main__":
    main()
