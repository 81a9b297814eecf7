"""Spreadsheet formats: xlsx (what exam offices use) and csv (UTF-8, with or without BOM).

One item per row; the first row holds the headers. Headers are matched by their Chinese
name (what the template writes, e.g. ``题干``) or the English field name in parentheses
(``题干 (stem)`` or ``stem``), so a template with the English hints removed still reads.
Option columns are ``选项A`` .. ``选项H``. Images are file names relative to the sheet.

Four columns say what the author wants beyond the text (all optional, so sheets made from
older templates still read): ``图片说明`` (the picture's alt text), ``选项乱序`` (是/否:
may the options be shuffled per candidate; empty is 是), ``固定选项`` (options that keep
their place when the others are shuffled, e.g. ``D``) and ``评分规则`` (the item's own
scoring rule: empty for the plan's rule, ``全对得分``, or a map such as
``A=1，B=1，C=1，D=-1；默认=0；下限=0；上限=3`` in the item's points).

A sheet holds the stem and at most one picture after it; an item whose body is laid out
otherwise (a picture first, several pictures), or that goes on after its options, cannot be
written to a sheet without losing its layout, and exporting one is refused with the items
named (use json or qti).

A cell holding a formula is refused with its address and formula: the bank takes what the
author typed, not what a formula last computed (or did not compute). Export writes every
text as a text cell, so that a stem or option starting with ``=`` (or reading ``#N/A``)
comes back as written.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from exam_common.durable import PUBLIC, atomic_writer, write_atomic
from question_bank.catalogue import subjects
from question_bank.items import (
    CHOICE_LABELS,
    Item,
    ItemIssue,
    ItemValidationError,
    RawRow,
    item_to_raw,
)


class Formula:
    """A spreadsheet cell that holds a formula (or an error value) instead of a value."""

    def __init__(self, cell: str, text: str, error: bool = False) -> None:
        self.cell, self.text, self.error = cell, text, error

    def message(self) -> str:
        if self.error:
            return (
                f"单元格 {self.cell} 是错误值 {self.text}，请改为文字 "
                f"(cell {self.cell} holds the error value {self.text})"
            )
        return (
            f"单元格 {self.cell} 是公式“{self.text}”，导入只读取输入的文字；请复制后“选择性粘贴为"
            f"数值”，或在内容前加英文单引号 ' 作为文字输入 (cell {self.cell} holds a formula: "
            "paste it as a value, or type ' before the text)"
        )


def _subject_note() -> str:
    """The 科目 column's note, from the shipped subject list (subjects.csv)."""
    return "必填：" + " / ".join(f"{s.value}（{s.code}）" for s in subjects())


def _trade_note() -> str:
    by_trade = "、".join(s.value for s in subjects() if s.needs_trade)
    return f"{by_trade}必填，如 电工；其余科目留空"


