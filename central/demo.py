"""The demo's exam package: one centre, one room of 30 seats, the computer-based parts of
the sample Henan plan's level-four form (three subjects).

Built exactly as central builds a real one (sample bank -> blueprints -> assembly ->
sealed papers -> seat plan -> signed package), so ``make demo`` exercises the real path.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.packaging import SittingSpec, build_centre_package
from exam_common.durable import PUBLIC, ensure_dir, write_atomic
from exam_common.forms import LEVEL_ZH, Part, forms_from_json, require_form, require_lines
from exam_common.samples import sample_plan
from exam_common.tickets import GENERATED
from question_bank.catalogue import Subject
from question_bank.package import private_key_pem, public_key_pem, secrets_to_json
from question_bank.package_parts import DocumentsPart, PlanPart
from question_bank.sample import load_sample_bank, sample_blueprint
from seating import sample
from seating.allocation import allocate
from seating.model import Centre, Room, Sitting

CENTRE = "0101"
CANDIDATES = 26
#: the demo's exam: the sample Henan plan's form of this level, in this trade
DEMO_PLAN, LEVEL, TRADE = "henan-2026", 4, "电工"


def demo_parts() -> tuple[Part, ...]:
    """The computer-based parts of the demo level's form, as the sample plan has them
    (their subjects, names and lines: nothing of them is written here)."""
    forms = forms_from_json(sample_plan(DEMO_PLAN)["forms"])
    form = require_form(forms, LEVEL, TRADE, f"演示（{DEMO_PLAN}）")
    require_lines(form, f"演示（{DEMO_PLAN}）")
    return form.cbt_parts


def _trade_of(part: Part) -> str | None:
    """The demo's trade for a subject examined by trade (岗位技能), else none."""
    return TRADE if Subject(part.subject).needs_trade else None


@dataclass(frozen=True)
class DemoTimes:
    first_start: datetime
    duration: timedelta
    gap: timedelta
    #: the rule windows (entry before start, late entry, earliest submit), seconds
    windows: tuple[int, int, int]


