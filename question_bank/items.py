"""Items (试题) and their validation.

An :class:`Item` is one question of the bank: a stable ``item_id`` chosen by the exam
office (for example ``ZYDD-0001`` or ``GWJN-DG-0107``) and a ``version`` the bank assigns.
Importers turn rows of a file into :class:`RawItem` dicts and call :func:`validate_rows`,
which checks every row and collects every problem as an :class:`ItemIssue` naming the
file, row or item, field and what to fix. Nothing is imported unless every row is good.

Labels: choice items use ``A``..``H`` in the order the options are written; true/false
items have exactly the two options ``T`` (正确) and ``F`` (错误). These are the canonical
labels that keys, responses on the wire and scoring use.

An item is kept as its author wrote it:

* **the body** (题干): the stem text and any pictures with their alt text, in the order
  written (:meth:`Item.blocks`). The usual shape, text then at most one picture, is kept in
  ``stem``/``image``/``image_alt``; any other (a picture first, several pictures) in
  ``body``; what the author wrote after the options (a note, a picture), in ``after``,
  shown after them;
* **option order**: ``shuffle`` (may the options be shuffled per candidate at all) and
  ``fixed`` (options that keep their place when the others are shuffled, e.g. "以上都不对");
* **its own scoring rule** (``scoring``, QTI's ``match_correct`` or ``map_response``) where
  the author gave one; otherwise the plan's rule for its type scores it.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from question_bank.catalogue import Subject, find_trade, level_name, parse_level, parse_subject
from question_bank.catalogue import active as active_catalogue
from question_bank.scoring import (
    MAP_PLACES,
    ItemScoring,
    ItemType,
    KeyedItem,
    ResponseMap,
    ScoringRule,
)

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

_SVG_HEAD = re.compile(
    rb"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*(<!DOCTYPE[^>]*>\s*)?(<!--.*?-->\s*)*<svg[\s>/]",
    re.DOTALL,
)


def sniff_image(data: bytes) -> str | None:
    """The media type the bytes really are (png, jpeg, gif or svg), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if _SVG_HEAD.match(data.removeprefix(b"\xef\xbb\xbf")[:4096]):
        return "image/svg+xml"
    return None


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of an item's body: a paragraph of text, or a picture with its alt text."""

    text: str = ""
    image: Image | None = None
    alt: str = ""  #: what the picture shows, for a reader who cannot see it

    def to_json(self) -> dict[str, Any]:
        if self.image is None:
            return {"text": self.text}
        return {"image": self.image.to_json(), "alt": self.alt}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Block:
        if d.get("image"):
            return cls(image=Image.from_json(d["image"]), alt=str(d.get("alt") or ""))
        return cls(text=str(d["text"]))


def body_text(blocks: Iterable[Block]) -> str:
    """The text of a body, paragraphs joined by newlines (what ``Item.stem`` holds)."""
    return "\n".join(b.text for b in blocks if b.image is None and b.text)


