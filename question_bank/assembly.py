"""Paper assembly (组卷): draw several variants of a paper from the bank by blueprint.

:func:`assemble` is reproducible: the same bank pool, blueprint, seed and number of
variants give the same papers, bit for bit. It records every draw (which item, for which
section and difficulty, why: a knowledge point to cover or filling the quota, and whether
it had to reuse an item another variant already has) so that the office can audit a
paper. It avoids reusing an item across the variants of a sitting as long as the bank
allows: an item already on an earlier variant is drawn only when no unused item fits.

When the bank cannot satisfy the blueprint at all it raises :class:`AssemblyError` with one
:class:`Shortfall` per unmet need: which type, which difficulty or knowledge point, how
many are needed, how many the bank has, and how many are short.

Random numbers come from :class:`random.Random` seeded with a string made of the seed,
the blueprint id and the variant number (Python hashes string seeds with SHA-512, so
this is stable across runs and platforms). The pool is sorted by item id first, so the
order items come out of the bank does not matter.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from question_bank.blueprint import Blueprint
from question_bank.catalogue import Subject, level_name
from question_bank.items import Difficulty, Item, type_name
from question_bank.paper import Paper, PaperQuestion, PaperSection, PublicItem
from question_bank.scoring import ItemType, KeyedItem

ASSEMBLY_FORMAT = "qbank-assembly/1"


@dataclass(frozen=True)
class Shortfall:
    """One need of the blueprint the bank cannot meet."""

    type: ItemType | None
    difficulty: Difficulty | None
    knowledge_point: str | None
    needed: int
    available: int

    @property
    def short(self) -> int:
        return self.needed - self.available

    def __str__(self) -> str:
        what = []
        if self.type is not None:
            what.append(f"{type_name(self.type)}题")
        if self.difficulty is not None:
            what.append(f"难度“{self.difficulty.zh}”")
        if self.knowledge_point is not None:
            what.append(f"知识点“{self.knowledge_point}”")
        return (
            f"{'、'.join(what)}：每卷需要 {self.needed} 题，题库中可用 {self.available} 题，"
            f"缺 {self.short} 题"
        )


class AssemblyError(Exception):
    def __init__(
        self, blueprint: Blueprint, pool_size: int, shortfalls: Sequence[Shortfall]
    ) -> None:
        self.blueprint = blueprint
        self.shortfalls = list(shortfalls)
        trade = f" 工种 {blueprint.trade}" if blueprint.trade else ""
        head = (
            f"题库无法满足组卷方案 {blueprint.blueprint_id}（{blueprint.subject.value}{trade} "
            f"{level_name(blueprint.level)}，可用试题 {pool_size} 道）："
        )
        tail = "请向题库补充上述试题，或调整组卷方案的题数、难度分布或知识点要求。"
        super().__init__("\n".join([head, *(f"  - {s}" for s in self.shortfalls), tail]))


@dataclass(frozen=True, slots=True)
class PaperItem:
    item: Item  #: the exact version drawn
    points: Decimal  #: the blueprint's points for this item
    section: int

    def keyed(self) -> KeyedItem:
        return self.item.keyed(self.points)


@dataclass(frozen=True)
class Draw:
    """One line of the audit record."""

    variant: int
    wire_id: str
    section: int
    difficulty: Difficulty
    reason: str  #: "knowledge_point:<name>" or "quota"
    reused: bool  #: also on an earlier variant (the bank had no unused item that fitted)


@dataclass(frozen=True)
class AssembledPaper:
    """One variant as central holds it: the items (with keys) and their points."""

    paper_id: str
    sitting_code: str
    variant: int
    blueprint: Blueprint
    shuffle_seed: str
    items: tuple[PaperItem, ...]

    def answer_key(self) -> list[KeyedItem]:
        return [pi.keyed() for pi in self.items]

    def public_items(self) -> tuple[PublicItem, ...]:
        return tuple(PublicItem(pi.item.wire_id, pi.item.type, pi.points) for pi in self.items)

    def paper(self) -> Paper:
        """The paper without keys, as it is encrypted for the terminals."""
        bp = self.blueprint
        return Paper(
            paper_id=self.paper_id,
            sitting_code=self.sitting_code,
            variant=self.variant,
            shuffle_seed=self.shuffle_seed,
            subject=bp.subject,
            level=bp.level,
            trade=bp.trade,
            title=bp.title,
            sections=tuple(
                PaperSection(s.type, bp.section_title(i), s.count, s.points)
                for i, s in enumerate(bp.sections)
            ),
            questions=tuple(
                PaperQuestion(
                    item_id=pi.item.wire_id,
                    type=pi.item.type,
                    stem=pi.item.stem,
                    options=pi.item.options,
                    points=pi.points,
                    section=pi.section,
                    image=pi.item.image,
                    image_alt=pi.item.image_alt,
                    body=pi.item.body,
                    shuffle=pi.item.shuffle,
                    fixed=pi.item.fixed,
                    after=pi.item.after,
                )
                for pi in self.items
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "paper_id": self.paper_id,
            "sitting_code": self.sitting_code,
            "variant": self.variant,
            "blueprint": self.blueprint.blueprint_id,
            "shuffle_seed": self.shuffle_seed,
            "items": [
                {"section": pi.section, "points": str(pi.points), "item": pi.item.to_json()}
                for pi in self.items
            ],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any], blueprint: Blueprint) -> AssembledPaper:
        return cls(
            paper_id=d["paper_id"],
            sitting_code=d["sitting_code"],
            variant=int(d["variant"]),
            blueprint=blueprint,
            shuffle_seed=d["shuffle_seed"],
            items=tuple(
                PaperItem(Item.from_json(x["item"]), Decimal(x["points"]), int(x["section"]))
                for x in d["items"]
            ),
        )


@dataclass(frozen=True)
class Assembly:
    """The variants of one sitting and how they were drawn."""

    sitting_code: str
    blueprint: Blueprint
    seed: str
    pool_size: int
    pool_fingerprint: str  #: SHA-256 over the sorted wire ids and content hashes of the pool
    papers: tuple[AssembledPaper, ...]
    draws: tuple[Draw, ...]

    @property
    def reused(self) -> tuple[str, ...]:
        return tuple(sorted({d.wire_id for d in self.draws if d.reused}))

    def to_json(self) -> dict[str, Any]:
        return {
            "sitting_code": self.sitting_code,
            "blueprint": self.blueprint.to_json(),
            "seed": self.seed,
            "pool_size": self.pool_size,
            "pool_fingerprint": self.pool_fingerprint,
            "papers": [p.to_json() for p in self.papers],
            "audit": [
                {
                    "variant": d.variant,
                    "item": d.wire_id,
                    "section": d.section,
                    "difficulty": d.difficulty.value,
                    "reason": d.reason,
                    "reused": d.reused,
                }
                for d in self.draws
            ],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Assembly:
        from question_bank.blueprint import parse_blueprint

        bp = parse_blueprint(d["blueprint"], "assembly")
        return cls(
            sitting_code=d["sitting_code"],
            blueprint=bp,
            seed=d["seed"],
            pool_size=int(d["pool_size"]),
            pool_fingerprint=d["pool_fingerprint"],
            papers=tuple(AssembledPaper.from_json(p, bp) for p in d["papers"]),
            draws=tuple(
                Draw(
                    int(a["variant"]),
                    a["item"],
                    int(a["section"]),
                    Difficulty(a["difficulty"]),
                    a["reason"],
                    bool(a["reused"]),
                )
                for a in d["audit"]
            ),
        )


def assemblies_to_json(assemblies: Sequence[Assembly]) -> dict[str, Any]:
    return {"format": ASSEMBLY_FORMAT, "sittings": [a.to_json() for a in assemblies]}


def assemblies_from_json(data: Mapping[str, Any]) -> list[Assembly]:
    if data.get("format") != ASSEMBLY_FORMAT:
        raise ValueError(f"不是组卷结果文件（需要 format={ASSEMBLY_FORMAT}）")
    return [Assembly.from_json(s) for s in data["sittings"]]


class BankIndex:
    """Items grouped by (subject, trade, level) so that many blueprints can be assembled
    from one large bank without rescanning it; pool fingerprints are computed once."""

    def __init__(self, items: Iterable[Item]) -> None:
        groups: dict[tuple[Subject, str | None, int], list[Item]] = defaultdict(list)
        for item in items:
            for level in item.levels:
                groups[(item.subject, item.trade, level)].append(item)
        for g in groups.values():
            g.sort(key=lambda i: i.item_id)
        self._groups = dict(groups)
        self._fingerprints: dict[tuple[Subject, str | None, int], str] = {}

    @staticmethod
    def _key(blueprint: Blueprint) -> tuple[Subject, str | None, int]:
        trade = blueprint.trade if blueprint.subject.needs_trade else None
        return (blueprint.subject, trade, blueprint.level)

    def pool(self, blueprint: Blueprint) -> list[Item]:
        """Items a blueprint may draw from: same subject, level and (for 岗位技能) trade."""
        return self._groups.get(self._key(blueprint), [])

    def fingerprint(self, blueprint: Blueprint) -> str:
        """SHA-256 over the pool's wire ids and content hashes, in id order."""
        key = self._key(blueprint)
        if key not in self._fingerprints:
            h = hashlib.sha256()
            for item in self.pool(blueprint):
                h.update(f"{item.wire_id}:{item.content_hash()}\n".encode())
            self._fingerprints[key] = h.hexdigest()
        return self._fingerprints[key]


