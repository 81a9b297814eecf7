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
from exam_common.durable import (
    PUBLIC,
    DamagedSecret,
    Remedy,
    ensure_dir,
    read_key,
    write_atomic,
)


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
        ensure_dir(Path(url.removeprefix("sqlite:///")).parent)
    return CentralDatabase(url)


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Domain refusals become a clear message and exit code 1, never a traceback."""
    from central.catalogue import NoCatalogue
    from central.outcomes import ScoreError
    from central.plan import PlanError
    from central.publishing import PublishError
    from central.registrations import RegistrationError
    from central.service import CentralError
    from question_bank.catalogue import CatalogueError

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
    except CatalogueError as exc:
        click.echo(f"{exc}", err=True)
        sys.exit(1)
    except (PlanError, PublishError, NoCatalogue, ScoreError) as exc:
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
        write_atomic(path, private_key_pem(key))
        write_atomic(cfg.data_path("central.pub"), public_key_pem(key.public_key()), PUBLIC)
    try:
        return read_key(
            path,
            load_private_key,
            what="省中心签名密钥 (central's signing key)",
            remedy=Remedy(
                "请从密封备份恢复该文件（新生成的密钥与各考点绑定的省中心公钥不符）",
                "restore it from its sealed copy (a new key would not match the public key "
                "every centre pinned)",
            ),
            min_bytes=64,
        )
    except DamagedSecret as exc:
        raise click.ClickException(str(exc)) from None


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


@main.group(
    help="考试计划：考点和考场、场次和组卷方案、各等级的考核方式和合格线（forms）、准考证号规则、"
    "印在准考证和成绩单上的内容 / the exam plan: centres, rooms, sittings with their "
    "blueprints, each level's exam form and pass lines (forms), the ticket rule, the "
    "printed texts (docs/province.md)."
)
def plan() -> None:
    pass


@plan.command(
    "load",
    help="读入考试计划 JSON（先读入工种目录）/ load the plan file (docs/province.md).",
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@database_option
def plan_load(path: Path, database: str | None) -> None:
    from sqlalchemy import delete

    from central.catalogue import require
    from central.models import AuditEvent, PlanConfig
    from central.plan import check_trades, parse_plan, sitting_specs

    with _errors():
        doc = parse_plan(path.read_bytes())
        sitting_specs(doc)  # every blueprint must resolve, for its sitting's subject and level
    now = datetime.now(UTC)
    with _errors(), _db(_config(database, None)).write() as session:
        check_trades(doc, require(session))
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
    for f in doc.forms:
        unset = f.unlined
        parts = "、".join(
            f"{p.name}（{'机考' if p.is_cbt else '另行评分'}"
            + (
                f"，满分 {p.full_marks}，合格线 "
                + (str(p.line) if p.line is not None else "未设定" if p in unset else "无")
                if p.grading == "score"
                else "，合格/不合格"
            )
            + "）"
            for p in f.parts
        )
        total = (
            f"；总成绩合格线 {f.total.line}（{'总分' if f.total.basis == 'sum' else '平均分'}）"
            if f.total
            else "；无总成绩合格线"
        )
        click.echo(f"  {f.label}：{parts}{total}")
        if unset:
            click.echo(
                f"    注意：{f.label}的 {'、'.join(p.name for p in unset)} 合格线未设定，"
                f"填写前不能安排{f.label}的场次和考生 (no line yet: level {f.level} cannot be "
                "seated until it is set)"
            )
    click.echo(f"  准考证号：{doc.tickets.name}，{doc.tickets.describe()}")


@main.group(help="工种目录 / the province's trade catalogue (load it before the plan).")
def catalogue() -> None:
    pass


@catalogue.command(
    "load",
    help="读入工种目录：省里的 xlsx/csv，或随系统提供的 hebei-2024、henan / load a catalogue.",
)
@click.argument("source")
@database_option
def catalogue_load(source: str, database: str | None) -> None:
    from central.catalogue import load

    with _errors(), _db(_config(database, None)).write() as session:
        cat = load(session, source, datetime.now(UTC), by="central-admin")
    groups = cat.industries()
    click.echo(f"已读入工种目录 {cat.name}：{len(cat)} 个工种，{len(groups)} 个行业")


@catalogue.command("show", help="列出省中心的工种目录 / list central's catalogue.")
@click.option("--level", type=click.IntRange(1, 5), help="只列出该等级开考的工种（1-5）")
@database_option
def catalogue_show(level: int | None, database: str | None) -> None:
    from central.catalogue import require

    with _errors(), _db(_config(database, None)).read() as session:
        cat = require(session)
    rows = cat.for_level(level) if level else list(cat)
    for t in rows:
        click.echo(f"{t.code or '-':<8}{t.name}\t{t.industry}")
    click.echo(f"共 {len(rows)} 个工种（{cat.name}）")


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
    from central.catalogue import require
    from central.registrations import import_registrations

    with _errors(), _db(_config(database, None)).write() as session:
        doc = _plan(session)
        s = import_registrations(
            session, path, datetime.now(UTC), plan=doc, catalogue=require(session), photos=photos
        )
    click.echo(
        f"已导入 {s.imported} 名考生，更新 {s.updated} 名（其中 {s.with_ticket} 名带省里签发的准考证号）"
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


operator_option = click.option(
    "--by",
    "by",
    envvar="EXAM_CENTRAL_OPERATOR",
    required=True,
    help="录入人姓名（记入审计记录）/ who enters them (recorded in the audit trail); "
    "or EXAM_CENTRAL_OPERATOR.",
)


@main.group(help="另行评分的科目 / scores of parts the centre does not deliver (应会, 综合评审).")
def scores() -> None:
    pass


@scores.command(
    "import",
    help="从 xlsx/csv 导入成绩（准考证号 + 每个科目一列，全部正确才导入）/ import scores.",
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@operator_option
@database_option
def scores_import(path: Path, by: str, database: str | None) -> None:
    from central.outcomes import import_scores

    with _errors(), _db(_config(database, None)).write() as session:
        report = import_scores(session, path, datetime.now(UTC), plan=_plan(session), by=by)
    click.echo(
        f"已导入 {report.rows} 名考生的 {report.values} 项成绩，其中 {report.changed} 项有变化"
        f"（录入人 {by}）"
    )


@scores.command(
    "enter",
    help="逐条录入成绩（未给出的项会逐一询问）/ enter scores one by one, with prompts.",
)
@click.option("--ticket", help="准考证号（不给出则逐名询问，直接回车结束）")
@click.option("--subject", help="科目名称或代码，如 应会 / YH")
@click.option("--value", help="分数，或 合格、不合格、缺考、违纪")
@operator_option
@database_option
def scores_enter(
    ticket: str | None, subject: str | None, value: str | None, by: str, database: str | None
) -> None:
    from central.outcomes import ScoreError, enter_score
    from central.registrations import RegistrationError  # noqa: F401 - same refusals as import

    d = _db(_config(database, None))
    with d.read() as session:
        doc = _plan(session)
    externals = {p.name: p for f in doc.forms for p in f.external_parts}
    if not externals:
        raise click.ClickException("考试计划中没有另行评分的科目 / the plan has no such parts")
    once = ticket is not None
    while True:
        tk = ticket or click.prompt("准考证号（直接回车结束）", default="", show_default=False)
        if not tk:
            return
        subj = subject or (
            next(iter(externals))
            if len(externals) == 1
            else click.prompt(f"科目（{'、'.join(externals)}）")
        )
        val = value or click.prompt(f"{subj} 成绩（分数，或 合格、不合格、缺考、违纪）")
        try:
            with d.write() as session:
                part, parsed, changed = enter_score(
                    session, datetime.now(UTC), plan=doc, ticket=tk, subject=subj, value=val, by=by
                )
        except ScoreError as exc:
            if once:
                raise click.ClickException(str(exc)) from None
            click.echo(f"  未录入：{exc}", err=True)
            continue
        state = "已录入" if changed else "与已有成绩相同，未改动"
        click.echo(f"  {tk} {part.name}：{parsed.text()}（{state}，录入人 {by}）")
        if once:
            return


@main.group(help="合格判定与成绩单 / decide every candidate and print score reports.")
def outcomes() -> None:
    pass


@outcomes.command(
    "decide",
    help="对各科成绩都已齐全的考生作出合格判定（未齐全的列出）/ decide who is complete.",
)
@operator_option
@database_option
def outcomes_decide(by: str, database: str | None) -> None:
    from central.outcomes import decide
    from central.service import rescore_pending

    d = _db(_config(database, None))
    with _errors(), d.write() as session:
        rescore_pending(session, datetime.now(UTC))
        report = decide(session, datetime.now(UTC), plan=_plan(session), by=by)
    click.echo(
        f"已判定 {report.decided} 名考生（合格 {report.passed} 名，本次新判定或改判 "
        f"{report.changed} 名）；{len(report.pending)} 名尚缺成绩"
    )
    for ticket, name, missing in report.pending[:50]:
        click.echo(f"  待定 {ticket} {name}：缺 {'、'.join(missing)}")
    if report.pending:
        sys.exit(3)


@outcomes.command(
    "report", help="打印成绩单 PDF（每名考生一页）/ print score reports (one page each)."
)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["zh_CN", "en"]), default="zh_CN", show_default=True)
@database_option
def outcomes_report(out: Path, lang: str, database: str | None) -> None:
    from datetime import date

    from central.outcomes import score_reports
    from central.publishing import seat_plan_of
    from exam_common.durable import PUBLIC, write_atomic
    from seating import documents

    with _errors(), _db(_config(database, None)).read() as session:
        doc = _plan(session)
        seat_plan = seat_plan_of(session, doc)
        reports = score_reports(session, doc, date.today())
    pdf = documents.score_reports(
        seat_plan, reports, lang=lang, website=doc.documents.results_website
    )
    write_atomic(out, pdf, PUBLIC)
    click.echo(f"已生成 {len(reports)} 份成绩单：{out}")


@main.command(
    "tickets",
    help="打印准考证 PDF（已发布的座位，含年龄、须知与成绩查询网站）/ print admission tickets.",
)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--centre", "centre", help="只打印该考点的准考证")
@click.option("--lang", type=click.Choice(["zh_CN", "en"]), default="zh_CN", show_default=True)
@database_option
def tickets_cmd(out: Path, centre: str | None, lang: str, database: str | None) -> None:
    from central.publishing import seat_plan_of
    from exam_common.durable import PUBLIC, write_atomic
    from seating import documents

    with _errors(), _db(_config(database, None)).read() as session:
        seat_plan = seat_plan_of(session, _plan(session))
    chosen = [a.ticket for a in seat_plan.assignments if centre in (None, a.centre)]
    if not chosen:
        raise click.ClickException("还没有已发布座位的考生 / nobody is seated yet: publish first")
    write_atomic(out, documents.admission_tickets(seat_plan, tickets=chosen, lang=lang), PUBLIC)
    click.echo(f"已生成 {len(chosen)} 张准考证：{out}")


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


@main.command(
    help="运行省中心服务 / run central's web API for the centres' sync tools, on gunicorn "
    "with several worker processes (production). Every worker shares central's database and "
    "keeps nothing another needs, so several machines can run it behind a load balancer. "
    "--dev runs werkzeug's development server instead: for the demo and trials only."
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes (default: 2 per core + 1).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Threads per worker; workers x threads is the most database connections in use.",
)
@click.option(
    "--timeout",
    type=click.IntRange(5, 3600),
    default=60,
    show_default=True,
    help="Seconds before the master replaces a stuck worker.",
)
@click.option(
    "--access-log",
    default=None,
    help="Write an access log here ('-' for standard output); none by default.",
)
@click.option(
    "--dev",
    is_flag=True,
    help="werkzeug's development server, one process: for the demo and a trial only.",
)
@database_option
@data_dir_option
def run(
    host: str,
    port: int,
    workers: int | None,
    threads: int,
    timeout: int,
    access_log: str | None,
    dev: bool,
    database: str | None,
    data_dir: str | None,
) -> None:
    from central.migrate import current

    cfg = _config(database, data_dir)
    d = _db(cfg)
    try:
        if current(d) is None:
            raise click.ClickException(
                "省中心数据库尚未初始化：请先运行 `exam-central db upgrade` / run it first"
            )
    finally:
        d.dispose()  # no connection may cross the fork into the workers
    if dev:
        from werkzeug.serving import run_simple

        from central.app import create_app

        click.echo(
            "注意：这是开发用服务器，只用于演示和试用，不能用于全省考试 / werkzeug's "
            "development server: for the demo and trials only, never for a province",
            err=True,
        )
        click.echo(f"省中心服务已启动 / central listening on http://{host}:{port}")
        sys.stdout.flush()
        run_simple(host, port, create_app(cfg), threaded=True)
        return
    from central.serve import default_workers, serve

    n = workers or default_workers()
    click.echo(
        f"省中心服务已启动（gunicorn，{n} 个进程 × {threads} 线程）/ central listening on "
        f"http://{host}:{port} ({n} workers x {threads} threads)"
    )
    sys.stdout.flush()
    serve(
        cfg,
        host=host,
        port=port,
        workers=n,
        threads=threads,
        timeout=timeout,
        access_log=access_log,
    )


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
    from central.service import own_rules, rescore_pending
    from question_bank.scoring import ScoringRule

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
        by_item = own_rules(session)
        for r in rows:
            state = "一致" if r.differences == 0 else f"{r.differences} 人有差异"
            click.echo(
                f"考点 {r.centre_code} 场次 {r.sitting_code}: {r.attempts} 人，复核{state} ({r.status})"
            )
            own = by_item.get((r.centre_code, r.sitting_code))
            if own:
                click.echo(
                    "  按试题自带的规则计分 (items scored by their own rule): "
                    + "；".join(
                        f"{item} {rule} {ScoringRule(rule).zh}" for item, rule in own.items()
                    )
                )
            for a in r.rescored:
                for d in a.differences:
                    click.echo(f"  {a.ticket}: {d}")
            for p in r.problems or []:
                click.echo(f"  成绩包: {p}")
        if any(r.differences or r.problems for r in rows):
            sys.exit(3)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _utc(iso: str) -> str:
    try:
        return f"{datetime.fromisoformat(iso).astimezone(UTC):%Y-%m-%d %H:%M:%S}"
    except ValueError:
        return "?"


@main.command(
    help="考点备份 / the centres' backups at central: per centre how many, their size, the "
    "latest (when the centre took it, when it arrived) and whether it still verifies. Times "
    "in UTC (central serves centres in any time zone). Exit 3 when a latest backup fails."
)
@click.option("--centre", default=None, help="One centre's code.")
@database_option
def backups(centre: str | None, database: str | None) -> None:
    from central.service import backups_by_centre

    with _db(_config(database, None)).read() as session:
        rows = backups_by_centre(session, centre)
    if not rows:
        click.echo(
            "尚未收到备份 / no backups received yet"
            + (f"（考点 {centre}）" if centre else "")
            + "：考点结束场次后由 exam-sync 自动上传，或用 `exam-central intake` 收取 U 盘拷贝"
        )
        return
    for b in rows:
        check = "已核验 verified" if not b.problem else f"核验失败 FAILED: {b.problem}"
        taken = _utc(b.latest_taken_at)
        click.echo(
            f"考点 {b.centre_code}: {b.count} 份备份，共 {_size(b.total_size)} / backups；"
            f"最新 latest {b.latest_name}（{_size(b.latest_size)}，"
            f"场次 {b.latest_sitting or '—'}，考点生成于 taken {taken} UTC，"
            f"收到于 received {b.latest_received_at:%Y-%m-%d %H:%M:%S} UTC），{check}"
        )
    if any(b.problem for b in rows):
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


@main.command(
    "demo-inputs",
    help="生成演示用的考试计划和报名信息 / write the demo's plan.json and registrations.csv, "
    "for `plan load` and `registrations import` (what `make demo` loads into a real central).",
)
@click.option(
    "--out",
    "out",
    default="demo-data/central",
    show_default=True,
    type=click.Path(file_okay=False),
)
@click.option("--quick/--full", default=True, show_default=True)
@click.option("--tempo", default="", hidden=True, help="Tests: START_IN_S,DURATION_S,WINDOW_S.")
def demo_inputs(out: str, quick: bool, tempo: str) -> None:
    from central.demo import write_demo_central_inputs

    plan_path, reg_path = write_demo_central_inputs(
        Path(out), datetime.now(UTC), quick=quick, tempo=tempo
    )
    click.echo(f"  plan: {plan_path}")
    click.echo(f"  registrations: {reg_path}")


if __name__ == "__main__":
    main()
