"""Blueprints (组卷方案): what one paper of a subject and level (and trade) is made of.

A blueprint lists sections, one per item type, each with a count, the points of each
item and the difficulty mix (how many easy / medium / hard), and the knowledge points a
paper must cover (a minimum number of items for each). The points must sum to exactly 100.

File format (JSON, UTF-8), one blueprint or ``{"blueprints": [...]}``::

    {"id": "GWJN-DG-L5", "title": "电工 五级 岗位技能", "subject": "岗位技能",
     "trade": "电工", "level": "五级",
     "sections": [{"type": "单选", "count": 10, "points": 4,
                   "difficulty": {"易": 4, "中": 4, "难": 2}}, ...],
     "knowledge_points": {"安全用电": 2, "电工工具": 1}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from question_bank.catalogue import Subject, find_trade, level_name, parse_level, parse_subject
from question_bank.items import Difficulty, parse_difficulty, parse_item_type, type_name
from question_bank.scoring import ItemType

BLUEPRINT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,39}$")
TOTAL_POINTS = Decimal(100)
SECTION_NUMERALS = "一二三四五六七八"
SECTION_TITLES = {
    ItemType.SINGLE: "单项选择题",
    ItemType.MULTIPLE: "多项选择题",
    ItemType.TRUE_FALSE: "判断题",
}


class BlueprintError(ValueError):
    """A blueprint that cannot be used; ``problems`` lists every one (Chinese first)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            "\n".join(
                [f"组卷方案 {source} 有 {len(problems)} 处错误：", *(f"  - {p}" for p in problems)]
            )
        )


@dataclass(frozen=True)
class Section:
    type: ItemType
    count: int
    points: Decimal  #: per item
    #: items per difficulty; empty means any difficulty
    difficulty: tuple[tuple[Difficulty, int], ...] = ()

    @property
    def total(self) -> Decimal:
        return self.points * self.count

    def cells(self) -> list[tuple[Difficulty | None, int]]:
        """(difficulty, count) quotas; ``None`` means any difficulty."""
        return list(self.difficulty) if self.difficulty else [(None, self.count)]


@dataclass(frozen=True)
class Blueprint:
    blueprint_id: str
    title: str
    subject: Subject
    level: int
    trade: str | None  #: trade code, for 岗位技能
    sections: tuple[Section, ...]
    #: knowledge point -> minimum number of items on each paper
    knowledge_points: tuple[tuple[str, int], ...] = ()

    @property
    def total_points(self) -> Decimal:
        return sum((s.total for s in self.sections), Decimal(0))

    @property
    def item_count(self) -> int:
        return sum(s.count for s in self.sections)

    def section_title(self, index: int) -> str:
        s = self.sections[index]
        return (
            f"{SECTION_NUMERALS[index]}、{SECTION_TITLES[s.type]}"
            f"（共 {s.count} 题，每题 {s.points} 分，计 {s.total} 分）"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.blueprint_id,
            "title": self.title,
            "subject": self.subject.value,
            "trade": self.trade,
            "level": self.level,
            "sections": [
                {
                    "type": s.type.value,
                    "count": s.count,
                    "points": str(s.points),
                    "difficulty": {d.value: n for d, n in s.difficulty},
                }
                for s in self.sections
            ],
            "knowledge_points": dict(self.knowledge_points),
        }


