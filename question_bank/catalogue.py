"""The catalogue: subjects (科目), levels (等级) and trades (工种), as data.

The province owns its catalogue; nothing of it is a list in code. The catalogues the
notices publish are shipped as data files in ``question_bank/catalogues/`` (one row per
trade, with the notice each row comes from), and a province loads its own from xlsx or
csv with the same columns (:func:`load_catalogue`; ``qbank catalogue check``,
``exam-central catalogue load``):

``hebei-2024``
    冀人社字〔2024〕146号 附件2: 149 trades in 16 行业 with their codes (``01-001`` …).
``henan``
    the trades Henan's notices name: the 42 trades of level one (宛人社函〔2021〕 附件1)
    and the few the registration manual and notices show (防疫员, 护理员, 汽车驾驶员,
    汽车维修工). Henan's full catalogue (豫人社办〔2022〕93号) is not among the notices:
    a Henan plan loads it with ``exam-central catalogue load``.

Trades are identified by their Chinese name (the name is what registrations, seat plans,
items and cutoff rules carry); the code is shown as the province writes it (``01-005``),
or is empty where the province publishes none. A name nobody knows is refused with the
closest names suggested (:func:`difflib.get_close_matches`).

Subjects (``subjects.csv``) are the computer-based subjects an item bank may hold: a name,
a short ASCII code (item ids, sitting codes) and whether items belong to a trade. Which
subjects a level sits, and which of them the centre delivers, is the exam plan's (its
``forms``), not the catalogue's.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import difflib
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from exam_common.tables import TableError, read_table

#: Levels as numbers 5 (lowest) .. 1 (highest) with their Chinese names and the
#: national vocational qualification names they correspond to.
LEVEL_NAMES: dict[int, str] = {5: "五级", 4: "四级", 3: "三级", 2: "二级", 1: "一级"}
LEVEL_ALIASES: dict[int, str] = {5: "初级工", 4: "中级工", 3: "高级工", 2: "技师", 1: "高级技师"}

_LEVEL_LOOKUP: dict[str, int] = {}
for _n, _name in LEVEL_NAMES.items():
    _LEVEL_LOOKUP[_name] = _n
    _LEVEL_LOOKUP[_name.rstrip("级")] = _n
    _LEVEL_LOOKUP[LEVEL_ALIASES[_n]] = _n
    _LEVEL_LOOKUP[str(_n)] = _n
    _LEVEL_LOOKUP[f"L{_n}"] = _n


def parse_level(text: str | int) -> int:
    """``"五级"``, ``"五"``, ``"5"``, ``"L5"``, ``"初级工"`` or ``5`` -> 5.

    Raises ``ValueError`` with a Chinese-first message on anything else.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        if text in LEVEL_NAMES:
            return text
    else:
        key = str(text).strip().upper().replace("Ｌ", "L")
        if key in _LEVEL_LOOKUP:
            return _LEVEL_LOOKUP[key]
        if key.endswith(".0") and key[:-2] in _LEVEL_LOOKUP:  # numbers read from xlsx
            return _LEVEL_LOOKUP[key[:-2]]
    raise ValueError(
        f"无法识别的等级“{text}”，请填写 五级/四级/三级/二级/一级 或 5..1 (unknown level)"
    )


def level_name(level: int) -> str:
    return LEVEL_NAMES[level]


_LEVEL_RANGE = re.compile(
    r"^\s*([1-5一二三四五])\s*(?:级)?\s*[-–~至到]\s*([1-5一二三四五])\s*(?:级)?\s*$"
)
_CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}


def parse_levels(text: str) -> tuple[int, ...]:
    """A catalogue's level cell: ``5-1``, ``五级至二级``, ``5,4,3``, ``一级`` -> levels,
    highest number first. Raises ``ValueError`` (Chinese first) on anything else."""
    text = str(text).strip()
    if not text:
        raise ValueError("等级为空：请填写如 5-1、五级至二级 或 一级 (no levels)")
    m = _LEVEL_RANGE.match(text)
    if m:
        a, b = (int(_CN_DIGIT.get(x, x)) for x in m.groups())
        return tuple(range(max(a, b), min(a, b) - 1, -1))
    out = {parse_level(p) for p in re.split(r"[,，、;；\s]+", text) if p}
    return tuple(sorted(out, reverse=True))


