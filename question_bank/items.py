"""Items (试题) and their validation.

An :class:`Item` is one question of the bank: a stable ``item_id`` chosen by the exam
office (for example ``ZYDD-0001`` or ``GWJN-DG-0107``) and a ``version`` the bank assigns.
Importers turn rows of a file into :class:`RawItem` dicts and call :func:`validate_rows`,
which checks every row and collects every problem as an :class:`ItemIssue` naming the
file, row or item, field and what to fix. Nothing is imported unless every row is good.

Labels: choice items use ``A``..``H`` in the order the options are written; true/false
items have exactly the two options ``T`` (正确) and ``F`` (错误). These are the canonical
labels that keys, responses on the wire and scoring use.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from question_bank.catalogue import Subject, find_trade, level_name, parse_level, parse_subject
from question_bank.catalogue import active as active_catalogue
from question_bank.scoring import ItemType, KeyedItem

#: An item id: starts with a letter; letters, digits, ``_`` and ``-``; no dot, so that the
#: wire id ``<item_id>.v<version>`` is unambiguous; a valid XML NCName for QTI.
ITEM_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,47}$")
#: The id of one version of an item as seen on papers and on the wire.
WIRE_ID_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_\-]{0,47})\.v([1-9][0-9]{0,5})$")

CHOICE_LABELS = "ABCDEFGH"
TRUE_FALSE_OPTIONS: tuple[tuple[str, str], ...] = (("T", "正确"), ("F", "错误"))

TYPE_NAMES: dict[ItemType, str] = {
    ItemType.SINGLE: "单选",
    ItemType.MULTIPLE: "多选",
    ItemType.TRUE_FALSE: "判断",
}
_TYPE_LOOKUP: dict[str, ItemType] = {}
for _t, _n in TYPE_NAMES.items():
    for _k in (_t.value, _n, _n + "题", _t.name.lower()):
        _TYPE_LOOKUP[_k] = _t
_TYPE_LOOKUP.update({"单项选择题": ItemType.SINGLE, "多项选择题": ItemType.MULTIPLE})
_TYPE_LOOKUP.update({"tf": ItemType.TRUE_FALSE, "truefalse": ItemType.TRUE_FALSE})


class Difficulty(str, enum.Enum):
    EASY = "easy"  #: 易
    MEDIUM = "medium"  #: 中
    HARD = "hard"  #: 难

    @property
    def zh(self) -> str:
        return {"easy": "易", "medium": "中", "hard": "难"}[self.value]


def parse_item_type(text: str) -> ItemType:
    t = _TYPE_LOOKUP.get(str(text).strip().lower())
    if t is None:
        raise ValueError(f"无法识别的题型“{text}”，请填写 单选、多选 或 判断 (unknown item type)")
    return t


def parse_difficulty(text: str) -> Difficulty:
    key = str(text).strip().lower()
    for d in Difficulty:
        if key in (
            d.value,
            d.zh,
            d.zh + "题",
            {"easy": "较易", "medium": "适中", "hard": "较难"}[d.value],
        ):
            return d
    raise ValueError(f"无法识别的难度“{text}”，请填写 易、中 或 难 (unknown difficulty)")


def canonical_points(p: Decimal) -> Decimal:
    """``Decimal("2.00")`` -> ``Decimal("2")``; ``Decimal("1.50")`` -> ``Decimal("1.5")``."""
    return Decimal(int(p)) if p == p.to_integral_value() else p.normalize()


def type_name(t: ItemType) -> str:
    return TYPE_NAMES[t]


@dataclass(frozen=True, slots=True)
class Option:
    label: str
    text: str


@dataclass(frozen=True, slots=True)
class Image:
    """A picture shown with the stem, carried inline (bank, paper and package alike)."""

    media_type: str  #: image/png, image/jpeg, image/gif or image/svg+xml
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def extension(self) -> str:
        return IMAGE_TYPES[self.media_type]

    def to_json(self) -> dict[str, str]:
        return {"media_type": self.media_type, "data": base64.b64encode(self.data).decode()}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Image:
        return cls(str(d["media_type"]), base64.b64decode(str(d["data"]), validate=True))


IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/svg+xml": "svg"}
IMAGE_EXTENSIONS = {v: k for k, v in IMAGE_TYPES.items()} | {"jpeg": "image/jpeg"}
MAX_IMAGE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Item:
    """One version of one item of the bank."""

    item_id: str
    type: ItemType
    subject: Subject
    trade: str | None  #: trade code (岗位技能 only); None for the two common subjects
    levels: frozenset[int]  #: levels this item may be used at (5..1)
    stem: str
    options: tuple[Option, ...]
    key: frozenset[str]  #: canonical labels
    points: Decimal  #: suggested points; a blueprint sets the points on a paper
    difficulty: Difficulty
    knowledge_point: str
    image: Image | None = None
    version: int = 1

    @property
    def wire_id(self) -> str:
        """``ZYDD-0001.v2``: the id of this version on papers and on the wire."""
        return f"{self.item_id}.v{self.version}"

    def keyed(self, points: Decimal | None = None) -> KeyedItem:
        return KeyedItem(
            self.wire_id, self.type, self.key, self.points if points is None else points
        )

    def content_json(self) -> dict[str, Any]:
        """Everything but the version, in a canonical JSON-ready form."""
        return {
            "id": self.item_id,
            "type": self.type.value,
            "subject": self.subject.value,
            "trade": self.trade,
            "levels": sorted(self.levels, reverse=True),
            "stem": self.stem,
            "options": [o.text for o in self.options]
            if self.type is not ItemType.TRUE_FALSE
            else [],
            "key": "".join(sorted(self.key)),
            "points": str(self.points),
            "difficulty": self.difficulty.value,
            "knowledge_point": self.knowledge_point,
            "image": self.image.to_json() if self.image else None,
        }

    def to_json(self) -> dict[str, Any]:
        d = self.content_json()
        d["version"] = self.version
        return d

    def content_hash(self) -> str:
        """SHA-256 of the content: equal hashes mean the same item (the version aside)."""
        blob = json.dumps(self.content_json(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def with_version(self, version: int) -> Item:
        return replace(self, version=version)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Item:
        """Load an item this program wrote (trusted). Use :func:`validate_rows` for input."""
        t = ItemType(d["type"])
        if t is ItemType.TRUE_FALSE:
            options = tuple(Option(lbl, txt) for lbl, txt in TRUE_FALSE_OPTIONS)
        else:
            options = tuple(Option(CHOICE_LABELS[i], s) for i, s in enumerate(d["options"]))
        return cls(
            item_id=d["id"],
            type=t,
            subject=Subject(d["subject"]),
            trade=d.get("trade"),
            levels=frozenset(int(x) for x in d["levels"]),
            stem=d["stem"],
            options=options,
            key=frozenset(d["key"]),
            points=Decimal(d["points"]),
            difficulty=Difficulty(d["difficulty"]),
            knowledge_point=d["knowledge_point"],
            image=Image.from_json(d["image"]) if d.get("image") else None,
            version=int(d.get("version", 1)),
        )


def split_wire_id(wire_id: str) -> tuple[str, int]:
    """``"ZYDD-0001.v2"`` -> ``("ZYDD-0001", 2)``."""
    m = WIRE_ID_RE.match(wire_id)
    if not m:
        raise ValueError(f"不是有效的题目版本编号“{wire_id}”(expected <item_id>.v<version>)")
    return m.group(1), int(m.group(2))


# --- validation ------------------------------------------------------------------------

#: Field names of a raw row, with the Chinese name a person sees in messages and headers.
FIELD_NAMES: dict[str, str] = {
    "id": "试题编号",
    "type": "题型",
    "subject": "科目",
    "trade": "工种",
    "levels": "适用等级",
    "stem": "题干",
    "options": "选项",
    "key": "答案",
    "points": "分值",
    "difficulty": "难度",
    "knowledge_point": "知识点",
    "image": "图片",
}


@dataclass(frozen=True)
class ItemIssue:
    """One problem with one input row or item."""

    source: str  #: the file (or "json", "stdin")
    row: int | None  #: 1-based row in a spreadsheet / index in a list; None if n/a
    item_id: str | None
    field: str  #: the raw field name (see FIELD_NAMES)
    message: str  #: what is wrong and what to fix (Chinese first)

    def __str__(self) -> str:
        where = [self.source]
        if self.row is not None:
            where.append(f"第 {self.row} 行")
        if self.item_id:
            where.append(f"试题 {self.item_id}")
        fname = FIELD_NAMES.get(self.field, self.field)
        return f"{'，'.join(where)}，[{fname}] ({self.field}): {self.message}"


class ItemValidationError(Exception):
    """Input rejected as a whole; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ItemIssue]) -> None:
        self.issues = list(issues)
        head = f"发现 {len(self.issues)} 处错误，未导入任何试题 ({len(self.issues)} problem(s), nothing imported)"
        super().__init__("\n".join([head, *(f"  - {i}" for i in self.issues)]))


