"""The client's parts without a server: journal, clock, login merge and sequence numbers,
answers mapped to canonical labels, the UI's lockdown, the kiosk command line."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_client.agent import Agent, AgentConfig, AgentError, open_paper
from exam_client.clock import ServerClock
from exam_client.identity import TerminalIdentity
from exam_client.journal import Change, MemoryJournal, SqliteJournal
from exam_client.kiosk import kiosk_command
from exam_client.ui import SEB_HEADER, UiOptions, create_ui, seb_hash
from exam_common import protocol as p
from question_bank.bindings import PaperBinding, sign_binding
from question_bank.shuffle import shuffle_for
from tests.factories import CENTRAL_KEY, DATA_KEY, ITEMS, clear_paper, sealed

T0 = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
TICKET = "260001001017"
#: an enrolled terminal's identity (central's key pinned, as ``exam-client enrol`` keeps it)
IDENTITY = TerminalIdentity(
    terminal_id="T-unit",
    key=Ed25519PrivateKey.generate(),
    server="http://127.0.0.1:1",
    seat="01-01",
    centre="001",
    central_key=CENTRAL_KEY.public_key(),
    ca_path=None,
)


def binding_of(ciphertext: bytes, ticket: str = TICKET) -> str:
    """Central's binding of the test paper to ``ticket`` at seat 01-01."""
    return sign_binding(
        CENTRAL_KEY,
        PaperBinding(
            centre="001",
            sitting="2026-001-1",
            paper_id="P-2026-001-1",
            variant=1,
            sha256=hashlib.sha256(ciphertext).hexdigest(),
            ticket=ticket,
            room="01",
            seat=1,
        ),
    )