def simple_body(blocks: Sequence[Block]) -> bool:
    """True when a body is text then at most one picture (``stem``, ``image``, ``image_alt``)."""
    return (
        len(blocks) in (1, 2)
        and blocks[0].image is None
        and (len(blocks) == 1 or blocks[1].image is not None)
    )


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
    image_alt: str = ""  #: alt text of ``image``
    #: the body in the order written, when it is not text then at most one picture
    #: (then ``stem`` is its text and ``image`` None); empty otherwise
    body: tuple[Block, ...] = ()
    shuffle: bool = True  #: options may be shuffled per candidate (never for true/false)
    fixed: frozenset[str] = frozenset()  #: labels of options that keep their place
    scoring: ItemScoring | None = None  #: the item's own rule; None: the plan's
    #: what the author wrote after the options (text and pictures), shown after them
    after: tuple[Block, ...] = ()

    @property
    def wire_id(self) -> str:
        """``ZYDD-0001.v2``: the id of this version on papers and on the wire."""
        return f"{self.item_id}.v{self.version}"

    def blocks(self) -> tuple[Block, ...]:
        """The body in the order written: text and pictures with their alt text."""
        if self.body:
            return self.body
        head = (Block(text=self.stem),)
        return head + ((Block(image=self.image, alt=self.image_alt),) if self.image else ())

    def images(self) -> list[Image]:
        """Every picture of the item, in the order written (the body's, then after the
        options)."""
        return [b.image for b in (*self.blocks(), *self.after) if b.image is not None]

    def keyed(self, points: Decimal | None = None) -> KeyedItem:
        return KeyedItem(
            self.wire_id,
            self.type,
            self.key,
            self.points if points is None else points,
            self.scoring,
            tuple(o.label for o in self.options) if self.scoring is not None else (),
            self.points if self.scoring is not None else None,
        )

    def content_json(self) -> dict[str, Any]:
        """Everything but the version, in a canonical JSON-ready form. What this program
        added later (alt text, body, option order, own scoring) appears only when it is
        not the default, so that an item's hash does not change with the program."""
        d: dict[str, Any] = {
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
        if self.image_alt:
            d["image_alt"] = self.image_alt
        if self.body:
            d["body"] = [b.to_json() for b in self.body]
        if not self.shuffle:
            d["shuffle"] = False
        if self.fixed:
            d["fixed"] = sorted(self.fixed)
        if self.scoring is not None:
            d["scoring"] = self.scoring.to_json()
        if self.after:
            d["after"] = [b.to_json() for b in self.after]
        return d

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
            image_alt=str(d.get("image_alt") or ""),
            body=tuple(Block.from_json(b) for b in d.get("body") or ()),
            shuffle=bool(d.get("shuffle", True)),
            fixed=frozenset(d.get("fixed") or ()),
            scoring=ItemScoring.from_json(d["scoring"]) if d.get("scoring") else None,
            after=tuple(Block.from_json(b) for b in d.get("after") or ()),
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
    "image_alt": "图片说明",
    "shuffle": "选项乱序",
    "fixed": "固定选项",
    "scoring": "评分规则",
    "body": "题干",
    "after": "选项后的内容",
}
#: English names of fields that are not plain identifiers
FIELD_ENGLISH: dict[str, str] = {
    "knowledge_point": "knowledge point",
    "image_alt": "image alt",
    "fixed": "fixed options",
    "body": "item body",
    "after": "after the options",
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
            where.append(f"第 {self.row} 行 (row {self.row})")
        if self.item_id:
            where.append(f"试题 {self.item_id} (item {self.item_id})")
        fname = FIELD_NAMES.get(self.field, self.field)
        return (
            f"{'，'.join(where)}，[{fname}] ({FIELD_ENGLISH.get(self.field, self.field)}): "
            f"{self.message}"
        )


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
    #: an image already loaded by the importer (JSON)
    image: Image | None = field(default=None)
    #: the body in the order written, when the importer read one (QTI, JSON); then the
    #: ``stem`` field is not used
    body: list[Block] | None = None
    #: what the author wrote after the options (QTI, JSON)
    after: list[Block] | None = None
    #: problems the importer already found in this row (e.g. a missing picture); they are
    #: reported together with every problem validation finds
    issues: list[ItemIssue] = field(default_factory=list)
    #: the importer could not read the row at all: ``issues`` say why, nothing else is checked
    unreadable: bool = False
    #: what the importer read but the bank does not keep, which does not change how the
    #: item is shown or scored (e.g. a mapping under match_correct): told, not refused
    notices: list[ItemIssue] = field(default_factory=list)


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


def image_from_bytes(name: str, data: bytes) -> Image:
    """An image read from a file named ``name``: at most 2 MB and really a png, jpeg, gif
    or svg (by its content; the name's extension only has to be one of them)."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in IMAGE_EXTENSIONS:
        raise ValueError(
            f"图片“{name}”的格式不支持，请使用 png、jpg、gif 或 svg 文件 "
            "(unsupported picture type; use png, jpg, gif or svg)"
        )
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"图片“{name}”超过 2 MB，请压缩后再导入 (picture over 2 MB)")
    media_type = sniff_image(data)
    if media_type is None:
        raise ValueError(
            f"文件“{name}”不是图片（内容不是 png、jpg、gif 或 svg），请换成真正的图片文件 "
            "(not a picture: its content is not png, jpeg, gif or svg)"
        )
    return Image(media_type, data)


def _load_image(raw: Any, base_dir: str | None) -> Image:
    import os

    name = _text(raw)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in IMAGE_EXTENSIONS:
        raise ValueError(
            f"图片“{name}”的格式不支持，请使用 png、jpg、gif 或 svg 文件 "
            "(unsupported picture type; use png, jpg, gif or svg)"
        )
    path = name if os.path.isabs(name) or base_dir is None else os.path.join(base_dir, name)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_IMAGE_BYTES + 1)
    except OSError:
        raise ValueError(
            f"找不到图片文件“{name}”，请把它放在导入文件旁边或填写正确的路径 "
            "(picture file not found: put it beside the imported file or give its path)"
        ) from None
    return image_from_bytes(name, data)


_YES = {"是", "y", "yes", "true", "1", "乱序", "打乱", "可乱序", "允许"}
_NO = {"否", "n", "no", "false", "0", "不乱序", "不打乱", "固定", "不允许"}


def parse_yes_no(raw: Any, default: bool) -> bool:
    """``是``/``否`` (also yes/no, true/false, 1/0); empty gives ``default``."""
    if isinstance(raw, bool):
        return raw
    text = _text(raw).lower()
    if not text:
        return default
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError(f"“{raw}”无法识别，请填写 是 或 否 (expected yes or no)")


def _labels_of(raw: Any) -> list[str]:
    if isinstance(raw, list | tuple | set | frozenset):
        return [_text(x).upper() for x in raw if _text(x)]
    return list(_SPLIT_KEY.sub("", _text(raw).upper()))


_MAP_WORDS = {
    "默认": "default",
    "默认值": "default",
    "default": "default",
    "defaultvalue": "default",
    "下限": "lower",
    "最低": "lower",
    "lower": "lower",
    "lowerbound": "lower",
    "上限": "upper",
    "最高": "upper",
    "upper": "upper",
    "upperbound": "upper",
}
_MATCH_WORDS = {"全对得分", "全对", "match_correct", "matchcorrect", "完全匹配"}
_PLAN_WORDS = {"", "考试计划", "按考试计划", "plan"}
_MAP_SPLIT = re.compile(r"[,，;；\n、]+")
_TF_LABELS = {"正确": "T", "对": "T", "错误": "F", "错": "F"}


def _map_number(text: str, what: str) -> Decimal:
    try:
        v = Decimal(text.strip())
    except InvalidOperation:
        v = Decimal("NaN")
    if not v.is_finite() or v != v.quantize(Decimal(1).scaleb(-MAP_PLACES)) or abs(v) > 1000:
        raise ValueError(
            f"{what}“{text}”不是有效的分值（最多 {MAP_PLACES} 位小数） "
            f"({what}: not a number with at most {MAP_PLACES} decimals)"
        )
    return v


def parse_scoring(raw: Any) -> tuple[ItemScoring | None, list[str]]:
    """An item's own scoring rule from a cell (``A=1，B=1，D=-1；默认=0；下限=0；上限=3``,
    ``全对得分``, empty for the plan's rule) or its JSON form; and every problem found."""
    if raw is None or isinstance(raw, ItemScoring):
        return raw, []
    problems: list[str] = []
    if isinstance(raw, Mapping):
        try:
            rule = ScoringRule(str(raw.get("rule")))
            if not rule.from_item:
                raise ValueError(rule)
        except ValueError:
            return None, [
                f"评分规则“{raw.get('rule')}”无法识别，请写 match_correct 或 map_response "
                "(unknown scoring rule)"
            ]
        if rule is ScoringRule.MATCH_CORRECT:
            return ItemScoring(rule), []
        entries = raw.get("map")
        if not isinstance(entries, Mapping) or not entries:
            return None, ["map_response 需要 map：每个选项的分值 (map_response needs a map)"]
        parts = [f"{k}={v}" for k, v in entries.items()]
        for word in ("default", "lower", "upper"):
            if raw.get(word) is not None:
                parts.append(f"{word}={raw[word]}")
        raw = "；".join(parts)
    text = _text(raw)
    if text.lower().replace(" ", "") in _PLAN_WORDS:
        return None, []
    if text.lower().replace(" ", "") in _MATCH_WORDS:
        return ItemScoring(ScoringRule.MATCH_CORRECT), []
    values: dict[str, Decimal] = {}
    extra: dict[str, Decimal] = {}
    for part in (p.strip() for p in _MAP_SPLIT.split(text)):
        if not part:
            continue
        name, sep, value = part.replace("：", "=").replace(":", "=").partition("=")
        name = name.strip()
        key = _MAP_WORDS.get(name.lower().replace(" ", ""))
        label = _TF_LABELS.get(name, name.upper())
        if not sep:
            problems.append(f"“{part}”应写成 选项=分值，例如 A=1 (expected option=value, e.g. A=1)")
            continue
        try:
            number = _map_number(value, name)
        except ValueError as e:
            problems.append(str(e))
            continue
        if key is not None:
            extra[key] = number
        elif label in CHOICE_LABELS or label in ("T", "F"):
            if label in values:
                problems.append(f"选项 {label} 写了两次 (option {label} given twice)")
            values[label] = number
        else:
            problems.append(
                f"“{name}”不是选项字母，也不是 默认/下限/上限 "
                f"(not an option letter, nor default/lower/upper)"
            )
    if not values and not problems:
        problems.append(
            "评分规则需写每个选项的分值，如 A=1，B=1，D=-1；默认=0；下限=0；上限=3，"
            "或写 全对得分；留空则按考试计划的规则 "
            "(write option values, or match_correct, or leave empty for the plan's rule)"
        )
    if problems:
        return None, problems
    lower, upper = extra.get("lower"), extra.get("upper")
    if lower is not None and upper is not None and lower > upper:
        return None, [f"下限 {lower} 高于上限 {upper} (lower bound above upper bound)"]
    mapping = ResponseMap(
        tuple(sorted(values.items())), extra.get("default", Decimal(0)), lower, upper
    )
    return ItemScoring(ScoringRule.MAP_RESPONSE, mapping), []


def scoring_text(scoring: ItemScoring | None) -> str:
    """The cell form of an item's own rule (what :func:`parse_scoring` reads back)."""
    if scoring is None:
        return ""
    if scoring.mapping is None:
        return "全对得分"
    d = scoring.mapping.to_json()
    parts = ["，".join(f"{k}={v}" for k, v in d["map"].items()), f"默认={d['default']}"]
    if "lower" in d:
        parts.append(f"下限={d['lower']}")
    if "upper" in d:
        parts.append(f"上限={d['upper']}")
    return "；".join(parts)


def _normal_body(blocks: Sequence[Block]) -> list[Block]:
    """Neighbouring paragraphs joined by a newline, empty ones dropped, text stripped."""
    out: list[Block] = []
    for b in blocks:
        if b.image is not None:
            out.append(b)
        elif b.text.strip():
            if out and out[-1].image is None:
                out[-1] = Block(text=out[-1].text + "\n" + b.text.strip())
            else:
                out.append(Block(text=b.text.strip()))
    return out


def validate_row(row: RawRow) -> tuple[Item | None, list[ItemIssue]]:
    """Check one raw row; return the item (when good) and every problem found."""
    if row.unreadable:
        return None, list(row.issues)
    f = row.fields
    item_id = _text(f.get("id")) or None
    issues: list[ItemIssue] = []
    # a field the importer already found a problem with (a formula in the cell, a picture
    # missing from the package) is not reported again as, say, empty
    read_problems = {i.field for i in row.issues}

    def bad(fld: str, msg: str) -> None:
        if fld not in read_problems:
            issues.append(ItemIssue(row.source, row.row, item_id, fld, msg))

    if item_id is None:
        bad(
            "id",
            "试题编号为空，请填写唯一的试题编号，例如 ZYDD-0001 "
            "(the item id is empty: give each item a unique id, e.g. ZYDD-0001)",
        )
    elif not ITEM_ID_RE.match(item_id):
        bad(
            "id",
            f"试题编号“{item_id}”不合规：须以英文字母开头，只用字母、数字、- 和 _，最长 48 个字符 "
            "(an item id starts with a letter and has only letters, digits, - and _, at most "
            "48 characters)",
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
                "请改为目录中的工种名称或代码（运行 qbank trades 查看目录） (the trade is not in "
                "the trade catalogue: use a name or code from it, see qbank trades)",
            )
        elif subject is not None and not subject.needs_trade:
            bad(
                "trade",
                f"{subject.value}是公共科目，不属于某个工种，请清空工种 "
                "(a common subject belongs to no trade: leave the trade empty)",
            )
        else:
            trade = found.name
    elif subject is not None and subject.needs_trade:
        bad(
            "trade",
            f"{subject.value}试题必须填写工种，例如 电工 (this subject needs a trade, e.g. 电工)",
        )

    levels: set[int] = set()
    raw_levels = f.get("levels")
    parts = (
        [_text(x) for x in raw_levels]
        if isinstance(raw_levels, list | tuple)
        else [p for p in _SPLIT_LEVELS.split(_text(raw_levels)) if p]
    )
    if not parts:
        bad(
            "levels",
            "适用等级为空，请填写如 五级、四级（可写多个，用顿号分隔） "
            "(no levels: write e.g. 五级、四级, several separated by 、)",
        )
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
                f"工种 {tr.name} 不设 {'、'.join(level_name(x) for x in outside)}，请删去这些等级 "
                f"(the trade has no level {', '.join(str(x) for x in outside)}: remove it)",
            )

    issues.extend(row.issues)
    body: list[Block] = []
    if row.body is not None:
        body = _normal_body(row.body)
        stem = body_text(body)
        given = _text(f.get("stem"))
        if given and given != stem:
            bad(
                "stem",
                "题干与 body 中的文字不一致：只写 body 即可，或使两者一致 "
                "(stem differs from the text of body)",
            )
    else:
        stem = _text(f.get("stem"))
    if not stem:
        bad("stem", "题干为空，请填写题目内容 (the stem is empty)")

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
            bad(
                "options",
                "判断题不需要填写选项（固定为 正确/错误），请清空选项列 "
                "(a true/false item has no options to fill in: leave them empty)",
            )
        options = tuple(Option(lbl, txt) for lbl, txt in TRUE_FALSE_OPTIONS)
    elif t is not None:
        for i, x in enumerate(texts):
            if not x:
                bad(
                    "options",
                    f"选项{CHOICE_LABELS[i]}为空，但后面还有选项；请不要跳过选项 "
                    f"(option {CHOICE_LABELS[i]} is empty but later ones are not: do not skip "
                    "options)",
                )
        if len(texts) > len(CHOICE_LABELS):
            bad(
                "options",
                f"选项有 {len(texts)} 个，最多 8 个（A-H） ({len(texts)} options; at most 8, A-H)",
            )
        min_opts = 3 if t is ItemType.MULTIPLE else 2
        if len([x for x in texts if x]) < min_opts:
            bad(
                "options",
                f"{type_name(t)}题至少需要 {min_opts} 个选项，目前只有 {len(texts)} 个 "
                f"(this type needs at least {min_opts} options; the item has {len(texts)})",
            )
        seen: dict[str, str] = {}
        for i, x in enumerate(texts[: len(CHOICE_LABELS)]):
            if not x:
                continue
            n = _norm_option(x)
            if n in seen:
                bad(
                    "options",
                    f"选项{seen[n]}和选项{CHOICE_LABELS[i]}内容重复（“{x}”），请修改其中一个 "
                    f"(options {seen[n]} and {CHOICE_LABELS[i]} say the same: change one)",
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
        bad(
            "key",
            "答案为空，请填写正确选项，例如 B（多选如 ACD，判断填 正确/错误） "
            "(the key is empty: e.g. B, ACD for multiple choice, 正确/错误 for true/false)",
        )
    elif t is ItemType.TRUE_FALSE:
        k = key_text.upper()
        if k in _TF_TRUE:
            key = frozenset("T")
        elif k in _TF_FALSE:
            key = frozenset("F")
        else:
            bad(
                "key",
                f"判断题答案“{key_text}”无法识别，请填写 正确 或 错误（也可填 T/F、√/×） "
                "(a true/false key is 正确 or 错误, also T/F or √/×)",
            )
    elif t is not None:
        letters = [c for c in _SPLIT_KEY.sub("", key_text.upper())]
        labels = {o.label for o in options if o.text}
        not_opt = [c for c in letters if c not in labels]
        if not_opt:
            have = "、".join(sorted(labels)) or "无"
            bad(
                "key",
                f"答案中的“{'、'.join(not_opt)}”不是本题的选项（本题选项为 {have}），请改正答案 "
                f"(the key names {', '.join(not_opt)}, which is not an option of this item)",
            )
        if len(set(letters)) != len(letters):
            bad(
                "key",
                f"答案“{key_text}”中有重复的选项，请每个选项只写一次 "
                "(the key repeats an option: write each once)",
            )
        key = frozenset(letters)
        if t is ItemType.SINGLE and len(key) > 1:
            bad(
                "key",
                f"单选题只能有一个答案，却填了 {len(key)} 个（{''.join(sorted(key))}）；"
                "请只保留一个，或把题型改为 多选 (a single-choice item has one key: keep one, "
                "or make the item 多选)",
            )
        if t is ItemType.MULTIPLE and len(key) < 2:
            bad(
                "key",
                "多选题至少有两个正确答案；只有一个答案的题请把题型改为 单选 "
                "(a multiple-choice item has at least two keys; with one, make it 单选)",
            )

    scoring, scoring_problems = parse_scoring(f.get("scoring"))
    for msg in scoring_problems:
        bad("scoring", msg)
    if (
        scoring is not None
        and scoring.mapping is not None
        and t is not None
        and options
        and not _text(f.get("points"))
    ):
        # no points given (a QTI item without MAXSCORE): the most its map gives
        f = {
            **f,
            "points": str(
                scoring.mapping.extremes(_option_labels(options), t is ItemType.MULTIPLE)[1]
            ),
        }

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
        bad(
            "points",
            f"分值“{p_text}”无效，请填写大于 0 的数字（最多两位小数），例如 2 或 1.5 "
            "(points: a number above 0, at most 100, with at most two decimals)",
        )

    difficulty: Difficulty | None = None
    try:
        difficulty = parse_difficulty(_text(f.get("difficulty")))
    except ValueError as e:
        bad("difficulty", str(e))

    kp = _text(f.get("knowledge_point"))
    if not kp:
        bad(
            "knowledge_point",
            "知识点为空，请填写本题考查的知识点（组卷按知识点覆盖） "
            "(the knowledge point is empty: papers are assembled to cover knowledge points)",
        )

    image, image_alt, body = _pictures(row, body, bad)
    after = _normal_body(row.after or [])
    for b in after:
        if b.image is not None and sniff_image(b.image.data) is None:
            bad("after", "选项后的图片内容不是 png、jpg、gif 或 svg (not a picture)")
    shuffle, fixed = _option_order(f, t, options, bad)

    if scoring is not None and t is not None:
        if scoring.mapping is None:
            if t is not ItemType.MULTIPLE:
                scoring = None  # single and true/false: the plan's rule is the same
        elif options and key and not any(i.field in ("points", "key", "options") for i in issues):
            for msg in _map_problems(scoring.mapping, t, options, key, points):
                bad("scoring", msg)

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
            image_alt=image_alt,
            body=tuple(body),
            shuffle=shuffle,
            fixed=fixed,
            scoring=scoring,
            after=tuple(after),
        ),
        [],
    )