#: What an importer hands to validation: raw field values (strings, numbers, lists).
RawItem = dict[str, Any]


@dataclass
class RawRow:
    """One input row: where it came from and its raw fields."""

    source: str
    row: int | None
    fields: RawItem
    #: for images given as a file path: the directory to resolve it against
    base_dir: str | None = None
    #: an image already loaded by the importer (QTI packages, JSON)
    image: Image | None = field(default=None)


_SPLIT_LEVELS = re.compile(r"[、,，/;；\s]+")
_SPLIT_KEY = re.compile(r"[、,，/;；\s]+")
_TF_TRUE = {"T", "TRUE", "正确", "对", "√", "✓", "是", "Y", "1"}
_TF_FALSE = {"F", "FALSE", "错误", "错", "×", "✗", "否", "N", "0"}


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _norm_option(s: str) -> str:
    return re.sub(r"\s+", "", s).rstrip("。.；;").lower()


def _load_image(raw: Any, base_dir: str | None) -> Image:
    import os

    name = _text(raw)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in IMAGE_EXTENSIONS:
        raise ValueError(f"图片“{name}”的格式不支持，请使用 png、jpg、gif 或 svg 文件")
    path = name if os.path.isabs(name) or base_dir is None else os.path.join(base_dir, name)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_IMAGE_BYTES + 1)
    except OSError:
        raise ValueError(
            f"找不到图片文件“{name}”，请把它放在导入文件旁边或填写正确的路径"
        ) from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"图片“{name}”超过 2 MB，请压缩后再导入")
    return Image(IMAGE_EXTENSIONS[ext], data)