# --- subjects ----------------------------------------------------------------------------


class Subject(str):
    """A computer-based subject of the bank (科目): the string is its Chinese name.

    ``Subject("职业道德")`` (or its code, ``Subject("ZYDD")``) returns the one instance the
    catalogue holds, so ``is`` and ``==`` both work; an unknown name raises ``ValueError``.
    """

    code: str
    needs_trade: bool
    source: str

    def __new__(cls, value: object) -> Subject:
        found = _subjects().get(str(value).strip())
        if found is None:
            raise ValueError(_unknown_subject(str(value)))
        return found

    @classmethod
    def _make(cls, name: str, code: str, needs_trade: bool, source: str) -> Subject:
        s = str.__new__(cls, name)
        s.code, s.needs_trade, s.source = code, needs_trade, source
        return s

    @property
    def value(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Subject({self.value!r})"

    def __reduce__(self) -> tuple[type[Subject], tuple[str]]:
        return (Subject, (self.value,))


def _data(name: str) -> str:
    return resources.files("question_bank").joinpath("catalogues", name).read_text("utf-8")


@cache
def _subjects() -> dict[str, Subject]:
    out: dict[str, Subject] = {}
    for row in csv.DictReader(io.StringIO(_data("subjects.csv"))):
        s = Subject._make(row["科目"], row["代码"], row["分工种"] == "是", row["来源"])
        out[s.value] = out[s.code] = s
    return out


def subjects() -> list[Subject]:
    """Every subject an item bank may hold, in the catalogue's order."""
    return list(dict.fromkeys(_subjects().values()))


def _unknown_subject(text: str) -> str:
    names = [s.value for s in subjects()]
    hint = difflib.get_close_matches(text.strip(), names, n=3, cutoff=0.3)
    listed = "、".join(f"{s.value}（{s.code}）" for s in subjects())
    near = f"，是不是：{'、'.join(hint)}？" if hint else ""
    return f"无法识别的科目“{text}”{near}。可用的科目：{listed} (unknown subject)"


def parse_subject(text: str) -> Subject:
    """A subject by its Chinese name or code; ``ValueError`` (Chinese first) otherwise."""
    return Subject(text)


# --- trades ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trade:
    """One trade (工种) of a catalogue."""

    code: str  #: as the province writes it (``01-005``); empty where it publishes none
    name: str  #: the Chinese name (e.g. 护理员): the trade's identity
    industry: str = ""  #: 行业 (e.g. 卫生类); empty where the catalogue has none
    levels: tuple[int, ...] = (5, 4, 3, 2, 1)  #: levels examined in this trade
    aliases: tuple[str, ...] = ()  #: other spellings accepted on input
    source: str = ""  #: the notice this row comes from

    @property
    def label(self) -> str:
        """``防疫员（11-005）`` or ``防疫员``."""
        return f"{self.name}（{self.code}）" if self.code else self.name


class CatalogueError(ValueError):
    """A catalogue file that cannot be used: every problem, with its row."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("工种目录有误 / bad catalogue:\n  " + "\n  ".join(problems))
        self.problems = list(problems)


class UnknownTrade(ValueError):
    """A trade the catalogue does not hold; ``suggestions`` are the closest names."""

    def __init__(self, text: str, suggestions: Sequence[str], catalogue: str) -> None:
        near = f"是不是：{'、'.join(suggestions)}？" if suggestions else "没有相近的工种名称。"
        super().__init__(
            f"工种“{text}”不在工种目录（{catalogue}）中。{near}"
            f"请填写目录中的工种名称或代码 (unknown trade {text!r}"
            + (f"; closest: {', '.join(suggestions)})" if suggestions else ")")
        )
        self.text = text
        self.suggestions = list(suggestions)


@dataclass(frozen=True)
class Catalogue:
    """A province's trades. Look-ups accept the name, an alias or the code."""

    name: str
    trades: tuple[Trade, ...]
    _index: dict[str, Trade] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, Trade] = {}
        for t in self.trades:
            for key in (t.name, *t.aliases, t.code):
                if key and key not in index:
                    index[key] = t
        object.__setattr__(self, "_index", index)

    def __len__(self) -> int:
        return len(self.trades)

    def __iter__(self) -> Iterator[Trade]:
        return iter(self.trades)

    def find(self, text: str) -> Trade | None:
        key = str(text).strip()
        return self._index.get(key) or self._index.get(key.upper())

    def get(self, text: str) -> Trade:
        """The trade, or :class:`UnknownTrade` with up to three close names."""
        found = self.find(text)
        if found is None:
            raise UnknownTrade(str(text).strip(), self.suggest(text), self.name)
        return found

    def suggest(self, text: str, n: int = 3) -> list[str]:
        names = [t.name for t in self.trades]
        aliases = {a: t.name for t in self.trades for a in t.aliases}
        hits = difflib.get_close_matches(str(text).strip(), names + list(aliases), n=n, cutoff=0.5)
        return list(dict.fromkeys(aliases.get(h, h) for h in hits))

    def industries(self) -> dict[str, list[Trade]]:
        out: dict[str, list[Trade]] = {}
        for t in self.trades:
            out.setdefault(t.industry, []).append(t)
        return out

    def for_level(self, level: int) -> list[Trade]:
        return [t for t in self.trades if level in t.levels]

    def rows(self) -> list[dict[str, object]]:
        """JSON-ready rows (central stores a loaded catalogue like this)."""
        return [
            {
                "code": t.code,
                "name": t.name,
                "industry": t.industry,
                "levels": list(t.levels),
                "aliases": list(t.aliases),
                "source": t.source,
            }
            for t in self.trades
        ]

    @classmethod
    def from_rows(cls, name: str, rows: Iterable[dict[str, object]]) -> Catalogue:
        return cls(
            name,
            tuple(
                Trade(
                    code=str(r.get("code") or ""),
                    name=str(r["name"]),
                    industry=str(r.get("industry") or ""),
                    levels=tuple(int(x) for x in r.get("levels") or (5, 4, 3, 2, 1)),  # type: ignore[attr-defined]
                    aliases=tuple(str(a) for a in r.get("aliases") or ()),  # type: ignore[attr-defined]
                    source=str(r.get("source") or ""),
                )
                for r in rows
            ),
        )


