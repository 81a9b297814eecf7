"""The sample bank and blueprints, written by us in Chinese, for the demo and the tests.

* ``bank.json``: 465 items in the ``qbank-items/1`` JSON format:

  - the two common subjects (职业道德, 职业能力) and 岗位技能 for 护理员, 电工 and
    中式烹调师, 75 items each (30 单选, 15 多选, 30 判断; 易:中:难 = 2:2:1), every item
    usable at levels 五级 to 二级 (the levels share one bank per subject);
  - 岗位技能 for 防疫员 (the trade of the Henan manual's sample ticket), levels 五级 to
    二级, 30 items;
  - 专业理论 for 电工 at 一级 (Henan's level one sits a 专业理论 paper), 30 items;
  - 应知 for 电工 at 二级 (Hebei's technician exam: 应知 on computer), 30 items.

* ``blueprints.json``: 26 blueprints, each 25 items and 100 points: 单选 10 x 4, 多选 5 x 6,
  判断 10 x 3, with a difficulty mix of 4/4/2, 2/2/1, 4/4/2 and a few knowledge points to
  cover. Every level 5-1 has one: the three subjects at 五级 to 二级, 专业理论 at 一级,
  应知 at 二级. The 75-item sets give three variants with no item on two of them; the
  30-item sets repeat some items across variants (the assembly's audit says which).

Trades are named as in the catalogue (``电工``); ``sample_blueprint`` also accepts a
trade's code or alias.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from question_bank.blueprint import Blueprint, blueprints_from_json
from question_bank.formats.jsonfmt import rows_from_json
from question_bank.items import Item, validate_rows

SAMPLE_TRADES = ("护理员", "电工", "中式烹调师", "防疫员")
SAMPLE_LEVELS = (5, 4, 3, 2, 1)


def _load(name: str) -> Any:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def sample_bank_path() -> str:
    """File path of ``bank.json`` (for ``qbank import``)."""
    return str(resources.files(__package__).joinpath("bank.json"))


def sample_blueprints_path() -> str:
    return str(resources.files(__package__).joinpath("blueprints.json"))


def load_sample_bank() -> list[Item]:
    """The sample items, validated like any import (version 1 each)."""
    return validate_rows(rows_from_json(_load("bank.json"), "sample/bank.json"))


def load_sample_blueprints() -> list[Blueprint]:
    return blueprints_from_json(_load("blueprints.json"), "sample/blueprints.json")


def sample_blueprint(subject_code: str, level: int, trade: str | None = None) -> Blueprint:
    """E.g. ``sample_blueprint("ZYDD", 5)`` or ``sample_blueprint("GWJN", 4, "电工")``.

    ``subject_code`` is a subject's code or name; ``trade`` a trade's name, alias or code.
    Raises ``KeyError`` when the sample has no such blueprint."""
    from question_bank.catalogue import find_trade, parse_subject

    try:
        subject = parse_subject(subject_code)
    except ValueError:
        raise KeyError(subject_code) from None
    found = find_trade(trade) if trade else None
    name = found.name if found else trade
    for bp in load_sample_blueprints():
        if bp.subject is subject and bp.level == level and bp.trade == (name or None):
            return bp
    raise KeyError(f"{subject_code}-{trade or ''}-L{level}")