#: (field, Chinese header, English hint, column width, note shown in the template)
COLUMNS: tuple[tuple[str, str, str, int, str], ...] = (
    ("id", "试题编号", "id", 16, "必填，唯一，字母开头，如 ZYDD-0001；改题时编号不变"),
    ("type", "题型", "type", 8, "必填：单选 / 多选 / 判断"),
    ("subject", "科目", "subject", 10, _subject_note()),
    ("trade", "工种", "trade", 12, _trade_note()),
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
    ("image", "图片", "image", 16, "可选：与本表同目录的图片文件名，如 d01.png；显示在题干之后"),
    ("image_alt", "图片说明", "image alt", 16, "可选：图片内容的文字说明（看不到图片时读给考生）"),
    (
        "shuffle",
        "选项乱序",
        "shuffle",
        8,
        "可选：是 / 否。否 = 各考生的选项顺序都按本表；留空为 是（判断题从不乱序）",
    ),
    (
        "fixed",
        "固定选项",
        "fixed options",
        10,
        "可选：乱序时位置不变的选项，如“以上都不对”在 D 则填 D；多个如 CD",
    ),
    (
        "scoring",
        "评分规则",
        "scoring",
        30,
        "可选：留空按考试计划的规则；全对得分；或每个选项的分值，如 "
        "A=1，B=1，C=1，D=-1；默认=0；下限=0；上限=3（最高分须等于分值，最低不得为负）",
    ),
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
            [
                ItemIssue(
                    source,
                    None,
                    None,
                    "file",
                    "文件是空的，请使用 qbank template 生成的模板 "
                    "(the file is empty: start from the template qbank template writes)",
                )
            ]
        ) from None
    fields: list[str | None] = [_header_field(h) for h in header]
    issues: list[ItemIssue] = []
    unknown = [
        str(h) for h, f in zip(header, fields, strict=True) if f is None and h not in (None, "")
    ]
    if unknown:
        issues.append(
            ItemIssue(
                source,
                1,
                None,
                "header",
                f"无法识别的列：{'、'.join(unknown)}；请使用模板的表头 "
                f"(unknown columns: {', '.join(unknown)}; use the template's headers)",
            )
        )
    required = ("id", "type", "subject", "stem", "key")
    missing = [zh for f, zh, *_ in COLUMNS if f in required and f not in fields]
    if missing:
        issues.append(
            ItemIssue(
                source,
                1,
                None,
                "header",
                f"缺少必需的列：{'、'.join(missing)}；请使用模板的表头 "
                f"(required columns missing: {', '.join(missing)}; use the template's headers)",
            )
        )
    if issues:
        raise ItemValidationError(issues)
    rows: list[RawRow] = []
    for n, values in enumerate(it, start=2):
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        raw: dict[str, Any] = {}
        found: list[ItemIssue] = []
        options = [""] * len(CHOICE_LABELS)
        for f, v in zip(fields, values, strict=False):
            if f is None or f == "version":
                continue
            if isinstance(v, Formula):
                name = "options" if f.startswith("option_") else f
                found.append(ItemIssue(source, n, None, name, v.message()))
                v = None
            if f.startswith("option_"):
                options[CHOICE_LABELS.index(f[-1])] = "" if v is None else str(v)
            else:
                raw[f] = v
        raw["options"] = options
        item_id = str(raw.get("id") or "").strip() or None
        found = [ItemIssue(i.source, i.row, item_id, i.field, i.message) for i in found]
        rows.append(RawRow(source, n, raw, base_dir=base_dir, issues=found))
    return rows


def _cell_values(ws: Any) -> Iterable[list[Any]]:
    """Each row's values; a formula or error cell as a :class:`Formula`."""
    from openpyxl.utils import get_column_letter

    for r, cells in enumerate(ws.iter_rows(), start=1):
        out: list[Any] = []
        for c, cell in enumerate(cells, start=1):
            kind = getattr(cell, "data_type", "n")
            value = cell.value
            if kind == "f":
                text = value if isinstance(value, str) else getattr(value, "text", str(value))
                out.append(Formula(f"{get_column_letter(c)}{r}", str(text)))
            elif kind == "e":
                out.append(Formula(f"{get_column_letter(c)}{r}", str(value), error=True))
            else:
                out.append(value)
        yield out


def read_xlsx(path: Path) -> list[RawRow]:
    import openpyxl

    try:
        # data_only=False: formulas are seen as formulas (their cached results may be stale
        # or missing), so that they are refused by name instead of read as empty cells
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as e:  # openpyxl raises many kinds for a bad file
        raise ItemValidationError(
            [
                ItemIssue(
                    str(path),
                    None,
                    None,
                    "file",
                    f"无法读取 xlsx 文件（{type(e).__name__}）：请用 Excel/WPS 另存为 .xlsx 后重试 "
                    "(cannot read the xlsx file: save it again as .xlsx in Excel or WPS)",
                )
            ]
        ) from None
    try:
        ws = wb["试题"] if "试题" in wb.sheetnames else wb.worksheets[0]
        return _rows_from_table(str(path), _cell_values(ws), str(path.parent))
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
                    "csv 文件不是 UTF-8 编码；请在 Excel 中另存为“CSV UTF-8”后重试 "
                    "(the csv file is not UTF-8: save it as CSV UTF-8 in Excel)",
                )
            ]
        ) from None
    return _rows_from_table(str(path), csv.reader(io.StringIO(text)), str(path.parent))


def _check_sheet_items(items: Sequence[Item], path: Path) -> None:
    """Refuse to write items whose body a sheet cannot hold (see the module docstring)."""
    issues = [
        ItemIssue(
            str(path),
            None,
            i.item_id,
            "body",
            "题干为图文穿插（图片在前或多张图片），表格只能表达“题干 + 其后一张图片”；"
            "请导出为 json 或 qti (the body has pictures laid out in a way a sheet "
            "cannot hold: export json or qti)",
        )
        for i in items
        if i.body
    ] + [
        ItemIssue(
            str(path),
            None,
            i.item_id,
            "after",
            "选项之后还有文字或图片，表格没有对应的列；请导出为 json 或 qti "
            "(text or pictures after the options have no column in a sheet: export json "
            "or qti)",
        )
        for i in items
        if i.after
    ]
    if issues:
        raise ItemValidationError(issues)


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


