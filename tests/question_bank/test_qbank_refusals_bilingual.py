"""Every refusal an import can produce says what is wrong in Chinese first and in English
(the project's “中文 (English)” style): whoever reads it, an exam office clerk or a
maintainer, can act on it. Parametrised over bad rows (each field's problems) and bad
files (each way a file can fail to read)."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from question_bank.catalogue import Catalogue, Trade, using
from question_bank.formats import read_items
from question_bank.formats.qti import _package_path
from question_bank.formats.tabular import HEADERS
from question_bank.items import ItemValidationError
from tests.question_bank import qti_authored as qa

_CJK = re.compile(r"[\u4e00-\u9fff]")
_PARENS = re.compile(r"\(([^()]*(?:\([^()]*\)[^()]*)*)\)")


def bilingual(message: str) -> bool:
    """Chinese, and a parenthesised part in English (at least two English words)."""
    return bool(_CJK.search(message)) and any(
        len(re.findall(r"[A-Za-z]{2,}", part)) >= 2 for part in _PARENS.findall(message)
    )


def test_the_check_itself() -> None:
    assert bilingual("答案为空，请填写正确选项 (the key is empty)")
    assert not bilingual("答案为空，请填写正确选项，例如 B")
    assert not bilingual("找不到图片文件“a.png” (a.png)")
    assert not bilingual("the key is empty (fill in the key)")


GOOD: dict[str, Any] = {
    "id": "ZYDD-0901",
    "type": "单选",
    "subject": "职业道德",
    "trade": "",
    "levels": "五级、四级",
    "stem": "职业道德的核心是（  ）。",
    "options": ["爱岗敬业", "为人民服务", "诚实守信"],
    "key": "B",
    "points": "1",
    "difficulty": "易",
    "knowledge_point": "职业道德基本概念",
}
TF = {**GOOD, "type": "判断", "options": [], "key": "正确"}
MULTI = {**GOOD, "type": "多选", "options": ["甲", "乙", "丙", "丁"], "key": "AB"}


#: a bad row: what to change in a good one (None: remove the field)
BAD_ROWS: dict[str, dict[str, Any]] = {
    "id-empty": {"id": ""},
    "id-malformed": {"id": "1-编号"},
    "type": {"type": "问答"},
    "subject": {"subject": "体育"},
    "trade-unknown": {"subject": "岗位技能", "trade": "宇航员"},
    "trade-on-common": {"trade": "电工"},
    "trade-missing": {"subject": "岗位技能", "trade": ""},
    "levels-empty": {"levels": ""},
    "levels-unknown": {"levels": "六级"},
    "stem-empty": {"stem": ""},
    "options-on-tf": {**TF, "options": ["对", "不对"]},
    "option-skipped": {"options": ["", "乙", "丙"]},
    "options-too-many": {"options": [f"选项{n}" for n in range(9)]},
    "options-too-few": {"options": ["甲"], "key": "A"},
    "options-duplicate": {"options": ["甲", "乙", "甲 。"]},
    "key-empty": {"key": ""},
    "key-tf": {**TF, "key": "也许"},
    "key-not-option": {"key": "E"},
    "key-repeated": {**MULTI, "key": "AAB"},
    "key-two-on-single": {"key": "AB"},
    "key-one-on-multiple": {**MULTI, "key": "A"},
    "points": {"points": "很多"},
    "difficulty": {"difficulty": "特难"},
    "knowledge-point": {"knowledge_point": ""},
    "image-type": {"image": "图.bmp"},
    "image-missing": {"image": "不存在.png"},
    "image-not-a-picture": {"image": "fake.png"},
    "alt-without-image": {"image_alt": "一张图"},
    "shuffle": {"shuffle": "随便"},
    "fixed-not-option": {"fixed": "F"},
    "fixed-on-tf": {**TF, "fixed": "T"},
    "scoring": {**MULTI, "scoring": "A=很多"},
    "map": {**MULTI, "scoring": "A=1，B=1，C=-1"},
}


def _write_csv(folder: Path, rows: list[dict[str, Any]]) -> Path:
    """The rows as a csv made from the template's headers (the way offices send them)."""
    import csv

    fields = ["id", "type", "subject", "trade", "levels", "stem"]
    fields += [f"option_{c}" for c in "ABCDEFGH"]
    fields += ["key", "points", "difficulty", "knowledge_point", "image", "image_alt"]
    fields += ["shuffle", "fixed", "scoring"]
    assert len(fields) == len(HEADERS)
    path = folder / "items.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        for row in rows:
            options = list(row.get("options") or [])
            if len(options) > 8:
                options = options[:8]  # a ninth option has no column; json below has it
            values = []
            for name in fields:
                if name.startswith("option_"):
                    i = "ABCDEFGH".index(name[-1])
                    values.append(options[i] if i < len(options) else "")
                else:
                    values.append(row.get(name, ""))
            w.writerow(values)
    return path