Complaint = Callable[[str, str], None]


def _pictures(
    row: RawRow, body: list[Block], bad: Complaint
) -> tuple[Image | None, str, list[Block]]:
    """The picture and its alt text of the usual shape, and the body when laid out
    otherwise (empty then); every picture checked to be one."""
    f = row.fields
    image = row.image
    if image is not None and sniff_image(image.data) is None:
        bad("image", "图片内容不是 png、jpg、gif 或 svg (not a picture)")
    if image is None and _text(f.get("image")):
        try:
            image = _load_image(f.get("image"), row.base_dir)
        except ValueError as e:
            bad("image", str(e))
    image_alt = _text(f.get("image_alt"))
    if row.body is None:
        if image_alt and image is None and not _text(f.get("image")):
            bad(
                "image_alt",
                "填写了图片说明，但没有图片；请填写图片或清空图片说明 (alt text without a picture)",
            )
        return image, image_alt if image is not None else "", body
    if image is not None or image_alt:
        bad("image", "图片已在 body 中，不要再单独给出 (the picture belongs in body)")
    for b in body:
        if b.image is not None and sniff_image(b.image.data) is None:
            bad("image", "body 中的图片内容不是 png、jpg、gif 或 svg (not a picture)")
    if simple_body(body):
        return (body[1].image, body[1].alt, []) if len(body) == 2 else (None, "", [])
    return None, "", body


