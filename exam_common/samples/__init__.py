"""Sample plans that follow the notices (``docs/province.md`` explains each field).

* ``henan-2026.json``: Henan, levels five to two (three computer-based parts, 35 per
  subject, no total line: the registration manual's result page) and level one's form
  (专业理论 on computer plus a 综合评审 graded 合格/不合格), whose 专业理论 line no notice
  prints: it is left ``null`` for the province to set, and the sample seats no level-one
  sitting (a plan that seats level one with the line unset is refused); the manual's
  12-digit ticket numbers; its 应考人员须知 and results website.
* ``hebei-2024.json``: Hebei's technician exam (二级): 应知 on computer and 应会 scored by
  examiners, 100 each, 双60; central numbers the candidates (the notice shows no ticket).

Their times, centres and sittings are examples; a province writes its own plan.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

SAMPLES = ("henan-2026", "hebei-2024")


def sample_plan(name: str) -> dict[str, Any]:
    """A sample plan as a JSON-ready dict (``KeyError`` for an unknown name)."""
    if name not in SAMPLES:
        raise KeyError(name)
    text = resources.files(__package__).joinpath(f"{name}.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc
