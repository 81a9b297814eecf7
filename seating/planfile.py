"""A seat plan as JSON: what ``seating allocate`` writes and ``seating print`` reads.

The file holds everything but photos (those stay in the photo folder or the server's
database): centres and rooms, sittings, candidates, assignments, spares and the problem
report. ``format`` is checked on load so that a file from a newer version is refused
clearly rather than half-read.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from exam_common.durable import write_atomic
from seating.model import (
    Assignment,
    Candidate,
    Centre,
    Gender,
    PrintedTexts,
    Problem,
    ProblemKind,
    Room,
    SeatingError,
    SeatPlan,
    Sitting,
)

FORMAT = "seating-plan/1"


def plan_to_dict(plan: SeatPlan) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "year": plan.year,
        "seed": plan.seed,
        "title": plan.title,
        "centres": [
            {
                "code": c.code,
                "name": c.name,
                "address": c.address,
                "rooms": [
                    {
                        "code": r.code,
                        "name": r.name,
                        "rows": r.rows,
                        "cols": r.cols,
                        "spare_seats": r.spare_seats,
                        "blocked": sorted(r.blocked),
                        "location": r.location,
                    }
                    for r in c.rooms
                ],
            }
            for c in plan.centres
        ],
        "sittings": [
            {
                "code": s.code,
                "subject": s.subject,
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "variants": list(s.variants),
                "levels": sorted(s.levels),
                "trades": sorted(s.trades),
                "windows_s": list(s.windows_s) if s.windows_s else None,
            }
            for s in plan.sittings
        ],
        "texts": {
            "results_website": plan.texts.results_website,
            "instructions": list(plan.texts.instructions),
            "issuer": plan.texts.issuer,
        },
        "candidates": [
            {
                "id_number": c.id_number,
                "name": c.name,
                "gender": c.gender.value,
                "employer": c.employer,
                "trade": c.trade,
                "level": c.level,
                "birth_date": c.birth_date.isoformat() if c.birth_date else None,
                "centre": c.centre,
                "registration_no": c.registration_no,
                "ticket": c.ticket,
            }
            for c in plan.candidates
        ],
        "assignments": [
            {
                "ticket": a.ticket,
                "id_number": a.id_number,
                "centre": a.centre,
                "room": a.room,
                "seat": a.seat,
                "variants": dict(a.variants),
            }
            for a in plan.assignments
        ],
        "spares": [
            {"centre": k[0], "room": k[1], "seats": list(v)} for k, v in plan.spares.items()
        ],
        "problems": [
            {
                "kind": p.kind.value,
                "zh": p.zh,
                "en": p.en,
                "centre": p.centre,
                "room": p.room,
                "seats": list(p.seats),
                "sitting": p.sitting,
                "id_numbers": list(p.id_numbers),
            }
            for p in plan.problems
        ],
    }


def plan_from_dict(d: dict[str, Any]) -> SeatPlan:
    """Rebuild a plan; raises :class:`SeatingError` naming the part that does not read."""
    if d.get("format") != FORMAT:
        raise SeatingError(
            f"不是本程序可读的座位计划文件（format={d.get('format')!r}，应为 {FORMAT}）",
            f"not a seat plan this version reads (format {d.get('format')!r}, want {FORMAT})",
        )
    try:
        centres = tuple(
            Centre(
                code=c["code"],
                name=c["name"],
                address=c.get("address", ""),
                rooms=tuple(
                    Room(
                        code=r["code"],
                        name=r["name"],
                        rows=int(r["rows"]),
                        cols=int(r["cols"]),
                        spare_seats=r.get("spare_seats"),
                        blocked=frozenset(r.get("blocked", ())),
                        location=r.get("location", ""),
                    )
                    for r in c["rooms"]
                ),
            )
            for c in d["centres"]
        )
        sittings = tuple(
            Sitting(
                code=s["code"],
                subject=s["subject"],
                start=datetime.fromisoformat(s["start"]),
                end=datetime.fromisoformat(s["end"]),
                variants=tuple(s["variants"]),
                levels=frozenset(s.get("levels", ())),
                trades=frozenset(s.get("trades", ())),
                windows_s=_windows(s.get("windows_s")),
            )
            for s in d["sittings"]
        )
        texts = d.get("texts") or {}
        candidates = tuple(
            Candidate(
                id_number=c["id_number"],
                name=c["name"],
                gender=Gender(c["gender"]),
                employer=c["employer"],
                trade=c["trade"],
                level=int(c["level"]),
                birth_date=date.fromisoformat(c["birth_date"]) if c.get("birth_date") else None,
                centre=c.get("centre"),
                registration_no=c.get("registration_no", ""),
                ticket=c.get("ticket", ""),
            )
            for c in d["candidates"]
        )
        assignments = tuple(
            Assignment(
                ticket=a["ticket"],
                id_number=a["id_number"],
                centre=a["centre"],
                room=a["room"],
                seat=int(a["seat"]),
                variants=dict(a["variants"]),
            )
            for a in d["assignments"]
        )
        spares = {(s["centre"], s["room"]): tuple(s["seats"]) for s in d["spares"]}
        problems = tuple(
            Problem(
                kind=ProblemKind(p["kind"]),
                zh=p["zh"],
                en=p["en"],
                centre=p.get("centre"),
                room=p.get("room"),
                seats=tuple(p.get("seats", ())),
                sitting=p.get("sitting"),
                id_numbers=tuple(p.get("id_numbers", ())),
            )
            for p in d.get("problems", ())
        )
        return SeatPlan(
            year=int(d["year"]),
            seed=int(d["seed"]),
            title=d.get("title", ""),
            centres=centres,
            sittings=sittings,
            candidates=candidates,
            assignments=assignments,
            spares=spares,
            problems=problems,
            texts=PrintedTexts(
                results_website=str(texts.get("results_website", "")),
                instructions=tuple(str(x) for x in texts.get("instructions", ())),
                issuer=str(texts.get("issuer", "")),
            ),
        )
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, SeatingError):
            raise
        raise SeatingError(
            f"座位计划文件内容不完整或有误：{e!r}", f"the seat plan file is incomplete: {e!r}"
        ) from e


def _windows(v: object) -> tuple[int, int, int] | None:
    if not v:
        return None
    a, b, c = (int(x) for x in v)  # type: ignore[attr-defined]
    return (a, b, c)


def dump_plan(plan: SeatPlan, path: Path) -> None:
    write_atomic(path, json.dumps(plan_to_dict(plan), ensure_ascii=False, indent=1))


def load_plan(path: Path) -> SeatPlan:
    try:
        data = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as e:
        raise SeatingError(
            f"{path}：第 {e.lineno} 行不是有效的 JSON（{e.msg}）",
            f"{path}: line {e.lineno} is not valid JSON ({e.msg})",
        ) from e
    if not isinstance(data, dict):
        raise SeatingError(f"{path}：不是座位计划文件", f"{path}: not a seat plan file")
    return plan_from_dict(data)
