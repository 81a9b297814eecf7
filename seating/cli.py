"""The ``seating`` command: seat the candidates, print the day's papers, export, check tickets.

Exit codes (also in ``seating --help``):

0  done
1  unexpected error (a bug: please report it with the command you ran)
2  wrong usage (a missing option, an unknown document name)
3  done, but some candidates could not be seated / some tickets are invalid
4  an input file has errors (each is listed with file, row, field and what to fix)
5  no Chinese font for the PDFs (says how to install one)
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from exam_common.durable import ensure_dir, write_atomic
from exam_common.tickets import GENERATED, TicketError, TicketRule
from question_bank.scoring import CutoffRule, TotalBasis
from seating import documents
from seating.allocation import DEFAULT_SPARE_SHARE, allocate
from seating.exports import export_plan_xlsx, export_results_xlsx
from seating.inputs import (
    InputError,
    attach_photos,
    read_candidates,
    read_results,
    read_rooms,
    read_sittings,
)
from seating.model import PrintedTexts, ProblemKind, RoomKey, SeatingError, SeatPlan, room_key
from seating.planfile import dump_plan, load_plan
from seating.records import RoomRecord, ScoreReport

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_PARTIAL, EXIT_INPUT, EXIT_FONT = 0, 1, 2, 3, 4, 5
UNSEATED = {ProblemKind.NO_SEAT, ProblemKind.NO_SITTING, ProblemKind.UNKNOWN_CENTRE}

DOCS = ("tickets", "door", "signin", "labels", "chart", "record")


@contextmanager
def _errors() -> Iterator[None]:
    """Turn known errors into a clear message and a meaningful exit code."""
    try:
        yield
    except InputError as e:
        click.echo(
            f"输入文件有 {len(e.issues)} 处错误，请改正后重试（{len(e.issues)} error(s) in the input）：",
            err=True,
        )
        for issue in e.issues[:50]:
            click.echo(f"  - {issue}", err=True)
        if len(e.issues) > 50:
            click.echo(
                f"  ……另有 {len(e.issues) - 50} 处 (and {len(e.issues) - 50} more)", err=True
            )
        sys.exit(EXIT_INPUT)
    except SeatingError as e:
        click.echo(f"错误：{e}", err=True)
        sys.exit(EXIT_INPUT)
    except documents.FontNotFoundError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_FONT)


@click.group(
    epilog="退出码 Exit codes: 0 完成 done; 2 用法错误 usage; 3 部分考生未安排或准考证号无效 "
    "some unseated / invalid tickets; 4 输入文件有误 bad input file; 5 缺少中文字体 no Chinese font."
)
def main() -> None:
    """考场编排与打印：安排考场座位、生成准考证号、打印准考证、门贴、签到表、桌贴、
    座位表、考场情况记录和成绩单，导出 Excel。

    Seat the candidates of an exam plan, print the documents of the exam day and export
    spreadsheets. A typical day before the exam:

    \b
      seating allocate -c 考生.xlsx -r 考场.csv -s 场次.json --year 2026 -o plan.json
      seating print all --plan plan.json --photos 照片/ --out 打印/
      seating export --plan plan.json --out 座位安排.xlsx
    """


@main.command("allocate")
@click.option(
    "-c",
    "--candidates",
    "cand_path",
    type=click.Path(path_type=Path),
    required=True,
    help="考生名单 csv/xlsx（表头：身份证号、姓名、性别、工作单位、工种、等级，可选 出生日期、考点代码、报名号）",
)
@click.option(
    "-r",
    "--rooms",
    "rooms_path",
    type=click.Path(path_type=Path),
    required=True,
    help="考场 csv/xlsx/json（考点代码、考点名称、考场号、行数、列数，可选 备用座位数、停用座位、考场位置）",
)
@click.option(
    "-s",
    "--sittings",
    "sittings_path",
    type=click.Path(path_type=Path),
    required=True,
    help="场次 json/csv（场次代码、科目、开始时间、结束时间、试卷版本、等级、工种）",
)
@click.option("--year", type=int, required=True, help="考试年份，写入准考证号前两位 (exam year)")
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="随机种子：同样的输入和种子得到同样的编排",
)
@click.option(
    "--spare",
    default=f"{int(DEFAULT_SPARE_SHARE * 100)}%",
    show_default=True,
    help="每个考场预留的备用座位：百分比（5%）或个数（2）",
)
@click.option(
    "--title", default="", help="考试名称，印在所有文件上（默认：<年份>年度工勤技能岗位等级考核）"
)
@click.option(
    "--previous",
    type=click.Path(path_type=Path, exists=True),
    help="之前的 plan.json：已安排的考生座位不变，只为新增考生安排座位",
)
@click.option(
    "-o", "--out", type=click.Path(path_type=Path), required=True, help="写出的座位计划 plan.json"
)
@click.option("--xlsx", type=click.Path(path_type=Path), help="同时导出座位安排 Excel")
def allocate_cmd(
    cand_path: Path,
    rooms_path: Path,
    sittings_path: Path,
    year: int,
    seed: int,
    spare: str,
    title: str,
    previous: Path | None,
    out: Path,
    xlsx: Path | None,
) -> None:
    """安排考场和座位 (seat the candidates), 写出 plan.json 并列出未能满足的编排要求。"""
    with _errors():
        candidates = read_candidates(cand_path)
        centres = read_rooms(rooms_path)
        sittings = read_sittings(sittings_path)
        share, fixed = _spare(spare)
        if fixed is not None:
            centres = [
                replace(
                    c,
                    rooms=tuple(
                        r if r.spare_seats is not None else replace(r, spare_seats=fixed)
                        for r in c.rooms
                    ),
                )
                for c in centres
            ]
        prev = load_plan(previous) if previous else None
        plan = allocate(
            candidates,
            centres,
            sittings,
            year=year,
            seed=seed,
            spare_share=share,
            title=title,
            previous=prev,
        )
        dump_plan(plan, out)
        if xlsx:
            export_plan_xlsx(plan, xlsx)
    rooms_used = len(plan.used_room_keys())
    click.echo(
        f"已安排 {len(plan.assignments)}/{len(candidates)} 名考生，使用 {rooms_used} 个考场；计划已写入 {out}"
    )
    click.echo(
        f"(seated {len(plan.assignments)} of {len(candidates)} in {rooms_used} rooms; plan written to {out})"
    )
    if plan.problems:
        click.echo(f"\n未能满足的编排要求 {len(plan.problems)} 项 (constraints not met):")
        for p in plan.problems:
            click.echo(f"  [{p.kind.value}] {p.zh}")
    else:
        click.echo("所有编排要求均已满足 (every constraint met).")
    if any(p.kind in UNSEATED for p in plan.problems):
        sys.exit(EXIT_PARTIAL)


def _spare(text: str) -> tuple[float, int | None]:
    s = text.strip()
    try:
        if s.endswith("%"):
            return float(s[:-1]) / 100, None
        return 0.0, int(s)
    except ValueError:
        raise click.BadParameter(
            f"“{text}”应为百分比（如 5%）或座位数（如 2）", param_hint="--spare"
        ) from None


def _room_keys(plan: SeatPlan, rooms: tuple[str, ...]) -> list[RoomKey] | None:
    if not rooms:
        return None
    keys = []
    known = set(plan.room_keys())
    for r in rooms:
        centre, _, code = r.rpartition("-")
        if not centre:
            if len(plan.centres) != 1:
                raise click.BadParameter(
                    f"有多个考点，请写成 考点代码-考场号，如 {plan.centres[0].code}-{code}",
                    param_hint="--room",
                )
            centre = plan.centres[0].code
        key = room_key(centre, code)
        if key not in known:
            raise click.BadParameter(f"计划中没有考场 {r}", param_hint="--room")
        keys.append(key)
    return keys


@main.command("print")
@click.argument("which", nargs=-1, required=True, type=click.Choice([*DOCS, "all"]))
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="seating allocate 写出的 plan.json",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="PDF 输出文件夹",
)
@click.option(
    "--sitting",
    "sittings",
    multiple=True,
    help="只打印这个场次（可重复；签到表、座位表、考场记录按场次）",
)
@click.option(
    "--room", "rooms", multiple=True, help="只打印这个考场：考场号，或 考点代码-考场号（可重复）"
)
@click.option(
    "--photos", type=click.Path(path_type=Path), help="照片文件夹：<身份证号>.jpg 或 <准考证号>.jpg"
)
@click.option("--lang", type=click.Choice(["zh_CN", "en"]), default="zh_CN", show_default=True)
@click.option("--website", help="考评结果查询网站（印在准考证须知中；缺省用计划文件中的）")
@click.option("--issuer", help="主办单位（印在准考证底部；缺省用计划文件中的）")
@click.option(
    "--instructions",
    "instructions_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="应考人员须知，UTF-8 文本，每行一条；可写 {entry}、{late}、{submit}、{website}",
)
def print_cmd(
    which: tuple[str, ...],
    plan_path: Path,
    out: Path,
    sittings: tuple[str, ...],
    rooms: tuple[str, ...],
    photos: Path | None,
    lang: str,
    website: str | None,
    issuer: str | None,
    instructions_path: Path | None,
) -> None:
    """打印文件 (print documents) 到 PDF。WHICH：tickets 准考证、door 考场门贴、signin 签到表、
    labels 桌贴、chart 座位表、record 空白考场情况记录、all 全部。"""
    with _errors():
        plan = load_plan(plan_path)
        texts = plan.texts
        plan = dataclasses.replace(
            plan,
            texts=PrintedTexts(
                results_website=texts.results_website if website is None else website,
                instructions=tuple(
                    ln.strip()
                    for ln in instructions_path.read_text("utf-8-sig").splitlines()
                    if ln.strip()
                )
                if instructions_path
                else texts.instructions,
                issuer=texts.issuer if issuer is None else issuer,
            ),
        )
        if photos:
            plan, issues = attach_photos(plan, photos)
            missing = [i for i in issues if i.field]
            for i in [i for i in issues if not i.field][:20]:
                click.echo(f"注意：{i}", err=True)
            if missing:
                click.echo(
                    f"注意：{len(missing)} 名考生没有照片，将打印占位图 ({len(missing)} without photo)",
                    err=True,
                )
        keys = _room_keys(plan, rooms)
        for code in sittings:
            if code not in {s.code for s in plan.sittings}:
                raise click.BadParameter(f"计划中没有场次 {code}", param_hint="--sitting")
        chosen = DOCS if "all" in which else tuple(dict.fromkeys(which))
        ensure_dir(out, 0o755)
        documents.cjk_font()
        for doc in chosen:
            path = out / f"{doc}.pdf"
            data = _render(doc, plan, keys, sittings, lang, path)
            write_atomic(path, data)
            click.echo(f"已生成 {path} (written)")


NAMES = {
    "tickets": "准考证",
    "door": "考场门贴",
    "signin": "签到表",
    "labels": "桌贴",
    "chart": "座位表",
    "record": "考场情况记录",
}


def _render(
    doc: str,
    plan: SeatPlan,
    keys: list[RoomKey] | None,
    sittings: tuple[str, ...],
    lang: str,
    path: Path,
) -> bytes:
    with click.progressbar(length=1, label=f"{NAMES[doc]} {path.name}", file=sys.stderr) as bar:
        state = {"done": 0}

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - state["done"])
            state["done"] = done

        kw: dict[str, Any] = {"lang": lang, "progress": progress}
        if doc == "tickets":
            tickets = None
            if keys is not None:
                tickets = [a.ticket for k in keys for a in plan.in_room(k)]
            return documents.admission_tickets(plan, tickets=tickets, **kw)
        if doc == "door":
            return documents.door_lists(plan, rooms=keys, **kw)
        if doc == "signin":
            return documents.sign_in_sheets(plan, sittings=sittings or None, rooms=keys, **kw)
        if doc == "labels":
            return documents.seat_labels(plan, rooms=keys, **kw)
        if doc == "chart":
            if len(sittings) == 1:
                return documents.seating_charts(plan, rooms=keys, sitting=sittings[0], **kw)
            return documents.seating_charts(plan, rooms=keys, **kw)
        codes = sittings or tuple(s.code for s in plan.sittings)
        recs = [
            RoomRecord(k[0], k[1], code, counts_final=False)  # blank: filled in by hand
            for code in codes
            for k in (keys or plan.used_room_keys())
            if plan.in_room(k, code)
        ]
        return documents.room_records(plan, recs, **kw)


@main.command("export")
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="plan.json",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="写出的 .xlsx")
@click.option(
    "--results",
    type=click.Path(path_type=Path),
    help="成绩 csv/xlsx（准考证号 + 每科一列：分数、缺考或违纪）：导出成绩表而不是座位表",
)
@click.option(
    "--subjects",
    help="成绩科目，逗号分隔，须是计划中场次的科目；缺省：成绩文件中考生所考场次的科目 "
    "(default: the subjects of the sittings the listed candidates sit)",
)
@click.option(
    "--subject-line",
    type=Decimal,
    help="单科合格线（考试计划的，如河南 35、河北 60）：导出成绩表时必填，没有缺省值",
)
@click.option(
    "--total-line",
    type=Decimal,
    help="总成绩合格线：只在考试计划设了总成绩合格线时填写（缺省：不设）",
)
@click.option("--mean", is_flag=True, help="总成绩合格线按各科平均分计（而非总分）")
@click.option(
    "--website", default="", help="考评结果查询网站，印在成绩单上（如 http://ha.nva.net.cn）"
)
@click.option("--reports", type=click.Path(path_type=Path), help="同时打印成绩单 PDF 到此文件")
@click.option("--lang", type=click.Choice(["zh_CN", "en"]), default="zh_CN", show_default=True)
def export_cmd(
    plan_path: Path,
    out: Path,
    results: Path | None,
    subjects: str,
    subject_line: Decimal | None,
    total_line: Decimal | None,
    mean: bool,
    website: str,
    reports: Path | None,
    lang: str,
) -> None:
    """导出 Excel (export xlsx)：默认导出座位安排；给出 --results 时导出成绩表（可同时打印成绩单）。"""
    with _errors():
        plan = load_plan(plan_path)
        if results is None:
            export_plan_xlsx(plan, out, lang)
            click.echo(f"座位安排已导出到 {out} (plan exported)")
            return
        subj = _result_subjects(plan, results, subjects)
        if subject_line is None:
            raise SeatingError(
                "导出成绩表须给出单科合格线 --subject-line（按考试计划填写，没有缺省值）",
                "--subject-line is required with --results: the plan's line, no default",
            )
        if mean and total_line is None:
            raise SeatingError(
                "--mean 只在给出总成绩合格线 --total-line 时有意义",
                "--mean needs --total-line",
            )
        rule = CutoffRule.uniform(
            subj, subject_line, total_line, TotalBasis.MEAN if mean else TotalBasis.SUM
        )
        rows = read_results(results, subj)
        unknown = [tk for tk, _ in rows if tk not in {a.ticket for a in plan.assignments}]
        if unknown:
            raise SeatingError(
                f"成绩文件中的准考证号不在计划中：{', '.join(unknown[:10])}",
                f"tickets not in the plan: {unknown[:10]}",
            )
        reps = [ScoreReport(tk, rule, res, date.today()) for tk, res in rows]
        export_results_xlsx(plan, reps, out, lang)
        click.echo(f"成绩表已导出到 {out} (results exported)")
        if reports:
            write_atomic(
                reports,
                _with_bar(
                    "成绩单",
                    lambda p: documents.score_reports(
                        plan, reps, lang=lang, website=website, progress=p
                    ),
                ),
            )
            click.echo(f"成绩单已生成 {reports} (score reports written)")


def _result_subjects(plan: SeatPlan, results: Path, given: str | None) -> tuple[str, ...]:
    """The subjects a results export scores: those given, each a subject of the plan's
    sittings; else the subjects of the sittings the file's candidates sit (one set for
    all of them). Nothing of any province's subjects is assumed."""
    known = list(dict.fromkeys(s.subject for s in plan.sittings))
    if given is not None:
        subj = tuple(dict.fromkeys(x.strip() for x in given.split(",") if x.strip()))
        unknown = [x for x in subj if x not in known]
        if not subj or unknown:
            raise SeatingError(
                f"--subjects 中的“{'、'.join(unknown) or given}”不是计划中场次的科目；"
                f"计划的科目：{'、'.join(known)}",
                f"--subjects must name the plan's sitting subjects: {', '.join(known)}",
            )
        return subj
    subject_of = {s.code: s.subject for s in plan.sittings}
    sets: dict[tuple[str, ...], list[str]] = {}
    for tk, _ in read_results(results, ()):
        try:
            codes = plan.by_ticket(tk).variants
        except KeyError:
            continue  # named as not in the plan once the results are read
        taken = {subject_of[c] for c in codes if c in subject_of}
        sets.setdefault(tuple(x for x in known if x in taken), []).append(tk)
    if not sets:
        raise SeatingError(
            "成绩文件中没有本计划的考生，无法确定成绩科目：请用 --subjects 写明",
            "no candidate of the plan in the results: give --subjects",
        )
    if len(sets) > 1:
        kinds = "；".join(
            f"{'、'.join(k) or '（无场次）'}：{v[0]} 等 {len(v)} 人" for k, v in sets.items()
        )
        raise SeatingError(
            f"成绩文件中的考生所考科目不同（{kinds}）：请按科目分开导出，或用 --subjects 写明",
            "the candidates in the results sit different subjects: split the file or give --subjects",
        )
    (subj,) = sets
    if not subj:
        raise SeatingError(
            "成绩文件中的考生没有场次，无法确定成绩科目：请用 --subjects 写明",
            "the candidates in the results sit no sitting: give --subjects",
        )
    return subj