def shuffle_seed_for(seed: str, sitting_code: str, variant: int) -> str:
    return hashlib.sha256(
        f"qbank-shuffle-seed/1|{seed}|{sitting_code}|{variant}".encode()
    ).hexdigest()[:32]


def assemble(
    bank: BankIndex | Iterable[Item],
    blueprint: Blueprint,
    seed: str | int,
    variants: int = 3,
    *,
    sitting_code: str | None = None,
) -> Assembly:
    """Draw ``variants`` papers for one sitting from the bank by ``blueprint``.

    ``bank`` is a :class:`BankIndex` or any iterable of items (only the items matching the
    blueprint's subject, level and trade are considered). ``sitting_code`` defaults to the
    blueprint id; paper ids are ``<sitting_code>-V<n>``. Build one :class:`BankIndex` and
    pass it for many blueprints: it groups the bank and fingerprints each pool once.
    """
    if variants < 1:
        raise ValueError("variants must be at least 1")
    seed = str(seed)
    index = bank if isinstance(bank, BankIndex) else BankIndex(bank)
    pool = index.pool(blueprint)
    code = sitting_code or blueprint.blueprint_id

    cells: dict[tuple[ItemType, Difficulty], list[Item]] = defaultdict(list)
    by_type: dict[ItemType, list[Item]] = defaultdict(list)
    for item in pool:
        cells[(item.type, item.difficulty)].append(item)
        by_type[item.type].append(item)

    # What the bank can never satisfy, reported all at once before drawing anything.
    shortfalls: list[Shortfall] = []
    for s in blueprint.sections:
        if s.difficulty:
            for diff, n in s.difficulty:
                have = len(cells[(s.type, diff)])
                if have < n:
                    shortfalls.append(Shortfall(s.type, diff, None, n, have))
        elif len(by_type[s.type]) < s.count:
            shortfalls.append(Shortfall(s.type, None, None, s.count, len(by_type[s.type])))
    section_types = {s.type for s in blueprint.sections}
    for kp, n in blueprint.knowledge_points:
        have = sum(1 for i in pool if i.knowledge_point == kp and i.type in section_types)
        if have < n:
            shortfalls.append(Shortfall(None, None, kp, n, have))
    if shortfalls:
        raise AssemblyError(blueprint, len(pool), shortfalls)

    # Greedy drawing can paint itself into a corner (a knowledge point whose unused items
    # all sit in difficulty cells already filled), so when a run has to reuse items, up to
    # MAX_ATTEMPTS further seeded runs are tried and the one reusing fewest is kept.
    best: tuple[list[AssembledPaper], list[Draw], int] | None = None
    for attempt in range(MAX_ATTEMPTS):
        papers, draws = _draw_all(blueprint, pool, cells, by_type, seed, code, variants, attempt)
        reused = sum(1 for d in draws if d.reused)
        if best is None or reused < best[2]:
            best = (papers, draws, reused)
        if reused == 0:
            break
    assert best is not None
    papers, draws, _ = best
    fp = index.fingerprint(blueprint)
    return Assembly(code, blueprint, seed, len(pool), fp, tuple(papers), tuple(draws))


