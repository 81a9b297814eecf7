"""``qbank``: the exam office's tool for item banks, paper assembly and exam packages.

Exit codes: 0 done; 1 unexpected error; 2 wrong command line; 3 input files invalid
(nothing imported / nothing written); 4 the bank cannot satisfy a blueprint; 5 a package
was refused on opening; 6 a file or bank cannot be read or written.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NoReturn

import click

from exam_common.durable import PUBLIC, write_atomic
from exam_common.offline_code import OfflineCodeError
from exam_common.offline_code import decode as decode_code
from exam_common.offline_code import encode as encode_code
from question_bank import catalogue
from question_bank.assembly import (
    Assembly,
    AssemblyError,
    BankIndex,
    assemble,
    assemblies_from_json,
    assemblies_to_json,
    audit_summary,
)
from question_bank.blueprint import BlueprintError, load_blueprints
from question_bank.catalogue import level_name
from question_bank.formats import FORMATS, read_items, write_items
from question_bank.items import Difficulty, ItemIssue, ItemValidationError, type_name
from question_bank.scoring import ItemType
from question_bank.store import BankError, BankStore

EXIT_INVALID = 3
EXIT_SHORT = 4
EXIT_REFUSED = 5
EXIT_FILE = 6

BANK_OPTION = click.option(
    "--bank",
    "bank_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="QBANK_BANK",
    default="qbank.sqlite3",
    show_default=True,
    help="题库文件（SQLite）。也可用环境变量 QBANK_BANK 指定。 (bank file)",
)


class QbankError(click.ClickException):
    """A refusal with a meaningful exit code and a Chinese-first message."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"错误 (error): {self.format_message()}", err=True)


def fail(message: str, exit_code: int) -> NoReturn:
    raise QbankError(message, exit_code)


def _now() -> datetime:
    return datetime.now(UTC)


def _open_bank(path: Path, *, create: bool) -> BankStore:
    try:
        return BankStore(path, create=create)
    except BankError as e:
        fail(str(e), EXIT_FILE)


def _parse_filters(subject: str | None, trade: str | None, level: str | None) -> dict[str, Any]:
    f: dict[str, Any] = {}
    try:
        if subject:
            f["subject"] = catalogue.parse_subject(subject)
        if trade:
            f["trade"] = catalogue.get_trade(trade).name
        if level:
            f["level"] = catalogue.parse_level(level)
    except ValueError as e:
        fail(str(e), 2)
    return f


FILTERS = [
    click.option("--subject", help="只处理该科目（名称或代码，如 职业道德 或 ZYDD）"),
    click.option("--trade", help="只处理该工种（名称或代码，如 电工 或 06-008）"),
    click.option("--level", help="只处理该等级（五级..一级 或 5..1）"),
]


def _with_filters(f: Any) -> Any:
    for opt in reversed(FILTERS):
        f = opt(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="exam-centre", message="qbank %(version)s")
def main() -> None:
    """qbank：题库、组卷与考试包工具（供省考试机构使用）。

    \b
    一般流程 (workflow):
      1. qbank template 试题模板.xlsx           生成带中文表头的导入模板
      2. qbank validate 试题.xlsx               检查文件，列出所有错误，不导入
      3. qbank import --bank 题库.sqlite3 试题.xlsx   导入（全部正确才导入）
      4. qbank stats --bank 题库.sqlite3        按工种/等级/科目/题型/难度统计
      5. qbank assemble --bank 题库.sqlite3 组卷方案.json --seed 2026A -o 组卷结果.json
      6. qbank keygen --private 中心私钥.pem --public 中心公钥.pem   （只需一次）
      7. qbank build-package 组卷结果.json --centre 410101 --signing-key 中心私钥.pem
            --secrets 场次密钥.json -o 410101.zip
      8. 开考时如考点离线：qbank offline-code --secrets 场次密钥.json 场次代码

    退出码：0 成功；2 命令行有误；3 输入文件有错（未导入/未写出）；4 题库不满足组卷方案；
    5 考试包被拒绝；6 文件或题库无法读写。
    """


@main.command()
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
def template(output: Path) -> None:
    """生成试题导入模板（xlsx，中文表头、填写说明和示例）。"""
    from question_bank.formats.tabular import write_template

    if output.suffix.lower() != ".xlsx":
        fail("模板文件名须以 .xlsx 结尾", 2)
    try:
        write_template(output)
    except OSError as e:
        fail(f"无法写入 {output}：{e}", EXIT_FILE)
    click.echo(f"已生成导入模板：{output}（“试题”表填写试题，“填写说明”表解释每一列）")