def _with_bar(label: str, work: Callable[[Callable[[int, int], None]], bytes]) -> bytes:
    with click.progressbar(length=1, label=label, file=sys.stderr) as bar:
        state = {"done": 0}

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - state["done"])
            state["done"] = done

        return work(progress)


@main.command("ticket-check")
@click.argument("tickets", nargs=-1, required=True)
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path, exists=True),
    help="同时查这个计划里是谁的准考证",
)
@click.option(
    "--rule",
    "rule_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="按省里的准考证号规则检查：考试计划 JSON（取其 ticket_rule）或规则本身的 JSON；"
    "缺省为本系统编排的 12 位号码（Damm 校验位）",
)
def ticket_check_cmd(
    tickets: tuple[str, ...], plan_path: Path | None, rule_path: Path | None
) -> None:
    """检查准考证号 (check ticket numbers)：按规则检查位数、字符和校验位，可选查出考生和座位。
    全部有效时退出码 0，否则 3。"""
    plan = None
    if plan_path:
        with _errors():
            plan = load_plan(plan_path)
    rule = GENERATED
    if rule_path is not None:
        try:
            doc = json.loads(rule_path.read_text("utf-8-sig"))
            rule = TicketRule.model_validate(
                doc.get("ticket_rule", doc) if isinstance(doc, dict) else doc
            )
        except (ValueError, ValidationError) as exc:
            click.echo(f"错误：{rule_path} 不是准考证号规则（{exc}）(not a ticket rule)", err=True)
            sys.exit(EXIT_INPUT)
    click.echo(f"规则 / rule: {rule.name or '—'}：{rule.describe()}")
    bad = 0
    for tk in tickets:
        try:
            rule.verify(rule.normalise(tk))
        except TicketError as e:
            bad += 1
            click.echo(f"{tk}  无效 invalid: {e}")
            continue
        line = f"{tk}  有效 valid"
        if plan is not None:
            try:
                a = plan.by_ticket(tk.strip())
                c = plan.candidate(a.id_number)
                line += f"  {c.name}  考点 {a.centre} 考场 {a.room} 座号 {a.seat:02d}"
            except KeyError:
                bad += 1
                line += "  但不在本计划中 (not in this plan)"
        click.echo(line)
    if bad:
        sys.exit(EXIT_PARTIAL)
