"""Importing approved registrations (报名信息) from the registration system's xlsx/csv.

Columns (Chinese or English headers): 准考证号, 身份证号, 姓名, 性别, 出生日期, 工作单位,
工种, 等级, 考点代码 (optional), 照片 (optional: a JPEG/PNG file name, relative to the
file's folder or ``--photos``).

The 准考证号 is the province's, checked against the plan's ticket rule and kept as
issued (central then chooses the seat); it is required when the plan has a rule. A plan
without one lets central number the candidates itself, and a number given then is one of
central's own (year, centre, room, seat: the seat it names is kept). The 工种 must be in
the catalogue loaded at central (by name, alias or code; an unknown one is refused with
the closest names), examined at the registered level, and the level must have an exam
form in the plan.

Every row is checked and every problem is reported with its row number (the header is
row 1) and the reason; if any row is bad, nothing is imported (all or nothing).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import ric

from central.db import batches
from central.models import AuditEvent, Registration
from exam_common.forms import LEVEL_ZH
from exam_common.tables import TableError, read_table
from exam_common.tickets import TicketError
from question_bank.catalogue import Catalogue
from seating.inputs import GENDER_WORDS, parse_level, valid_id_number
from seating.tickets import parse_ticket

if TYPE_CHECKING:
    from central.plan import PlanDoc

FIELDS: dict[str, tuple[str, ...]] = {
    "ticket": ("准考证号", "ticket"),
    "id_number": ("身份证号", "身份证号码", "id_number"),
    "name": ("姓名", "name"),
    "gender": ("性别", "gender"),
    "birth_date": ("出生日期", "birth_date"),
    "employer": ("工作单位", "单位", "employer"),
    "trade": ("工种", "trade"),
    "level": ("等级", "报考等级", "level"),
    "centre": ("考点代码", "centre"),
    "photo": ("照片", "photo"),
}
REQUIRED = ("id_number", "name", "gender", "employer", "trade", "level")


@dataclass(frozen=True)
class RowProblem:
    row: int | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row is not None else "文件"
        if self.field:
            where += f"「{self.field}」"
        return f"{where}：{self.reason}"


class RegistrationError(ValueError):
    """Every problem of the file; nothing was imported."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportSummary:
    imported: int
    updated: int
    with_ticket: int


def read_rows(path: Path) -> list[list[str]]:
    """All rows (header first) of a csv (UTF-8 or GBK) or xlsx file, as text."""
    try:
        return read_table(path)
    except TableError as exc:
        raise RegistrationError([RowProblem(None, None, str(exc))]) from exc


def _photo(name: str, folders: Sequence[Path]) -> bytes:
    for folder in folders:
        path = folder / name
        if path.is_file():
            data = path.read_bytes()
            try:
                with Image.open(io.BytesIO(data)) as img:
                    if img.format not in ("JPEG", "PNG"):
                        raise ValueError(f"照片 {name} 是 {img.format}，应为 JPEG 或 PNG")
                    img.verify()
            except (UnidentifiedImageError, OSError) as exc:
                raise ValueError(f"照片 {name} 无法读取：{exc}") from None
            return data
    raise ValueError(f"找不到照片文件 {name}")


