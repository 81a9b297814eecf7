"""The terminal agent: one exam PC's link to the centre server.

It proves the terminal's enrolment at every connection (TLS to the pinned centre CA, then
a signed answer to the server's challenge), keeps the server's time (:mod:`exam_client.clock`),
pre-loads the encrypted papers of the seat's candidates, logs a candidate in, decrypts the
paper locally when the key arrives, and makes every answer change durable in the journal
(:mod:`exam_client.journal`) **before** sending it. Changes carry a per-attempt sequence
number and are re-sent until acknowledged; the link comes back by itself (backoff with
jitter), and after each reconnect the agent says hello, logs the candidate in again and
re-sends whatever is still pending. Nothing here knows about HTML: the candidate UI
(:mod:`exam_client.ui`) and the load simulator (:mod:`exam_client.simulate`) drive the
same :class:`Agent`.

Threads: one worker thread per agent does the connecting, sending and polling;
acknowledgements and pushes arrive on python-socketio's threads; the UI calls
:meth:`Agent.login`, :meth:`Agent.answer`, :meth:`Agent.submit` from its own. One lock
guards the agent's state; no network call is made while holding it.
"""

from __future__ import annotations

import base64
import functools
import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import socketio

from exam_client.clock import ServerClock
from exam_client.identity import TerminalIdentity
from exam_client.journal import Change, MemoryJournal
from exam_client.outbox import SESSION_CODES, Outbox, Reply
from exam_common import protocol as p
from exam_common.tickets import TicketError, TicketRule
from question_bank.bindings import BindingError, check_paper
from question_bank.items import Block
from question_bank.package import PackageError, decrypt_paper
from question_bank.paper import Paper
from question_bank.shuffle import CandidateShuffle, displayed_paper, shuffle_for

log = logging.getLogger(__name__)

CLIENT_NAME = "exam-client/0.1"

#: a refused automatic re-login that no retry will fix: the terminal stops for this candidate
FINAL_LOGIN_CODES = frozenset(
    {
        "relogin_required",
        "resume_wrong_sitting",
        "wrong_seat",
        "bad_credentials",
        "attempt_absent",
        "attempt_voided",
        "late_entry_closed",
        "no_open_sitting",
        "login_locked",
        "terminal_locked",
    }
)
#: messages a terminal keeps (the journal holds them; a sitting sees a handful)
MESSAGES_KEPT = 20
#: refusals of ``hello`` that no retry fixes: the terminal must be enrolled (again)
ENROLMENT_CODES = frozenset({"not_enrolled", "bad_proof"})


@dataclass
class AgentConfig:
    server: str
    #: the seat this terminal believes it has (shown until the server names the enrolled
    #: one at hello; the server never takes the terminal's word for it)
    seat: str = ""
    #: seconds between heartbeats (they also re-anchor the clock)
    heartbeat_s: float = 5.0  # the console turns a tile amber after 10 s of silence
    #: seconds between status polls while logged in (pauses, extra time, auto-submit);
    #: pushes and refusals trigger one at once, so this is only the safety net
    status_s: float = 30.0
    #: an unacknowledged save is sent again after this long
    resend_s: float = 10.0
    #: a save refused with retry=true is sent again after this long
    retry_s: float = 1.0
    #: reconnect backoff: first delay, cap; each delay is jittered by +-50 %
    backoff_min_s: float = 0.5
    backoff_max_s: float = 8.0
    call_timeout_s: float = 10.0
    #: most saves in flight at once (after a long outage the backlog goes out in windows)
    window: int = p.SEND_WINDOW
    #: a change the server keeps refusing, or leaves unanswered while the link is up, for
    #: this long is a stall: the candidate's screen says so and the heartbeat reports it to
    #: the console (the seat turns red)
    stall_s: float = 60.0
    #: Engine.IO transports, in order: a LAN whose proxy or switch drops WebSocket
    #: upgrades needs ``("polling",)``
    transports: tuple[str, ...] = ("websocket",)
    preload: bool = True
    client_name: str = CLIENT_NAME
    #: this terminal's enrolment: its key, the pinned CA, central's key (None: cannot
    #: connect, and no paper is ever shown)
    identity: TerminalIdentity | None = None


@dataclass
class Stats:
    """What the simulator reports; kept by every agent (cheap)."""

    connects: int = 0
    disconnects: int = 0
    logins: int = 0
    answered: int = 0
    acknowledged: int = 0
    duplicates: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    #: click (journal write) -> acknowledgement, seconds
    ack_latency: list[float] = field(default_factory=list)
    #: last send -> acknowledgement, seconds
    rtt: list[float] = field(default_factory=list)
    #: key received -> paper decrypted and shuffled, seconds
    key_to_open: float | None = None
    #: the sitting's start (server time) -> paper open on this terminal, seconds
    start_to_open: float | None = None


