"""Items scored by their authors' rules, from the bank to central's re-score (issue 23).

The QTI items written for the tests (``tests/question_bank/qti_authored.py``) go into a
``qbank`` bank; central publishes the plan's sitting from it (the plan's own rule for a
partly right multiple answer: proportional); the centre imports the package; candidates
answer on the terminal's shuffled paper (ticks mapped to canonical labels as the terminal
does); the centre scores at the end, and central re-scores the centre's signed result
package. Both score every item by the same rule (the author's map where there is one),
agree to the cent, and say which rule scored each item; a centre that scores a mapped item
by the plan's rule is caught, with the rule named.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.catalogue import load as load_catalogue
from central.cli import main as central_cli
from central.db import CentralDatabase
from central.migrate import upgrade
from central.models import (
    AuditEvent,
    CentreAccount,
    Package,
    PlanConfig,
    PublishedSitting,
    RescoredAttempt,
)
from central.plan import parse_plan
from central.publishing import publish
from central.registrations import import_registrations
from central.service import take_results
from exam_client.agent import open_paper
from exam_client.identity import TerminalIdentity
from exam_common.result_package import build_result_package
from exam_server.candidates.models import Candidate
from exam_server.db import Database
from exam_server.eventlog.models import Event
from exam_server.packages.service import enter_end_key, enter_sitting_key, import_package
from exam_server.plans.keys import paper_key_for
from exam_server.plans.models import Sitting
from exam_server.results.package import build_results, result_document
from exam_server.scoring.service import score_sitting
from exam_server.sittings import service
from exam_server.sittings.models import Attempt
from exam_server.sittings.service import SaveRequest, answers
from exam_server.system.keys import public_key_hex, signing_key
from question_bank.formats import read_items
from question_bank.package import open_package
from question_bank.store import BankStore
from tests.central.world import CENTRE, plan_doc, registration_rows, write_registrations
from tests.conftest import T0, drop_pg_database, make_pg_database
from tests.factories import VAULT
from tests.question_bank import qti_authored as qa

SITTING = "T-ZYDD-L4"
SEC = timedelta(seconds=1)

#: what each candidate ticks, by option text (the terminal shows them shuffled)
ANSWERS: list[dict[str, list[str]]] = [
    {
        "ZD-MAP-01": ["爱岗敬业"],  # 1 of 3 under the map: 15 x 1/3 = 5
        "ZD-ALL-02": ["学法、知法、守法、用法"],  # the author's all-or-nothing: 0
        "ZD-SEQ-03": ["前两项的总结"],  # right: 20
        "ZD-PART-04": ["照顾熟人，兼顾原则"],  # 1 of 2 under the map: 20 x 1/2 = 10
        "ZD-TF-05": ["正确"],  # 10
        "ZD-PIC-06": ["禁止类标志"],  # 20
    },
    {
        "ZD-MAP-01": ["爱岗敬业", "诚实守信", "以上都不对"],  # 1 + 1 - 1 = 1 of 3: 5
        "ZD-ALL-02": ["学法、知法、守法、用法", "遵守本单位的规章制度"],  # 15
        "ZD-SEQ-03": ["前一项的结果"],  # 0
        "ZD-PART-04": ["坚持原则，一视同仁"],  # 20
        "ZD-TF-05": ["错误"],  # 0
    },
    {
        "ZD-MAP-01": ["爱岗敬业", "诚实守信", "办事公道"],  # 15
        "ZD-PART-04": ["以上都不对"],  # 0
    },
]
EXPECTED_TOTALS = [Decimal(65), Decimal(40), Decimal(15)]
EXPECTED_ITEMS = [
    {"ZD-MAP-01": 5, "ZD-ALL-02": 0, "ZD-SEQ-03": 20, "ZD-PART-04": 10, "ZD-TF-05": 10},
    {"ZD-MAP-01": 5, "ZD-ALL-02": 15, "ZD-SEQ-03": 0, "ZD-PART-04": 20, "ZD-TF-05": 0},
    {"ZD-MAP-01": 15, "ZD-ALL-02": 0, "ZD-PART-04": 0, "ZD-PIC-06": 0},
]
RULES = {
    "ZD-MAP-01.v1": "map_response",
    "ZD-ALL-02.v1": "match_correct",
    "ZD-SEQ-03.v1": "exact",
    "ZD-PART-04.v1": "map_response",
    "ZD-TF-05.v1": "exact",
    "ZD-PIC-06.v1": "exact",
}


@pytest.fixture
def central(tmp_path: Path, migrated_db: Database) -> Iterator[CentralDatabase]:
    """Central's database on the same backend as the centre's of this run (``session``
    is parametrised over SQLite and PostgreSQL): both ends on SQLite, then on PostgreSQL."""
    postgres = migrated_db.engine.dialect.name == "postgresql"
    url = make_pg_database() if postgres else f"sqlite:///{tmp_path / 'central.db'}"
    db = CentralDatabase(url)
    upgrade(db)
    yield db
    db.dispose()
    if postgres:
        drop_pg_database(url)


def test_centre_and_central_score_by_the_authors_maps_and_agree(
    central: CentralDatabase, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the centre keeps paper id -> item ids for the life of the process (papers never
    # change); the test's papers are rolled back and their ids reused by other tests
    monkeypatch.setattr(answers, "_ITEM_IDS", {})
    # the bank, from the authored QTI package, and a blueprint of exactly its items
    bank = tmp_path / "bank.sqlite3"
    with BankStore(bank) as store:
        store.import_items(
            read_items([qa.write_package(tmp_path / "qti.zip")]), source="qti", now="t"
        )
    blueprint = tmp_path / "blueprint.json"
    blueprint.write_text(json.dumps(qa.BLUEPRINT, ensure_ascii=False), encoding="utf-8")
    doc = plan_doc(T0, duration=timedelta(minutes=10), windows=(600, 300, 60))
    doc |= {"bank": str(bank), "multiple_policy": "proportional"}
    doc["sittings"][0]["blueprint"] = str(blueprint)
    plan = parse_plan(json.dumps(doc))
    end = plan.sittings[0].end

    # central publishes; the centre (whose key central knows) imports its package
    central_key = Ed25519PrivateKey.generate()
    centre_key = signing_key(session)
    with central.write() as s:
        s.add(
            PlanConfig(
                year=plan.year, name=plan.name, doc=json.loads(plan.model_dump_json()), loaded_at=T0
            )
        )
        s.add(
            CentreAccount(
                code=CENTRE, name="", public_key=public_key_hex(centre_key), registered_at=T0
            )
        )
        import_registrations(
            s,
            write_registrations(tmp_path, registration_rows(4)),
            T0,
            plan=plan,
            catalogue=load_catalogue(s, "henan", T0, by="tests"),
        )
        publish(s, plan, T0, central_key)
    with central.read() as s:
        package = s.scalars(select(Package.data).where(Package.centre_code == CENTRE)).one()
        ps = s.scalars(select(PublishedSitting).where(PublishedSitting.centre_code == CENTRE)).one()
        release, end_secret = ps.release_secret, ps.end_secret
    import_package(
        session,
        T0 - 2 * 3600 * SEC,
        open_package(package, central_key.public_key(), CENTRE),
        by="t",
        central_key=central_key.public_key(),
    )
    sitting = session.scalars(select(Sitting).where(Sitting.code == SITTING)).one()
    assert sitting.plan.multiple_policy == "proportional"

    # candidates answer on their own shuffled papers, as the terminal sends them
    enter_sitting_key(session, T0, sitting, release, by="admin", vault=VAULT)
    attempts = session.scalars(
        select(Attempt).where(Attempt.sitting_id == sitting.id).order_by(Attempt.id)
    ).all()
    answered = []
    for n, picks in enumerate(ANSWERS):
        cand = session.get(Candidate, attempts[n].candidate_id)
        assert cand is not None
        attempt = service.login(
            session,
            T0 + SEC,
            ticket=cand.ticket,
            id_number=cand.id_number,
            terminal_id=f"T{n}",
            seat_label=attempts[n].seat.label,
        ).attempt
        key = paper_key_for(attempt, T0 + 2 * SEC, VAULT)
        assert key is not None
        # the terminal checks central's binding of the paper to this candidate first
        identity = TerminalIdentity(
            f"T{n}", Ed25519PrivateKey.generate(), "", "", CENTRE, central_key.public_key(), None
        )
        _, shuffle, shown = open_paper(
            attempt.paper.ciphertext,
            key,
            cand.ticket,
            binding=attempt.binding,
            identity=identity,
        )
        saves = []
        for q in shown.questions:
            texts = picks.get(q.item_id.split(".")[0], [])
            displayed = [o.label for o in q.options if o.text in texts]
            assert len(displayed) == len(texts)
            if displayed:
                canonical = shuffle.to_canonical(q.item_id, displayed)
                saves.append(
                    SaveRequest(attempt.id, len(saves) + 1, q.item_id, tuple(sorted(canonical)))
                )
        service.save_answers(session, T0 + 3 * SEC, saves)
        answered.append(attempt)
    service.sweep(session, sitting.id, end)
    enter_end_key(session, end, sitting, end_secret, by="admin", vault=VAULT)
    score_sitting(session, end, sitting, VAULT)

    # the centre's scores are the maps' scores, scaled to the paper's points
    for attempt, total, items in zip(answered, EXPECTED_TOTALS, EXPECTED_ITEMS, strict=True):
        assert attempt.score == total
        got = {k.split(".")[0]: Decimal(v) for k, v in (attempt.item_scores or {}).items()}
        assert {k: got[k] for k in items} == {k: Decimal(v) for k, v in items.items()}
    # the audit says which rule scored each item
    scored = session.scalars(select(Event).where(Event.kind == "sitting.scored")).one()
    assert scored.data["rules"] == RULES and scored.data["multiple_policy"] == "proportional"
    report = result_document(session, sitting, end, CENTRE)
    assert report["sitting"]["item_rules"] == RULES

    # central re-scores the signed result package by the same rules and agrees
    with central.write() as s:
        account = s.scalars(select(CentreAccount)).one()
        verdict = take_results(s, account, build_results(session, sitting, end, CENTRE), "u1", end)
    assert (verdict["differences"], verdict["problems"]) == (0, [])
    with central.read() as s:
        central_scores = {r.ticket: r.central_score for r in s.scalars(select(RescoredAttempt))}
        received = s.scalars(
            select(AuditEvent.data).where(AuditEvent.kind == "results.received")
        ).one()
    tickets = [session.get(Candidate, a.candidate_id).ticket for a in answered]  # type: ignore[union-attr]
    assert [central_scores[t] for t in tickets] == EXPECTED_TOTALS
    assert received["rules"] == RULES
    # the results report shows the rule of each item its own rule scored, and no other
    listing = CliRunner().invoke(central_cli, ["results", "--database", central.url])
    assert listing.exit_code == 0, listing.output
    own_line = next(
        line for line in listing.output.splitlines() if "items scored by their own rule" in line
    )
    assert own_line.strip() == (
        "按试题自带的规则计分 (items scored by their own rule): "
        "ZD-ALL-02.v1 match_correct 全对得分（试题规定）；"
        "ZD-MAP-01.v1 map_response 按选项分值映射（试题规定）；"
        "ZD-PART-04.v1 map_response 按选项分值映射（试题规定）"
    )

    # a centre that scored the mapped item by the plan's rule instead is caught
    wrong = result_document(session, sitting, end, CENTRE)
    wrong["sitting"]["item_rules"]["ZD-MAP-01.v1"] = "proportional"
    second = next(a for a in wrong["attempts"] if a["ticket"] == tickets[1])
    second["item_scores"]["ZD-MAP-01.v1"] = "0.00"  # a wrong pick: nothing, by the plan
    second["score"] = "35.00"
    with central.write() as s:
        account = s.scalars(select(CentreAccount)).one()
        caught = take_results(
            s, account, build_result_package(wrong, signing_key(session)), "u2", end
        )
    assert caught["differences"] == 1
    assert any(
        "ZD-MAP-01.v1 的计分规则不同：考点 proportional，省中心 map_response" in p
        for p in caught["problems"]
    )
    with central.read() as s:
        flagged = [
            d
            for r in s.scalars(select(RescoredAttempt).where(RescoredAttempt.ticket == tickets[1]))
            for d in r.differences
        ]
    assert any("ZD-MAP-01.v1 得分不同" in d and "map_response" in d for d in flagged)