def test_sqlite_journal_is_durable_and_keeps_its_terminal_id(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    j = SqliteJournal(path)
    tid = j.terminal_id
    assert tid.startswith("T-")
    j.record(Change(7, 1, "Q001", "A", T0.isoformat()))
    j.record(Change(7, 2, "Q002", "BC", T0.isoformat()))
    j.record(Change(7, 3, "Q001", "", T0.isoformat()))
    j.mark_acked(7, [1])
    j.mark_refused(7, 2, "deadline_passed")
    j.set_flag(7, "Q003", True)
    j.cache_paper("ab" * 32, 1, "P-1", b"\x00ciphertext")
    j.put("session", {"ticket": TICKET, "stage": "ready"})
    j.close()

    again = SqliteJournal(path)
    assert again.terminal_id == tid
    assert [c.seq for c in again.pending(7)] == [3]
    assert again.max_seq(7) == 3 and again.max_seq(8) == 0
    assert [c.refused for c in again.changes(7)] == [None, "deadline_passed", None]
    assert again.flags(7) == {"Q003"}
    assert again.cached_papers() == {"ab" * 32: (1, "P-1", b"\x00ciphertext")}
    assert again.get("session") == {"ticket": TICKET, "stage": "ready"}
    again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_clock_runs_on_the_monotonic_clock_from_the_last_server_time() -> None:
    mono = [100.0]
    clock = ServerClock(monotonic=lambda: mono[0])
    assert clock.now() is None
    clock.observe(T0, sent_mono=99.9, received_mono=100.0)  # rtt 0.1 s
    assert clock.now() == T0 + timedelta(seconds=0.05)
    mono[0] = 160.0  # a minute later, server unreachable: time goes on
    assert clock.now() == T0 + timedelta(seconds=60.05)
    # A slow reply (rtt 5 s) does not replace a precise anchor...
    clock.observe(T0 + timedelta(seconds=70), sent_mono=155.0, received_mono=160.0)
    assert clock.now() == T0 + timedelta(seconds=60.05)
    # ...a precise one does.
    clock.observe(T0 + timedelta(seconds=61), sent_mono=159.98, received_mono=160.0)
    assert clock.now() == T0 + timedelta(seconds=61.01)


def login_ok(**kw: object) -> p.LoginOk:
    ciphertext, _, _ = sealed("2026-001-1", "职业道德")
    base = {
        "attempt_id": 7,
        "state": "in_progress",
        "server_time": T0,
        "candidate": p.CandidateInfo(name="考生1", ticket=TICKET, trade="电工", level="4"),
        "sitting": p.SittingInfo(
            sitting_id=1,
            subject="职业道德",
            sitting_code="2026-001-1",
            start=T0,
            end=T0 + timedelta(hours=1),
            submit_opens=T0 + timedelta(minutes=30),
            deadline=T0 + timedelta(hours=1),
            time_left_s=3600,
            paused=False,
        ),
        "items": tuple(p.ItemRef(**i) for i in ITEMS),
        "answers": {"Q001": ("A",), "Q002": ("B",)},
        "last_seq": 5,
        "paper": base64.b64encode(ciphertext).decode(),
        "paper_key": base64.b64encode(DATA_KEY).decode(),
        "binding": binding_of(ciphertext),
    }
    return p.LoginOk(**(base | kw))  # type: ignore[arg-type]


def test_login_merges_the_journal_and_sequence_numbers_continue() -> None:
    journal = MemoryJournal("T-unit")
    # Seq 4 (acked) and 6 (not yet acknowledged: the agent died right after the click).
    journal.record(Change(7, 4, "Q002", "B", T0.isoformat(), acked=True))
    journal.record(Change(7, 6, "Q001", "C", T0.isoformat()))
    agent = Agent(
        AgentConfig(server="http://127.0.0.1:1", seat="01-01", identity=IDENTITY), journal
    )
    agent._take_login(login_ok(), {"ticket": TICKET, "id_number": "x", "stage": "ready"}, 0)
    assert agent.answers == {"Q001": "C", "Q002": "B"}  # the journal's newer change shows
    assert "id_number" not in journal.get("session")  # a terminal keeps no ID number
    assert agent.outbox.seqs() == [6]  # and will be re-sent with its own seq
    assert agent._next_seq == 7
    assert agent.screen() == "paper"
    # The server may know more (another terminal before a seat change): continue after it.
    other = Agent(
        AgentConfig(server="http://127.0.0.1:1", seat="01-02", identity=IDENTITY), MemoryJournal()
    )
    other._take_login(login_ok(last_seq=40), {"ticket": TICKET, "id_number": "x"}, 0)
    assert other._next_seq == 41 and other.screen() == "confirm"


def test_a_paper_is_not_opened_when_the_server_does_not_name_its_sitting() -> None:
    """Central's binding names a sitting; a login reply that does not say which sitting
    the candidate logged in to (an older or a rogue server) cannot be checked against it:
    the paper stays closed (``paper_unverified``)."""
    agent = Agent(
        AgentConfig(server="http://127.0.0.1:1", seat="01-01", identity=IDENTITY), MemoryJournal()
    )
    unnamed = login_ok().sitting.model_copy(update={"sitting_code": None})
    agent._take_login(login_ok(sitting=unnamed), {"ticket": TICKET, "stage": "ready"}, 0)
    assert agent.shown is None and agent.closed is not None
    assert (
        agent.closed["code"] == "paper_unverified"
        and "did not name the sitting" in (agent.closed["message"])
    )


def test_answers_are_journaled_in_canonical_labels_before_sending() -> None:
    journal = MemoryJournal("T-unit")
    agent = Agent(
        AgentConfig(server="http://127.0.0.1:1", seat="01-01", identity=IDENTITY), journal
    )
    agent._take_login(
        login_ok(answers={}, last_seq=0), {"ticket": TICKET, "id_number": "x", "stage": "ready"}, 0
    )
    shuffle = shuffle_for(clear_paper("2026-001-1", "职业道德"), TICKET)
    multiple = next(i for i in shuffle.order if shuffle.types[i].value == "multiple")
    assert agent.answer(multiple, ["A", "B"]) == {"ok": True, "seq": 1}
    (change,) = journal.pending(7)
    assert change.response == "".join(sorted(shuffle.to_canonical(multiple, ["A", "B"])))
    assert agent.snapshot()["answers"] == {multiple: ["A", "B"]}  # shown as displayed
    assert agent.answer(multiple, ["A", "B"])["seq"] is None  # no change, nothing sent
    with pytest.raises(ValueError):
        agent.answer(multiple, ["Z"])
    now = time.monotonic()
    agent.clock.observe(T0 + timedelta(minutes=10), now, now)
    with pytest.raises(AgentError) as exc:
        agent.submit()
    assert exc.value.code == "submit_too_early"


def test_the_ui_refuses_other_hosts_and_browsers_without_the_seb_key() -> None:
    agent = Agent(
        AgentConfig(server="http://127.0.0.1:1", seat="01-01", identity=IDENTITY), MemoryJournal()
    )
    app = create_ui(agent, UiOptions(port=8765, seb_config_key="c0ffee"))
    client = app.test_client()
    base = "http://127.0.0.1:8765"
    refused = client.get("/", base_url=base)
    assert refused.status_code == 403 and "安全考试浏览器" in refused.get_data(as_text=True)
    assert 'charset="utf-8"' in refused.get_data(as_text=True)
    ok = client.get("/", base_url=base, headers={SEB_HEADER: seb_hash(base + "/", "c0ffee")})
    assert ok.status_code == 200 and '<meta charset="utf-8">' in ok.get_data(as_text=True)
    assert "script-src 'self'" in ok.headers["Content-Security-Policy"]
    evil = client.get("/api/state", base_url="http://evil.example:8765")
    assert evil.status_code == 403
    open_app = create_ui(agent, UiOptions(port=8765)).test_client()
    state = open_app.get("/api/state", base_url=base).get_json()
    assert state["screen"] == "login" and state["online"] is False


def test_the_kiosk_command_locks_chromium_down(tmp_path: Path) -> None:
    cmd = kiosk_command("http://127.0.0.1:8765/", "/usr/bin/chromium", tmp_path)
    for flag in ("--kiosk", "--incognito", "--disable-extensions", "--disable-pinch"):
        assert flag in cmd
    assert f"--user-data-dir={tmp_path}" in cmd and cmd[-1] == "http://127.0.0.1:8765/"


def test_simulator_slices_merge_before_the_percentiles() -> None:
    from exam_client.simulate import COUNTERS, COUNTS, SimOptions, merge, summarise

    def raw(acks: list[float], refused: dict[str, int], answered: int) -> dict[str, object]:
        r: dict[str, object] = {k: 1 for k in COUNTS}
        r.update(
            elapsed_s=10.0,
            peak_threads=30,
            terminals=1,
            errors=[],
            answered=answered,
            acknowledged=len(acks),
            ack_latency=acks,
            rtt=acks,
            key_to_open=[0.001],
            start_to_open=[0.5],
            measured_s=8.0,
            acked_before_measure=2,
        )
        r.update({k: {} for k in COUNTERS})
        r["refused"] = refused
        return r

    merged = merge([raw([0.01] * 98, {}, 98), raw([2.0, 3.0], {"deadline_passed": 1}, 3)])
    report = summarise(merged, SimOptions(server="http://x", terminals=2, processes=2))
    assert report["terminals"] == 2 and report["peak_threads"] == 60
    assert report["answered"] == 101 and report["acknowledged"] == 100 and report["lost"] == 0
    assert report["refused"] == {"deadline_passed": 1}
    assert report["ack_latency_ms"]["p50"] == 10.0 and report["ack_latency_ms"]["max"] == 3000.0
    assert report["ack_latency_ms"]["p99"] == 3000.0 and report["ack_latency_ms"]["count"] == 100
    # The measured window is the shortest slice's; warm-up acks are left out of the rate.
    assert report["measured_s"] == 8.0 and report["acked_measured"] == 96


def test_pushes_are_typed_and_a_broadcast_reaches_the_screen() -> None:
    agent = Agent(
        AgentConfig(server="http://127.0.0.1:1", seat="01-01", identity=IDENTITY), MemoryJournal()
    )
    at = T0 + timedelta(minutes=20)
    agent._on_broadcast(
        p.dump(p.Broadcast(sitting_id=1, room_id=3, text="请保持安静", sender="监考", at=at))
    )
    # Malformed pushes are dropped, never shown: empty text, unknown sender, extra field.
    agent._on_broadcast({"sitting_id": 1, "room_id": 3, "text": "", "sender": "监考", "at": at})
    agent._on_broadcast({"sitting_id": 1, "room_id": 3, "text": "x", "sender": "?", "at": at})
    agent._on_broadcast(None)
    (message,) = agent.snapshot()["messages"]
    assert message["text"] == "请保持安静" and message["sender"] == "监考"
    assert datetime.fromisoformat(message["at"]) == at
    # Hints only prompt a status call, malformed or not.
    agent._next_status = 99.0
    agent._on_hint("paused", {"sitting_id": 1, "room_id": None, "at": at.isoformat()})
    assert agent._next_status == 0.0
    agent._next_status = 99.0
    agent._on_hint("clock", {"attempt_id": "seven"})
    assert agent._next_status == 0.0
    with pytest.raises(p.ProtocolError, match="Broadcast.text"):
        p.parse(
            p.Broadcast,
            {
                "sitting_id": 1,
                "room_id": None,
                "text": "x" * 501,
                "sender": "主考",
                "at": at.isoformat(),
            },
        )
    assert set(p.PUSHES) == {
        "sitting_started",
        "attempt_submitted",
        "clock",
        "paused",
        "resumed",
        "broadcast",
    }


def test_the_terminal_shows_each_body_as_written_with_fixed_options_in_place(
    tmp_path: Path,
) -> None:
    """The authored QTI items on a paper, decrypted and shuffled as the terminal does:
    the page gets each body in order (pictures with their alt text), "以上都不对" stays
    last for every candidate, the unshuffled item keeps its order."""
    from question_bank.package import encrypt_paper
    from tests.question_bank import qti_authored as qa

    paper = qa.authored_assembly(tmp_path).papers[0].paper()
    ciphertext = encrypt_paper(paper, DATA_KEY)
    agent = Agent(AgentConfig(server="http://127.0.0.1:1", seat="01-01"), MemoryJournal())
    firsts = set()
    for n in range(40):
        ticket = f"2641{n:08d}"
        binding = binding_of(ciphertext, ticket)
        agent.paper, agent.shuffle, agent.shown = open_paper(
            ciphertext, DATA_KEY, ticket, binding=binding, identity=IDENTITY
        )
        doc = agent.paper_json()
        assert doc is not None
        q = {x["item_id"].split(".")[0]: x for x in doc["questions"]}
        assert q["ZD-MAP-01"]["options"][3] == {"label": "D", "text": "以上都不对"}
        firsts.add(q["ZD-MAP-01"]["options"][0]["text"])
        assert [o["text"] for o in q["ZD-SEQ-03"]["options"]] == [
            "前一项的结果",
            "前两项的总结",
            "与前三项无关",
        ]
        body = q["ZD-MAP-01"]["body"]
        assert [sorted(b) for b in body] == [["text"], ["alt", "image"], ["text"]]
        assert body[1]["alt"] == "宣传画：爱岗敬业、诚实守信、办事公道"
        assert body[1]["image"] == "data:image/png;base64," + base64.b64encode(qa.PNG).decode()
        assert body[2]["text"] == "下列属于职业道德基本要求的有（  ）。"
        pic = q["ZD-PIC-06"]["body"]
        assert pic[0]["image"].startswith("data:image/svg+xml;base64,") and "text" in pic[1]
    assert len(firsts) == 3  # the three other options do move


def test_the_provinces_ticket_rule_is_applied_before_anything_is_sent() -> None:
    """The rule the server gave (``rules``): a number that breaks it never leaves the
    terminal, whatever the link; one that follows it goes on to the server."""
    from exam_common.tickets import TicketRule

    agent = Agent(AgentConfig(server="http://127.0.0.1:1", seat="01-01"), MemoryJournal())
    idn = "411502198608150027"
    assert agent.login("25080061000", idn)["code"] == "offline"  # no rule yet: the server checks
    agent.ticket_rule = TicketRule(name="河南工考", length=12, charset="digits")
    short = agent.login("25080061000", idn)
    assert short["code"] == "ticket_length" and "应为 12 位，输入了 11 位" in short["message"]
    assert "12" in short["message_en"]
    assert agent.login("2508 0061 000A", idn)["code"] == "ticket_chars"
    assert agent.login(" 2508 0061 0001 ", idn)["code"] == "offline"  # follows the rule
    snap = agent.snapshot()
    assert snap["ticket_rule"]["max_length"] == 12 and snap["ticket_rule"]["charset"] == "digits"
    assert snap["windows"] is None


# --- a stall: changes the server keeps refusing, or never answers, while the link is up ---


class FakeLink:
    """A Socket.IO link whose saves go out and get what ``reply`` says: a reply, or none
    at all (a lost packet, a server that hangs: the client still shows as connected)."""

    def __init__(self) -> None:
        self.reply: dict[str, object] | None = None
        self.saves: list[int] = []
        self.heartbeats: list[dict[str, object]] = []

    def emit(self, event: str, payload: dict[str, object], **kw: object) -> None:
        assert event == "save"
        self.saves.append(int(payload["seq"]))  # type: ignore[call-overload]
        callback = kw.get("callback")
        if self.reply is not None and callable(callback):
            callback(self.reply)

    def call(self, event: str, payload: dict[str, object], **kw: object) -> dict[str, object]:
        assert event == "heartbeat"
        self.heartbeats.append(payload)
        return {"ok": False, "code": "server_busy", "message": "", "retry": True}


def stalling_agent(monkeypatch: pytest.MonkeyPatch) -> tuple[Agent, FakeLink, list[float]]:
    """A logged-in agent on a fake link, its monotonic clock in the test's hand."""
    import exam_client.agent as agent_module

    mono = [1000.0]
    monkeypatch.setattr(
        agent_module, "time", type("T", (), {"monotonic": staticmethod(lambda: mono[0])})
    )
    agent = Agent(
        AgentConfig(server="http://127.0.0.1:1", seat="01-01", identity=IDENTITY, stall_s=60),
        MemoryJournal("T-unit"),
    )
    agent._take_login(
        login_ok(answers={}, last_seq=0), {"ticket": TICKET, "id_number": "x", "stage": "ready"}, 0
    )
    agent._online, agent._handshake_epoch = True, agent._epoch
    return agent, FakeLink(), mono


def run_for(agent: Agent, link: FakeLink, mono: list[float], seconds: float) -> None:
    """The agent's loop sending what is due, a second at a time."""
    end = mono[0] + seconds
    while mono[0] < end:
        agent._send_pending(link, agent._epoch)  # type: ignore[arg-type]
        mono[0] += 1.0


def ack(agent: Agent, seq: int) -> None:
    agent._on_save_reply(7, seq, {"ok": True, "seq": seq, "duplicate": False, "server_time": T0})


def test_a_change_never_answered_while_online_is_a_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    agent, link, mono = stalling_agent(monkeypatch)
    shown = agent.paper_json()
    assert shown is not None
    first = shown["questions"][0]
    agent.answer(first["item_id"], [first["options"][0]["label"]])
    run_for(agent, link, mono, 59)
    assert link.saves == [1] * 6  # sent, and re-sent every resend_s: no reply ever
    assert agent.stall() is None  # not yet a minute
    run_for(agent, link, mono, 2)
    stall = agent.stall()
    assert stall is not None
    assert (stall["count"], stall["code"]) == (1, "no_reply") and stall["since_s"] >= 60
    assert agent.snapshot()["stall"]["code"] == "no_reply"  # the candidate's screen
    agent._heartbeat(link)  # type: ignore[arg-type]
    assert link.heartbeats[-1]["stalled"] == {  # the console's red seat, with the reason
        "count": 1,
        "since_s": stall["since_s"],
        "code": "no_reply",
    }
    ack(agent, 1)  # the reply comes at last: the stall clears
    assert agent.stall() is None and agent.snapshot()["stall"] is None


def test_no_reply_while_offline_is_the_outage_not_a_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    agent, link, mono = stalling_agent(monkeypatch)
    shown = agent.paper_json()
    assert shown is not None
    first = shown["questions"][0]
    agent.answer(first["item_id"], [first["options"][0]["label"]])
    run_for(agent, link, mono, 30)
    agent._on_disconnect()
    mono[0] += 600
    assert agent.stall() is None  # the screen shows the outage; a stall needs a live link
    agent._online, agent._epoch = True, agent._epoch + 1
    agent._handshake_epoch = agent._epoch
    run_for(agent, link, mono, 59)
    assert agent.stall() is None  # the wait started again on the new link
    run_for(agent, link, mono, 2)
    assert (agent.stall() or {}).get("code") == "no_reply"


def test_retry_refusals_for_a_minute_are_a_stall_a_pause_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent, link, mono = stalling_agent(monkeypatch)
    shown = agent.paper_json()
    assert shown is not None
    first = shown["questions"][0]
    agent.answer(first["item_id"], [first["options"][0]["label"]])
    busy = "服务器繁忙，答案会自动重发。"
    link.reply = {"ok": False, "code": "server_busy", "message": busy, "retry": True}
    run_for(agent, link, mono, 59)
    assert len(link.saves) > 20 and agent.stall() is None  # re-sent every retry_s
    run_for(agent, link, mono, 2)
    stall = agent.stall()
    assert stall is not None
    assert (stall["code"], stall["message"], stall["count"]) == ("server_busy", busy, 1)
    agent._heartbeat(link)  # type: ignore[arg-type]
    assert link.heartbeats[-1]["stalled"]["code"] == "server_busy"  # type: ignore[index]
    link.reply = {"ok": True, "seq": 1, "duplicate": False, "server_time": T0}
    run_for(agent, link, mono, 2)
    assert agent.stall() is None and not len(agent.outbox)
    # A pause refuses with retry too, for as long as it lasts: the rules at work, no stall.
    second = shown["questions"][1]
    agent.answer(second["item_id"], [second["options"][0]["label"]])
    link.reply = {"ok": False, "code": "attempt_paused", "message": "暂停", "retry": True}
    run_for(agent, link, mono, 600)
    assert len(agent.outbox) and agent.stall() is None


class ResumeLink:
    """A link that records each call and refuses it as ``code`` says."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.calls: list[tuple[str, dict[str, object]]] = []

    def call(self, event: str, payload: dict[str, object], **kw: object) -> dict[str, object]:
        self.calls.append((event, payload))
        return {"ok": False, "code": self.code, "message": "…", "retry": False}


def test_the_agent_resumes_naming_its_sitting_and_stops_when_told_another() -> None:
    journal = MemoryJournal("T-unit")
    agent = Agent(
        AgentConfig(server="http://127.0.0.1:1", seat="01-01", identity=IDENTITY), journal
    )
    agent._take_login(
        login_ok(resume_token="r" * 32), {"ticket": TICKET, "id_number": "x", "stage": "ready"}, 0
    )
    creds = journal.get("session")
    assert creds["sitting_id"] == 1 and "id_number" not in creds
    link = ResumeLink("server_busy")
    assert agent._login(link, 0, creds, auto=True)["code"] == "server_busy"  # type: ignore[arg-type]
    assert link.calls == [("resume", {"attempt_id": 7, "token": "r" * 32, "sitting_id": 1})]
    assert agent.closed is None  # a busy server: try again later
    refused = ResumeLink("resume_wrong_sitting")
    agent._login(refused, 0, creds, auto=True)  # type: ignore[arg-type]
    # No retry fixes it: the candidate logs in again with the ID number.
    assert agent.closed is not None and agent.closed["code"] == "resume_wrong_sitting"
    assert journal.get("session") is None
