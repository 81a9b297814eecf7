"""Benchmark: assembling and packaging a province-scale job (issue 3).

A synthetic bank of 200,000 items: 100 trades x ~1,900 岗位技能 items (each item for one of
levels 五级..二级) plus 5,000 items for each common subject (shared by the four levels).
Blueprints are full-size papers: 单选 40 x 1 + 多选 20 x 1.5 + 判断 30 x 1 = 100 points,
90 items, difficulty 3:5:2, two knowledge points to cover.

The job: 100 trades x 4 levels x 3 subjects = 1,200 sittings, 3 variants each (3,600
papers), then every sitting sealed once (AES-256-GCM per paper, key wrap, answer key) and
signed packages built for 10 centres of 10 trades each; one package is opened and fully
verified. Targets: total under 60 s, peak RSS under 1 GB.

    .venv/bin/python bench/bench_assembly.py            # the full job
    .venv/bin/python bench/bench_assembly.py --trades 10   # a quick smaller run
"""

from __future__ import annotations

import argparse
import platform
import random
import resource
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from question_bank.assembly import Assembly, BankIndex, assemble  # noqa: E402
from question_bank.blueprint import Blueprint, Section  # noqa: E402
from question_bank.catalogue import Subject  # noqa: E402
from question_bank.items import Difficulty, Item, Option  # noqa: E402
from question_bank.package import build_package, new_secret, open_package, seal_sitting  # noqa: E402
from question_bank.scoring import ItemType  # noqa: E402

LEVELS = (5, 4, 3, 2)
KPS = tuple(f"知识点{i:02d}" for i in range(12))
TYPE_SHARE = ((ItemType.SINGLE, 0.45), (ItemType.MULTIPLE, 0.25), (ItemType.TRUE_FALSE, 0.30))
DIFF_SHARE = ((Difficulty.EASY, 0.3), (Difficulty.MEDIUM, 0.5), (Difficulty.HARD, 0.2))
TF = (Option("T", "正确"), Option("F", "错误"))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def synthetic_bank(trades: int, per_trade: int, per_common: int, rng: random.Random) -> list[Item]:
    items: list[Item] = []

    def make(item_id: str, subject: Subject, trade: str | None, levels: frozenset[int]) -> Item:
        r = rng.random()
        t = next(t for t, share in _cumulative(TYPE_SHARE) if r < share)
        r = rng.random()
        d = next(d for d, share in _cumulative(DIFF_SHARE) if r < share)
        if t is ItemType.TRUE_FALSE:
            options, key = TF, frozenset(rng.choice("TF"))
        else:
            options = tuple(Option(c, f"{item_id} 选项{c}：示例内容") for c in "ABCD")
            key = frozenset(rng.sample("ABCD", 2 if t is ItemType.MULTIPLE else 1))
        return Item(
            item_id,
            t,
            subject,
            trade,
            levels,
            f"{item_id} 题干：示例题目内容，请选择正确答案（  ）。",
            options,
            key,
            Decimal(1),
            d,
            rng.choice(KPS),
        )

    for subject, code in ((Subject("职业道德"), "ZYDD"), (Subject("职业能力"), "ZYNL")):
        for n in range(per_common):
            items.append(make(f"{code}-{n:05d}", subject, None, frozenset(LEVELS)))
    for t in range(trades):
        trade = f"T{t:03d}"
        for n in range(per_trade):
            items.append(
                make(
                    f"GWJN-{trade}-{n:05d}", Subject("岗位技能"), trade, frozenset({LEVELS[n % 4]})
                )
            )
    return items


def _cumulative(shares: tuple[tuple[object, float], ...]) -> list[tuple[object, float]]:
    out, acc = [], 0.0
    for v, s in shares:
        acc += s
        out.append((v, acc))
    out[-1] = (out[-1][0], 1.01)
    return out  # type: ignore[return-value]


