"""The sample bank and blueprints, written by us in Chinese, for the demo and the tests.

* ``bank.json``: 375 items in the ``qbank-items/1`` JSON format: the two common subjects
  (职业道德, 职业能力) and 岗位技能 for 护理员 (HLY), 电工 (DG) and 中式烹调师 (ZSPTS),
  75 items each (30 单选, 15 多选, 30 判断; 易:中:难 = 2:2:1), every item usable at
  levels 五级, 四级 and 三级 (the levels share one bank per subject).
* ``blueprints.json``: 15 blueprints (5 subjects/trades x 3 levels), each 25 items and
  100 points: 单选 10 x 4, 多选 5 x 6, 判断 10 x 3, with a difficulty mix of 4/4/2,
  2/2/1, 4/4/2 and a few knowledge points to cover. The bank holds exactly enough for
  three variants of each paper with no item on two variants.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from question_bank.blueprint import Blueprint, blueprints_from_json
from question_bank.formats.jsonfmt import rows_from_json
from question_bank.items import Item, validate_rows

SAMPLE_TRADES = ("HLY", "DG", "ZSPTS")
SAMPLE_LEVELS = (5, 4, 3)


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
    """E.g. ``sample_blueprint("ZYDD", 5)`` or ``sample_blueprint("GWJN", 4, "DG")``."""
    bid = f"{subject_code}-{trade}-L{level}" if trade else f"{subject_code}-L{level}"
    for bp in load_sample_blueprints():
        if bp.blueprint_id == bid:
            return bp
    raise KeyError(bid)