def validate_row(row: RawRow) -> tuple[Item | None, list[ItemIssue]]:
    """Check one raw row; return the item (when good) and every problem found."""
    f = row.fields
    item_id = _text(f.get("id")) or None
    issues: list[ItemIssue] = []

    def bad(fld: str, msg: str) -> None:
        issues.append(ItemIssue(row.source, row.row, item_id, fld, msg))

    if item_id is None:
        bad("id", "试题编号为空，请填写唯一的试题编号，例如 ZYDD-0001")
    elif not ITEM_ID_RE.match(item_id):
        bad(
            "id",
            f"试题编号“{item_id}”不合规：须以英文字母开头，只用字母、数字、- 和 _，最长 48 个字符",
        )

    t: ItemType | None = None
    try:
        t = parse_item_type(_text(f.get("type")))
    except ValueError as e:
        bad("type", str(e))

    subject: Subject | None = None
    try:
        subject = parse_subject(_text(f.get("subject")))
    except ValueError as e:
        bad("subject", str(e))

    trade_text = _text(f.get("trade"))
    trade: str | None = None
    if trade_text:
        found = find_trade(trade_text)
        if found is None:
            near = "、".join(active_catalogue().suggest(trade_text))
            bad(
                "trade",
                f"工种“{trade_text}”不在工种目录中{f'（是不是：{near}？）' if near else ''}，"
                "请改为目录中的工种名称或代码（运行 qbank trades 查看目录）",
            )
        elif subject is not None and not subject.needs_trade:
            bad("trade", f"{subject.value}是公共科目，不属于某个工种，请清空工种")
        else:
            trade = found.name
    elif subject is not None and subject.needs_trade:
        bad("trade", f"{subject.value}试题必须填写工种，例如 电工")

    levels: set[int] = set()
    raw_levels = f.get("levels")
    parts = (
        [_text(x) for x in raw_levels]
        if isinstance(raw_levels, list | tuple)
        else [p for p in _SPLIT_LEVELS.split(_text(raw_levels)) if p]
    )
    if not parts:
        bad("levels", "适用等级为空，请填写如 五级、四级 (可写多个，用顿号分隔)")
    for p in parts:
        try:
            levels.add(parse_level(p))
        except ValueError as e:
            bad("levels", str(e))
    if trade is not None and levels:
        tr = find_trade(trade)
        assert tr is not None
        outside = sorted(set(levels) - set(tr.levels), reverse=True)
        if outside:
            bad(
                "levels",
                f"工种 {tr.name} 不设 {'、'.join(level_name(x) for x in outside)}，请删去这些等级",
            )

    stem = _text(f.get("stem"))
    if not stem:
        bad("stem", "题干为空，请填写题目内容")

    raw_opts = f.get("options") or []
    texts = [_text(x) for x in raw_opts]
    while texts and not texts[-1]:
        texts.pop()  # trailing empty option columns are fine
    options: tuple[Option, ...] = ()
    if t is ItemType.TRUE_FALSE:
        if texts and [_norm_option(x) for x in texts] not in (
            [],
            [_norm_option(x) for _, x in TRUE_FALSE_OPTIONS],
        ):
            bad("options", "判断题不需要填写选项（固定为 正确/错误），请清空选项列")
        options = tuple(Option(lbl, txt) for lbl, txt in TRUE_FALSE_OPTIONS)
    elif t is not None:
        for i, x in enumerate(texts):
            if not x:
                bad("options", f"选项{CHOICE_LABELS[i]}为空，但后面还有选项；请不要跳过选项")
        if len(texts) > len(CHOICE_LABELS):
            bad("options", f"选项有 {len(texts)} 个，最多 8 个（A-H）")
        min_opts = 3 if t is ItemType.MULTIPLE else 2
        if len([x for x in texts if x]) < min_opts:
            bad("options", f"{type_name(t)}题至少需要 {min_opts} 个选项，目前只有 {len(texts)} 个")
        seen: dict[str, str] = {}
        for i, x in enumerate(texts[: len(CHOICE_LABELS)]):
            if not x:
                continue
            n = _norm_option(x)
            if n in seen:
                bad(
                    "options",
                    f"选项{seen[n]}和选项{CHOICE_LABELS[i]}内容重复（“{x}”），请修改其中一个",
                )
            else:
                seen[n] = CHOICE_LABELS[i]
        options = tuple(
            Option(CHOICE_LABELS[i], x) for i, x in enumerate(texts[: len(CHOICE_LABELS)])
        )

    key: frozenset[str] = frozenset()
    raw_key = f.get("key")
    key_text = "".join(raw_key) if isinstance(raw_key, list | tuple) else _text(raw_key)
    if not key_text:
        bad("key", "答案为空，请填写正确选项，例如 B（多选如 ACD，判断填 正确/错误）")
    elif t is ItemType.TRUE_FALSE:
        k = key_text.upper()
        if k in _TF_TRUE:
            key = frozenset("T")
        elif k in _TF_FALSE:
            key = frozenset("F")
        else:
            bad("key", f"判断题答案“{key_text}”无法识别，请填写 正确 或 错误（也可填 T/F、√/×）")
    elif t is not None:
        letters = [c for c in _SPLIT_KEY.sub("", key_text.upper())]
        labels = {o.label for o in options if o.text}
        not_opt = [c for c in letters if c not in labels]
        if not_opt:
            have = "、".join(sorted(labels)) or "无"
            bad(
                "key",
                f"答案中的“{'、'.join(not_opt)}”不是本题的选项（本题选项为 {have}），请改正答案",
            )
        if len(set(letters)) != len(letters):
            bad("key", f"答案“{key_text}”中有重复的选项，请每个选项只写一次")
        key = frozenset(letters)
        if t is ItemType.SINGLE and len(key) > 1:
            bad(
                "key",
                f"单选题只能有一个答案，却填了 {len(key)} 个（{''.join(sorted(key))}）；"
                "请只保留一个，或把题型改为 多选",
            )
        if t is ItemType.MULTIPLE and len(key) < 2:
            bad("key", "多选题至少有两个正确答案；只有一个答案的题请把题型改为 单选")

    points = Decimal(0)
    p_text = _text(f.get("points"))
    try:
        points = Decimal(p_text or "x")
        if (
            not points.is_finite()
            or points <= 0
            or points > 100
            or points != points.quantize(Decimal("0.01"))
        ):
            raise InvalidOperation
        points = canonical_points(points)
    except (InvalidOperation, ValueError):
        bad("points", f"分值“{p_text}”无效，请填写大于 0 的数字（最多两位小数），例如 2 或 1.5")

    difficulty: Difficulty | None = None
    try:
        difficulty = parse_difficulty(_text(f.get("difficulty")))
    except ValueError as e:
        bad("difficulty", str(e))

    kp = _text(f.get("knowledge_point"))
    if not kp:
        bad("knowledge_point", "知识点为空，请填写本题考查的知识点（组卷按知识点覆盖）")

    image = row.image
    if image is None and _text(f.get("image")):
        try:
            image = _load_image(f.get("image"), row.base_dir)
        except ValueError as e:
            bad("image", str(e))

    if issues:
        return None, issues
    assert item_id and t and subject and difficulty
    return (
        Item(
            item_id=item_id,
            type=t,
            subject=subject,
            trade=trade,
            levels=frozenset(levels),
            stem=stem,
            options=options,
            key=key,
            points=points,
            difficulty=difficulty,
            knowledge_point=kp,
            image=image,
        ),
        [],
    )