def demo_times(now: datetime, *, quick: bool) -> DemoTimes:
    """Quick: 6-minute sittings, windows scaled by 6/60 (3 min entry, 3 min late entry,
    submit from 3 min). Full: 60-minute sittings and the notices' 30-minute windows."""
    start = (now + timedelta(minutes=2)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    if quick:
        return DemoTimes(start, timedelta(minutes=6), timedelta(minutes=8), (180, 180, 180))
    return DemoTimes(start, timedelta(minutes=60), timedelta(minutes=90), (1800, 1800, 1800))


def write_demo_package(out: Path, now: datetime, *, quick: bool) -> dict[str, str]:
    """Write package.zip, central.pub, central.key and secrets.json into ``out``."""
    ensure_dir(out)
    times = demo_times(now, quick=quick)
    room = Room(
        code="001", name="第01考场", rows=5, cols=6, spare_seats=4, location="实训楼1层101室"
    )
    centre = Centre(
        code=CENTRE,
        name="演示考点（示例职业技能鉴定中心）",
        rooms=(room,),
        address="示例市示例路 1 号",
    )
    level, trade = LEVEL, TRADE
    henan = sample_plan(DEMO_PLAN)
    cands = [
        dataclasses.replace(c, level=level, trade=trade, centre=CENTRE)
        for c in sample.candidates(CANDIDATES, seed=7)
    ]
    sittings, specs = [], []
    parts = demo_parts()
    for i, part in enumerate(parts):
        start = times.first_start + times.gap * i
        sitting_code = f"DEMO-{part.subject}-L{level}"
        sittings.append(
            Sitting(sitting_code, part.name, start, start + times.duration, ("A", "B", "C"))
        )
        bp = sample_blueprint(part.subject, level, _trade_of(part))
        specs.append(SittingSpec(sitting_code, bp, start, start + times.duration, *times.windows))
    plan = allocate(cands, [centre], sittings, year=now.year, seed=2026, title="演示考试")
    key = Ed25519PrivateKey.generate()
    package = build_centre_package(
        centre_code=CENTRE,
        seat_plan=plan,
        plan=PlanPart(
            year=now.year,
            name=f"{now.year}年工勤技能岗位等级考核（演示）",
            # Henan's form and documents as the sample plan has them (35 per subject, no
            # total line); the demo numbers its candidates itself.
            forms=tuple(f for f in forms_from_json(henan["forms"]) if f.level == level),
            ticket_rule=GENERATED,
            documents=DocumentsPart.model_validate(henan["documents"]),
        ),
        sittings=specs,
        bank=load_sample_bank(),
        seed="demo",
        signing_key=key,
        created=now,
    )
    files = {
        "package": out / "package.zip",
        "public_key": out / "central.pub",
        "secrets": out / "secrets.json",
        "roster": out / "roster.json",
    }
    write_atomic(files["package"], package.data)
    write_atomic(files["public_key"], public_key_pem(key.public_key()), PUBLIC)
    write_atomic(out / "central.key", private_key_pem(key))
    write_atomic(files["secrets"], json.dumps(secrets_to_json(package.secrets), indent=1))
    write_atomic(
        files["roster"],
        json.dumps(
            [
                {
                    "ticket": a.ticket,
                    "id_number": a.id_number,
                    "name": plan.candidate(a.id_number).name,
                    "seat": f"{a.room}-{a.seat:02d}",
                }
                for a in plan.assignments
            ],
            ensure_ascii=False,
            indent=1,
        ),
    )
    return {k: str(v) for k, v in files.items()}


#: the registration file's columns (the province's registration export)
REGISTRATION_HEADER = (
    "准考证号",
    "身份证号",
    "姓名",
    "性别",
    "出生日期",
    "工作单位",
    "工种",
    "等级",
    "考点代码",
)


def tempo_times(now: datetime, tempo: str) -> DemoTimes:
    """``START_IN_S,DURATION_S,WINDOW_S`` (the tests' walk through a whole demo day in a
    minute or two): the first sitting starts that many seconds from now, each lasts
    DURATION_S, the rule windows are WINDOW_S, and the next starts after a gap of
    DURATION_S + WINDOW_S."""
    first, duration, window = (int(x) for x in tempo.split(","))
    start = (now + timedelta(seconds=first)).replace(microsecond=0)
    return DemoTimes(
        start,
        timedelta(seconds=duration),
        timedelta(seconds=duration + window),
        (window, window, window),
    )


def write_demo_central_inputs(
    out: Path, now: datetime, *, quick: bool, tempo: str = ""
) -> tuple[Path, Path]:
    """What a province loads into a real central for the demo: the plan (Henan's level-four
    form, the demo centre and room, three sittings at the demo's times) and the approved
    registrations (26 candidates). Returns (plan.json, registrations.csv)."""
    import csv

    ensure_dir(out)
    times = tempo_times(now, tempo) if tempo else demo_times(now, quick=quick)
    henan = sample_plan(DEMO_PLAN)
    level = LEVEL
    sittings = []
    for i, part in enumerate(demo_parts()):
        start = times.first_start + times.gap * i
        trade = _trade_of(part)
        sittings.append(
            {
                "code": f"DEMO-{part.subject}-L{level}",
                "subject_code": part.subject,
                "level": level,
                "trade": trade,
                "trades": [trade] if trade else [],
                "start": start.isoformat(),
                "end": (start + times.duration).isoformat(),
                "variants": ["A", "B", "C"],
                "windows_s": list(times.windows),
                "blueprint": "sample",
            }
        )
    plan = {
        **henan,
        "year": now.year,
        "name": f"{now.year}年工勤技能岗位等级考核（演示）",
        "seed": "demo",
        "ticket_rule": None,  # central numbers the candidates itself (the demo has no province system)
        "forms": [f for f in henan["forms"] if f["level"] == level],
        "centres": [
            {
                "code": CENTRE,
                "name": "演示考点（示例职业技能鉴定中心）",
                "address": "示例市示例路 1 号",
                "rooms": [
                    {
                        "code": "001",
                        "name": "第01考场",
                        "rows": 5,
                        "cols": 6,
                        "spare_seats": 4,
                        "location": "实训楼1层101室",
                    }
                ],
            }
        ],
        "sittings": sittings,
    }
    plan_path = write_atomic(out / "plan.json", json.dumps(plan, ensure_ascii=False, indent=1))
    reg_path = out / "registrations.csv"
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(REGISTRATION_HEADER)
    for c in sample.candidates(CANDIDATES, seed=7):
        writer.writerow(
            [
                "",
                c.id_number,
                c.name,
                "男" if c.gender.value == "male" else "女",
                str(c.birth_date),
                c.employer,
                TRADE,
                LEVEL_ZH[LEVEL],
                CENTRE,
            ]
        )
    write_atomic(reg_path, buf.getvalue(), PUBLIC)
    return plan_path, reg_path