def _option_order(
    f: RawItem, t: ItemType | None, options: Sequence[Option], bad: Complaint
) -> tuple[bool, frozenset[str]]:
    """May the options be shuffled, and which keep their place."""
    shuffle = True
    try:
        shuffle = parse_yes_no(f.get("shuffle"), True)
    except ValueError as e:
        bad("shuffle", str(e))
    fixed = frozenset(_labels_of(f.get("fixed")))
    if t is ItemType.TRUE_FALSE:
        if fixed:
            bad(
                "fixed",
                "判断题的选项（正确、错误）从不打乱，不需要填写固定选项 "
                "(true/false options are never shuffled)",
            )
        return True, frozenset()
    present = {o.label for o in options if o.text}
    not_options = sorted(fixed - present)
    if t is not None and not_options:
        bad(
            "fixed",
            f"固定选项中的“{'、'.join(not_options)}”不是本题的选项（本题选项为 "
            f"{'、'.join(sorted(present)) or '无'}） (not an option of this item)",
        )
    return shuffle, fixed


def _option_labels(options: Sequence[Option]) -> list[str]:
    return [o.label for o in options if o.text]


def _map_problems(
    mapping: ResponseMap,
    t: ItemType,
    options: Sequence[Option],
    key: frozenset[str],
    points: Decimal,
) -> list[str]:
    """What makes an item's map unusable: options it does not have, a score below 0, a
    best score other than the item's points, a correct response that is not the best."""
    labels = _option_labels(options)
    unknown = [k for k, _ in mapping.values if k not in labels]
    if unknown:
        return [
            f"评分映射中的“{'、'.join(unknown)}”不是本题的选项（本题选项为 {'、'.join(labels)}）"
            " (the map names options the item does not have)"
        ]
    low, high = mapping.extremes(labels, t is ItemType.MULTIPLE)
    problems = []
    if low < 0:
        problems.append(
            f"按评分映射本题最低可得 {low} 分（负分）；每道题最低 0 分，请把下限（lowerBound）"
            f"设为 0 (the map can score {low}, below 0: set lowerBound to 0)"
        )
    if high != points:
        problems.append(
            f"按评分映射本题最高可得 {high} 分，但本题分值为 {points} 分：请使两者一致"
            f"（QTI 中为 MAXSCORE 或 upperBound） (the map's best score {high} differs from "
            f"the item's points {points})"
        )
    got = mapping.raw(key)
    if got != high:
        problems.append(
            f"标准答案 {''.join(sorted(key))} 按评分映射得 {got} 分，不是最高分 {high} 分："
            f"请检查答案或映射 (the correct response scores {got} under the map, not the "
            f"best {high})"
        )
    return problems