def _refusals(paths: list[Path]) -> list[str]:
    with pytest.raises(ItemValidationError) as exc:
        read_items(paths)
    assert exc.value.issues
    return [i.message for i in exc.value.issues] + [str(exc.value).splitlines()[0]]


@pytest.mark.parametrize("name", sorted(BAD_ROWS))
def test_every_refusal_of_a_bad_row_is_chinese_and_english(name: str, tmp_path: Path) -> None:
    change = BAD_ROWS[name]
    row = {**GOOD, **change}
    (tmp_path / "fake.png").write_bytes(b"not a picture")
    as_json = tmp_path / "items.json"
    as_json.write_text(json.dumps({"items": [row]}, ensure_ascii=False), encoding="utf-8")
    paths = [as_json] if name == "options-too-many" else [_write_csv(tmp_path, [row]), as_json]
    for path in paths:
        messages = _refusals([path])
        not_both = [m for m in messages if not bilingual(m)]
        assert not not_both, (path.suffix, not_both)


def test_levels_a_trade_lacks_duplicate_ids_and_body_refusals_are_bilingual(
    tmp_path: Path,
) -> None:
    rows = [
        {**GOOD, "subject": "岗位技能", "trade": "测试工", "levels": "三级", "id": "GW-1"},
        {**GOOD, "id": "DUP-1"},
        {**GOOD, "id": "DUP-1"},
        {**GOOD, "id": "BODY-1", "body": [{"text": "另一段题干"}], "image_alt": "x"},
        {
            **GOOD,
            "id": "BODY-2",
            "body": [{"nothing": 1}],
            "after": [{"text": "ok"}, 3],
            "image": {"media_type": "x"},
        },
        "不是对象",
    ]
    path = tmp_path / "items.json"
    path.write_text(json.dumps({"items": rows}, ensure_ascii=False), encoding="utf-8")
    with using(Catalogue("测试", (Trade("", "测试工", levels=(5, 4)),))):
        messages = _refusals([path])
    assert any("工种 测试工 不设 三级" in m for m in messages)
    assert any("after 的第 2 段" in m for m in messages)
    assert len(messages) >= 6
    assert [m for m in messages if not bilingual(m)] == []


def _empty_csv(folder: Path) -> Path:
    (folder / "empty.csv").write_text("", encoding="utf-8")
    return folder / "empty.csv"


def _bad_headers(folder: Path) -> Path:
    (folder / "h.csv").write_text("编号,题型,备注\nX,单选,\n", encoding="utf-8")
    return folder / "h.csv"


def _gbk_csv(folder: Path) -> Path:
    (folder / "gbk.csv").write_bytes(",".join(HEADERS).encode("gbk", "replace"))
    return folder / "gbk.csv"


def _not_xlsx(folder: Path) -> Path:
    (folder / "bad.xlsx").write_bytes(b"PK\x03\x04 not really")
    return folder / "bad.xlsx"


def _bad_json(folder: Path) -> Path:
    (folder / "bad.json").write_text("{not json", encoding="utf-8")
    return folder / "bad.json"


def _json_not_list(folder: Path) -> Path:
    (folder / "obj.json").write_text('{"items": 3}', encoding="utf-8")
    return folder / "obj.json"


def _formula(folder: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADERS)
    ws.append(["ZYDD-1", "单选", "职业道德", "", "五级", "=A1", "甲", "乙"])
    wb.save(folder / "f.xlsx")
    return folder / "f.xlsx"