def parse_blueprint(d: Mapping[str, Any], source: str = "blueprint") -> Blueprint:
    """Validate one blueprint; every problem is reported at once."""
    problems: list[str] = []
    bid = str(d.get("id") or "").strip()
    where = f"{source}（{bid or '未命名'}）"
    if not BLUEPRINT_ID_RE.match(bid):
        problems.append(
            f"[id] 方案编号“{bid}”无效：须为字母或数字开头，只用字母、数字、- 和 _，最长 40 个字符"
        )
    subject: Subject | None = None
    try:
        subject = parse_subject(str(d.get("subject") or ""))
    except ValueError as e:
        problems.append(f"[subject] {e}")
    level = 0
    try:
        raw_level = d.get("level")
        level = parse_level(raw_level if isinstance(raw_level, int) else str(raw_level or ""))
    except ValueError as e:
        problems.append(f"[level] {e}")
    trade: str | None = None
    trade_text = str(d.get("trade") or "").strip()
    if subject is not None and subject.needs_trade:
        tr = find_trade(trade_text) if trade_text else None
        if tr is None:
            problems.append(
                f"[trade] {subject.value}的组卷方案须填写目录中的工种（现为“{trade_text}”）"
            )
        else:
            trade = tr.name
            if level and level not in tr.levels:
                problems.append(f"[level] 工种 {tr.name} 不设 {level_name(level)}")
    elif trade_text:
        problems.append(f"[trade] {subject.value if subject else '公共科目'}不分工种，请删去 trade")
    sections: list[Section] = []
    raw_sections = d.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        problems.append("[sections] 至少需要一个题型段，如 单选 10 题每题 4 分")
        raw_sections = []
    seen_types: set[ItemType] = set()
    for n, s in enumerate(raw_sections, start=1):
        at = f"[sections 第 {n} 段]"
        if not isinstance(s, dict):
            problems.append(f"{at} 须为对象")
            continue
        try:
            t = parse_item_type(str(s.get("type") or ""))
        except ValueError as e:
            problems.append(f"{at} {e}")
            continue
        if t in seen_types:
            problems.append(f"{at} 题型 {type_name(t)} 出现了两次，请合并为一段")
        seen_types.add(t)
        count = s.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
            problems.append(f"{at} count（题数）须为正整数，现为 {count!r}")
            continue
        try:
            points = Decimal(str(s.get("points")))
            if not points.is_finite() or points <= 0:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems.append(f"{at} points（每题分值）须为正数，现为 {s.get('points')!r}")
            continue
        mix: list[tuple[Difficulty, int]] = []
        raw_mix = s.get("difficulty") or {}
        if not isinstance(raw_mix, dict):
            problems.append(f'{at} difficulty 须为 {{"易": 4, "中": 4, "难": 2}} 这样的对象')
            raw_mix = {}
        for k, v in raw_mix.items():
            try:
                diff = parse_difficulty(k)
            except ValueError as e:
                problems.append(f"{at} {e}")
                continue
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                problems.append(f"{at} 难度 {diff.zh} 的题数须为非负整数，现为 {v!r}")
                continue
            if v:
                mix.append((diff, v))
        if mix and sum(v for _, v in mix) != count:
            problems.append(
                f"{at} 难度分布 {'、'.join(f'{x.zh}{v}' for x, v in mix)} 合计 {sum(v for _, v in mix)} 题，"
                f"与题数 {count} 不符"
            )
        mix.sort(key=lambda x: list(Difficulty).index(x[0]))
        sections.append(Section(t, count, points, tuple(mix)))
    kps: list[tuple[str, int]] = []
    raw_kp = d.get("knowledge_points") or {}
    if isinstance(raw_kp, list):
        raw_kp = {str(k): 1 for k in raw_kp}
    if not isinstance(raw_kp, dict):
        problems.append("[knowledge_points] 须为 {知识点: 最少题数} 或知识点列表")
        raw_kp = {}
    for k, v in raw_kp.items():
        if not str(k).strip() or not isinstance(v, int) or isinstance(v, bool) or v < 1:
            problems.append(f"[knowledge_points] 知识点“{k}”的最少题数须为正整数，现为 {v!r}")
        else:
            kps.append((str(k).strip(), v))
    total = sum((s.total for s in sections), Decimal(0))
    if sections and len(sections) == len(raw_sections) and total != TOTAL_POINTS:
        detail = " + ".join(f"{type_name(s.type)} {s.count}×{s.points}" for s in sections)
        problems.append(
            f"[sections] 总分须恰为 100 分，现为 {detail} = {total} 分；请调整题数或分值"
        )
    need = sum(v for _, v in kps)
    count_all = sum(s.count for s in sections)
    if need > count_all:
        problems.append(f"[knowledge_points] 知识点最少题数合计 {need}，超过试卷总题数 {count_all}")
    if problems:
        raise BlueprintError(where, problems)
    assert subject is not None
    title = str(d.get("title") or "").strip() or f"{level_name(level)} {subject.value}"
    return Blueprint(bid, title, subject, level, trade, tuple(sections), tuple(kps))


def load_blueprints(path: Path) -> list[Blueprint]:
    """Read a blueprint file (one blueprint or ``{"blueprints": [...]}``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BlueprintError(str(path), [f"无法读取为 UTF-8 JSON：{e}"]) from None
    return blueprints_from_json(data, str(path))


def blueprints_from_json(data: Any, source: str) -> list[Blueprint]:
    raw = data.get("blueprints") if isinstance(data, dict) and "blueprints" in data else data
    raw_list = raw if isinstance(raw, list) else [raw]
    out: list[Blueprint] = []
    problems: list[str] = []
    for n, d in enumerate(raw_list, start=1):
        if not isinstance(d, dict):
            problems.append(f"第 {n} 个方案不是 JSON 对象")
            continue
        try:
            out.append(parse_blueprint(d, f"{source} 第 {n} 个方案"))
        except BlueprintError as e:
            problems.extend(f"{e.source} {p}" for p in e.problems)
    ids = [b.blueprint_id for b in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        problems.append(f"方案编号重复：{'、'.join(dup)}")
    if problems:
        raise BlueprintError(source, problems)
    return out
