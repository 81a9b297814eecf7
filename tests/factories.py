"""Factories for the centre's data: a centre, a room of seats, a plan, sittings, candidates.

Papers are real: encrypted with ``question_bank.package`` under a per-paper data key
wrapped under the sitting key derived from :data:`RELEASE_SECRET`, with the answer key
sealed under :data:`END_SECRET`, exactly as a package carries them; each attempt carries
central's signed binding of its paper (by :data:`CENTRAL_KEY`, whose public key servers in
tests are given: ``tests.live.LiveServer``), and released keys are sealed under :data:`CENTRE_SECRET` as a
server whose centre secret it is would seal them (servers in tests use it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from exam_common.tickets import TicketRule
from exam_server.candidates.models import Candidate
from exam_server.centres.models import Centre, Room, Seat
from exam_server.plans.models import ExamPlan, Paper, Sitting
from exam_server.sittings.models import Attempt
from exam_server.system.vault import KeyVault
from question_bank.bindings import PaperBinding, sign_binding
from question_bank.catalogue import Subject
from question_bank.items import Option
from question_bank.package import (
    derive_end_key,
    derive_sitting_key,
    encrypt_answer_key,
    encrypt_paper,
    public_key_pem,
    wrap_data_key,
)
from question_bank.paper import Paper as ClearPaper
from question_bank.paper import PaperQuestion, PaperSection
from question_bank.scoring import ItemType, KeyedItem

#: central's package key in tests: signs the papers' bindings
CENTRAL_KEY = Ed25519PrivateKey.from_private_bytes(b"central-signing-key-for-tests-01")
CENTRAL_PUBLIC_PEM = public_key_pem(CENTRAL_KEY.public_key()).decode()
#: the centre secret of every server in tests (LiveServer writes it, apps are given it)
CENTRE_SECRET = "tests-centre-secret-" + "5a" * 22
VAULT = KeyVault(CENTRE_SECRET.encode())
RELEASE_SECRET = bytes(range(16))
END_SECRET = bytes(range(16, 32))
DATA_KEY = bytes(range(32))

ITEMS = [
    {
        "item_id": f"Q{i:03d}",
        "type": "single" if i <= 6 else "multiple" if i <= 8 else "true_false",
        "points": "10",
    }
    for i in range(1, 11)
]
KEY = {f"Q{i:03d}": ("A" if i <= 6 else "AC" if i <= 8 else "T") for i in range(1, 11)}


def clear_paper(code: str, subject: str) -> ClearPaper:
    questions = []
    for i, ref in enumerate(ITEMS):
        t = ItemType(ref["type"])
        opts = (
            (Option("T", "正确"), Option("F", "错误"))
            if t is ItemType.TRUE_FALSE
            else tuple(Option(x, f"选项{x}") for x in "ABCD")
        )
        questions.append(
            PaperQuestion(
                ref["item_id"],
                t,
                f"第{i + 1}题：测试题干",
                opts,
                Decimal(ref["points"]),
                {"single": 0, "multiple": 1, "true_false": 2}[t.value],
            )
        )
    sections = tuple(
        PaperSection(t, title, sum(1 for q in questions if q.type is t), Decimal(10))
        for t, title in (
            (ItemType.SINGLE, "一、单项选择题"),
            (ItemType.MULTIPLE, "二、多项选择题"),
            (ItemType.TRUE_FALSE, "三、判断题"),
        )
    )
    return ClearPaper(
        f"P-{code}",
        code,
        1,
        "00" * 16,
        Subject(subject),
        4,
        None,
        "测试试卷",
        sections,
        tuple(questions),
    )


def sealed(code: str, subject: str) -> tuple[bytes, bytes, bytes]:
    """(ciphertext, wrapped data key, encrypted answer key) of the test paper."""
    keyed = [
        KeyedItem(
            i["item_id"], ItemType(i["type"]), frozenset(KEY[i["item_id"]]), Decimal(i["points"])
        )
        for i in ITEMS
    ]
    return (
        encrypt_paper(clear_paper(code, subject), DATA_KEY),
        wrap_data_key(DATA_KEY, derive_sitting_key(RELEASE_SECRET, code)),
        encrypt_answer_key(code, {f"P-{code}": keyed}, derive_end_key(END_SECRET, code)),
    )


@dataclass
class World:
    centre: Centre
    rooms: list[Room]
    plan: ExamPlan
    sittings: list[Sitting]
    candidates: list[Candidate] = field(default_factory=list)
    attempts: dict[tuple[int, int], Attempt] = field(default_factory=dict)

    def attempt(self, candidate_index: int, sitting_index: int = 0) -> Attempt:
        return self.attempts[(candidate_index, sitting_index)]


#: The worlds' ticket rule: 12 digits as the province's registration system issues them,
#: with no check digit (the manual's sample 250800610001 is one), which ticket_for follows.
PROVINCE_TICKETS = TicketRule(name="河南省工考报名系统准考证号", length=12, charset="digits")


def ticket_for(n: int) -> str:
    return f"26001{n:06d}0"


def id_number_for(n: int) -> str:
    return f"41010119800101{n:03d}X"[-18:] if n < 1000 else f"410101198001{n:06d}"


def henan_forms(*levels: int) -> list[dict[str, Any]]:
    """The sample Henan plan's forms for these levels (as a plan file has them)."""
    from exam_common.samples import sample_plan

    return [f for f in sample_plan("henan-2026")["forms"] if f["level"] in levels]


def make_world(
    session: Session,
    *,
    start: datetime,
    duration: timedelta = timedelta(minutes=60),
    candidates: int = 4,
    sittings: int = 1,
    gap: timedelta = timedelta(minutes=90),
    rooms: int = 1,
    rows: int = 5,
    cols: int = 6,
    spare: int = 2,
    rules_s: tuple[int, int, int] = (1800, 1800, 1800),
    key_released: bool = True,
    forms: list[dict[str, Any]] | None = None,
) -> World:
    """A centre with one plan; its form is Henan's level four (35 per subject, no total
    line: ``exam_common/samples/henan-2026.json``) unless ``forms`` says otherwise."""
    centre = Centre(code="001", name="测试考点")
    session.add(centre)
    room_objs = []
    for r in range(1, rooms + 1):
        room = Room(centre=centre, code=f"{r:02d}", name=f"第{r}考场", rows=rows, cols=cols)
        session.add(room)
        for n in range(1, rows * cols + 1):
            session.add(
                Seat(
                    room=room,
                    number=n,
                    row=(n - 1) // cols + 1,
                    col=(n - 1) % cols + 1,
                    is_spare=n > rows * cols - spare,
                )
            )
        room_objs.append(room)
    plan = ExamPlan(
        year=2026,
        name="2026年工勤技能岗位等级考核",
        forms=forms if forms is not None else henan_forms(4),
        # the province issues the numbers (ticket_for's, no check digit), as Henan does
        ticket_rule=PROVINCE_TICKETS.model_dump(mode="json"),
        documents={},
    )
    session.add(plan)
    subjects = ["职业道德", "职业能力", "岗位技能"]
    sitting_objs = []
    for i in range(sittings):
        s_start = start + gap * i
        sitting = Sitting(
            plan=plan,
            code=f"2026-001-{i + 1}",
            subject=subjects[i % 3],
            level=4,
            trade="电工" if subjects[i % 3] == "岗位技能" else None,
            start=s_start,
            end=s_start + duration,
            entry_opens_before_s=rules_s[0],
            late_entry_s=rules_s[1],
            earliest_submit_s=rules_s[2],
        )
        ciphertext, wrapped, answer_key = sealed(sitting.code, sitting.subject)
        sitting.answer_key_blob = answer_key
        if key_released:
            sitting.sitting_key = VAULT.seal(
                derive_sitting_key(RELEASE_SECRET, sitting.code),
                sitting_code=sitting.code,
                kind="sitting",
            )
            sitting.sitting_key_at = s_start
        session.add(sitting)
        session.add(
            Paper(
                sitting=sitting,
                variant=1,
                paper_ref=f"P-{sitting.code}",
                items=ITEMS,
                ciphertext=ciphertext,
                wrapped_key=wrapped,
            )
        )
        sitting_objs.append(sitting)
    session.flush()
    world = World(centre, room_objs, plan, sitting_objs)
    seats_per_room = rows * cols - spare
    for n in range(1, candidates + 1):
        cand = Candidate(
            ticket=ticket_for(n),
            id_number=id_number_for(n),
            name=f"考生{n}",
            gender="女",
            birth_date=date(1980, 1, 1),
            trade="电工",
            level=4,
            employer=f"单位{n % 3}",
        )
        session.add(cand)
        world.candidates.append(cand)
        room = room_objs[(n - 1) // seats_per_room]
        seat_no = (n - 1) % seats_per_room + 1
        seat = next(s for s in room.seats if s.number == seat_no) if room.seats else None
        session.flush()
        for j, sitting in enumerate(sitting_objs):
            paper = sitting.papers[0]
            attempt = Attempt(
                candidate=cand,
                sitting=sitting,
                paper=paper,
                seat=seat,
                binding=bind(centre.code, sitting.code, paper, cand.ticket, room.code, seat_no),
            )
            session.add(attempt)
            world.attempts[(n - 1, j)] = attempt
    session.flush()
    return world


def bind(centre: str, sitting: str, paper: Paper, ticket: str, room: str, seat: int) -> str:
    """Central's signed binding of ``paper`` to a candidate (what a package carries)."""
    return sign_binding(
        CENTRAL_KEY,
        PaperBinding(
            centre=centre,
            sitting=sitting,
            paper_id=paper.paper_ref,
            variant=paper.variant,
            sha256=hashlib.sha256(paper.ciphertext).hexdigest(),
            ticket=ticket,
            room=room,
            seat=seat,
        ),
    )


def rebind(world: World) -> None:
    """Sign every attempt's binding again (after a test changed tickets or seats)."""
    for attempt in world.attempts.values():
        attempt.binding = bind(
            world.centre.code,
            attempt.sitting.code,
            attempt.paper,
            attempt.candidate.ticket,
            attempt.seat.room.code,
            attempt.seat.number,
        )


def seat_label(world: World, candidate_index: int) -> str:
    return world.attempt(candidate_index).seat.label
