"""Reading the centre's files: candidates (csv/xlsx), rooms (csv/json), sittings (csv/json),
results (csv/xlsx) and photos (a folder).

Every problem is collected as an :class:`InputIssue` naming the file, the row (as a
spreadsheet shows it: the header is row 1), the field and what to fix; :class:`InputError`
carries them all so that one run lists every bad row, not just the first.

Headers may be Chinese or English (see :data:`CANDIDATE_FIELDS` and friends).
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from stdnum.cn import ric

from exam_common.tables import TableError, read_table
from question_bank.scoring import SubjectResult, SubjectStatus
from seating.model import (
    CHINA_TZ,
    Candidate,
    Centre,
    Gender,
    Room,
    SeatingError,
    SeatPlan,
    Sitting,
)


@dataclass(frozen=True)
class InputIssue:
    file: str
    row: int | None
    field: str | None
    zh: str
    en: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" 第 {self.row} 行"
        if self.field:
            where += f"「{self.field}」"
        return f"{where}：{self.zh}（{self.en}）"


class InputError(ValueError):
    """One or more problems in an input file."""

    def __init__(self, issues: list[InputIssue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


#: canonical field -> accepted headers (first one is what the templates use)
CANDIDATE_FIELDS: dict[str, tuple[str, ...]] = {
    "id_number": ("身份证号", "身份证号码", "id_number"),
    "name": ("姓名", "name"),
    "gender": ("性别", "gender"),
    "birth_date": ("出生日期", "birth_date"),
    "employer": ("工作单位", "单位", "employer"),
    "trade": ("工种", "trade"),
    "level": ("等级", "报考等级", "level"),
    "centre": ("考点代码", "centre"),
    "registration_no": ("报名号", "registration_no"),
}
ROOM_FIELDS: dict[str, tuple[str, ...]] = {
    "centre": ("考点代码", "centre"),
    "centre_name": ("考点名称", "centre_name"),
    "address": ("考点地址", "address"),
    "code": ("考场号", "考场代码", "room", "code"),
    "name": ("考场名称", "name"),
    "rows": ("行数", "rows"),
    "cols": ("列数", "cols"),
    "spare_seats": ("备用座位数", "spare_seats"),
    "blocked": ("停用座位", "blocked"),
    "location": ("考场位置", "location"),
}
SITTING_FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("场次代码", "code"),
    "subject": ("科目", "subject"),
    "start": ("开始时间", "start"),
    "end": ("结束时间", "end"),
    "variants": ("试卷版本", "variants"),
    "levels": ("等级", "levels"),
    "trades": ("工种", "trades"),
}

LEVEL_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
GENDER_WORDS = {
    "男": Gender.MALE,
    "m": Gender.MALE,
    "male": Gender.MALE,
    "女": Gender.FEMALE,
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
}


# --- tables ----------------------------------------------------------------------------


def _read_table(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Header and (row number, cells) of a csv (utf-8 or GBK) or xlsx file."""
    name = str(path)
    try:
        rows = read_table(path)
    except TableError as exc:
        raise InputError([InputIssue(name, None, None, exc.zh, exc.en)]) from exc
    if not rows:
        raise InputError([InputIssue(name, None, None, "文件是空的", "the file is empty")])
    header = [h.strip() for h in rows[0]]
    body = (
        (i + 2, [c.strip() for c in r]) for i, r in enumerate(rows[1:]) if any(c.strip() for c in r)
    )
    return header, body