CATALOGUE_OPTION = click.option(
    "--catalogue",
    "catalogue_source",
    envvar="QBANK_CATALOGUE",
    help="工种目录：随系统提供的 hebei-2024、henan，或省里的 xlsx/csv 文件；"
    "缺省为随系统提供的全部工种。也可用环境变量 QBANK_CATALOGUE 指定。 (trade catalogue)",
)


def _catalogue(source: str | None) -> catalogue.Catalogue:
    if not source:
        return catalogue.all_shipped()
    try:
        return catalogue.catalogue_from(source)
    except catalogue.CatalogueError as e:
        fail(str(e), EXIT_INVALID)


@main.command()
@CATALOGUE_OPTION
@click.option("--level", help="只列出该等级开考的工种（五级..一级 或 5..1）")
def trades(catalogue_source: str | None, level: str | None) -> None:
    """列出工种目录：代码、名称、行业、开考等级，按行业分组。"""
    cat = _catalogue(catalogue_source)
    wanted = None
    if level:
        try:
            wanted = catalogue.parse_level(level)
        except ValueError as e:
            fail(str(e), 2)
    shown = 0
    for industry, rows in cat.industries().items():
        rows = [t for t in rows if wanted is None or wanted in t.levels]
        if not rows:
            continue
        click.echo(f"【{industry or '未分行业'}】")
        for t in rows:
            levels = "、".join(level_name(x) for x in t.levels)
            alias = f"（又作 {'、'.join(t.aliases)}）" if t.aliases else ""
            click.echo(f"  {t.code or '-':<8}{t.name}{alias}\t{levels}")
            shown += 1
    click.echo(f"共 {shown} 个工种（目录 {cat.name}）")


@main.group(name="catalogue")
def catalogue_group() -> None:
    """工种目录：检查省里的目录文件（xlsx/csv），查看随系统提供的目录。

    \b
    目录文件的列（第一行为表头）：工种代码、工种名称、行业、等级（如 5-1、五级至二级、一级）、
    别名、来源。只有“工种名称”必填；没有代码的工种（如河南）代码列留空。
    随系统提供：hebei-2024（冀人社字〔2024〕146号 附件2，149 个工种）、
    henan（河南通知和手册中出现的工种，含一级考评的 42 个工种）。
    """


@catalogue_group.command(name="check")
@click.argument("source")
def catalogue_check(source: str) -> None:
    """检查一个工种目录文件（或随系统提供的目录名），列出所有错误，并按行业统计。"""
    cat = _catalogue(source)
    groups = cat.industries()
    click.echo(f"目录 {cat.name}：{len(cat)} 个工种，{len(groups)} 个行业，检查通过 (valid)")
    for industry, rows in groups.items():
        click.echo(f"  {industry or '未分行业'}: {len(rows)}")
    for lv in (5, 4, 3, 2, 1):
        click.echo(f"  {level_name(lv)}开考工种: {len(cat.for_level(lv))}")


def _report_invalid(e: ItemValidationError) -> NoReturn:
    for issue in e.issues:
        click.echo(f"  - {issue}", err=True)
    fail(
        f"发现 {len(e.issues)} 处错误，未导入任何试题。请按上面的提示逐条改正后重新导入。"
        f" ({len(e.issues)} problem(s), nothing imported)",
        EXIT_INVALID,
    )


FORMAT_CHOICE = click.Choice(FORMATS)


def _report_notices(notices: Sequence[ItemIssue]) -> None:
    """What was read but not kept (the items were imported; nothing to fix to do so)."""
    if notices:
        click.echo(f"注意：{len(notices)} 处内容未保留 ({len(notices)} note(s)):")
        for n in notices:
            click.echo(f"  - {n}")