MAX_ATTEMPTS = 8


def _draw_all(
    blueprint: Blueprint,
    pool: Sequence[Item],
    cells: Mapping[tuple[ItemType, Difficulty], list[Item]],
    by_type: Mapping[ItemType, list[Item]],
    seed: str,
    code: str,
    variants: int,
    attempt: int,
) -> tuple[list[AssembledPaper], list[Draw]]:
    uses: dict[str, int] = defaultdict(int)
    papers: list[AssembledPaper] = []
    draws: list[Draw] = []
    suffix = f"|attempt {attempt}" if attempt else ""
    for variant in range(1, variants + 1):
        rng = random.Random(f"qbank-assembly/1|{seed}|{blueprint.blueprint_id}|{variant}{suffix}")
        rank = {item.item_id: rng.random() for item in pool}
        chosen, variant_short = _draw_variant(blueprint, pool, cells, by_type, uses, rank)
        if variant_short:
            raise AssemblyError(blueprint, len(pool), variant_short)
        # Canonical order: sections as in the blueprint, a seeded order inside each.
        picked = sorted(chosen.values(), key=lambda x: (x[1], rank[x[0].item_id]))
        paper_items = []
        for item, si, reason in picked:
            draws.append(
                Draw(variant, item.wire_id, si, item.difficulty, reason, uses[item.item_id] > 0)
            )
            paper_items.append(PaperItem(item, blueprint.sections[si].points, si))
        for item, _, _ in picked:
            uses[item.item_id] += 1
        papers.append(
            AssembledPaper(
                paper_id=f"{code}-V{variant}",
                sitting_code=code,
                variant=variant,
                blueprint=blueprint,
                shuffle_seed=shuffle_seed_for(seed, code, variant),
                items=tuple(paper_items),
            )
        )
    return papers, draws


