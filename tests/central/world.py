"""A small province for central's tests: one or two centres, a plan file, registrations."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from seating import sample
from seating.tickets import make_ticket

CENTRE = "0101"
OTHER = "0102"
SUBJECT_LINE = 35


def plan_doc(
    start: datetime,
    *,
    duration: timedelta = timedelta(seconds=14),
    windows: tuple[int, int, int] = (120, 8, 3),
    year: int = 2026,
) -> dict[str, Any]:
    """One level-4 sitting of 职业道德 (sample blueprint, 2 variants) at two centres."""
    room = {"code": "001", "name": "第01考场", "rows": 3, "cols": 3, "spare_seats": 1}
    return {
        "year": year,
        "name": f"{year}年工勤技能岗位等级考核（测试）",
        "seed": "tests",
        "bank": "sample",
        "multiple_policy": "all_or_nothing",
        # a one-subject exam of the tests' own (the sample plans follow the notices)
        "forms": [
            {
                "level": 4,
                "parts": [
                    {
                        "subject": "ZYDD",
                        "name": "职业道德",
                        "delivery": "cbt",
                        "full_marks": 100,
                        "line": SUBJECT_LINE,
                    }
                ],
            }
        ],
        "centres": [
            {"code": CENTRE, "name": "测试考点一", "rooms": [room]},
            {"code": OTHER, "name": "测试考点二", "rooms": [room]},
        ],
        "sittings": [
            {
                "code": "T-ZYDD-L4",
                "subject_code": "ZYDD",
                "level": 4,
                "start": start.isoformat(),
                "end": (start + duration).isoformat(),
                "variants": ["A", "B"],
                "windows_s": list(windows),
                "blueprint": "sample",
            }
        ],
    }


def write_plan(folder: Path, doc: dict[str, Any]) -> Path:
    path = folder / "plan.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1))
    return path


HEADER = [
    "准考证号",
    "身份证号",
    "姓名",
    "性别",
    "出生日期",
    "工作单位",
    "工种",
    "等级",
    "考点代码",
]


def registration_rows(n: int = 4, *, year: int = 2026, seed: int = 11) -> list[list[str]]:
    """``n`` level-4 candidates at centre 0101 (the first with its own ticket, seat 2),
    and one at centre 0102."""
    rows = []
    for i, c in enumerate(sample.candidates(n + 1, seed=seed)):
        c = dataclasses.replace(c, level=4)
        centre = CENTRE if i < n else OTHER
        ticket = make_ticket(year, CENTRE, "001", 2) if i == 0 else ""
        rows.append(
            [
                ticket,
                c.id_number,
                c.name,
                "男" if c.gender.value == "male" else "女",
                str(c.birth_date),
                c.employer,
                c.trade,
                "四级",
                centre,
            ]
        )
    return rows


def write_registrations(folder: Path, rows: list[list[str]], name: str = "reg.csv") -> Path:
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path