def authored_summary(items: Sequence[Any]) -> str | None:
    """What the items carry beyond text, so the office sees it was read (None: nothing)."""
    own = Counter(i.scoring.rule.value for i in items if i.scoring is not None)
    fixed = sum(1 for i in items if i.fixed)
    still = sum(1 for i in items if not i.shuffle)
    laid_out = sum(1 for i in items if i.body)
    after = sum(1 for i in items if i.after)
    parts = []
    if own:
        rules = "，".join(f"{rule} {n} 道" for rule, n in sorted(own.items()))
        parts.append(f"{sum(own.values())} 道题按试题自带的评分规则计分（{rules}）")
    if fixed:
        parts.append(f"{fixed} 道题有固定位置的选项")
    if still:
        parts.append(f"{still} 道题的选项不打乱")
    if laid_out:
        parts.append(f"{laid_out} 道题的题干为图文穿插")
    if after:
        parts.append(f"{after} 道题在选项之后还有文字或图片")
    if not parts:
        return None
    return (
        "其中 "
        + "；".join(parts)
        + f" ({sum(own.values())} with their own scoring rule, {fixed} with fixed options, "
        f"{still} not shuffled, {laid_out} with a laid-out body, {after} with text or "
        "pictures after the options)"
    )


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMAT_CHOICE, help="文件格式；缺省按扩展名判断")
@CATALOGUE_OPTION
def validate(files: Sequence[Path], fmt: str | None, catalogue_source: str | None) -> None:
    """检查试题文件（xlsx/csv/json/QTI），列出所有错误；不改动题库。"""
    notices: list[ItemIssue] = []
    try:
        with catalogue.using(_catalogue(catalogue_source)):
            items = read_items(list(files), fmt, notices=notices)
    except ItemValidationError as e:
        _report_invalid(e)
    click.echo(f"检查通过：共 {len(items)} 道试题，没有发现错误。 (valid)")
    extra = authored_summary(items)
    if extra:
        click.echo(extra)
    _report_notices(notices)


@main.command(name="import")
@BANK_OPTION
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMAT_CHOICE, help="文件格式；缺省按扩展名判断")
@CATALOGUE_OPTION
def import_(
    bank_path: Path, files: Sequence[Path], fmt: str | None, catalogue_source: str | None
) -> None:
    """把试题文件导入题库：全部正确才导入，否则列出所有错误、一题不导。

    同一试题再次导入不产生变化；内容有改动的试题保存为新版本，旧版本保留，
    已组好的试卷仍使用当时的版本。
    """
    notices: list[ItemIssue] = []
    with click.progressbar(length=len(files), label="读取并检查", file=sys.stderr) as bar:
        try:
            with catalogue.using(_catalogue(catalogue_source)):
                items = read_items(list(files), fmt, progress=bar.update, notices=notices)
        except ItemValidationError as e:
            bar.render_finish()
            _report_invalid(e)
    with _open_bank(bank_path, create=True) as bank:
        result = bank.import_items(
            items, source=", ".join(str(f) for f in files), now=_now().isoformat()
        )
    click.echo(result.summary())
    extra = authored_summary(items)
    if extra:
        click.echo(extra)
    _report_notices(notices)


@main.command()
@BANK_OPTION
@click.option("--format", "fmt", type=FORMAT_CHOICE, required=True, help="导出格式")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="输出文件（QTI 为 .zip 或目录）",
)
@_with_filters
def export(
    bank_path: Path,
    fmt: str,
    output: Path,
    subject: str | None,
    trade: str | None,
    level: str | None,
) -> None:
    """导出题库中各试题的最新版本（xlsx/csv/json/QTI 2.1）。"""
    filters = _parse_filters(subject, trade, level)
    with _open_bank(bank_path, create=False) as bank:
        items = bank.items(**filters)
    if not items:
        fail("没有符合条件的试题，未导出任何文件", EXIT_INVALID)
    try:
        write_items(items, output, fmt)
    except OSError as e:
        fail(f"无法写入 {output}：{e}", EXIT_FILE)
    except ItemValidationError as e:
        for issue in e.issues:
            click.echo(f"  - {issue}", err=True)
        fail(
            f"{len(e.issues)} 道试题无法用 {fmt} 格式表达，未导出任何文件 "
            f"({len(e.issues)} item(s) cannot be written as {fmt}; nothing exported)",
            EXIT_INVALID,
        )
    click.echo(f"已导出 {len(items)} 道试题到 {output}")


def coverage(items: Sequence[Any]) -> dict[tuple[str, str, int], Counter[str]]:
    """(subject, trade name, level) -> counts per type, per difficulty and per type+difficulty."""
    table: dict[tuple[str, str, int], Counter[str]] = {}
    for item in items:
        trade = catalogue.find_trade(item.trade) if item.trade else None
        for level in item.levels:
            c = table.setdefault(
                (item.subject.value, trade.name if trade else "-", level), Counter()
            )
            c["total"] += 1
            c[item.type.value] += 1
            c[item.difficulty.value] += 1
            c[f"{item.type.value}/{item.difficulty.value}"] += 1
    return table


