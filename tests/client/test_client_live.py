"""The terminal client as real processes against a real server.

One short sitting, one timeline (to keep the suite fast):

* candidate A logs in before the start, the paper opens at the start, A answers;
  the agent is killed (kill -9) and restarted: it resumes from its journal with the same
  terminal id, the same answers and the same deadline, and loses nothing;
* candidate C's PC dies; C at a spare seat is refused (``wrong_seat``) until the
  invigilator authorises the move; then every acknowledged answer and the deadline are
  there; the dead PC, back up, is refused (``wrong_seat``: C sits elsewhere now) and says so;
* the server is killed for ~12 s (the issue says a minute: 12 s keeps the suite fast;
  nothing in the code depends on the length) while A and C go on answering and the time
  goes on counting; after the restart every change is acknowledged;
* A submits (receipt); C is submitted by the server at the end and the screen says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from exam_server.sittings import service
from exam_server.sittings.models import Attempt
from question_bank.shuffle import shuffle_for
from tests.client.conftest import ClientProcess, Sitting
from tests.factories import clear_paper

pytestmark = pytest.mark.slow


def answer(
    client: ClientProcess, paper: dict[str, Any], n: int, labels: list[str]
) -> dict[str, Any]:
    q = paper["questions"][n]
    reply = client.post("/api/answer", {"item_id": q["item_id"], "labels": labels})
    assert reply["ok"], reply
    return q


def pick(q: dict[str, Any], k: int) -> list[str]:
    """The k-th option (as displayed); two options for a multiple-choice item."""
    labels = [o["label"] for o in q["options"]]
    if q["type"] == "multiple":
        return sorted({labels[k % len(labels)], labels[(k + 1) % len(labels)]})
    return [labels[k % len(labels)]]


def server_answers(s: Sitting, attempt_id: int) -> dict[str, str]:
    with s.db.read() as session:
        return service.current_answers(session, attempt_id)


def test_restart_seat_change_and_server_cut(
    make_sitting: Callable[..., Sitting], clients: Callable[..., ClientProcess]
) -> None:
    # The start comes on the wall clock: the terminal's screen counts down by its own clock,
    # which follows the server's only through precise replies (exam_client/clock.py), so a
    # jump of the centre's clock would reach it late. The end, which the server decides
    # and pushes, comes by moving the centre's clock: the steps before it (a restart, a
    # seat change, a cut) take what they take on a loaded machine.
    s = make_sitting(starts_in=25, duration=600, candidates=3, rules_s=(120, 30, 8))
    paper_clear = clear_paper("2026-001-1", "职业道德")
    expected: dict[int, dict[str, str]] = {0: {}, 2: {}}

    def record(cand: int, q: dict[str, Any], labels: list[str]) -> None:
        shuffle = shuffle_for(paper_clear, s.tickets[cand])
        expected[cand][q["item_id"]] = "".join(sorted(shuffle.to_canonical(q["item_id"], labels)))

    a = clients(s.server.url, s.seats[0], "A")
    c = clients(s.server.url, s.seats[2], "C")
    st = a.wait_for(lambda x: x["online"])
    c.wait_for(lambda x: x["online"])  # a login needs the server: both terminals online
    assert st["screen"] == "login" and st["seat"] == s.seats[0]
    terminal_a = st["terminal_id"]

    # Before the start: log in, confirm, wait with a countdown; no paper yet.
    for cl, n in ((a, 0), (c, 2)):
        ticket, id_number = s.candidate(n)
        logged = cl.post("/api/login", {"ticket": ticket, "id_number": id_number})
        assert logged["ok"], logged
        assert cl.state()["screen"] == "confirm"
        assert cl.post("/api/confirm")["ok"]
    st = a.state()
    assert st["screen"] == "waiting" and not st["paper_ready"] and st["to_start_s"] > 0
    assert a.post("/api/answer", {"item_id": "Q001", "labels": ["A"]})["code"] == "not_started"

    # The start: the key arrives and the paper opens in the candidate's own order.
    a.wait_for(lambda x: x["screen"] == "paper", timeout=45)
    c.wait_for(lambda x: x["screen"] == "paper", timeout=15)
    pa, pc = a.paper(), c.paper()
    assert [q["item_id"] for q in pa["questions"]] == list(
        shuffle_for(paper_clear, s.tickets[0]).order
    )
    assert [q["item_id"] for q in pa["questions"]] != [q["item_id"] for q in pc["questions"]]

    for n in range(3):
        record(0, answer(a, pa, n, pick(pa["questions"][n], n)), pick(pa["questions"][n], n))
    for n in range(2):
        record(2, answer(c, pc, n, pick(pc["questions"][n], 1)), pick(pc["questions"][n], 1))
    deadline = a.state()["sitting"]["deadline"]

    # kill -9 the agent right after a click: the journal has it; the restart resumes.
    q = answer(a, pa, 3, pick(pa["questions"][3], 0))
    record(0, q, pick(pa["questions"][3], 0))
    a.kill()
    a.start()
    st = a.wait_for(lambda x: x["screen"] == "paper" and x["pending"] == 0, timeout=15)
    assert st["terminal_id"] == terminal_a
    assert st["sitting"]["deadline"] == deadline
    assert len(st["answers"]) == 4
    assert server_answers(s, s.attempt_ids[0]) == expected[0]

    # C's PC dies. At a spare seat C is refused until the invigilator authorises the move.
    c.wait_for(lambda x: x["pending"] == 0)
    c.kill()
    c2 = clients(s.server.url, s.spare_seats[0], "C2")
    c2.wait_for(lambda x: x["online"])
    ticket, id_number = s.candidate(2)
    refused = c2.post("/api/login", {"ticket": ticket, "id_number": id_number})
    assert refused["ok"] is False and refused["code"] == "wrong_seat"
    with s.db.write() as session:
        attempt = session.get(Attempt, s.attempt_ids[2])
        assert attempt is not None
        service.authorise_relogin(
            session,
            datetime.now(UTC),
            attempt,
            reason="终端黑屏 / terminal dead",
            by="invigilator:t",
        )
    assert c2.post("/api/login", {"ticket": ticket, "id_number": id_number})["ok"]
    c2.post("/api/confirm")
    st = c2.wait_for(lambda x: x["screen"] == "paper")
    assert st["sitting"]["deadline"] == deadline
    assert c2.paper()["questions"] == pc["questions"]  # same shuffle at the new seat
    shown = st["answers"]
    assert set(shown) == {q["item_id"] for q in pc["questions"][:2]}
    # The dead PC comes back: the candidate now sits elsewhere, so the server refuses its
    # automatic re-login and its screen says so (it never writes to C's attempt again).
    c.start()
    st = c.wait_for(lambda x: x["screen"] == "closed")
    assert st["closed"]["code"] == "wrong_seat" and st["attempt_id"] is None

    # The server goes away; the candidates go on answering; the clock goes on.
    s.server.kill()
    a.wait_for(lambda x: not x["online"], timeout=10)
    left_before = a.state()["time_left_s"]
    cut_started = time.monotonic()
    n = 4
    while time.monotonic() - cut_started < 6:
        for cl, cand, paper in ((a, 0, pa), (c2, 2, pc)):
            if n < len(paper["questions"]):
                labels = pick(paper["questions"][n], 2)
                record(cand, answer(cl, paper, n, labels), labels)
        n += 1
        time.sleep(1.5)
    st = a.state()
    assert not st["online"] and st["pending"] > 0
    # counted on from the last server time, by the PC's monotonic clock (which no test moves)
    assert left_before - st["time_left_s"] >= 5
    s.server.start()
    a.wait_for(lambda x: x["online"] and x["pending"] == 0, timeout=30)
    c2.wait_for(lambda x: x["online"] and x["pending"] == 0, timeout=30)
    assert server_answers(s, s.attempt_ids[0]) == expected[0]
    assert server_answers(s, s.attempt_ids[2]) == expected[2]

    # A submits once allowed; C is submitted by the server at the end.
    a.wait_for(lambda x: x["submit_opens_in_s"] <= 0, timeout=20)
    done = a.post("/api/submit")
    assert done["ok"] and len(done["receipt"]) == 9, done
    st = a.state()
    assert st["screen"] == "submitted" and st["submitted"]["receipt"] == done["receipt"]
    # after submission the screen refuses any change, with the submission's own reason
    assert a.post("/api/answer", {"item_id": "Q001", "labels": ["A"]})["code"] == (
        "attempt_submitted"
    )
    s.jump_to_end()
    st = c2.wait_for(lambda x: x["screen"] == "submitted", timeout=30)
    assert st["submitted"]["reason"] == "deadline" and st["submitted"]["receipt"]

    with s.db.read() as session:
        attempts = {x.id: x for x in session.scalars(select(Attempt))}
        assert attempts[s.attempt_ids[0]].receipt == done["receipt"]
        assert attempts[s.attempt_ids[0]].submitted_by == "candidate"
        assert attempts[s.attempt_ids[2]].submitted_by == "deadline"
        assert attempts[s.attempt_ids[2]].receipt == st["submitted"]["receipt"]
    assert server_answers(s, s.attempt_ids[0]) == expected[0]
    assert server_answers(s, s.attempt_ids[2]) == expected[2]
    assert datetime.now(UTC) - s.end < timedelta(seconds=60)
