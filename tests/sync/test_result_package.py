"""The centre's result package, checked the way central checks it: signed by the centre,
every answer change, receipts that recompute, a log whose entries hash, scores that agree;
and any change to an answer or a log entry shows."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from central.service import check_event_log, rescore_attempt
from exam_common.receipts import answers_digest, receipt_code
from exam_common.result_package import ResultPackageError, open_result_package
from exam_server.clock import ManualClock
from exam_server.results.package import build_results
from exam_server.scoring.service import score_sitting
from exam_server.sittings import service
from exam_server.system.keys import signing_key
from question_bank.package import decrypt_answer_key, derive_end_key
from question_bank.scoring import MultiplePolicy
from tests.factories import (
    END_SECRET,
    VAULT,
    id_number_for,
    make_world,
    seat_label,
    ticket_for,
)


def test_result_package_is_complete_and_checks_out(session: Session, clock: ManualClock) -> None:
    world = make_world(session, start=clock.now(), duration=timedelta(minutes=60), candidates=3)
    sitting = world.sittings[0]
    clock.advance(timedelta(minutes=5))
    for n in (1, 2):
        service.login(
            session,
            clock.now(),
            ticket=ticket_for(n),
            id_number=id_number_for(n),
            terminal_id=f"T{n}",
            seat_label=seat_label(world, n - 1),
        )
    service.sweep(session, sitting.id, clock.now())
    a1, a2 = world.attempt(0), world.attempt(1)
    saves = [
        service.SaveRequest(a1.id, 1, "Q001", ("B",)),
        service.SaveRequest(a1.id, 2, "Q001", ("A",)),  # changed: both changes travel
        service.SaveRequest(a1.id, 3, "Q007", ("A", "C")),
        service.SaveRequest(a2.id, 1, "Q009", ("T",)),
    ]
    assert not [
        r for r in service.save_answers(session, clock.now(), saves) if isinstance(r, Exception)
    ]
    clock.advance(timedelta(minutes=60))
    service.sweep(session, sitting.id, clock.now())
    world.plan.forms = [
        {
            "level": world.candidates[0].level,
            "parts": [
                {
                    "subject": "ZYDD",
                    "name": sitting.subject,
                    "delivery": "cbt",
                    "full_marks": "100",
                    "line": "35",
                }
            ],
        }
    ]
    sitting.end_key = VAULT.seal(
        derive_end_key(END_SECRET, sitting.code), sitting_code=sitting.code, kind="end"
    )
    score_sitting(session, clock.now(), sitting, VAULT)
    service.sweep(session, sitting.id, clock.now())

    data = build_results(session, sitting, clock.now(), "0101")
    key = signing_key(session)
    doc = open_result_package(data, key.public_key())
    with pytest.raises(ResultPackageError) as err:
        open_result_package(data, Ed25519PrivateKey.generate().public_key())
    assert err.value.code == "bad_results_signature"

    assert doc["centre_code"] == "0101" and doc["sitting"]["code"] == sitting.code
    by_ticket = {a["ticket"]: a for a in doc["attempts"]}
    assert len(by_ticket) == 3
    first = by_ticket[ticket_for(1)]
    assert [(x["seq"], x["item_id"], x["response"]) for x in first["answers"]] == [
        (1, "Q001", "B"),
        (2, "Q001", "A"),
        (3, "Q007", "AC"),
    ]
    assert first["digest"] == answers_digest(
        ticket_for(1), sitting.code, {"Q001": "A", "Q007": "AC"}
    )
    assert first["receipt"] == receipt_code(first["signature"])
    assert by_ticket[ticket_for(3)]["state"] == "absent"
    assert {r["ticket"] for r in doc["candidate_results"]} == {ticket_for(n) for n in (1, 2, 3)}

    # Central's checks pass on the honest package...
    assert check_event_log(doc["event_log"], None) == []
    keys = decrypt_answer_key(sitting.answer_key_blob, derive_end_key(END_SECRET, sitting.code))
    for a in doc["attempts"]:
        score, receipt_ok, diffs = rescore_attempt(
            a, sitting.code, keys, MultiplePolicy.ALL_OR_NOTHING, key.public_key()
        )
        assert diffs == [] and receipt_ok
        assert (score is None) == (a["score"] is None)
        if score is not None:
            assert score == Decimal(a["score"])

    # ...and any change shows.
    altered = copy.deepcopy(first)
    altered["answers"][1]["response"] = "B"
    _, receipt_ok, diffs = rescore_attempt(
        altered, sitting.code, keys, MultiplePolicy.ALL_OR_NOTHING, key.public_key()
    )
    assert not receipt_ok and any("摘要" in d for d in diffs)
    log = copy.deepcopy(doc["event_log"])
    log["entries"][0]["data"] = {"forged": True}
    assert any("哈希不符" in p for p in check_event_log(log, None))
    assert any("链头" in p for p in check_event_log(doc["event_log"], (10**6, "f" * 64)))