def import_registrations(
    session: Session,
    path: Path,
    now: datetime,
    *,
    plan: PlanDoc,
    catalogue: Catalogue,
    photos: Path | None = None,
    by: str = "central-admin",
) -> ImportSummary:
    """Validate the whole file, then add or update every row (flushes; caller commits).

    ``plan`` gives the ticket rule, the centres and rooms a number of central's own must
    name, the year it carries and the forms each level needs; ``catalogue`` the trades.
    """
    year, centres = plan.year, plan.room_codes()
    rule = plan.tickets
    issued = plan.ticket_rule is not None
    rows = read_rows(path)
    if not rows:
        raise RegistrationError([RowProblem(None, None, "文件是空的")])
    header = [h.strip().lower() for h in rows[0]]
    col: dict[str, int] = {}
    for key, names in FIELDS.items():
        for n in names:
            if n.lower() in header:
                col[key] = header.index(n.lower())
                break
    missing = [FIELDS[k][0] for k in REQUIRED if k not in col]
    if missing:
        raise RegistrationError([RowProblem(1, m, "缺少这一列") for m in missing])
    problems: list[RowProblem] = []
    records: list[dict[str, Any]] = []
    seen_id: dict[str, int] = {}
    seen_ticket: dict[str, int] = {}
    folders = [photos] if photos else []
    folders.append(path.parent)

    for rowno, r in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in r):
            continue

        def get(key: str, r: list[str] = r) -> str:
            i = col.get(key)
            return r[i].strip() if i is not None and i < len(r) else ""

        before = len(problems)

        def bad(key: str, reason: str, rowno: int = rowno) -> None:
            problems.append(RowProblem(rowno, FIELDS[key][0], reason))

        idn = get("id_number").upper()
        if not valid_id_number(idn):
            bad("id_number", f"身份证号“{idn}”无效：应为 18 位，校验位正确，含有效出生日期")
        elif idn in seen_id:
            bad("id_number", f"与第 {seen_id[idn]} 行的身份证号重复")
        else:
            seen_id[idn] = rowno
        gender = GENDER_WORDS.get(get("gender").lower())
        if gender is None:
            bad("gender", f"性别“{get('gender')}”应为 男 或 女")
        elif valid_id_number(idn) and (int(idn[16]) % 2 == 1) != (gender.value == "male"):
            bad("gender", f"性别“{get('gender')}”与身份证号第 17 位不符")
        level = 0
        try:
            level = parse_level(get("level"))
            if not 1 <= level <= 5:
                raise ValueError
        except ValueError:
            bad(
                "level",
                f"等级“{get('level')}”应为 1-5、一级-五级 或 初级工、中级工、高级工、技师、高级技师",
            )
        for key in ("name", "employer", "trade"):
            if not get(key):
                bad(key, "不能为空")
        trade = get("trade")
        if trade:
            found = catalogue.find(trade)
            if found is None:
                near = catalogue.suggest(trade)
                hint = f"是不是：{'、'.join(near)}？" if near else "没有相近的工种名称。"
                bad("trade", f"工种“{trade}”不在工种目录（{catalogue.name}）中。{hint}")
            else:
                trade = found.name
                if level and level not in found.levels:
                    bad("trade", f"工种 {found.name} 不设{LEVEL_ZH[level]}考核（见工种目录）")
                elif level and plan.form(level, found.name) is None:
                    bad(
                        "level",
                        f"考试计划没有{LEVEL_ZH[level]}的考核方式和合格线，不能报考这一等级",
                    )
        birth: date | None = None
        if valid_id_number(idn):
            birth = ric.get_birth_date(idn)
        if get("birth_date"):
            try:
                given = date.fromisoformat(get("birth_date")[:10].replace("/", "-"))
                if birth is not None and given != birth:
                    bad("birth_date", f"出生日期 {given} 与身份证号中的 {birth} 不符")
            except ValueError:
                bad("birth_date", f"出生日期“{get('birth_date')}”应写作 1980-05-17")
        centre = get("centre") or None
        if centre is not None and centre not in centres:
            bad("centre", f"考点代码 {centre} 不在考试计划中")
        ticket = rule.normalise(get("ticket")) or None
        room: str | None = None
        seat: int | None = None
        if ticket is None and issued:
            bad(
                "ticket",
                f"准考证号不能为空：本计划的准考证号由省里签发（{rule.name or rule.describe()}）",
            )
        if ticket is not None:
            try:
                rule.verify(ticket)
                if ticket in seen_ticket:
                    raise TicketError("dup", f"与第 {seen_ticket[ticket]} 行的准考证号重复", "")
                seen_ticket[ticket] = rowno
                if not issued:  # one of central's own: it names the seat
                    parts = parse_ticket(ticket)
                    if parts.year != year % 100:
                        raise TicketError(
                            "year", f"年份 {parts.year:02d} 不是本次考试的 {year}", ""
                        )
                    if parts.centre not in centres:
                        raise TicketError("centre", f"考点 {parts.centre} 不在考试计划中", "")
                    if centre is not None and parts.centre != centre:
                        raise TicketError(
                            "centre",
                            f"准考证号的考点 {parts.centre} 与考点代码 {centre} 不符",
                            "",
                        )
                    if parts.room not in centres[parts.centre]:
                        raise TicketError("room", f"考点 {parts.centre} 没有考场 {parts.room}", "")
                    centre, room, seat = parts.centre, parts.room, parts.seat
            except TicketError as exc:
                rule_name = f"（{rule.name}：{rule.describe()}）" if issued else ""
                bad("ticket", f"准考证号“{ticket}”无效{rule_name}：{exc.zh}")
        photo: bytes | None = None
        if get("photo"):
            try:
                photo = _photo(get("photo"), folders)
            except ValueError as exc:
                bad("photo", str(exc))
        if len(problems) > before or gender is None or birth is None:
            continue
        records.append(
            {
                "id_number": idn,
                "ticket": ticket,
                "name": get("name"),
                "gender": gender.value,
                "birth_date": birth,
                "employer": get("employer"),
                "trade": trade,
                "level": level,
                "centre_code": centre,
                "photo": photo,
                "room": room,
                "seat": seat,
            }
        )
    if not problems and not records:
        problems.append(RowProblem(None, None, "文件中没有考生"))
    if problems:
        raise RegistrationError(problems)

    existing = {
        r.id_number: r
        for ids in batches([x["id_number"] for x in records])
        for r in session.scalars(select(Registration).where(Registration.id_number.in_(ids)))
    }
    taken = {
        t: idn
        for tickets in batches([x["ticket"] for x in records if x["ticket"]])
        for t, idn in session.execute(
            select(Registration.ticket, Registration.id_number).where(
                Registration.ticket.in_(tickets)
            )
        )
    }
    clash = [
        RowProblem(
            seen_id[x["id_number"]],
            "准考证号",
            f"准考证号 {x['ticket']} 已属于另一名考生 {taken[x['ticket']]}",
        )
        for x in records
        if x["ticket"] and taken.get(x["ticket"], x["id_number"]) != x["id_number"]
    ]
    if clash:
        raise RegistrationError(clash)
    batch = f"{path.name}@{now.isoformat(timespec='seconds')}"
    imported = updated = 0
    for x in records:
        reg = existing.get(x["id_number"])
        if reg is None:
            session.add(Registration(**x, batch=batch, imported_at=now, variants=None))
            imported += 1
        else:
            for k, v in x.items():
                if k in ("ticket", "room", "seat") and x["ticket"] is None:
                    continue  # keep the number and seat central already gave
                if k in ("room", "seat") and x["room"] is None:
                    continue  # the province's number names no seat: keep central's
                setattr(reg, k, v)
            reg.batch, reg.imported_at = batch, now
            updated += 1
    session.add(
        AuditEvent(
            at=now,
            actor=by,
            kind="registrations.imported",
            data={"file": path.name, "imported": imported, "updated": updated},
        )
    )
    session.flush()
    return ImportSummary(imported, updated, sum(1 for x in records if x["ticket"]))