def _draw_variant(
    blueprint: Blueprint,
    pool: Sequence[Item],
    cells: Mapping[tuple[ItemType, Difficulty], list[Item]],
    by_type: Mapping[ItemType, list[Item]],
    uses: Mapping[str, int],
    rank: Mapping[str, float],
) -> tuple[dict[str, tuple[Item, int, str]], list[Shortfall]]:
    """Choose one variant's items: knowledge points first, then fill every quota.

    Candidates are tried least-used first (items on no earlier variant before reused
    ones), and in the variant's seeded random order among equals.
    """

    def order(items: Iterable[Item]) -> list[Item]:
        return sorted(items, key=lambda i: (uses.get(i.item_id, 0), rank[i.item_id]))

    quota: dict[tuple[int, Difficulty | None], int] = {}
    for si, s in enumerate(blueprint.sections):
        for diff, n in s.cells():
            quota[(si, diff)] = n
    section_of = {s.type: si for si, s in enumerate(blueprint.sections)}
    chosen: dict[str, tuple[Item, int, str]] = {}
    short: list[Shortfall] = []

    def open_cell(item: Item) -> tuple[int, Difficulty | None] | None:
        si = section_of.get(item.type)
        if si is None:
            return None
        key = (si, item.difficulty) if blueprint.sections[si].difficulty else (si, None)
        return key if quota.get(key, 0) > 0 else None

    # Knowledge points first, scarcest first, so that filling quotas cannot starve them.
    kp_pools = {
        kp: [i for i in pool if i.knowledge_point == kp and i.type in section_of]
        for kp, _ in blueprint.knowledge_points
    }
    for kp, need in sorted(blueprint.knowledge_points, key=lambda x: (len(kp_pools[x[0]]), x[0])):
        have = sum(1 for it, _, _ in chosen.values() if it.knowledge_point == kp)
        for item in order(kp_pools[kp]):
            if have >= need:
                break
            key = open_cell(item)
            if key is None or item.item_id in chosen:
                continue
            quota[key] -= 1
            chosen[item.item_id] = (item, key[0], f"knowledge_point:{kp}")
            have += 1
        if have < need:
            # the items exist but the type/difficulty quotas leave no room for them
            short.append(Shortfall(None, None, kp, need, have))
    for si, s in enumerate(blueprint.sections):
        for diff, n in s.cells():
            key = (si, diff)
            candidates = (
                cells.get((s.type, diff), []) if diff is not None else by_type.get(s.type, [])
            )
            for item in order(candidates):
                if quota[key] == 0:
                    break
                if item.item_id not in chosen:
                    quota[key] -= 1
                    chosen[item.item_id] = (item, si, "quota")
            if quota[key] > 0:
                short.append(Shortfall(s.type, diff, None, n, n - quota[key]))
    return chosen, short


def audit_summary(a: Assembly) -> str:
    """A human-readable account of an assembly (Chinese first)."""
    lines = [
        f"考试场次 {a.sitting_code}：方案 {a.blueprint.blueprint_id}（{a.blueprint.title}），"
        f"种子 {a.seed}，备选试题 {a.pool_size} 道，题池指纹 {a.pool_fingerprint[:16]}…",
    ]
    for p in a.papers:
        lines.append(
            f"  {p.paper_id}: {len(p.items)} 题，{sum((i.points for i in p.items), Decimal(0))} 分"
        )
    if a.reused:
        lines.append(
            f"  题库不足以让各卷完全不同，{len(a.reused)} 道题在多份试卷中重复使用：{'、'.join(a.reused[:10])}…"
        )
    else:
        lines.append("  各卷之间没有重复试题 (no item is on two variants)")
    return "\n".join(lines)


def dumps_assemblies(assemblies: Sequence[Assembly]) -> str:
    return json.dumps(assemblies_to_json(assemblies), ensure_ascii=False, indent=1)