def _example_row(**values: Any) -> list[Any]:
    options = str(values.pop("options", "")).split("|")
    out: list[Any] = []
    for f, *_ in COLUMNS:
        if f.startswith("option_"):
            i = CHOICE_LABELS.index(f[-1])
            out.append(options[i] if i < len(options) else "")
        else:
            out.append(values.get(f, ""))
    return out


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
        _example_row(
            id="ZYDD-0001",
            type="单选",
            subject="职业道德",
            levels="五级、四级、三级",
            stem="职业道德的核心是（  ）。",
            options="爱岗敬业|为人民服务|诚实守信|以上都不对",
            key="B",
            points=1,
            difficulty="易",
            knowledge_point="职业道德基本概念",
            fixed="D",
        ),
        _example_row(
            id="GWJN-DG-0001",
            type="多选",
            subject="岗位技能",
            trade="电工",
            levels="五级",
            stem="下列属于基本安全用具的有（  ）。",
            options="绝缘棒|绝缘夹钳|验电器|绝缘手套",
            key="ABC",
            points=3,
            difficulty="中",
            knowledge_point="安全用具",
            scoring="A=1，B=1，C=1，D=-1；默认=0；下限=0；上限=3",
        ),
        _example_row(
            id="ZYNL-0001",
            type="判断",
            subject="职业能力",
            levels="五级、四级",
            stem="公文的标题一般由发文机关、事由和文种组成。",
            key="正确",
            points=1,
            difficulty="易",
            knowledge_point="公文写作",
        ),
        _example_row(
            id="ZYNL-0002",
            type="单选",
            subject="职业能力",
            levels="五级、四级",
            stem="下列事项按办理顺序排列正确的是（  ）。",
            options="登记、拟办、批办|拟办、登记、批办|批办、拟办、登记",
            key="A",
            points=1,
            difficulty="中",
            knowledge_point="公文处理",
            shuffle="否",
        ),
    ]
    sample = wb.create_sheet("示例")
    sample.append(HEADERS)
    for r in examples:
        sample.append(r)
    type_dv = DataValidation(type="list", formula1='"单选,多选,判断"', allow_blank=False)
    # every subject the bank may hold (the shipped subjects.csv), by name; past Excel's
    # 255-character limit for an inline list, the list goes on a sheet of its own
    names = [s.value for s in subjects()]
    if len(",".join(names)) <= 253:
        subj_dv = DataValidation(type="list", formula1=f'"{",".join(names)}"', allow_blank=False)
    else:
        listed = wb.create_sheet("科目")
        for name in names:
            listed.append([name])
        subj_dv = DataValidation(
            type="list", formula1=f"'科目'!$A$1:$A${len(names)}", allow_blank=False
        )
    diff_dv = DataValidation(type="list", formula1='"易,中,难"', allow_blank=False)
    shuffle_dv = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
    for dv, col in ((type_dv, "B"), (subj_dv, "C"), (diff_dv, "Q"), (shuffle_dv, "U")):
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


def _text_cell(ws: Any, value: Any) -> Any:
    """A cell that holds ``value`` as written: openpyxl makes a string starting with ``=``
    a formula and one such as ``#N/A`` an error value, which a re-import would then refuse
    (and Excel would compute); the bank's texts are always text."""
    from openpyxl.cell import WriteOnlyCell

    if not isinstance(value, str):
        return value
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    return cell


def write_xlsx(items: Sequence[Item], path: Path) -> None:
    import openpyxl

    _check_sheet_items(items, path)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("试题")
    header = [*HEADERS, f"{EXPORT_EXTRA[1]} ({EXPORT_EXTRA[2]})"]
    ws.append(header)
    for item in items:
        ws.append([_text_cell(ws, v) for v in _row_values(item)])
    with atomic_writer(path) as f:
        wb.save(f)
    _write_images(items, path.parent)


def write_csv(items: Sequence[Item], path: Path) -> None:
    _check_sheet_items(items, path)
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow([*HEADERS, f"{EXPORT_EXTRA[1]} ({EXPORT_EXTRA[2]})"])
    for item in items:
        w.writerow(_row_values(item))
    write_atomic(path, text.getvalue().encode("utf-8-sig"))
    _write_images(items, path.parent)