#: accepted headers (Chinese first) for each column of a catalogue file
COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("工种代码", "代码", "code"),
    "name": ("工种名称", "工种", "name", "trade"),
    "industry": ("行业", "industry"),
    "levels": ("等级", "考核等级", "levels"),
    "aliases": ("别名", "aliases"),
    "source": ("来源", "依据", "source"),
}
CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-_]{0,31}$")


def read_catalogue_table(path: Path) -> list[list[str]]:
    """All rows of a csv (UTF-8 or GBK) or the first sheet of an xlsx, as text."""
    try:
        return read_table(path)
    except TableError as exc:
        raise CatalogueError([str(exc)]) from exc


def parse_catalogue(name: str, rows: list[list[str]]) -> Catalogue:
    """Validate a catalogue table (header first); every problem is reported at once."""
    if not rows:
        raise CatalogueError(["文件是空的 (empty file)"])
    header = [h.strip().lower() for h in rows[0]]
    col: dict[str, int] = {}
    for key, names in COLUMNS.items():
        for n in names:
            if n.lower() in header:
                col[key] = header.index(n.lower())
                break
    if "name" not in col:
        raise CatalogueError(["第 1 行：缺少“工种名称”列 (no name column)"])
    problems: list[str] = []
    trades: list[Trade] = []
    seen_name: dict[str, int] = {}
    seen_code: dict[str, int] = {}
    for rowno, r in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in r):
            continue

        def get(key: str, r: list[str] = r) -> str:
            i = col.get(key)
            return r[i].strip() if i is not None and i < len(r) else ""

        where = f"第 {rowno} 行"
        tname, code = get("name"), get("code")
        before = len(problems)
        if not tname:
            problems.append(f"{where}「工种名称」：不能为空")
        elif tname in seen_name:
            problems.append(f"{where}「工种名称」：{tname} 与第 {seen_name[tname]} 行重复")
        if code and not CODE_RE.match(code):
            problems.append(f"{where}「工种代码」：“{code}”只能用字母、数字、点、横线，如 01-005")
        elif code and code in seen_code:
            problems.append(f"{where}「工种代码」：{code} 与第 {seen_code[code]} 行重复")
        levels: tuple[int, ...] = (5, 4, 3, 2, 1)
        if "levels" in col:
            try:
                levels = parse_levels(get("levels"))
            except ValueError as exc:
                problems.append(f"{where}「等级」：{exc}")
        if tname and tname not in seen_name:
            seen_name[tname] = rowno
        if code and code not in seen_code:
            seen_code[code] = rowno
        if len(problems) > before:
            continue
        aliases = tuple(a for a in re.split(r"[、,，;；]", get("aliases")) if a.strip())
        trades.append(Trade(code, tname, get("industry"), levels, aliases, get("source")))
    known = set(seen_name)
    for t in trades:
        for a in t.aliases:
            if a in known and a != t.name:
                problems.append(f"工种 {t.name} 的别名 {a} 是另一个工种的名称")
    if not problems and not trades:
        problems.append("文件中没有工种 (no trades)")
    if problems:
        raise CatalogueError(problems)
    return Catalogue(name, tuple(trades))