def open_paper(
    ciphertext: bytes,
    data_key: bytes,
    ticket: str,
    *,
    binding: str | None,
    identity: TerminalIdentity | None,
    sitting_code: str | None = None,
) -> tuple[Paper, CandidateShuffle, Paper]:
    """Check the paper against central's signed binding (its ciphertext, for this
    ticket), decrypt it at the terminal and put it in this candidate's order: (the paper,
    the candidate's shuffle, the paper as displayed). Only the terminal ever calls this;
    the plaintext lives in the agent's memory and is never written to disk. Raises
    :class:`BindingError` for a paper central did not sign for this candidate, for
    another centre than the one this terminal enrolled at, or (``sitting_code`` given)
    for another sitting than the one the candidate logged in to."""
    if identity is None:
        raise BindingError("本机未绑定，没有省中心公钥，不能验证试卷 (not enrolled)")
    bound = check_paper(binding, identity.central_key, ciphertext, ticket=ticket)
    if identity.centre and bound.centre != identity.centre:
        raise BindingError(
            f"这份试卷属于考点 {bound.centre}，本机绑定的是考点 {identity.centre}。请勿作答，立即"
            f"报告监考老师 (the paper is bound to centre {bound.centre}, not this terminal's "
            f"{identity.centre})"
        )
    if sitting_code is not None and bound.sitting != sitting_code:
        raise BindingError(
            f"这份试卷属于场次 {bound.sitting}，不是考生登录的场次 {sitting_code}。请勿作答，立即"
            f"报告监考老师 (the paper is bound to sitting {bound.sitting}, not the sitting "
            f"{sitting_code} the candidate logged in to)"
        )
    paper = decrypt_paper(ciphertext, data_key)
    shuffle = shuffle_for(paper, ticket)
    return paper, shuffle, displayed_paper(paper, shuffle)


#: what the terminal itself refuses, in words (the page shows its own by ``code``; the
#: local API says it too, so that nothing reading it meets a bare code)
LOCAL_REFUSALS: dict[str, str] = {
    "not_logged_in": "请先登录 / please log in first",
    "not_finished": "尚未交卷 / not submitted yet",
    "attempt_submitted": "本科目已交卷，不能再作答 / this subject has been submitted",
    "not_started": "尚未开考，试卷在开考时打开 / the paper opens at the start",
    "deadline_passed": "考试时间已到 / time is up",
    "attempt_paused": "考试已暂停，请等待监考老师 / the exam is paused: please wait",
    "unknown_item": "试卷中没有这道题 / no such question in this paper",
    "submit_too_early": "还未到可以交卷的时间 / it is too early to submit",
    "offline": "暂时无法连接考点服务器，请稍候再试 / the centre server cannot be reached now",
    "answers_pending": "还有答案未保存到考点服务器，请稍候再交卷 / answers are still being saved",
}


class AgentError(Exception):
    """A request from the UI that cannot be done now; ``code`` for the UI's message table,
    ``message`` in words (never the bare code)."""

    def __init__(self, code: str, message: str = "") -> None:
        message = message or LOCAL_REFUSALS.get(code, f"操作被拒绝 / refused ({code})")
        super().__init__(message)
        self.code = code
        self.message = message


def _block_view(b: Block) -> dict[str, str]:
    """One paragraph or picture of a question as the page shows it (a picture inline)."""
    if b.image is None:
        return {"text": b.text}
    return {
        "image": f"data:{b.image.media_type};base64," + base64.b64encode(b.image.data).decode(),
        "alt": b.alt,
    }


def _windows_json(w: p.SittingWindows | None) -> dict[str, int] | None:
    if w is None:
        return None
    return {
        "entry_s": w.entry_opens_before_s,
        "late_s": w.late_entry_s,
        "submit_s": w.earliest_submit_s,
    }