def validate_rows(rows: Iterable[RawRow]) -> list[Item]:
    """Validate every row; return the items or raise :class:`ItemValidationError` listing
    every problem (all rows are checked, not just up to the first bad one)."""
    items: list[Item] = []
    issues: list[ItemIssue] = []
    first_row: dict[str, RawRow] = {}
    for row in rows:
        item, found = validate_row(row)
        issues.extend(found)
        if item is None:
            continue
        prev = first_row.get(item.item_id)
        if prev is not None:
            where = f"{prev.source} 第 {prev.row} 行" if prev.row is not None else prev.source
            issues.append(
                ItemIssue(
                    row.source,
                    row.row,
                    item.item_id,
                    "id",
                    f"试题编号 {item.item_id} 与 {where} 重复，请给每道题唯一的编号",
                )
            )
            continue
        first_row[item.item_id] = row
        items.append(item)
    if issues:
        raise ItemValidationError(issues)
    return items


def _trade_name(code: str | None) -> str:
    trade = find_trade(code) if code else None
    return trade.name if trade else (code or "")


def item_to_raw(item: Item) -> RawItem:
    """The raw (row) form of an item, as exporters write it."""
    return {
        "id": item.item_id,
        "type": TYPE_NAMES[item.type],
        "subject": item.subject.value,
        "trade": _trade_name(item.trade),
        "levels": "、".join(level_name(x) for x in sorted(item.levels, reverse=True)),
        "stem": item.stem,
        "options": [o.text for o in item.options] if item.type is not ItemType.TRUE_FALSE else [],
        "key": ("正确" if "T" in item.key else "错误")
        if item.type is ItemType.TRUE_FALSE
        else "".join(sorted(item.key)),
        "points": str(item.points),
        "difficulty": item.difficulty.zh,
        "knowledge_point": item.knowledge_point,
    }
