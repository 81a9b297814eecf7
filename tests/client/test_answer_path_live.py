"""The answer path through a real server and real clients: a late older change, a whole
send window over long-polling (the official JavaScript ``socket.io-client`` and the
project's agent), and a change the server cannot store, which the terminal and the
console must show instead of retrying in silence."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, text

from exam_client.agent import Agent, AgentConfig
from exam_client.journal import Change, MemoryJournal
from exam_common import protocol as p
from exam_server.plans.models import Sitting as PlanSitting
from exam_server.sittings import service
from exam_server.sittings.models import Attempt
from tests.client.conftest import Sitting
from tests.conftest import require
from tests.live import Terminal

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
JS_CLIENT = Path(__file__).parent / "js" / "polling_saves.mjs"
ITEMS = [f"Q{i:03d}" for i in range(1, 11)]


def started(make_sitting: Callable[..., Sitting]) -> Sitting:
    """A sitting that started a moment ago: five minutes long, submission open at once."""
    return make_sitting(starts_in=-2, duration=300, candidates=3, rules_s=(120, 120, 0))


def stored(s: Sitting, attempt_id: int) -> tuple[int, dict[str, str]]:
    with s.db.read() as session:
        last = session.scalar(select(Attempt.last_seq).where(Attempt.id == attempt_id))
        return int(last or 0), service.current_answers(session, attempt_id)


def wait_for(pred: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_a_login_is_judged_by_the_sitting_it_names_and_a_resume_enters_only_its_own(
    make_sitting: Callable[..., Sitting],
) -> None:
    """``Login.sitting_id`` reaches the service through the socket: a login naming the
    next sitting is judged by that sitting's rules (its entry window is not open yet),
    never by the open sitting's; a resume token enters only its own attempt's sitting."""
    s = make_sitting(starts_in=-2, duration=300, candidates=1, rules_s=(120, 120, 0), sittings=2)
    with s.db.read() as session:
        first, second = session.scalars(select(PlanSitting.id).order_by(PlanSitting.start))
    term = Terminal(s.server.url, terminal_id="T-NAMED", seat=s.seats[0])
    try:
        assert term.hello()["ok"]
        ticket, id_number = s.candidate(0)
        later = term.login(ticket, id_number, sitting_id=second)
        assert (later["ok"], later.get("code")) == (False, "entry_not_open"), later
        login = term.login(ticket, id_number, sitting_id=first)
        assert login["ok"] and login["sitting"]["sitting_id"] == first, login
        aid, token = login["attempt_id"], login["resume_token"]
        wrong = term.resume(aid, token, sitting_id=second)
        assert (wrong["ok"], wrong.get("code")) == (False, "resume_wrong_sitting"), wrong
        assert "身份证号" in wrong["message"]  # says what to do: log in with the ID number
        again = term.resume(aid, token, sitting_id=first)
        assert again["ok"] and again["attempt_id"] == aid, again
    finally:
        term.close()


def test_a_late_older_change_is_stored_and_the_candidate_can_submit(
    make_sitting: Callable[..., Sitting],
) -> None:
    """The bug of issue 15: seq 2 for one item, then seq 1 for another (an older change
    that arrived late) was refused with ``server_busy``/retry for ever."""
    s = started(make_sitting)
    for transports in (("websocket",), ("polling",)):
        n = 0 if transports == ("websocket",) else 1
        term = Terminal(s.server.url, terminal_id=f"T-{n}", seat=s.seats[n], transports=transports)
        try:
            assert term.hello()["ok"]
            login = term.login(*s.candidate(n))
            assert login["ok"], login
            aid = login["attempt_id"]
            newer = term.save(aid, 2, "Q002", ["B"])
            older = term.save(aid, 1, "Q001", ["A"])
            assert newer["ok"] and not newer["duplicate"], newer
            assert older["ok"] and not older["duplicate"], older
            assert term.save(aid, 1, "Q001", ["A"])["duplicate"] is True
            done = term.submit(aid, 2)
            assert done["ok"], done
        finally:
            term.close()
        assert stored(s, aid) == (2, {"Q001": "A", "Q002": "B"})
    assert "A value is required" not in s.server.log()


def test_a_whole_window_over_long_polling_with_the_official_client(
    make_sitting: Callable[..., Sitting],
) -> None:
    node = shutil.which("node")
    require(node is not None, "Node.js", "apt-get install nodejs npm")
    require(
        (ROOT / "node_modules" / "socket.io-client").exists(),
        "socket.io-client from npm",
        "run `npm ci` in the project folder (make does it)",
    )
    s = started(make_sitting)
    ticket, id_number = s.candidate(0)
    identity = s.server.enrol(s.seats[0], terminal_id="JS-POLL")
    key = s.tmp / "js-terminal.key"
    key.write_bytes(
        identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    run = subprocess.run(
        [
            str(node),
            str(JS_CLIENT),
            s.server.url,
            s.seats[0],
            ticket,
            id_number,
            "64",
            "JS-POLL",
            str(key),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
    )
    assert run.returncode == 0, (run.stdout, run.stderr, s.server.log()[-3000:])
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["transport"] == "polling"
    replies = out["replies"]
    assert len(replies) == 64
    refused = [r for r in replies if not r.get("ok")]
    # a refusal names its cause only in the server's log: show it
    assert all(r["ok"] and not r["duplicate"] for r in replies), (refused, s.server.log()[-4000:])
    assert sorted(r["seq"] for r in replies) == list(range(1, 65))
    last, answers = stored(s, out["attempt_id"])
    # each item's answer is its highest sequence number's (the script's scheme)
    expected: dict[str, str] = {}
    for seq in range(1, 65):
        expected[ITEMS[seq % 10]] = "" if seq % 3 == 0 else ("A" if seq % 2 else "B")
    assert last == 64
    assert answers == {k: v for k, v in expected.items() if v}
    assert "Too many packets" not in s.server.log()


def test_a_whole_window_over_long_polling_with_the_agent(
    make_sitting: Callable[..., Sitting],
) -> None:
    """A terminal back from an outage with a full window of changes in its journal sends
    them at once; over long-polling they travel in one payload, and every one lands."""
    s = started(make_sitting)
    ticket, id_number = s.candidate(1)
    aid = s.attempt_ids[1]
    identity = s.server.enrol(s.seats[1])
    journal = MemoryJournal(identity.terminal_id)
    # The candidate logged in at this terminal before the outage (its resume token, never
    # the ID number, is in the journal); the changes made during it wait there.
    before = Agent(
        AgentConfig(server=s.server.url, identity=identity, preload=False), journal
    ).start()
    try:
        wait_for(lambda: before.online, 20, "the agent connects")
        assert before.login(ticket, id_number)["ok"]
    finally:
        before.stop()
    assert id_number not in str(journal.get("session"))
    now = datetime.now(UTC).isoformat()
    for seq in range(1, p.SEND_WINDOW + 1):
        journal.record(Change(aid, seq, ITEMS[seq % 10], "AB"[seq % 2], now))
    agent = Agent(
        AgentConfig(server=s.server.url, identity=identity, transports=("polling",), preload=False),
        journal,
    ).start()
    try:
        wait_for(lambda: agent.pending_count == 0 and agent.attempt_id, 60, "every change acked")
        assert agent.stats.acknowledged == p.SEND_WINDOW
        assert not agent.refusals
    finally:
        agent.stop()
    assert [c.seq for c in journal.pending(aid)] == []
    last, answers = stored(s, aid)
    assert last == p.SEND_WINDOW
    assert answers == {ITEMS[seq % 10]: "AB"[seq % 2] for seq in range(55, 65)}
    assert "Too many packets" not in s.server.log()


def test_a_change_the_server_cannot_store_is_shown_not_retried_in_silence(
    make_sitting: Callable[..., Sitting],
) -> None:
    s = started(make_sitting)
    # The database refuses one item's answers (standing in for any fault of one save).
    with s.db.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_q003 BEFORE INSERT ON answer WHEN NEW.item_id = 'Q003' "
                "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
            )
        )
    ticket, id_number = s.candidate(2)
    agent = Agent(
        AgentConfig(
            server=s.server.url,
            identity=s.server.enrol(s.seats[2]),
            stall_s=1.5,
            retry_s=0.2,
            heartbeat_s=0.5,
            preload=False,
        ),
        MemoryJournal("T-STALL"),
    ).start()
    try:
        wait_for(lambda: agent.online, 20, "the agent connects")
        assert agent.login(ticket, id_number)["ok"]
        agent.confirm()
        wait_for(lambda: agent.paper_json(), 20, "the paper opens")
        paper = agent.paper_json()
        assert paper is not None
        shown = {q["item_id"]: q["options"][0]["label"] for q in paper["questions"]}
        agent.answer("Q001", [shown["Q001"]])
        agent.answer("Q003", [shown["Q003"]])
        agent.answer("Q002", [shown["Q002"]])
        # The others are stored though the one fails in the same moment.
        wait_for(lambda: stored(s, agent.attempt_id or 0)[1].keys() == {"Q001", "Q002"}, 10, "")
        # (their acknowledgements follow the commit by a moment)
        wait_for(lambda: agent.pending_count == 1, 5, "the two acknowledged")
        assert agent.stall() is None
        stall = wait_for(agent.stall, 10, "the stall")
        assert isinstance(stall, dict)
        assert stall["count"] == 1 and stall["code"] == "server_error"
        assert "监考" in stall["message"]  # the server's words: tell the invigilator
        assert agent.snapshot()["stall"] == stall | {
            "since_s": agent.snapshot()["stall"]["since_s"]
        }
        # The heartbeat carried it to the server (the console shows the seat red).
        wait_for(
            lambda: "answer change(s) not stored for" in s.server.log(), 10, "the server hears"
        )
        # Repaired: the change lands, the stall clears, the candidate can submit.
        with s.db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_q003"))
        wait_for(lambda: agent.pending_count == 0, 10, "the change lands")
        assert agent.stall() is None
        assert agent.submit()["ok"]
    finally:
        agent.stop()
    assert set(stored(s, s.attempt_ids[2])[1]) == {"Q001", "Q002", "Q003"}