class Agent:
    def __init__(self, config: AgentConfig, journal: MemoryJournal | None = None) -> None:
        p.accept_whole_windows()
        self.config = config
        self.journal = journal or MemoryJournal()
        self.clock = ServerClock()
        self.stats = Stats()
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sio: socketio.Client | None = None
        self._epoch = 0  # one per connection
        self._online = False
        self._handshake_epoch = -1
        self._login_epoch = -1
        self._fatal: dict[str, str] | None = None
        self.clock_warning = False
        #: the centre's time zone, as the server said at hello
        self.time_zone = "Asia/Shanghai"
        self._next_heartbeat = 0.0
        self._next_status = 0.0
        self._next_login_try = 0.0
        self._acks: list[tuple[int, int]] = []
        #: the province's ticket rule and this seat's sitting windows, from ``rules``
        self.ticket_rule: TicketRule | None = None
        self.windows: dict[int, p.SittingWindows] = {}
        #: messages from the invigilator or chief examiner, oldest first (``Broadcast``),
        #: each with the attempt it reached and whether the candidate dismissed it. Kept in
        #: the journal: a message stays on the screen until the candidate's OK, across page
        #: reloads, a new kiosk browser and agent restarts, and never comes back after it.
        self.messages: list[dict[str, Any]] = list(self.journal.get("messages") or [])
        self._reset_candidate()
        # A restarted agent resumes the candidate it had (same terminal id, same journal).
        self._creds: dict[str, Any] | None = self.journal.get("session")

    # -- candidate state ----------------------------------------------------------------

    def _reset_candidate(self) -> None:
        self._creds = None
        self.login_ok: p.LoginOk | None = None
        self.attempt_id: int | None = None
        self.state: str | None = None
        self.sitting: p.SittingInfo | None = None
        self._sitting_mono = 0.0
        self.paper: Paper | None = None
        self.shown: Paper | None = None
        self.shuffle: CandidateShuffle | None = None
        self._ciphertext: bytes | None = None
        self._binding: str | None = None
        self._waiting_key = False
        self.answers: dict[str, str] = {}
        self.flags: set[str] = set()
        self.outbox = Outbox(
            window=self.config.window,
            resend_s=self.config.resend_s,
            retry_s=self.config.retry_s,
            stall_s=self.config.stall_s,
        )
        self._next_seq = 1
        self.refusals: list[dict[str, Any]] = []
        self.submitted: dict[str, Any] | None = None
        self.closed: dict[str, str] | None = None

    @property
    def terminal_id(self) -> str:
        identity = self.config.identity
        return identity.terminal_id if identity is not None else self.journal.terminal_id

    @property
    def online(self) -> bool:
        return self._online and self._handshake_epoch == self._epoch

    @property
    def pending_count(self) -> int:
        with self._lock:
            return len(self.outbox)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Agent:
        self._thread = threading.Thread(
            target=self._run, name=f"agent-{self.config.seat}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, linger_s: float = 1.0) -> None:
        """Stop the worker and close the link (waiting at most ``linger_s`` for the close)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        closing = self._drop_link()
        if closing is not None:
            closing.join(linger_s)
        self._flush_acks()

    def _run(self) -> None:
        backoff = self.config.backoff_min_s
        while not self._stop.is_set():
            if not self.online:
                if self._connect():
                    backoff = self.config.backoff_min_s
                else:
                    delay = backoff * random.uniform(0.5, 1.5)  # jitter: no thundering herd
                    backoff = min(self.config.backoff_max_s, backoff * 2)
                    if self._fatal:
                        delay = max(delay, 30.0)
                    self._stop.wait(delay)
                    continue
            self._wake.clear()  # before the tick: a wake-up during it is not lost
            try:
                self._tick()
            except Exception:  # the worker must survive anything one tick does
                log.exception("agent tick failed")
            # Sleep until something is due (answers, acks and pushes wake us earlier):
            # a thousand idle terminals in one simulator must not spin.
            self._wake.wait(self._idle_for())

    # -- connection ---------------------------------------------------------------------

    def _drop_link(self) -> threading.Thread | None:
        """Forget the current link and close it in the background (a clean websocket
        close waits for the server's reply; nothing here needs to wait for it)."""
        sio, self._sio = self._sio, None
        self._online = False
        if sio is None:
            return None

        def close() -> None:
            try:
                sio.disconnect()
            except Exception:  # a link that is already dead
                log.debug("disconnect failed", exc_info=True)

        closing = threading.Thread(target=close, name="agent-close", daemon=True)
        closing.start()
        return closing

    def _connect(self) -> bool:
        self._drop_link()
        identity = self.config.identity
        if identity is None:
            self._fatal = {"code": "not_enrolled", "message": "not_enrolled"}
            return False
        sio = socketio.Client(
            reconnection=False,
            request_timeout=self.config.call_timeout_s,
            http_session=identity.http_session(),
        )
        ns = p.NAMESPACE
        sio.on("disconnect", self._on_disconnect, namespace=ns)
        sio.on("sitting_started", self._on_sitting_started, namespace=ns)
        sio.on("attempt_submitted", self._on_attempt_submitted, namespace=ns)
        for hint in ("paused", "resumed", "clock"):
            sio.on(hint, functools.partial(self._on_hint, hint), namespace=ns)
        sio.on("broadcast", self._on_broadcast, namespace=ns)
        try:
            sio.connect(
                self.config.server,
                namespaces=[ns],
                transports=list(self.config.transports),
                wait_timeout=self.config.call_timeout_s,
            )
        except Exception as exc:
            log.debug("connect to %s failed: %s", self.config.server, exc)
            try:
                sio.disconnect()
            except Exception:
                log.debug("cleanup after failed connect", exc_info=True)
            return False
        with self._lock:
            self._epoch += 1
            epoch = self._epoch
            self._sio = sio
            self._online = True
            self.outbox.link_up()
        self.stats.connects += 1
        if not self._hello(sio, epoch):
            self._drop_link()
            return False
        if self.config.preload and self._creds is None:
            self._preload(sio)
        self._rules(sio)
        self._next_login_try = 0.0
        self._wake.set()
        return True

    def _on_disconnect(self, *_: Any) -> None:
        self.stats.disconnects += 1
        self._online = False
        with self._lock:
            self.outbox.link_down()
        self._wake.set()

    def _call(
        self, sio: socketio.Client, event: str, data: dict[str, Any]
    ) -> tuple[dict[str, Any], float]:
        """A request with the server's acknowledgement as the reply; (reply, sent_mono)."""
        sent = time.monotonic()
        reply = sio.call(event, data, namespace=p.NAMESPACE, timeout=self.config.call_timeout_s)
        if not isinstance(reply, dict):
            raise p.ProtocolError("bad_message", f"{event}: reply is not an object")
        return reply, sent

    def _observe(self, server_time: datetime, sent: float) -> None:
        self.clock.observe(server_time, sent, time.monotonic())

    def _hello(self, sio: socketio.Client, epoch: int) -> bool:
        identity = self.config.identity
        assert identity is not None
        try:
            challenge, _ = self._call(sio, "challenge", {})
            if not challenge.get("ok"):
                raise p.ProtocolError(
                    str(challenge.get("code")), str(challenge.get("message", "challenge"))
                )
            nonce = base64.b64decode(p.parse(p.ChallengeOk, challenge).challenge)
            hello = p.Hello(
                protocol=p.PROTOCOL_VERSION,
                client=self.config.client_name,
                terminal_id=identity.terminal_id,
                seat=self.config.seat or identity.seat,
                # Only so the server can warn the console about this PC's clock.
                local_time=datetime.now(UTC),
                proof=identity.prove(nonce),
            )
            reply, sent = self._call(sio, "hello", p.dump(hello))
        except Exception as exc:
            log.warning("hello failed: %s", exc)
            return False
        if not reply.get("ok"):
            err = p.parse(p.ErrorReply, reply)
            log.error("server refused hello: %s %s", err.code, err.message)
            self._fatal = {"code": err.code, "message": err.message}
            return False
        ok = p.parse(p.HelloOk, reply)
        if ok.seat:
            self.config.seat = ok.seat  # the enrolled seat, whatever this PC thought
        self._observe(ok.server_time, sent)
        self.clock_warning = ok.clock_warning
        self.time_zone = ok.time_zone
        self._fatal = None
        with self._lock:
            self._handshake_epoch = epoch
        self._next_heartbeat = time.monotonic() + self.config.heartbeat_s
        return True

    def _preload(self, sio: socketio.Client) -> None:
        """Keep this seat's encrypted papers locally (best effort; login also brings one)."""
        try:
            reply, _ = self._call(sio, "preload", {})
        except Exception as exc:  # an older server, or a slow one: login still works
            log.info("preload not available: %s", exc)
            return
        if not reply.get("ok"):
            log.info("preload refused: %s", reply.get("code"))
            return
        have = self.journal.cached_papers()
        identity = self.config.identity
        for paper in p.parse(p.PreloadOk, reply).papers:
            if paper.sha256 in have or identity is None:
                continue
            data = base64.b64decode(paper.ciphertext)
            try:
                # Only what central signed for this seat is kept.
                check_paper(paper.binding, identity.central_key, data, seat=identity.seat)
            except BindingError as exc:
                log.warning("preloaded paper %s refused: %s", paper.paper_ref, exc)
                continue
            self.journal.cache_paper(paper.sha256, paper.sitting_id, paper.paper_ref, data)

    # -- the worker's tick --------------------------------------------------------------

    def _tick(self) -> None:
        self._flush_acks()
        sio, epoch = self._sio, self._epoch
        if sio is None:
            return
        now = time.monotonic()
        if self._creds is not None and self._login_epoch != epoch and now >= self._next_login_try:
            self._next_login_try = now + 2.0
            self._login(sio, epoch, self._creds, auto=True)
        if self._login_epoch == epoch:
            self._send_pending(sio, epoch)
            if now >= self._next_status and self.attempt_id is not None:
                self._next_status = now + self.config.status_s
                self._status(sio)
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self.config.heartbeat_s
            self._heartbeat(sio)

    def _idle_for(self) -> float:
        now = time.monotonic()
        due = [self._next_heartbeat, now + 5.0]
        if self._creds is not None and self._login_epoch != self._epoch:
            due.append(self._next_login_try)
        if self._login_epoch == self._epoch and self.attempt_id is not None:
            due.append(self._next_status)
        with self._lock:
            due.extend(self.outbox.wake_times(self._epoch))
        return min(5.0, max(0.02, min(due) - now))

    def _heartbeat(self, sio: socketio.Client) -> None:
        try:
            reply, sent = self._call(
                sio,
                "heartbeat",
                p.dump(
                    p.Heartbeat(
                        attempt_id=self.attempt_id,
                        answered=len(self.answers),
                        stalled=p.Stall(**{k: v for k, v in stall.items() if k != "message"})
                        if (stall := self.stall())
                        else None,
                    )
                ),
            )
        except Exception as exc:
            log.debug("heartbeat failed: %s", exc)
            return
        if reply.get("ok"):
            self._observe(p.parse(p.HelloOk, reply).server_time, sent)

    def _status(self, sio: socketio.Client) -> None:
        attempt_id = self.attempt_id
        if attempt_id is None:
            return
        try:
            reply, sent = self._call(sio, "status", {"attempt_id": attempt_id})
        except Exception as exc:
            log.debug("status failed: %s", exc)
            return
        if not reply.get("ok"):
            if reply.get("code") in SESSION_CODES:
                self._login_epoch = -1
            return
        st = p.parse(p.StatusOk, reply)
        self._observe(st.server_time, sent)
        with self._lock:
            if st.attempt_id != self.attempt_id:
                return
            self._set_sitting(st.sitting)
            self.state = st.state
            if st.state == "submitted" and self.submitted is None:
                self._mark_submitted(st.receipt or "", "server", st.server_time)
            if st.state == "in_progress" and self.shown is None:
                self._login_epoch = -1  # the key push was missed: a login brings the key
                self._next_login_try = 0.0

    def _set_sitting(self, info: p.SittingInfo) -> None:
        self.sitting = info
        self._sitting_mono = time.monotonic()

    # -- login --------------------------------------------------------------------------

    def _login(
        self, sio: socketio.Client, epoch: int, creds: dict[str, Any], *, auto: bool
    ) -> dict[str, Any]:
        # Logging its candidate in again, the terminal names the sitting it was in: after a
        # long outage the next sitting may be open, and its rules must not judge this one.
        # It uses the resume token of the candidate's login here: the ID number is never
        # kept, neither in memory nor in the journal.
        sitting_id = creds.get("sitting_id") if auto else None
        event: str
        payload: dict[str, Any]
        if auto:
            if not creds.get("resume_token") or not creds.get("attempt_id"):
                # Nothing to resume with (a journal from before resume tokens): the
                # candidate logs in again with their ID number.
                with self._lock:
                    self.closed = {"code": "relogin_required", "message": "relogin_required"}
                    self._creds = None
                self.journal.put("session", None)
                return {"ok": False, "code": "relogin_required", "message": "no resume token"}
            event = "resume"
            payload = p.dump(
                p.Resume(
                    attempt_id=creds["attempt_id"],
                    token=creds["resume_token"],
                    sitting_id=sitting_id,
                )
            )
        else:
            event = "login"
            payload = p.dump(p.Login(ticket=creds["ticket"], id_number=creds["id_number"]))
            creds = {k: v for k, v in creds.items() if k != "id_number"}
        try:
            reply, sent = self._call(sio, event, payload)
        except Exception as exc:
            log.info("login failed: %s", exc)
            return {"ok": False, "code": "offline", "message": str(exc)}
        if not reply.get("ok"):
            err = p.parse(p.ErrorReply, reply)
            if auto and err.code in FINAL_LOGIN_CODES:
                with self._lock:
                    self.closed = {"code": err.code, "message": err.message}
                    self._creds = None
                self.journal.put("session", None)
            return p.dump(err)
        ok = p.parse(p.LoginOk, reply)
        self._observe(ok.server_time, sent)
        self._take_login(ok, creds, epoch)
        self.stats.logins += 1
        self._wake.set()
        return {"ok": True, "attempt_id": ok.attempt_id, "state": ok.state}

    def _take_login(self, ok: p.LoginOk, creds: dict[str, Any], epoch: int) -> None:
        with self._lock:
            if self.attempt_id != ok.attempt_id:
                stage = creds.get("stage", "confirm")
                self._reset_candidate()
                # An earlier candidate's messages never reach this one.
                kept = [m for m in self.messages if m["attempt_id"] == ok.attempt_id]
                if kept != self.messages:
                    self.messages = kept
                    self.journal.put("messages", kept or None)
                creds = {**creds, "stage": stage}
            self._creds = {
                **{k: v for k, v in creds.items() if k != "id_number"},
                "ticket": ok.candidate.ticket,
                "attempt_id": ok.attempt_id,
                "sitting_id": ok.sitting.sitting_id,
                **({"resume_token": ok.resume_token} if ok.resume_token else {}),
            }
            self.login_ok = ok
            self.attempt_id = ok.attempt_id
            self.state = ok.state
            self._set_sitting(ok.sitting)
            self.closed = None
            journal = self.journal.changes(ok.attempt_id)
            self._next_seq = max([ok.last_seq] + [c.seq for c in journal]) + 1
            # What the screen shows: the server's answers, overridden by the journal's
            # newest change of an item when the server has not acknowledged it yet.
            answers = {k: "".join(v) for k, v in ok.answers.items()}
            latest: dict[str, Change] = {}
            for c in journal:
                if c.refused is None:
                    latest[c.item_id] = c
            for item, c in latest.items():
                if not c.acked:
                    answers[item] = c.response
            self.answers = {k: v for k, v in answers.items() if v}
            now = time.monotonic()
            for c in journal:
                if not c.acked and c.refused is None:
                    self.outbox.add(c, now)
            self.flags = self.journal.flags(ok.attempt_id)
            if ok.paper:
                self._ciphertext = base64.b64decode(ok.paper)
            elif self._ciphertext is None:
                self._ciphertext = self._cached_ciphertext(ok.sitting.sitting_id)
            self._binding = ok.binding or self._binding
            self._login_epoch = epoch
            if ok.state == "submitted":
                self._mark_submitted(ok.receipt or "", "server", ok.server_time)
        self.journal.put("session", self._creds)
        if ok.paper_key and self.shown is None:
            self._open_paper(ok.paper_key, time.monotonic())

    def _rules(self, sio: socketio.Client) -> None:
        """The ticket rule and this seat's windows (best effort: an older server has no
        ``rules``; the screen then checks only the generic bounds and names no figure)."""
        try:
            reply, _ = self._call(sio, "rules", {})
            if not reply.get("ok"):
                log.info("rules refused: %s", reply.get("code"))
                return
            ok = p.parse(p.RulesOk, reply)
        except Exception as exc:
            log.info("rules not available: %s", exc)
            return
        with self._lock:
            self.ticket_rule = ok.ticket_rule
            self.windows = {w.sitting_id: w for w in ok.sittings}

    def _windows_now(self) -> p.SittingWindows | None:
        """The windows the screen states: the candidate's sitting, else the next one."""
        if self.sitting is not None and self.sitting.sitting_id in self.windows:
            return self.windows[self.sitting.sitting_id]
        return min(self.windows.values(), key=lambda w: w.start, default=None)

    def _cached_ciphertext(self, sitting_id: int) -> bytes | None:
        for sid, _ref, data in self.journal.cached_papers().values():
            if sid == sitting_id:
                return data
        return None

    def login(self, ticket: str, id_number: str) -> dict[str, Any]:
        """The candidate typed ticket and ID number (UI thread). Returns the reply.

        A number that breaks the province's rule is refused here, with or without a link:
        it would be refused by the server all the same."""
        rule = self.ticket_rule
        if rule is not None:  # the province's rule, as the server will apply it
            ticket = rule.normalise(ticket)
            try:
                rule.verify(ticket)
            except TicketError as exc:
                return {
                    "ok": False,
                    "code": f"ticket_{exc.code}",
                    "message": exc.zh,
                    "message_en": exc.en,
                }
        sio, epoch = self._sio, self._epoch
        if sio is None or not self.online:
            return {"ok": False, "code": "offline", "message": "offline"}
        try:
            creds = p.dump(p.Login(ticket=ticket.strip(), id_number=id_number.strip()))
        except Exception as exc:  # pydantic: the server would refuse the same way
            return {"ok": False, "code": "bad_message", "message": str(exc)}
        with self._lock:
            if self.submitted is not None or self.closed is not None:
                self._reset_candidate()
        return self._login(sio, epoch, {**creds, "stage": "confirm"}, auto=False)

    def confirm(self) -> None:
        """The candidate confirmed name and photo and read the rules."""
        with self._lock:
            if self._creds is None:
                raise AgentError("not_logged_in")
            self._creds["stage"] = "ready"
            creds = dict(self._creds)
        self.journal.put("session", creds)

    @property
    def stage(self) -> str:
        return (self._creds or {}).get("stage", "confirm")

    def finish(self) -> None:
        """After the receipt: clear the screen for the next candidate."""
        with self._lock:
            if self.submitted is None and self.closed is None:
                raise AgentError("not_finished")
            self._reset_candidate()
            self.messages = []
            self.journal.put("messages", None)
        self.journal.put("session", None)

    # -- pushes -------------------------------------------------------------------------

    def _on_sitting_started(self, data: Any) -> None:
        received = time.monotonic()
        try:
            msg = p.parse(p.SittingStarted, data)
        except p.ProtocolError as exc:
            log.warning("bad sitting_started: %s", exc.message)
            return
        with self._lock:
            if msg.attempt_id != self.attempt_id:
                return
            self._set_sitting(msg.sitting)
            if self.state == "waiting":
                self.state = "in_progress"
            self._waiting_key = msg.paper_key is None
        if msg.paper_key and self.shown is None:
            self._open_paper(msg.paper_key, received)

    def _on_attempt_submitted(self, data: Any) -> None:
        try:
            msg = p.parse(p.AttemptSubmitted, data)
        except p.ProtocolError as exc:
            log.warning("bad attempt_submitted: %s", exc.message)
            return
        with self._lock:
            if msg.attempt_id == self.attempt_id:
                self.state = "submitted"
                self._mark_submitted(msg.receipt, msg.reason, msg.submitted_at)
        self._wake.set()

    def _on_hint(self, event: str, data: Any = None) -> None:
        """Pauses, resumptions, clock news: the status call says what they mean for us
        (the push is only a hint; a malformed one is logged and still prompts a status)."""
        try:
            p.parse(p.PUSHES[event], data)
        except p.ProtocolError as exc:
            log.warning("malformed %s push: %s", event, exc.message)
        self._next_status = 0.0
        self._wake.set()

    def _on_broadcast(self, data: Any = None) -> None:
        try:
            msg = p.parse(p.Broadcast, data)
        except p.ProtocolError as exc:
            log.warning("malformed broadcast push: %s", exc.message)
            return
        entry = {
            "attempt_id": self.attempt_id,
            "text": msg.text,
            "sender": msg.sender,
            "at": msg.at.isoformat(),
            "seen": False,
        }
        with self._lock:
            if any(m["at"] == entry["at"] and m["text"] == msg.text for m in self.messages):
                return  # the same push twice (a reconnect): one message
            self.messages = [*self.messages, entry][-MESSAGES_KEPT:]
            self.journal.put("messages", self.messages)

    def dismiss_message(self, at: str) -> None:
        """The candidate pressed OK on the message sent at ``at``: never shown again."""
        with self._lock:
            found = False
            for m in self.messages:
                if m["at"] == at and m["attempt_id"] == self.attempt_id and not m["seen"]:
                    m["seen"] = found = True
            if found:
                self.journal.put("messages", self.messages)

    def _unseen_messages(self) -> list[dict[str, Any]]:
        return [
            {k: m[k] for k in ("text", "sender", "at")}
            for m in self.messages
            if m["attempt_id"] == self.attempt_id and not m["seen"]
        ]

    def _mark_submitted(self, receipt: str, reason: str, at: datetime) -> None:
        if self.submitted is None:
            self.submitted = {"receipt": receipt, "reason": reason, "at": at.isoformat()}
            creds = dict(self._creds or {})
            creds["submitted"] = self.submitted
            self._creds = creds

    # -- the paper ----------------------------------------------------------------------

    def _open_paper(self, key_b64: str, received_mono: float) -> None:
        with self._lock:
            ciphertext = self._ciphertext
            ticket = (self._creds or {}).get("ticket")
            sitting = self.sitting
            binding = self._binding
        if ciphertext is None or ticket is None:
            log.error("a key arrived but there is no paper to open")
            return
        try:
            if sitting is None or not sitting.sitting_code:
                raise BindingError(
                    "考点服务器没有说明考生登录的场次，无法核对试卷属于本场考试。请报告监考老师 "
                    "(the server did not name the sitting: the paper cannot be checked)"
                )
            paper, shuffle, shown = open_paper(
                ciphertext,
                base64.b64decode(key_b64),
                ticket,
                binding=binding,
                identity=self.config.identity,
                sitting_code=sitting.sitting_code,
            )
        except BindingError as exc:
            log.error("the paper is not central's for this candidate: %s", exc)
            with self._lock:
                self.closed = {"code": "paper_unverified", "message": str(exc)}
            return
        except (PackageError, ValueError) as exc:
            log.error("cannot open the paper: %s", exc)
            with self._lock:
                self.closed = {"code": "paper_error", "message": str(exc)}
            return
        opened = time.monotonic()
        with self._lock:
            self.paper, self.shuffle, self.shown = paper, shuffle, shown
            self._waiting_key = False
            self.stats.key_to_open = opened - received_mono
            now = self.clock.now()
            if sitting is not None and now is not None:
                self.stats.start_to_open = (now - sitting.start).total_seconds()

    # -- answers ------------------------------------------------------------------------

    def answer(self, item_id: str, displayed: list[str]) -> dict[str, Any]:
        """The candidate chose ``displayed`` labels for an item (as shown to them).

        Journaled durably before this returns; sent by the worker right after.
        """
        with self._lock:
            # submitted first: a terminal restarted after the submission has no paper open,
            # and "not started" would be the wrong thing to tell the candidate
            if self.submitted is not None or self.state in ("submitted", "absent", "voided"):
                raise AgentError("attempt_submitted")
            if self.shown is None or self.shuffle is None or self.attempt_id is None:
                raise AgentError("not_started")
            if self.time_up():
                raise AgentError("deadline_passed")
            if self.sitting is not None and self.sitting.paused:
                raise AgentError("attempt_paused")
            if item_id not in self.shuffle.types:
                raise AgentError("unknown_item")
            canonical = "".join(sorted(self.shuffle.to_canonical(item_id, displayed)))
            if self.answers.get(item_id, "") == canonical:
                return {"ok": True, "seq": None}
            now = self.clock.now() or datetime.now(UTC)
            change = Change(self.attempt_id, self._next_seq, item_id, canonical, now.isoformat())
            self.journal.record(change)  # on disk before anything goes on the wire
            self._next_seq += 1
            self.outbox.add(change, time.monotonic())
            if canonical:
                self.answers[item_id] = canonical
            else:
                self.answers.pop(item_id, None)
            self.stats.answered += 1
        self._wake.set()
        return {"ok": True, "seq": change.seq}

    def flag(self, item_id: str, flagged: bool) -> None:
        with self._lock:
            if self.attempt_id is None:
                raise AgentError("not_logged_in")
            (self.flags.add if flagged else self.flags.discard)(item_id)
            attempt_id = self.attempt_id
        self.journal.set_flag(attempt_id, item_id, flagged)

    def _send_pending(self, sio: socketio.Client, epoch: int) -> None:
        with self._lock:
            due = self.outbox.due(epoch, time.monotonic())
        for change in due:
            payload = {
                "attempt_id": change.attempt_id,
                "seq": change.seq,
                "item_id": change.item_id,
                "response": list(change.response),
                "client_time": change.created_at,
            }
            try:
                sio.emit(
                    "save",
                    payload,
                    namespace=p.NAMESPACE,
                    callback=self._save_callback(change.attempt_id, change.seq),
                )
            except Exception as exc:
                log.debug("save not sent: %s", exc)
                with self._lock:
                    self.outbox.not_sent(change.seq)
                return

    def _save_callback(self, attempt_id: int, seq: int) -> Any:
        def on_reply(reply: Any = None, *_: Any) -> None:
            self._on_save_reply(attempt_id, seq, reply)

        return on_reply

    def _on_save_reply(self, attempt_id: int, seq: int, reply: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if attempt_id != self.attempt_id:
                return
            out = self.outbox.on_reply(seq, reply, now)
            pend = out.pending
            if out.reply is Reply.STORED and pend is not None:
                self._acks.append((attempt_id, seq))
                self.stats.acknowledged += 1
                self.stats.duplicates += int(out.duplicate)
                self.stats.ack_latency.append(now - pend.recorded_mono)
                if pend.sent_mono is not None:
                    self.stats.rtt.append(now - pend.sent_mono)
                self._wake.set()
                return
            if out.reply is Reply.RELOGIN:
                self._login_epoch = -1  # log in again on this link, then re-send
                return
            if out.reply is Reply.LATER:
                if out.code == "attempt_paused":
                    self._next_status = 0.0
                return
            if out.reply is not Reply.REFUSED or pend is None:
                return
            # A final refusal: recorded in the journal and shown; never re-sent.
            self.stats.refused[out.code] += 1
            self.refusals.append(
                {
                    "seq": seq,
                    "item_id": pend.change.item_id,
                    "code": out.code,
                    "message": out.message,
                }
            )
            if out.code in ("attempt_submitted", "deadline_passed"):
                self._next_status = 0.0
        self.journal.mark_refused(attempt_id, seq, out.code)

    def stall(self) -> dict[str, Any] | None:
        """The outbox's stall (:meth:`Outbox.stall`): changes refused, or unanswered while
        the link is up, for ``stall_s`` or longer; None when nothing is stalled."""
        online = self.online
        with self._lock:
            return self.outbox.stall(time.monotonic(), online)

    def _flush_acks(self) -> None:
        with self._lock:
            acks, self._acks = self._acks, []
        by_attempt: dict[int, list[int]] = {}
        for attempt_id, seq in acks:
            by_attempt.setdefault(attempt_id, []).append(seq)
        for attempt_id, seqs in by_attempt.items():
            self.journal.mark_acked(attempt_id, seqs)

    # -- submission ---------------------------------------------------------------------

    def submit_opens_in(self) -> float | None:
        now = self.clock.now()
        if self.sitting is None or now is None:
            return None
        return (self.sitting.submit_opens - now).total_seconds()

    def time_left(self) -> float | None:
        """Seconds left by the server's clock as this terminal keeps it (frozen in a pause)."""
        if self.sitting is None:
            return None
        if self.sitting.paused or self.sitting.deadline is None:
            return self.sitting.time_left_s
        now = self.clock.now()
        if now is None:
            return self.sitting.time_left_s - (time.monotonic() - self._sitting_mono)
        return max(0.0, (self.sitting.deadline - now).total_seconds())

    def time_up(self) -> bool:
        left = self.time_left()
        return left is not None and left <= 0 and self.state in ("in_progress",)

    def submit(self, wait_s: float = 8.0) -> dict[str, Any]:
        """The candidate submits: only with nothing unacknowledged (the server checks too)."""
        with self._lock:
            if self.attempt_id is None:
                raise AgentError("not_logged_in")
            if self.submitted is not None:
                return {"ok": True, **self.submitted}
            opens_in = self.submit_opens_in()
            if opens_in is not None and opens_in > 0:
                raise AgentError("submit_too_early")
            attempt_id = self.attempt_id
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not self.online:
                raise AgentError("offline")
            if self.pending_count == 0 and self._login_epoch == self._epoch:
                break
            self._wake.set()
            time.sleep(0.1)
        else:
            raise AgentError("answers_pending")
        sio = self._sio
        if sio is None:
            raise AgentError("offline")
        last = max(
            (c.seq for c in self.journal.changes(attempt_id) if c.refused is None), default=0
        )
        try:
            reply, sent = self._call(sio, "submit", {"attempt_id": attempt_id, "last_seq": last})
        except Exception as exc:
            raise AgentError("offline", str(exc)) from None
        if not reply.get("ok"):
            err = p.parse(p.ErrorReply, reply)
            raise AgentError(err.code, err.message)
        ok = p.parse(p.SubmitOk, reply)
        self._observe(ok.submitted_at, sent)
        with self._lock:
            self.state = "submitted"
            self._mark_submitted(ok.receipt, "candidate", ok.submitted_at)
            self.submitted = {**(self.submitted or {}), "digest": ok.digest}
            creds = dict(self._creds or {})
        self.journal.put("session", creds)
        return {"ok": True, **(self.submitted or {})}

    # -- for the UI ---------------------------------------------------------------------

    def screen(self) -> str:
        if self._fatal is not None:
            return "error"
        if self.closed is not None:
            return "closed"
        if self.submitted is not None:
            return "submitted"
        if self.attempt_id is None:
            return "login"
        if self.stage == "confirm":
            return "confirm"
        if self.shown is not None:
            return "paper"
        return "waiting"

    def snapshot(self) -> dict[str, Any]:
        """Everything the candidate's screen shows, as JSON-ready data."""
        stall = self.stall()
        with self._lock:
            now = self.clock.now()
            sitting = self.sitting
            cand = self.login_ok.candidate if self.login_ok else None
            shuffle = self.shuffle
            answers: dict[str, list[str]] = {}
            if shuffle is not None:
                for item, resp in self.answers.items():
                    if item in shuffle.types:
                        answers[item] = sorted(shuffle.to_display(item, resp))
            return {
                "screen": self.screen(),
                "online": self.online,
                "seat": self.config.seat,
                "terminal_id": self.terminal_id,
                "clock_synced": now is not None,
                "server_time": now.isoformat() if now else None,
                "time_zone": self.time_zone,
                "fatal": self._fatal,
                "closed": self.closed,
                "state": self.state,
                "attempt_id": self.attempt_id,
                "candidate": cand.model_dump(mode="json") if cand else None,
                "sitting": sitting.model_dump(mode="json") if sitting else None,
                "to_start_s": (sitting.start - now).total_seconds() if sitting and now else None,
                "time_left_s": self.time_left(),
                "submit_opens_in_s": self.submit_opens_in(),
                "paper_ready": self.shown is not None,
                "waiting_key": self._waiting_key,
                "answers": answers,
                "flags": sorted(self.flags),
                "pending": len(self.outbox),
                "stall": stall,
                "refusals": self.refusals[-20:],
                "messages": self._unseen_messages()[:5],
                "submitted": self.submitted,
                "ticket_rule": self.ticket_rule.public() if self.ticket_rule else None,
                "windows": _windows_json(self._windows_now()),
            }

    def paper_json(self) -> dict[str, Any] | None:
        """The paper as this candidate sees it (their order, their option labels, each
        question's body as written)."""
        shown = self.shown
        if shown is None:
            return None
        sections = [
            {"title": s.title, "type": s.type.value, "points": str(s.points)}
            for s in shown.sections
        ]
        return {
            "title": shown.title,
            "subject": shown.subject.value,
            "sections": sections,
            "questions": [
                {
                    "number": n,
                    "item_id": q.item_id,
                    "type": q.type.value,
                    "section": q.section,
                    "stem": q.stem,
                    # the body as written: paragraphs and pictures (with alt text) in
                    # order; and what the author wrote after the options
                    "body": [_block_view(b) for b in q.blocks()],
                    "after": [_block_view(b) for b in q.after],
                    "points": str(q.points),
                    "options": [{"label": o.label, "text": o.text} for o in q.options],
                }
                for n, q in enumerate(shown.questions, start=1)
            ],
        }

    def photo(self) -> tuple[str, bytes] | None:
        sio = self._sio
        if sio is None or self.attempt_id is None or not self.online:
            return None
        try:
            reply, _ = self._call(sio, "photo", {})
        except Exception:
            return None
        if not reply.get("ok"):
            return None
        ok = p.parse(p.PhotoOk, reply)
        return ok.media_type, base64.b64decode(ok.data)
