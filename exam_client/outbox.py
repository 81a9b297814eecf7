"""The terminal's outbox: the changes recorded in its journal that the server has not yet
stored, and what to do with each.

It decides which changes go out now (a window of them in flight, a resend when a reply
is overdue, a later try after a refusal to retry), what a reply does to a change (stored,
refused for good, to retry, to send again after logging in again) and whether the changes
have stalled (refused or unanswered for ``stall_s`` while the link is up). It holds no
socket, journal, clock or lock: the agent (:mod:`exam_client.agent`) calls it under its
own lock with ``now`` from ``time.monotonic()``, sends what it says, and records what it
answers, so each rule can be tested without a server (``tests/client/test_outbox.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from exam_client.journal import Change
from exam_common import protocol as p

#: refusals that mean the server no longer knows this link's candidate: log in again on
#: this link, then send again
SESSION_CODES = frozenset({"not_logged_in", "not_your_attempt"})
#: refusals to try again later (the same change, the same seq)
LATER_CODES = frozenset({"not_started", "server_busy", "server_error", "attempt_paused"})
#: refusals that say "wait" (the sitting has not started, or is paused), not a server
#: that cannot store the change: they never count as a stall
WAIT_CODES = frozenset({"not_started", "attempt_paused"})


@dataclass
class Pending:
    """One change on its way: when it was recorded, sent, refused."""

    change: Change
    recorded_mono: float
    sent_mono: float | None = None
    sent_epoch: int = -1
    not_before: float = 0.0
    #: when the server first refused it (retry, or a server fault); None: not refused
    refused_mono: float | None = None
    #: when it was first sent on this link and got no final answer since (no reply at
    #: all, or refusals to retry); None: not sent on this link, or the rules said wait
    unanswered_mono: float | None = None
    #: the latest such refusal (code, message)
    refused: tuple[str, str] = ("", "")


class Reply(Enum):
    """What a reply to a save did to its change."""

    #: no such change on its way (answered already, or another candidate's)
    IGNORED = "ignored"
    #: stored by the server: out of the outbox
    STORED = "stored"
    #: refused for good: out of the outbox, recorded and shown
    REFUSED = "refused"
    #: to send again later (a refusal to retry, or no proper answer)
    LATER = "later"
    #: the server does not know this link's candidate: log in again, then send again
    RELOGIN = "relogin"


@dataclass(frozen=True)
class Outcome:
    reply: Reply
    pending: Pending | None = None
    code: str = ""
    message: str = ""
    duplicate: bool = False


class Outbox:
    def __init__(self, *, window: int, resend_s: float, retry_s: float, stall_s: float) -> None:
        self.window, self.resend_s, self.retry_s, self.stall_s = window, resend_s, retry_s, stall_s
        self._pending: dict[int, Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, seq: int) -> bool:
        return seq in self._pending

    def seqs(self) -> list[int]:
        return sorted(self._pending)

    def add(self, change: Change, now: float) -> None:
        """A change just recorded in the journal (or found unacknowledged there)."""
        if change.seq not in self._pending:
            self._pending[change.seq] = Pending(change, now)

    def clear(self) -> None:
        self._pending.clear()

    def link_up(self) -> None:
        """A new link: everything goes out again on it, at once."""
        for pend in self._pending.values():
            pend.sent_mono, pend.not_before = None, 0.0
            pend.unanswered_mono = None

    def link_down(self) -> None:
        """Offline the terminal shows the outage itself; a stall is a link that is up and
        stores nothing, so the wait for a reply starts again on the next link."""
        for pend in self._pending.values():
            pend.unanswered_mono = None

    def due(self, epoch: int, now: float) -> list[Change]:
        """The changes to send on link ``epoch`` now, oldest first, keeping at most
        ``window`` in flight; each is marked sent."""
        in_flight = sum(
            1
            for x in self._pending.values()
            if x.sent_epoch == epoch
            and x.sent_mono is not None
            and now - x.sent_mono < self.resend_s
        )
        due = []
        for seq in sorted(self._pending):
            if in_flight >= self.window:
                break
            pend = self._pending[seq]
            if pend.not_before > now:
                continue
            if (
                pend.sent_epoch == epoch
                and pend.sent_mono is not None
                and now - pend.sent_mono < self.resend_s
            ):
                continue
            pend.sent_mono, pend.sent_epoch = now, epoch
            if pend.unanswered_mono is None:
                pend.unanswered_mono = now
            due.append(pend.change)
            in_flight += 1
        return due

    def not_sent(self, seq: int) -> None:
        """The change could not be put on the wire: it is due again."""
        pend = self._pending.get(seq)
        if pend is not None:
            pend.sent_mono = None

    def wake_times(self, epoch: int) -> list[float]:
        """When each change is next due (for the agent's sleep)."""
        return [
            pend.not_before
            if pend.sent_mono is None or pend.sent_epoch != epoch
            else pend.sent_mono + self.resend_s
            for pend in self._pending.values()
        ]

    def on_reply(self, seq: int, reply: Any, now: float) -> Outcome:
        """What the server's reply to the save of ``seq`` does to it."""
        pend = self._pending.get(seq)
        if pend is None:
            return Outcome(Reply.IGNORED)
        if isinstance(reply, dict) and reply.get("ok"):
            try:
                ok = p.parse(p.SaveOk, reply)
            except p.ProtocolError:
                pend.sent_mono = None
                return Outcome(Reply.LATER, pend)
            del self._pending[seq]
            return Outcome(Reply.STORED, pend, duplicate=ok.duplicate)
        if not isinstance(reply, dict):  # no proper answer: treat as not sent
            pend.sent_mono, pend.not_before = None, now + self.retry_s
            return Outcome(Reply.LATER, pend)
        code = str(reply.get("code", "bad_message"))
        message = str(reply.get("message", code))
        if code in SESSION_CODES:
            pend.sent_mono = None
            return Outcome(Reply.RELOGIN, pend, code, message)
        if reply.get("retry") or code in LATER_CODES:
            pend.sent_mono, pend.not_before = None, now + self.retry_s
            if code in WAIT_CODES:
                pend.refused_mono = pend.unanswered_mono = None
            else:
                pend.refused_mono = pend.refused_mono or now
                pend.refused = (code, message)
            return Outcome(Reply.LATER, pend, code, message)
        # A final refusal: recorded in the journal and shown; never re-sent.
        del self._pending[seq]
        return Outcome(Reply.REFUSED, pend, code, message)

    def stall(self, now: float, online: bool) -> dict[str, Any] | None:
        """The changes the server has kept refusing for ``stall_s`` or longer (a server
        fault, or a database that stays unavailable), or has left without any reply that
        long while the link is up (a lost packet, a timeout, a server that hangs; code
        ``no_reply``): their count, how long the oldest has waited, and the latest
        refusal. None when nothing is stalled."""
        since: dict[int, float] = {}
        for seq, x in self._pending.items():
            starts = [x.refused_mono] + ([x.unanswered_mono] if online else [])
            first = min((t for t in starts if t is not None), default=None)
            if first is not None and now - first >= self.stall_s:
                since[seq] = first
        if not since:
            return None
        latest = self._pending[max(since)]
        code, message = latest.refused if latest.refused_mono is not None else ("", "")
        return {
            "count": len(since),
            "since_s": round(now - min(since.values()), 1),
            "code": code or "no_reply",
            "message": message or "no reply from the server",
        }
