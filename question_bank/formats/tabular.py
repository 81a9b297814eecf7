"""Spreadsheet formats: xlsx (what exam offices use) and csv (UTF-8, with or without BOM).

One item per row; the first row holds the headers. Headers are matched by their Chinese
name (what the template writes, e.g. ``题干``) or the English field name in parentheses
(``题干 (stem)`` or ``stem``), so a template with the English hints removed still reads.
Option columns are ``选项A`` .. ``选项H``. Images are file names relative to the sheet.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from exam_common.durable import PUBLIC, atomic_writer, write_atomic
from question_bank.items import (
    CHOICE_LABELS,
    Item,
    ItemIssue,
    ItemValidationError,
    RawRow,
    item_to_raw,
)

#: (field, Chinese header, English hint, column width, note shown in the template)
COLUMNS: tuple[tuple[str, str, str, int, str], ...] = (
    ("id", "试题编号", "id", 16, "必填，唯一，字母开头，如 ZYDD-0001；改题时编号不变"),
    ("type", "题型", "type", 8, "必填：单选 / 多选 / 判断"),
    ("subject", "科目", "subject", 10, "必填：职业道德 / 职业能力 / 岗位技能"),
    ("trade", "工种", "trade", 12, "岗位技能必填，如 电工；公共科目留空"),
    ("levels", "适用等级", "levels", 14, "必填，可多个：五级、四级、三级"),
    ("stem", "题干", "stem", 50, "必填"),
    *(
        (f"option_{c}", f"选项{c}", f"option {c}", 24, "单选至少2项，多选至少3项；判断题留空")
        for c in CHOICE_LABELS
    ),
    ("key", "答案", "key", 8, "必填：单选如 B，多选如 ACD，判断填 正确/错误"),
    ("points", "分值", "points", 8, "必填，如 1 或 1.5（组卷时以组卷方案的分值为准）"),
    ("difficulty", "难度", "difficulty", 8, "必填：易 / 中 / 难"),
    ("knowledge_point", "知识点", "knowledge point", 20, "必填，如 安全用电"),
    ("image", "图片", "image", 16, "可选：与本表同目录的图片文件名，如 d01.png"),
)
HEADERS = [f"{zh} ({en})" for _, zh, en, _, _ in COLUMNS]
EXPORT_EXTRA = ("version", "版本", "version")

_LOOKUP: dict[str, str] = {}
for _col in COLUMNS:
    for _k in (_col[1], _col[2], _col[0], f"{_col[1]} ({_col[2]})"):
        _LOOKUP[_k.lower().replace(" ", "")] = _col[0]
_LOOKUP["版本"] = _LOOKUP["version"] = "version"


def _header_field(h: Any) -> str | None:
    if h is None:
        return None
    text = str(h).strip()
    key = text.lower().replace(" ", "")
    if key in _LOOKUP:
        return _LOOKUP[key]
    base = re.split(r"[（(\n]", text, maxsplit=1)[0].strip().lower().replace(" ", "")
    return _LOOKUP.get(base)


def _rows_from_table(source: str, table: Iterable[Sequence[Any]], base_dir: str) -> list[RawRow]:
    it = iter(table)
    try:
        header = list(next(it))
    except StopIteration:
        raise ItemValidationError(
            [ItemIssue(source, None, None, "file", "文件是空的，请使用 qbank template 生成的模板")]
        ) from None
    fields: list[str | None] = [_header_field(h) for h in header]
    issues: list[ItemIssue] = []
    unknown = [
        str(h) for h, f in zip(header, fields, strict=True) if f is None and h not in (None, "")
    ]
    if unknown:
        issues.append(
            ItemIssue(
                source, 1, None, "header", f"无法识别的列：{'、'.join(unknown)}；请使用模板的表头"
            )
        )
    required = ("id", "type", "subject", "stem", "key")
    missing = [zh for f, zh, *_ in COLUMNS if f in required and f not in fields]
    if missing:
        issues.append(
            ItemIssue(
                source, 1, None, "header", f"缺少必需的列：{'、'.join(missing)}；请使用模板的表头"
            )
        )
    if issues:
        raise ItemValidationError(issues)
    rows: list[RawRow] = []
    for n, values in enumerate(it, start=2):
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        raw: dict[str, Any] = {}
        options = [""] * len(CHOICE_LABELS)
        for f, v in zip(fields, values, strict=False):
            if f is None or f == "version":
                continue
            if f.startswith("option_"):
                options[CHOICE_LABELS.index(f[-1])] = "" if v is None else str(v)
            else:
                raw[f] = v
        raw["options"] = options
        rows.append(RawRow(source, n, raw, base_dir=base_dir))
    return rows


def read_xlsx(path: Path) -> list[RawRow]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a bad file
        raise ItemValidationError(
            [
                ItemIssue(
                    str(path),
                    None,
                    None,
                    "file",
                    f"无法读取 xlsx 文件（{type(e).__name__}）：请用 Excel/WPS 另存为 .xlsx 后重试",
                )
            ]
        ) from None
    try:
        ws = wb["试题"] if "试题" in wb.sheetnames else wb.worksheets[0]
        return _rows_from_table(str(path), ws.iter_rows(values_only=True), str(path.parent))
    finally:
        wb.close()


def read_csv(path: Path) -> list[RawRow]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ItemValidationError(
            [
                ItemIssue(
                    str(path),
                    None,
                    None,
                    "file",
                    "csv 文件不是 UTF-8 编码；请在 Excel 中另存为“CSV UTF-8”后重试",
                )
            ]
        ) from None
    return _rows_from_table(str(path), csv.reader(io.StringIO(text)), str(path.parent))


def _row_values(item: Item) -> list[Any]:
    raw = item_to_raw(item)
    out: list[Any] = []
    for f, *_ in COLUMNS:
        if f.startswith("option_"):
            i = CHOICE_LABELS.index(f[-1])
            opts = raw["options"]
            out.append(opts[i] if i < len(opts) else "")
        elif f == "image":
            out.append(f"images/{item.item_id}.{item.image.extension}" if item.image else "")
        else:
            out.append(raw[f])
    out.append(item.version)
    return out


def _write_images(items: Sequence[Item], directory: Path) -> None:
    with_images = [i for i in items if i.image]
    if with_images:
        for i in with_images:
            assert i.image is not None
            write_atomic(directory / "images" / f"{i.item_id}.{i.image.extension}", i.image.data)


def template_workbook() -> Any:
    """An empty workbook with the Chinese headers, a notes row per column, three
    example rows and a second sheet that explains every column."""
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "试题"
    ws.append(HEADERS)
    for i, (_, _, _, width, _) in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[cell.column_letter].width = width
    ws.freeze_panes = "A2"
    examples = [
        [
            "ZYDD-0001",
            "单选",
            "职业道德",
            "",
            "五级、四级、三级",
            "职业道德的核心是（  ）。",
            "爱岗敬业",
            "为人民服务",
            "诚实守信",
            "办事公道",
            "",
            "",
            "",
            "",
            "B",
            1,
            "易",
            "职业道德基本概念",
            "",
        ],
        [
            "GWJN-DG-0001",
            "多选",
            "岗位技能",
            "电工",
            "五级",
            "下列属于基本安全用具的有（  ）。",
            "绝缘棒",
            "绝缘夹钳",
            "验电器",
            "绝缘手套",
            "",
            "",
            "",
            "",
            "ABC",
            2,
            "中",
            "安全用具",
            "",
        ],
        [
            "ZYNL-0001",
            "判断",
            "职业能力",
            "",
            "五级、四级",
            "公文的标题一般由发文机关、事由和文种组成。",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "正确",
            1,
            "易",
            "公文写作",
            "",
        ],
    ]
    sample = wb.create_sheet("示例")
    sample.append(HEADERS)
    for r in examples:
        sample.append(r)
    type_dv = DataValidation(type="list", formula1='"单选,多选,判断"', allow_blank=False)
    subj_dv = DataValidation(
        type="list", formula1='"职业道德,职业能力,岗位技能"', allow_blank=False
    )
    diff_dv = DataValidation(type="list", formula1='"易,中,难"', allow_blank=False)
    for dv, col in ((type_dv, "B"), (subj_dv, "C"), (diff_dv, "Q")):
        ws.add_data_validation(dv)
        dv.add(f"{col}2:{col}5000")
    notes = wb.create_sheet("填写说明")
    notes.append(["列 (column)", "说明 (notes)"])
    for _, zh, en, _, note in COLUMNS:
        notes.append([f"{zh} ({en})", note])
    notes.append(["", ""])
    notes.append(
        [
            "导入",
            "qbank import --bank 题库.sqlite3 本文件.xlsx ；有任何一行出错则整批不导入，并列出所有错误",
        ]
    )
    notes.column_dimensions["A"].width = 20
    notes.column_dimensions["B"].width = 80
    return wb


def write_template(path: Path) -> None:
    with atomic_writer(path, PUBLIC) as f:  # the blank template: nothing secret in it
        template_workbook().save(f)


def write_xlsx(items: Sequence[Item], path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("试题")
    header = [*HEADERS, f"{EXPORT_EXTRA[1]} ({EXPORT_EXTRA[2]})"]
    ws.append(header)
    for item in items:
        ws.append(_row_values(item))
    with atomic_writer(path) as f:
        wb.save(f)
    _write_images(items, path.parent)


def write_csv(items: Sequence[Item], path: Path) -> None:
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow([*HEADERS, f"{EXPORT_EXTRA[1]} ({EXPORT_EXTRA[2]})"])
    for item in items:
        w.writerow(_row_values(item))
    write_atomic(path, text.getvalue().encode("utf-8-sig"))
    _write_images(items, path.parent)