def _missing(folder: Path) -> Path:
    return folder / "不存在.xlsx"


def _unknown_kind(folder: Path) -> Path:
    (folder / "items.txt").write_text("x", encoding="utf-8")
    return folder / "items.txt"


def _not_zip(folder: Path) -> Path:
    (folder / "bad.zip").write_bytes(b"not a zip")
    return folder / "bad.zip"


def _no_manifest(folder: Path) -> Path:
    (folder / "pkg").mkdir()
    return folder / "pkg"


def _qti_refusals(folder: Path) -> Path:
    """A package of items each refused for another reason."""
    meta = {**qa.ETHICS, "knowledgePoint": "k"}
    rp = qa.TF_ITEM.replace("ZD-TF-05", "RP-1").replace(
        f"{qa.TEMPLATES}/match_correct", f"{qa.TEMPLATES}/map_response_point"
    )
    gone = qa.TF_ITEM.replace("ZD-TF-05", "IMG-1").replace(
        "<itemBody>", '<itemBody><p><img src="../media/gone.png" alt="x"/></p>'
    )
    return qa.write_package(
        folder / "qti.zip",
        items={
            "items/map.xml": (
                qa.MAP_ITEM.replace("</choiceInteraction>", "</choiceInteraction>后"),
                meta,
            ),
            "items/rp.xml": (rp, meta),
            "items/gone.xml": (gone, meta),
            "items/bare.xml": (qa.TF_ITEM.replace("ZD-TF-05", "BARE-1"), None),
            "items/absent.xml": ("", meta),
            "items/broken.xml": ("<assessmentItem", meta),
        },
    )


BAD_FILES: dict[str, Callable[[Path], Path]] = {
    "missing": _missing,
    "unknown-kind": _unknown_kind,
    "empty-csv": _empty_csv,
    "headers": _bad_headers,
    "not-utf8": _gbk_csv,
    "not-xlsx": _not_xlsx,
    "formula": _formula,
    "bad-json": _bad_json,
    "json-not-list": _json_not_list,
    "not-zip": _not_zip,
    "no-manifest": _no_manifest,
    "qti": _qti_refusals,
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_every_refusal_of_a_bad_file_is_chinese_and_english(name: str, tmp_path: Path) -> None:
    messages = _refusals([BAD_FILES[name](tmp_path)])
    assert [m for m in messages if not bilingual(m)] == []


#: the modules whose refusals an import can produce
_SOURCES = (
    "question_bank/items.py",
    "question_bank/formats/__init__.py",
    "question_bank/formats/qti.py",
    "question_bank/formats/tabular.py",
    "question_bank/formats/jsonfmt.py",
    "question_bank/catalogue.py",
)
#: messages whose English comes from a value they include (the reason
#: ``qti._package_path`` gives, checked below)
_COMPOSED = {"图片{}", "试题文件{}"}


def _literal(node: ast.AST) -> str:
    """A message as written in the source, each interpolated value as ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_literal(v) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp):
        return _literal(node.left) + _literal(node.right)
    return ""


def _messages_in_source() -> list[tuple[str, int, str]]:
    found = []
    root = Path(__file__).resolve().parents[2]
    for name in _SOURCES:
        for node in ast.walk(ast.parse((root / name).read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called not in {"bad", "_unreadable", "_issue", "ItemIssue", "ValueError"}:
                continue
            for arg in node.args:
                branches = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
                for branch in branches:
                    text = _literal(branch)
                    if _CJK.search(text):
                        found.append((name, node.lineno, text))
    return found


def test_every_refusal_written_in_the_importers_has_its_english_part() -> None:
    """Also the refusals no bad row above reaches: every message the importers and
    validation write, read from their source."""
    messages = _messages_in_source()
    assert len(messages) > 80
    missing = [
        f"{name}:{line}: {text}"
        for name, line, text in messages
        if not bilingual(text) and text not in _COMPOSED
    ]
    assert missing == []
    for ref in ("", "http://x/a.png", "/etc/a.png", "../../a.png"):
        path, why = _package_path(ref, "items/q.xml")
        assert path is None and bilingual(why), ref