@main.command()
@BANK_OPTION
@_with_filters
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def stats(
    bank_path: Path, subject: str | None, trade: str | None, level: str | None, as_json: bool
) -> None:
    """按科目、工种、等级统计题量，并按题型和难度细分（组卷前检查题库是否够用）。"""
    filters = _parse_filters(subject, trade, level)
    with _open_bank(bank_path, create=False) as bank:
        items = bank.items(**filters)
    table = coverage(items)
    if as_json:
        rows = [
            {"subject": s, "trade": t, "level": lv, **dict(c)}
            for (s, t, lv), c in sorted(table.items(), key=lambda x: (x[0][0], x[0][1], -x[0][2]))
        ]
        click.echo(
            json.dumps({"items": len(items), "coverage": rows}, ensure_ascii=False, indent=1)
        )
        return
    click.echo(f"题库共 {len(items)} 道试题（各题最新版本）\n")
    types = list(ItemType)
    diffs = list(Difficulty)
    head = "科目      工种        等级   合计  " + "  ".join(
        f"{type_name(t)}(易/中/难)" for t in types
    )
    click.echo(head)
    for (s, t, lv), c in sorted(table.items(), key=lambda x: (x[0][0], x[0][1], -x[0][2])):
        cells = "  ".join(
            f"{c[t.value]:>4}({'/'.join(str(c[f'{t.value}/{d.value}']) for d in diffs)})".ljust(14)
            for t in types
        )
        click.echo(f"{s:<8}{t:<10}{level_name(lv):<5}{c['total']:>5}  {cells}")


@main.command()
@BANK_OPTION
@click.option(
    "--blueprints",
    "blueprints_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="同时把示例组卷方案写到这个文件",
)
def sample(bank_path: Path, blueprints_out: Path | None) -> None:
    """把随系统提供的示例题库（465 题）导入题库，可同时导出示例组卷方案。"""
    from question_bank.sample import load_sample_bank, sample_blueprints_path

    items = load_sample_bank()
    with _open_bank(bank_path, create=True) as bank:
        result = bank.import_items(items, source="sample", now=_now().isoformat())
    click.echo(result.summary())
    if blueprints_out:
        write_atomic(blueprints_out, Path(sample_blueprints_path()).read_text(encoding="utf-8"))
        click.echo(f"示例组卷方案已写到 {blueprints_out}")


@main.command(name="assemble")
@BANK_OPTION
@click.argument(
    "blueprint_files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
@click.option(
    "--seed", required=True, help="随机种子（记录在结果中；同一题库、方案和种子得到同样的试卷）"
)
@click.option(
    "--variants",
    default=3,
    show_default=True,
    type=click.IntRange(1, 26),
    help="每个场次的试卷套数（A/B/C 卷）",
)
@click.option("--plan", default="", help="考试计划代码，作为场次代码前缀，如 2026A → 2026A-ZYDD-L5")
@click.option("--only", "only", multiple=True, help="只组这些方案编号（可重复）")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="组卷结果文件（JSON，含答案，须妥善保管）",
)
def assemble_cmd(
    bank_path: Path,
    blueprint_files: Sequence[Path],
    seed: str,
    variants: int,
    plan: str,
    only: Sequence[str],
    output: Path,
) -> None:
    """按组卷方案从题库抽题组卷，每个场次组若干套试卷。

    结果可复现、可审计：记录了种子、题池指纹和每道题的抽取原因。各套试卷之间尽量不重复；
    题库不足时列出缺少的题型、难度或知识点以及缺几题，不写出任何结果。
    """
    blueprints = []
    try:
        for f in blueprint_files:
            blueprints.extend(load_blueprints(f))
    except BlueprintError as e:
        fail(str(e), EXIT_INVALID)
    if only:
        unknown = sorted(set(only) - {b.blueprint_id for b in blueprints})
        if unknown:
            fail(f"组卷方案文件中没有这些方案编号：{'、'.join(unknown)}", 2)
        blueprints = [b for b in blueprints if b.blueprint_id in set(only)]
    if plan and not all(c.isalnum() or c in "_-." for c in plan):
        fail("--plan 只能用字母、数字和 _ . -", 2)
    with _open_bank(bank_path, create=False) as bank:
        index = BankIndex(bank.iter_items())
    assemblies: list[Assembly] = []
    errors: list[str] = []
    with click.progressbar(blueprints, label="组卷", file=sys.stderr) as bar:
        for bp in bar:
            code = f"{plan}-{bp.blueprint_id}" if plan else bp.blueprint_id
            try:
                assemblies.append(assemble(index, bp, seed, variants, sitting_code=code))
            except AssemblyError as e:
                errors.append(str(e))
    if errors:
        for message in errors:
            click.echo(message, err=True)
        fail(f"{len(errors)} 个组卷方案无法满足，未写出组卷结果。", EXIT_SHORT)
    try:
        write_atomic(
            output, json.dumps(assemblies_to_json(assemblies), ensure_ascii=False, indent=1)
        )
    except OSError as e:
        fail(f"无法写入 {output}：{e}", EXIT_FILE)
    for a in assemblies:
        click.echo(audit_summary(a))
    click.echo(
        f"已组卷 {len(assemblies)} 个场次、{sum(len(a.papers) for a in assemblies)} 套试卷，结果写到 {output}（含答案，请妥善保管）"
    )