def _columns(
    name: str, header: list[str], fields: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> dict[str, int]:
    index: dict[str, int] = {}
    lowered = [h.lower() for h in header]
    for key, names in fields.items():
        for n in names:
            if n.lower() in lowered:
                index[key] = lowered.index(n.lower())
                break
    missing = [fields[k][0] for k in required if k not in index]
    if missing:
        raise InputError(
            [
                InputIssue(
                    name,
                    1,
                    m,
                    f"缺少列“{m}”（表头应包含：{'、'.join(fields[k][0] for k in required)}）",
                    f"missing column {m!r}",
                )
                for m in missing
            ]
        )
    return index


# --- candidates ------------------------------------------------------------------------


def parse_level(s: str) -> int:
    """``五级``, ``5``, ``Level 5``, or the qualification names (初级工 … 技师, 高级技师)."""
    from question_bank.catalogue import LEVEL_ALIASES

    for level, alias in LEVEL_ALIASES.items():
        if s.strip() == alias:
            return level
    s = s.strip().lower().removeprefix("level").strip()
    s = s.split("级")[0].strip() if "级" in s and s[:1].isdigit() else s
    if s.isdigit():
        return int(s)
    if s and s[0] in LEVEL_WORDS:
        return LEVEL_WORDS[s[0]]
    raise ValueError(s)


def valid_id_number(idn: str) -> bool:
    """18 characters, the GB 11643 check digit and a real birth date. The region code is
    not looked up: old codes stay on people's cards long after a district is renamed."""
    if len(idn) != 18 or not idn[:17].isdigit() or idn[17] not in "0123456789X":
        return False
    if ric.calc_check_digit(idn) != idn[17]:
        return False
    try:
        ric.get_birth_date(idn)
    except ValueError:
        return False
    return True


def read_candidates(path: Path) -> list[Candidate]:
    """Candidates from a registration export. Checks ID numbers (GB 11643 check digit),
    genders, levels and dates; fills a missing birth date from the ID number."""
    name = str(path)
    header, body = _read_table(path)
    col = _columns(
        name,
        header,
        CANDIDATE_FIELDS,
        ("id_number", "name", "gender", "employer", "trade", "level"),
    )
    out: list[Candidate] = []
    issues: list[InputIssue] = []
    seen: dict[str, int] = {}

    def get(r: list[str], key: str) -> str:
        i = col.get(key)
        return r[i] if i is not None and i < len(r) else ""

    for rowno, r in body:
        bad = len(issues)

        def issue(field: str, zh: str, en: str, rowno: int = rowno) -> None:
            issues.append(InputIssue(name, rowno, CANDIDATE_FIELDS[field][0], zh, en))

        idn = get(r, "id_number").upper()
        if not valid_id_number(idn):
            issue(
                "id_number",
                f"身份证号“{idn}”无效（应为 18 位且校验位正确）",
                f"invalid ID number {idn!r}",
            )
        elif idn in seen:
            issue("id_number", f"身份证号与第 {seen[idn]} 行重复", f"duplicate of row {seen[idn]}")
        else:
            seen[idn] = rowno
        gender = GENDER_WORDS.get(get(r, "gender").lower())
        if gender is None:
            issue("gender", f"性别“{get(r, 'gender')}”应为 男 或 女", "gender must be 男 or 女")
        try:
            level = parse_level(get(r, "level"))
            if not 1 <= level <= 5:
                raise ValueError
        except ValueError:
            issue("level", f"等级“{get(r, 'level')}”应为 1-5 或 一级-五级", "level must be 1-5")
            level = 0
        for key in ("name", "employer", "trade"):
            if not get(r, key):
                issue(key, "不能为空", "must not be empty")
        birth: date | None = None
        if get(r, "birth_date"):
            try:
                birth = date.fromisoformat(get(r, "birth_date")[:10].replace("/", "-"))
            except ValueError:
                issue(
                    "birth_date",
                    f"出生日期“{get(r, 'birth_date')}”应写作 1980-05-17",
                    "date as 1980-05-17",
                )
        elif valid_id_number(idn):
            birth = ric.get_birth_date(idn)
        if len(issues) > bad or gender is None:
            continue
        out.append(
            Candidate(
                id_number=idn,
                name=get(r, "name"),
                gender=gender,
                employer=get(r, "employer"),
                trade=get(r, "trade"),
                level=level,
                birth_date=birth,
                centre=get(r, "centre") or None,
                registration_no=get(r, "registration_no"),
            )
        )
    if issues:
        raise InputError(issues)
    if not out:
        raise InputError([InputIssue(name, None, None, "没有考生", "no candidates in the file")])
    return out


# --- rooms -----------------------------------------------------------------------------


def read_rooms(path: Path) -> list[Centre]:
    """Rooms from csv/xlsx (one row per room, with its centre) or json
    (``{"centres": [{"code", "name", "address", "rooms": [...]}]}``)."""
    name = str(path)
    if path.suffix.lower() == ".json":
        data = _json(path)
        try:
            return [
                Centre(
                    code=str(c["code"]),
                    name=c["name"],
                    address=c.get("address", ""),
                    rooms=tuple(
                        Room(
                            code=str(r["code"]),
                            name=r.get("name", f"第{r['code']}考场"),
                            rows=int(r["rows"]),
                            cols=int(r["cols"]),
                            spare_seats=r.get("spare_seats"),
                            blocked=frozenset(int(s) for s in r.get("blocked", ())),
                            location=r.get("location", ""),
                        )
                        for r in c["rooms"]
                    ),
                )
                for c in data["centres"]
            ]
        except (KeyError, TypeError, ValueError) as e:
            msg = e.zh if isinstance(e, SeatingError) else f"缺少或有误的字段 {e}"
            raise InputError(
                [InputIssue(name, None, None, msg, f"missing or bad field: {e}")]
            ) from e
    header, body = _read_table(path)
    col = _columns(name, header, ROOM_FIELDS, ("centre", "centre_name", "code", "rows", "cols"))
    issues: list[InputIssue] = []
    centres: dict[str, tuple[str, str, list[Room]]] = {}
    for rowno, r in body:

        def get(key: str, r: list[str] = r) -> str:
            i = col.get(key)
            return r[i] if i is not None and i < len(r) else ""

        try:
            rows_n = int(get("rows"))
            cols_n = int(get("cols"))
        except ValueError:
            issues.append(
                InputIssue(
                    name, rowno, "行数/列数", "应为正整数", "rows and cols must be whole numbers"
                )
            )
            continue
        try:
            spare = int(get("spare_seats")) if get("spare_seats") else None
            blocked = frozenset(
                int(x)
                for x in get("blocked").replace("、", ",").replace(";", ",").split(",")
                if x.strip()
            )
        except ValueError:
            issues.append(
                InputIssue(
                    name,
                    rowno,
                    "备用座位数/停用座位",
                    "应为整数（停用座位用逗号分隔）",
                    "whole numbers, comma separated",
                )
            )
            continue
        try:
            room = Room(
                code=get("code"),
                name=get("name") or f"第{get('code')}考场",
                rows=rows_n,
                cols=cols_n,
                spare_seats=spare,
                blocked=blocked,
                location=get("location"),
            )
        except SeatingError as e:
            issues.append(InputIssue(name, rowno, "考场号", e.zh, e.en))
            continue
        entry = centres.setdefault(get("centre"), (get("centre_name"), get("address"), []))
        entry[2].append(room)
    out: list[Centre] = []
    for code, (cname, addr, rooms) in centres.items():
        try:
            out.append(Centre(code=code, name=cname, address=addr, rooms=tuple(rooms)))
        except SeatingError as e:
            issues.append(InputIssue(name, None, "考点代码", e.zh, e.en))
    if issues:
        raise InputError(issues)
    return out


# --- sittings --------------------------------------------------------------------------


def _when(s: str) -> datetime:
    dt = datetime.fromisoformat(s.strip().replace("/", "-"))
    return dt if dt.tzinfo else dt.replace(tzinfo=CHINA_TZ)


def _split(s: str) -> list[str]:
    return [x.strip() for x in s.replace("、", ",").replace(";", ",").split(",") if x.strip()]


def read_sittings(path: Path) -> list[Sitting]:
    """Sittings from json (a list of objects) or csv/xlsx. Times as ``2026-11-28 09:00``
    (China time unless an offset is given); variants ``A,B,C,D``; levels ``2,3,4,5``
    (empty: all); trades comma separated (empty: all)."""
    name = str(path)
    records: list[tuple[int | None, dict[str, str]]] = []
    if path.suffix.lower() == ".json":
        data = _json(path)
        items = data["sittings"] if isinstance(data, dict) else data
        for item in items:
            records.append(
                (
                    None,
                    {
                        k: ",".join(map(str, v)) if isinstance(v, list) else str(v)
                        for k, v in item.items()
                    },
                )
            )
    else:
        header, body = _read_table(path)
        col = _columns(name, header, SITTING_FIELDS, ("code", "subject", "start", "end"))
        for n, r in body:
            records.append((n, {k: r[i] if i < len(r) else "" for k, i in col.items()}))
    out: list[Sitting] = []
    issues: list[InputIssue] = []
    for rowno, d in records:
        where = d.get("code", "?")
        try:
            start, end = _when(d["start"]), _when(d["end"])
        except (KeyError, ValueError):
            issues.append(
                InputIssue(
                    name,
                    rowno,
                    "开始时间/结束时间",
                    f"场次 {where} 的时间应写作 2026-11-28 09:00",
                    "times as 2026-11-28 09:00",
                )
            )
            continue
        try:
            levels = frozenset(parse_level(x) for x in _split(d.get("levels", "")))
        except ValueError:
            issues.append(
                InputIssue(
                    name,
                    rowno,
                    "等级",
                    f"场次 {where} 的等级应为 1-5，用逗号分隔",
                    "levels 1-5, comma separated",
                )
            )
            continue
        try:
            out.append(
                Sitting(
                    code=d.get("code", ""),
                    subject=d.get("subject", ""),
                    start=start,
                    end=end,
                    variants=tuple(_split(d.get("variants", "")) or ("A", "B")),
                    levels=levels,
                    trades=frozenset(_split(d.get("trades", ""))),
                )
            )
        except SeatingError as e:
            issues.append(InputIssue(name, rowno, None, e.zh, e.en))
    if issues:
        raise InputError(issues)
    return out


def _json(path: Path) -> Any:
    if not path.is_file():
        raise InputError([InputIssue(str(path), None, None, "文件不存在", "file not found")])
    try:
        return json.loads(path.read_text("utf-8-sig"))
    except json.JSONDecodeError as e:
        raise InputError(
            [
                InputIssue(
                    str(path), e.lineno, None, f"不是有效的 JSON：{e.msg}", f"invalid JSON: {e.msg}"
                )
            ]
        ) from e


# --- photos ----------------------------------------------------------------------------

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def attach_photos(plan: SeatPlan, folder: Path) -> tuple[SeatPlan, list[InputIssue]]:
    """Give each candidate the photo ``<ID number>.jpg`` (or ``<ticket>.jpg``, .jpeg, .png)
    from ``folder``. Returns the plan with photos and the issues (unreadable files,
    candidates without a photo: they print with the placeholder silhouette)."""
    issues: list[InputIssue] = []
    files = (
        {p.stem.upper(): p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES}
        if folder.is_dir()
        else {}
    )
    if not folder.is_dir():
        issues.append(
            InputIssue(str(folder), None, None, "照片文件夹不存在", "photo folder not found")
        )
    ticket_of = {a.id_number: a.ticket for a in plan.assignments}
    cands = []
    for c in plan.candidates:
        p = files.get(c.id_number) or files.get(ticket_of.get(c.id_number, "-"))
        photo = None
        if p is None:
            if folder.is_dir():
                issues.append(
                    InputIssue(
                        str(folder),
                        None,
                        c.id_number,
                        f"{c.name} 没有照片（将打印占位图）",
                        f"no photo for {c.name}",
                    )
                )
        else:
            data = p.read_bytes()
            try:
                Image.open(io.BytesIO(data)).verify()
                photo = data
            except (UnidentifiedImageError, OSError):
                issues.append(
                    InputIssue(
                        str(p), None, None, "照片文件无法读取（将打印占位图）", "unreadable image"
                    )
                )
        cands.append(dataclasses.replace(c, photo=photo))
    return dataclasses.replace(plan, candidates=tuple(cands)), issues


# --- results ---------------------------------------------------------------------------

STATUS_WORDS = {
    "缺考": SubjectStatus.ABSENT,
    "absent": SubjectStatus.ABSENT,
    "违纪": SubjectStatus.VOIDED,
    "voided": SubjectStatus.VOIDED,
    "": SubjectStatus.MISSING,
}


def read_results(
    path: Path, subjects: tuple[str, ...]
) -> list[tuple[str, tuple[SubjectResult, ...]]]:
    """Results from csv/xlsx: a 准考证号 column and one column per subject holding the
    score, 缺考 or 违纪 (empty: not yet scored)."""
    name = str(path)
    header, body = _read_table(path)
    fields: dict[str, tuple[str, ...]] = {"ticket": ("准考证号", "ticket")}
    fields.update({s: (s,) for s in subjects})
    col = _columns(name, header, fields, ("ticket", *subjects))
    out = []
    issues: list[InputIssue] = []
    for rowno, r in body:
        results = []
        for s in subjects:
            v = r[col[s]] if col[s] < len(r) else ""
            if v.lower() in STATUS_WORDS:
                results.append(SubjectResult(s, STATUS_WORDS[v.lower()]))
                continue
            try:
                score = Decimal(v)
                if not 0 <= score <= 100:
                    raise InvalidOperation
            except InvalidOperation:
                issues.append(
                    InputIssue(
                        name,
                        rowno,
                        s,
                        f"成绩“{v}”应为 0-100 的数、缺考或违纪",
                        "a score 0-100, 缺考 or 违纪",
                    )
                )
                continue
            results.append(SubjectResult(s, SubjectStatus.SCORED, score))
        out.append((r[col["ticket"]], tuple(results)))
    if issues:
        raise InputError(issues)
    return out
