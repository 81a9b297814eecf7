"""The terminal's outbox without a socket: which changes go out and when, what a reply
does to each, and when they count as stalled (exam_client/outbox.py)."""

from __future__ import annotations

import pytest

from exam_client.journal import Change
from exam_client.outbox import Outbox, Reply


def change(seq: int, item: str = "Q1") -> Change:
    return Change(7, seq, item, "A", "2026-12-02T08:00:00+00:00")


def outbox(n: int = 0, *, window: int = 3) -> Outbox:
    box = Outbox(window=window, resend_s=10.0, retry_s=1.0, stall_s=60.0)
    for seq in range(1, n + 1):
        box.add(change(seq), 0.0)
    return box


def ack(seq: int, duplicate: bool = False) -> dict[str, object]:
    """The server's acknowledgement, as on the wire."""
    return {"ok": True, "seq": seq, "duplicate": duplicate, "server_time": "2026-12-02T08:00:01Z"}


def seqs(changes: list[Change]) -> list[int]:
    return [c.seq for c in changes]


def test_a_window_goes_out_oldest_first_and_the_rest_as_replies_come() -> None:
    box = outbox(5)
    assert seqs(box.due(1, 0.0)) == [1, 2, 3]
    assert box.due(1, 0.5) == []  # the window is full and nothing is overdue
    assert box.on_reply(2, ack(2), 1.0).reply is Reply.STORED
    assert seqs(box.due(1, 1.0)) == [4]
    assert box.seqs() == [1, 3, 4, 5] and 2 not in box and len(box) == 4


def test_a_reply_overdue_sends_again_and_a_new_link_sends_everything_at_once() -> None:
    box = outbox(2)
    assert seqs(box.due(1, 0.0)) == [1, 2]
    assert box.due(1, 9.9) == []
    assert seqs(box.due(1, 10.0)) == [1, 2]  # resend_s without a reply
    box.link_up()
    assert seqs(box.due(2, 10.5)) == [1, 2]  # the new link does not wait
    assert box.wake_times(2) == [20.5, 20.5]


def test_a_change_that_did_not_go_on_the_wire_is_due_again() -> None:
    box = outbox(1)
    box.due(1, 0.0)
    box.not_sent(1)
    assert seqs(box.due(1, 0.1)) == [1]
    box.not_sent(99)  # nothing of the kind: nothing happens


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ({"ok": False, "code": "server_busy", "retry": True}, Reply.LATER),
        ({"ok": False, "code": "server_error"}, Reply.LATER),
        ({"ok": False, "code": "anything", "retry": True}, Reply.LATER),
        (None, Reply.LATER),  # no proper answer
        ({"ok": True}, Reply.LATER),  # an acknowledgement that does not parse
        ({"ok": False, "code": "not_logged_in"}, Reply.RELOGIN),
        ({"ok": False, "code": "not_your_attempt"}, Reply.RELOGIN),
        ({"ok": False, "code": "attempt_submitted", "message": "已交卷"}, Reply.REFUSED),
        ({"ok": False, "code": "unknown_item"}, Reply.REFUSED),
    ],
)
def test_each_reply_keeps_retries_or_drops_the_change(reply: object, kind: Reply) -> None:
    box = outbox(1)
    box.due(1, 0.0)
    out = box.on_reply(1, reply, 2.0)
    assert out.reply is kind
    assert (1 in box) is (kind is not Reply.REFUSED)
    if kind is Reply.REFUSED:
        assert out.pending is not None and out.pending.change.seq == 1
        assert out.message == (reply or {}).get("message", out.code)  # type: ignore[union-attr]
    if kind is Reply.LATER and isinstance(reply, dict) and reply.get("code"):
        assert box.due(1, 2.5) == [] and seqs(box.due(1, 3.0)) == [1]  # after retry_s
    assert box.on_reply(1, ack(1), 4.0).reply is (
        Reply.IGNORED if kind is Reply.REFUSED else Reply.STORED
    )


def test_a_duplicate_acknowledgement_is_said_so() -> None:
    box = outbox(1)
    box.due(1, 0.0)
    out = box.on_reply(1, ack(1, duplicate=True), 0.2)
    assert out.reply is Reply.STORED and out.duplicate


def test_refusals_to_retry_for_a_minute_stall_the_rules_waiting_never_do() -> None:
    box = outbox(2)
    box.due(1, 0.0)
    box.on_reply(1, {"ok": False, "code": "server_busy", "retry": True, "message": "忙"}, 0.5)
    box.on_reply(2, {"ok": False, "code": "attempt_paused", "retry": True}, 0.5)
    # counted from the first send: not stored since then, whatever the replies were
    assert box.stall(59.9, online=True) is None
    stall = box.stall(60.5, online=True)
    assert stall == {"count": 1, "since_s": 60.5, "code": "server_busy", "message": "忙"}
    assert box.stall(600.0, online=False) is not None  # refused: a stall offline too
    assert box.on_reply(1, ack(1), 601.0).reply is Reply.STORED
    assert box.stall(601.0, online=True) is None  # the paused one never stalls


def test_no_reply_while_online_is_a_stall_an_outage_is_not() -> None:
    box = outbox(1)
    box.due(1, 0.0)
    assert box.stall(60.0, online=False) is None
    stall = box.stall(60.0, online=True)
    assert stall is not None and stall["code"] == "no_reply"
    box.link_down()
    box.link_up()
    assert box.stall(61.0, online=True) is None  # the wait starts again on the new link
    box.due(2, 62.0)
    assert box.stall(121.9, online=True) is None
    assert box.stall(122.0, online=True) is not None


def test_clear_forgets_and_add_keeps_the_first_record() -> None:
    box = outbox(1)
    box.add(change(1), 50.0)
    assert box.due(1, 0.0)[0].seq == 1
    box.clear()
    assert len(box) == 0 and box.due(1, 0.0) == []