def validate_rows(rows: Iterable[RawRow], notices: list[ItemIssue] | None = None) -> list[Item]:
    """Validate every row; return the items or raise :class:`ItemValidationError` listing
    every problem (all rows are checked, not just up to the first bad one). ``notices``,
    when given, receives the rows' notices (:attr:`RawRow.notices`) of a good import."""
    items: list[Item] = []
    issues: list[ItemIssue] = []
    told: list[ItemIssue] = []
    first_row: dict[str, RawRow] = {}
    for row in rows:
        item, found = validate_row(row)
        issues.extend(found)
        if item is None:
            continue
        told.extend(row.notices)
        prev = first_row.get(item.item_id)
        if prev is not None:
            where = f"{prev.source} 第 {prev.row} 行" if prev.row is not None else prev.source
            issues.append(
                ItemIssue(
                    row.source,
                    row.row,
                    item.item_id,
                    "id",
                    f"试题编号 {item.item_id} 与 {where} 重复，请给每道题唯一的编号 "
                    f"(item id {item.item_id} is used twice: give each item its own)",
                )
            )
            continue
        first_row[item.item_id] = row
        items.append(item)
    if issues:
        raise ItemValidationError(issues)
    if notices is not None:
        notices.extend(told)
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
        "image_alt": item.image_alt,
        "shuffle": "是" if item.shuffle else "否",
        "fixed": "".join(sorted(item.fixed)),
        "scoring": scoring_text(item.scoring),
    }
