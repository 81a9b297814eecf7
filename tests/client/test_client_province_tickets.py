"""A real terminal with the province's ticket rule: the plan carries Henan's rule (12
digits, no check digit), and a candidate with a ``2508…`` number, which our own layout's
check digit refuses, logs in through the real agent (``exam-client run``), sits and
submits; a number that breaks the province's rule is refused at the terminal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from exam_common.tickets import GENERATED, TicketError
from exam_server.candidates.models import Candidate
from exam_server.sittings.models import Attempt
from tests.client.conftest import ClientProcess, Sitting

pytestmark = pytest.mark.slow


def test_a_henan_ticket_logs_in_sits_and_submits_on_a_real_terminal(
    make_sitting: Callable[..., Sitting], clients: Callable[..., ClientProcess]
) -> None:
    s = make_sitting(starts_in=20, duration=600, candidates=2, tickets="province")
    ticket, id_number = s.candidate(0)
    assert ticket == "250800610001"  # the registration manual's sample number
    with pytest.raises(TicketError):
        GENERATED.verify(ticket)  # our own layout's check digit would refuse it

    term = clients(s.server.url, s.seats[0], "henan")
    st = term.wait_for(lambda x: x["online"] and x["ticket_rule"] is not None)
    rule = st["ticket_rule"]
    assert (rule["max_length"], rule["charset"], rule["check"]) == (12, "digits", None), rule

    # The province's rule at the keyboard: a digit short never reaches the server.
    short = term.post("/api/login", {"ticket": ticket[:-1], "id_number": id_number})
    assert short["ok"] is False and short["code"] == "ticket_length", short
    assert "应为 12 位，输入了 11 位" in short["message"]

    logged = term.post(
        "/api/login", {"ticket": f" {ticket[:4]} {ticket[4:]} ", "id_number": id_number}
    )
    assert logged["ok"], logged
    assert term.state()["screen"] == "confirm"
    assert term.post("/api/confirm")["ok"]

    term.wait_for(lambda x: x["screen"] == "paper", timeout=60)
    q = term.paper()["questions"][0]
    labels = (
        [q["options"][0]["label"]]
        if q["type"] != "multiple"
        else [o["label"] for o in q["options"][:2]]
    )
    assert term.post("/api/answer", {"item_id": q["item_id"], "labels": labels})["ok"]
    term.wait_for(lambda x: x["pending"] == 0 and x["submit_opens_in_s"] <= 0, timeout=30)
    done = term.post("/api/submit")
    assert done["ok"] and len(done["receipt"]) == 9, done

    with s.db.read() as session:
        attempt = session.get(Attempt, s.attempt_ids[0])
        assert attempt is not None
        assert attempt.submitted_by == "candidate" and attempt.receipt == done["receipt"]
        assert (
            session.scalar(select(Candidate.ticket).where(Candidate.id == attempt.candidate_id))
            == ticket
        )  # kept as the province issued it