@main.command()
@click.option(
    "--private",
    "private_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="私钥文件（PEM），由省中心保管",
)
@click.option(
    "--public",
    "public_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="公钥文件（PEM），配置到各考点",
)
def keygen(private_path: Path, public_path: Path) -> None:
    """生成省中心签名用的 Ed25519 密钥对（只需生成一次）。"""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from question_bank.package import key_id, private_key_pem, public_key_pem

    if private_path.exists():
        fail(f"{private_path} 已存在；为防止覆盖现有私钥，请换一个文件名或先移走旧文件", EXIT_FILE)
    key = Ed25519PrivateKey.generate()
    write_atomic(private_path, private_key_pem(key))
    write_atomic(public_path, public_key_pem(key.public_key()), PUBLIC)
    click.echo(
        f"已生成密钥对，密钥指纹 {key_id(key.public_key())}。私钥：{private_path}（仅省中心保管）；公钥：{public_path}（配置到各考点）"
    )


def _load_secrets(path: Path) -> dict[str, tuple[bytes, bytes]]:
    from question_bank.package import secrets_from_json

    if not path.exists():
        return {}
    try:
        return secrets_from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as e:
        fail(f"场次密钥文件 {path} 无法读取：{e}", EXIT_FILE)


def _save_secrets(path: Path, secrets: dict[str, tuple[bytes, bytes]]) -> None:
    from question_bank.package import secrets_to_json

    write_atomic(path, json.dumps(secrets_to_json(secrets), indent=1))