def blueprint(bid: str, subject: Subject, level: int, trade: str | None) -> Blueprint:
    def mix(n: int) -> tuple[tuple[Difficulty, int], ...]:
        easy, hard = round(n * 0.3), round(n * 0.2)
        return (
            (Difficulty.EASY, easy),
            (Difficulty.MEDIUM, n - easy - hard),
            (Difficulty.HARD, hard),
        )

    return Blueprint(
        bid,
        bid,
        subject,
        level,
        trade,
        (
            Section(ItemType.SINGLE, 40, Decimal(1), mix(40)),
            Section(ItemType.MULTIPLE, 20, Decimal("1.5"), mix(20)),
            Section(ItemType.TRUE_FALSE, 30, Decimal(1), mix(30)),
        ),
        ((KPS[0], 3), (KPS[1], 3)),
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trades", type=int, default=100)
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--variants", type=int, default=3)
    ap.add_argument("--centres", type=int, default=10)
    args = ap.parse_args()
    per_common = 5_000
    per_trade = (args.items - 2 * per_common) // args.trades
    print(
        f"machine: {platform.node()} {platform.python_implementation()} {platform.python_version()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores"
    )
    t0 = time.perf_counter()
    bank = synthetic_bank(args.trades, per_trade, per_common, random.Random(1))
    t_bank = time.perf_counter()
    print(f"bank: {len(bank):,} items generated in {t_bank - t0:.1f} s (not counted below)")

    t1 = time.perf_counter()
    index = BankIndex(bank)
    assemblies: dict[str, list[Assembly]] = {}
    reused = 0
    for t in range(args.trades):
        trade = f"T{t:03d}"
        out = assemblies.setdefault(trade, [])
        for level in LEVELS:
            for subject, code in (
                (Subject("职业道德"), "ZYDD"),
                (Subject("职业能力"), "ZYNL"),
                (Subject("岗位技能"), "GWJN"),
            ):
                bp = blueprint(
                    f"{code}-L{level}",
                    subject,
                    level,
                    trade if subject is Subject("岗位技能") else None,
                )
                a = assemble(
                    index,
                    bp,
                    "bench-2026",
                    args.variants,
                    sitting_code=f"B26-{trade}-{code}-L{level}",
                )
                reused += len(a.reused)
                out.append(a)
    t2 = time.perf_counter()
    n_sittings = sum(len(v) for v in assemblies.values())
    n_papers = n_sittings * args.variants
    print(
        f"assemble: {n_sittings:,} sittings, {n_papers:,} papers in {t2 - t1:.1f} s "
        f"({reused} items reused across variants)"
    )

    sealed = {}
    for trade, lst in assemblies.items():
        sealed[trade] = [seal_sitting(a.papers, new_secret(), new_secret()) for a in lst]
    t3 = time.perf_counter()
    print(
        f"seal: {n_papers:,} papers encrypted, keys wrapped, {n_sittings:,} answer keys in {t3 - t2:.1f} s"
    )

    key = Ed25519PrivateKey.generate()
    trades = list(sealed)
    per_centre = max(1, len(trades) // args.centres)
    first: bytes | None = None  # central writes each package out; keep only one in memory
    sizes = []
    for c in range(args.centres):
        group = trades[c * per_centre : (c + 1) * per_centre]
        sittings = [s for tr in group for s in sealed[tr]]
        if sittings:
            data = build_package(
                centre_code=f"41{c:04d}",
                sittings=sittings,
                signing_key=key,
                created=datetime(2026, 11, 22, tzinfo=UTC),
            )
            sizes.append(len(data))
            first = first or data
            del data
    t4 = time.perf_counter()
    assert first is not None
    print(
        f"package: {len(sizes)} signed packages, {sum(sizes) / 1e6:.1f} MB total "
        f"({max(sizes) / 1e6:.1f} MB largest) in {t4 - t3:.1f} s"
    )

    opened = open_package(first, key.public_key(), "410000")
    t5 = time.perf_counter()
    print(f"open+verify one package ({len(opened.parts)} parts): {t5 - t4:.2f} s")
    total = t5 - t1
    peak = rss_mb()
    print(
        f"TOTAL assemble+seal+package+verify: {total:.1f} s (target < 60 s); "
        f"peak RSS {peak:.0f} MB (target < 1024 MB)"
    )
    if total >= 60 or peak >= 1024:
        print("TARGET MISSED")
        sys.exit(1)


if __name__ == "__main__":
    main()