def load_catalogue(path: Path | str) -> Catalogue:
    """A province's catalogue file (xlsx or csv with the columns of :data:`COLUMNS`)."""
    path = Path(path)
    return parse_catalogue(path.stem, read_catalogue_table(path))


#: the catalogues shipped in ``question_bank/catalogues/``, by name
SHIPPED = ("hebei-2024", "henan")


@cache
def shipped(name: str) -> Catalogue:
    """A shipped catalogue by name (:data:`SHIPPED`); ``KeyError`` if there is none."""
    if name not in SHIPPED:
        raise KeyError(name)
    rows = list(csv.reader(io.StringIO(_data(f"{name}.csv"))))
    return parse_catalogue(name, rows)


def catalogue_from(source: str) -> Catalogue:
    """A shipped catalogue's name or the path of a province's file."""
    if source in SHIPPED:
        return shipped(source)
    path = Path(source)
    if not path.exists():
        raise CatalogueError(
            [
                f"“{source}”既不是随系统提供的工种目录（{'、'.join(SHIPPED)}），也不是文件 "
                "(neither a shipped catalogue nor a file)"
            ]
        )
    return load_catalogue(path)


@cache
def all_shipped() -> Catalogue:
    """Every shipped trade, each name once (a name in two catalogues: the levels of both;
    the code of the first that gives one). The question bank's default catalogue."""
    merged: dict[str, Trade] = {}
    for name in SHIPPED:
        for t in shipped(name):
            had = merged.get(t.name)
            if had is None:
                merged[t.name] = t
            else:
                merged[t.name] = Trade(
                    had.code or t.code,
                    t.name,
                    had.industry or t.industry,
                    tuple(sorted(set(had.levels) | set(t.levels), reverse=True)),
                    tuple(dict.fromkeys(had.aliases + t.aliases)),
                    had.source,
                )
    return Catalogue("、".join(SHIPPED), tuple(merged.values()))


_ACTIVE: contextvars.ContextVar[Catalogue | None] = contextvars.ContextVar(
    "question_bank_catalogue", default=None
)


def active() -> Catalogue:
    """The catalogue items and blueprints are checked against: the one :func:`using`
    set, else every shipped trade."""
    return _ACTIVE.get() or all_shipped()


@contextlib.contextmanager
def using(catalogue: Catalogue) -> Iterator[Catalogue]:
    """Check items and blueprints against a province's own catalogue inside the block."""
    token = _ACTIVE.set(catalogue)
    try:
        yield catalogue
    finally:
        _ACTIVE.reset(token)


def find_trade(text: str) -> Trade | None:
    """Look a trade up by its name (``电工``), an alias or its code in the active catalogue."""
    return active().find(text)


def get_trade(text: str) -> Trade:
    """Like :func:`find_trade` but raises :class:`UnknownTrade` (a ``ValueError``, Chinese
    first, with the closest names) when unknown."""
    return active().get(text)