@main.command(name="build-package")
@click.argument("assembly_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--centre", required=True, help="考点代码（考试包只能在该考点打开）")
@click.option(
    "--signing-key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="省中心私钥（PEM）",
)
@click.option(
    "--secrets",
    "secrets_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="场次密钥文件：已有场次沿用，新场次自动生成并写回（须妥善保管）",
)
@click.option(
    "--sitting", "sittings", multiple=True, help="只打包这些场次代码（可重复）；缺省打包全部"
)
@click.option(
    "--part",
    "parts",
    multiple=True,
    metavar="名称=文件",
    help="附加 JSON 部件，如 roster.json=名单.json（可重复）",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="考试包文件（.zip）",
)
def build_package_cmd(
    assembly_file: Path,
    centre: str,
    signing_key: Path,
    secrets_path: Path,
    sittings: Sequence[str],
    parts: Sequence[str],
    output: Path,
) -> None:
    """把组卷结果加密、签名，生成发给一个考点的考试包。

    每套试卷用各自的随机密钥加密（AES-256-GCM），试卷密钥再用场次密钥包裹；场次密钥
    由场次的开考密钥派生，开考时才发布。答案用另一把在场次结束时才发布的密钥单独加密。
    """
    from question_bank.package import (
        Part,
        build_package,
        load_private_key,
        new_secret,
        seal_sitting,
    )

    try:
        assemblies = assemblies_from_json(json.loads(assembly_file.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as e:
        fail(f"{assembly_file} 不是有效的组卷结果文件：{e}", EXIT_INVALID)
    if sittings:
        unknown = sorted(set(sittings) - {a.sitting_code for a in assemblies})
        if unknown:
            fail(f"组卷结果中没有这些场次：{'、'.join(unknown)}", 2)
        assemblies = [a for a in assemblies if a.sitting_code in set(sittings)]
    try:
        key = load_private_key(signing_key.read_bytes())
    except ValueError as e:
        fail(f"无法读取私钥 {signing_key}：{e}", EXIT_FILE)
    extra = []
    for spec in parts:
        name, sep, file = spec.partition("=")
        if not sep:
            fail(f"--part 须写成 名称=文件，现为 {spec}", 2)
        try:
            extra.append(Part(name, Path(file).read_bytes()))
        except OSError as e:
            fail(f"无法读取 {file}：{e}", EXIT_FILE)
    secrets = _load_secrets(secrets_path)
    new = [a.sitting_code for a in assemblies if a.sitting_code not in secrets]
    for code in new:
        secrets[code] = (new_secret(), new_secret())
    if new:
        _save_secrets(secrets_path, secrets)
        click.echo(f"为 {len(new)} 个新场次生成了开考密钥和结束密钥，已写入 {secrets_path}")
    sealed = []
    with click.progressbar(assemblies, label="加密试卷", file=sys.stderr) as bar:
        for a in bar:
            release, end = secrets[a.sitting_code]
            sealed.append(seal_sitting(a.papers, release, end))
    try:
        data = build_package(
            centre_code=centre, sittings=sealed, signing_key=key, created=_now(), extra_parts=extra
        )
    except ValueError as e:
        fail(str(e), 2)
    try:
        write_atomic(output, data)
    except OSError as e:
        fail(f"无法写入 {output}：{e}", EXIT_FILE)
    papers = sum(len(s.papers) for s in sealed)
    click.echo(
        f"已生成考点 {centre} 的考试包 {output}：{len(sealed)} 个场次、{papers} 套试卷，{len(data)} 字节"
    )


@main.command(name="verify-package")
@click.argument("package_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="省中心公钥（PEM）",
)
@click.option("--centre", required=True, help="本考点代码")
def verify_package(package_file: Path, public_key: Path, centre: str) -> None:
    """完整校验一个考试包（签名、考点、每个部件的哈希和大小），不写任何文件。"""
    from question_bank.package import PackageError, load_public_key, open_package

    try:
        key = load_public_key(public_key.read_bytes())
    except ValueError as e:
        fail(str(e), EXIT_FILE)
    try:
        opened = open_package(package_file.read_bytes(), key, centre)
    except PackageError as e:
        fail(f"考试包被拒绝（{type(e).__name__}）：{e}", EXIT_REFUSED)
    m = opened.manifest
    click.echo(
        f"考试包校验通过：编号 {m.package_id}，考点 {m.centre_code}，生成于 {m.created.isoformat()}，签名密钥 {m.signer_key_id}"
    )
    for s in m.sittings:
        trade = catalogue.find_trade(s.trade) if s.trade else None
        click.echo(
            f"  {s.sitting_code}: {s.title}{'（' + trade.name + '）' if trade else ''}，{len(s.papers)} 套试卷，每套 {len(s.papers[0].items) if s.papers else 0} 题"
        )
    names = opened.data_part_names()
    if names:
        click.echo(f"  附加部件：{'、'.join(names)}")


@main.command(name="offline-code")
@click.argument("sitting", required=False)
@click.option(
    "--secrets",
    "secrets_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="场次密钥文件",
)
@click.option("--end", is_flag=True, help="给出场次结束密钥（答案）的密钥码，而不是开考密钥码")
@click.option("--decode", "code", help="核对一个密钥码（检查是否抄错），输出对应的密钥（十六进制）")
def offline_code(
    sitting: str | None, secrets_path: Path | None, end: bool, code: str | None
) -> None:
    """离线密钥码：考点断网时，省中心在开考时电话读出的 28 位密钥码。

    \b
    省中心：qbank offline-code --secrets 场次密钥.json 场次代码
    核对：  qbank offline-code --decode XXXX-XXXX-...
    密钥码能发现任意一个字符输错或相邻两个字符颠倒。
    """
    if code:
        try:
            secret = decode_code(code)
        except OfflineCodeError as e:
            fail(str(e), EXIT_INVALID)
        click.echo(f"密钥码有效：{secret.hex()}")
        return
    if not sitting or secrets_path is None:
        fail("请给出场次代码和 --secrets 场次密钥文件，或用 --decode 核对密钥码", 2)
    secrets = _load_secrets(secrets_path)
    if sitting not in secrets:
        fail(f"场次密钥文件中没有场次 {sitting}", EXIT_INVALID)
    release, end_secret = secrets[sitting]
    which = "结束密钥（答案）" if end else "开考密钥"
    click.echo(f"场次 {sitting} 的{which}码：{encode_code(end_secret if end else release)}")
