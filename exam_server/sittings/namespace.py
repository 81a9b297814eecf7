"""The ``/candidate`` Socket.IO namespace: terminals log candidates in, save, submit.

Handlers are thin: parse with :mod:`exam_common.protocol`, check the connection's state,
call a service in one unit of work, shape the reply. Every refusal is an ``ErrorReply``
with a code and a message in the server's language.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import request
from flask_socketio import Namespace, join_room, leave_room

from exam_common import protocol as p
from exam_server.messages import message
from exam_server.plans.models import Sitting
from exam_server.runtime import runtime
from exam_server.sittings import engine, service, signals
from exam_server.sittings.engine import RuleError
from exam_server.sittings.models import Attempt
from exam_server.sittings.writer import is_transient
from exam_server.terminals import service as terminals

log = logging.getLogger(__name__)


@dataclass
class Terminal:
    """What the server knows about one connection (one terminal)."""

    sid: str
    hello: p.Hello | None = None
    #: this connection's one-time challenge (``challenge``), consumed by ``hello``
    challenge: bytes | None = None
    #: who the terminal proved to be at ``hello``: its id and its enrolled seat
    identity: terminals.Identity | None = None
    attempt_id: int | None = None
    ticket: str | None = None
    rooms: list[str] = field(default_factory=list)
    connected_at: datetime | None = None
    last_contact: datetime | None = None
    clock_offset_s: float | None = None
    #: its enrolment was revoked (or its seat enrolled again) while it was connected:
    #: every later event is refused, and the connection is closed
    revoked: bool = False

    @property
    def terminal_id(self) -> str | None:
        return self.identity.terminal_id if self.identity else None

    @property
    def seat(self) -> str | None:
        return self.identity.seat if self.identity else None


def _edge(handler: Callable[..., p.Message]) -> Callable[..., dict[str, Any]]:
    """Turn a handler's result or refusal into the acknowledgement payload."""

    @functools.wraps(handler)
    def wrapped(self: CandidateNamespace, data: Any = None) -> dict[str, Any]:
        lang, tz = runtime().config.LANG, runtime().config.tz
        try:
            return p.dump(handler(self, data))
        except p.ProtocolError as exc:
            return p.dump(p.ErrorReply(code=exc.code, message=exc.message, field=exc.field))
        except RuleError as exc:
            return p.dump(
                p.ErrorReply(
                    code=exc.code.value,
                    message=message(exc.code.value, lang, exc.params, tz),
                    retry=exc.code is engine.Refusal.ATTEMPT_PAUSED,
                )
            )
        except service.ServiceError as exc:
            return p.dump(
                p.ErrorReply(
                    code=exc.code,
                    message=message(exc.code, lang, exc.params, tz),
                    retry=exc.retry,
                )
            )
        except terminals.TerminalError as exc:
            return p.dump(p.ErrorReply(code=exc.code, message=message(exc.code, lang)))
        except TerminalGone:
            # The terminal hung up while its request was being served (a slow login under a
            # storm): there is nobody to answer. Its next connection logs in again.
            log.info("%s: terminal disconnected before the reply", handler.__name__)
            return p.dump(
                p.ErrorReply(code="server_busy", message=message("server_busy", lang), retry=True)
            )
        except TimeoutError:
            return p.dump(
                p.ErrorReply(code="server_busy", message=message("server_busy", lang), retry=True)
            )
        except Exception as exc:
            # Never leave a terminal without an answer. ``retry`` only when the failure is
            # a transient one (the database unavailable): a fault that would fail the same
            # way again says so, and the terminal keeps the change and shows the stall.
            log.exception("%s failed", handler.__name__)
            transient = is_transient(exc)
            return p.dump(
                p.ErrorReply(
                    code="server_busy" if transient else "server_error",
                    message=message("server_busy" if transient else "server_error", lang),
                    retry=transient,
                )
            )

    return wrapped


class TerminalGone(Exception):
    """The terminal's connection closed while the server was handling its request."""


def attempt_room(attempt_id: int) -> str:
    return f"attempt:{attempt_id}"


def sitting_room(sitting_id: int) -> str:
    return f"sitting:{sitting_id}"


def terminal_room(enrolment_id: int) -> str:
    """The connections of one enrolled terminal (its identity proved at ``hello``)."""
    return f"terminal:{enrolment_id}"


class CandidateNamespace(Namespace):
    def __init__(self) -> None:
        super().__init__(p.NAMESPACE)
        self.terminals: dict[str, Terminal] = {}
        self._lock = threading.Lock()
        #: the revocation watcher runs (only while some connection is identified)
        self._watching = False

    # -- revoked enrolments ----------------------------------------------------------

    def cut_off(self, enrolment_ids: set[int]) -> int:
        """Cut off at once this process's connections of the terminals whose enrolments
        were revoked (the console, ``exam-server terminals revoke``, a new enrolment of
        the seat or the terminal): each is told why, every later event it sends is
        refused, and its connection is closed; its next ``hello`` fails the enrolment
        check. The candidate's attempt is not touched (an invigilator moves them to a
        spare seat as after any terminal failure). Returns how many were cut off."""
        from exam_server.extensions import socketio

        if not enrolment_ids:
            return 0
        lang = runtime().config.LANG
        notice = p.dump(p.ErrorReply(code="not_enrolled", message=message("not_enrolled", lang)))
        for enrolment_id in enrolment_ids:
            # through the message queue when several workers run: each tells its own
            socketio.emit(
                "terminal_revoked", notice, to=terminal_room(enrolment_id), namespace=p.NAMESPACE
            )
        with self._lock:
            gone = [
                t
                for t in self.terminals.values()
                if t.identity is not None and t.identity.enrolment_id in enrolment_ids
            ]
            for term in gone:
                term.revoked = True
        for term in gone:
            log.warning(
                "terminal %s (seat %s): enrolment revoked, connection closed",
                term.terminal_id,
                term.seat,
            )
            with contextlib.suppress(Exception):  # it hung up meanwhile
                socketio.server.disconnect(term.sid, namespace=p.NAMESPACE, ignore_queue=True)
        return len(gone)

    def _watch_revocations(self, app: Any) -> None:
        """Every ``REVOCATION_CHECK_S``, look in the database for revoked enrolments
        among this process's identified connections: a revocation made in another
        process (the CLI, another worker) reaches the terminal's own worker this way."""
        from sqlalchemy import select

        from exam_server.extensions import socketio
        from exam_server.terminals.models import TerminalEnrolment

        rt = runtime(app)
        while True:
            socketio.sleep(rt.config.REVOCATION_CHECK_S)
            with self._lock:
                ids = {
                    t.identity.enrolment_id
                    for t in self.terminals.values()
                    if t.identity is not None and not t.revoked
                }
                if not ids:
                    self._watching = False  # the next hello starts it again
                    return
            wanted = sorted(ids)

            def revoked_among(session: Any, wanted: list[int] = wanted) -> set[int]:
                return set(
                    session.scalars(
                        select(TerminalEnrolment.id).where(
                            TerminalEnrolment.id.in_(wanted),
                            TerminalEnrolment.revoked_at.is_not(None),
                        )
                    )
                )

            try:
                # on a native thread under gevent: a slow or absent database never stalls
                # the sockets (a short read, under the writers' lock like any unit)
                revoked = rt.db.transact(revoked_among)
                if revoked:
                    with app.app_context():
                        self.cut_off(revoked)
            except Exception:  # the database away for a moment: look again next time
                log.exception("looking for revoked enrolments failed")

    def _start_watching(self) -> None:
        from flask import current_app

        from exam_server.extensions import socketio

        with self._lock:
            if self._watching:
                return
            self._watching = True
        socketio.start_background_task(self._watch_revocations, current_app._get_current_object())  # type: ignore[attr-defined]

    # -- connection ------------------------------------------------------------------

    def on_connect(self, auth: Any = None) -> None:
        now = runtime().clock.now()
        sid = request.sid  # type: ignore[attr-defined]
        with self._lock:
            self.terminals[sid] = Terminal(sid, connected_at=now, last_contact=now)
        signals.terminal_connected.send("candidate", sid=sid, terminal_id=None, seat=None, at=now)

    def on_disconnect(self, *_: Any) -> None:
        sid = request.sid  # type: ignore[attr-defined]
        with self._lock:
            term = self.terminals.pop(sid, None)
        if term is not None:
            signals.terminal_disconnected.send(
                "candidate",
                sid=sid,
                terminal_id=term.terminal_id,
                seat=term.seat,
                attempt_id=term.attempt_id,
                at=runtime().clock.now(),
            )

    def _alert_locks(self, term: Terminal, ticket: str | None) -> None:
        """Tell the consoles of the rooms concerned that a ticket or a terminal locked."""
        from sqlalchemy import select

        from exam_server.throttle.models import LoginThrottle

        keys = [("terminal", term.terminal_id or "")] + ([("ticket", ticket)] if ticket else [])
        rt = runtime()
        with rt.db.read() as session:
            rooms = {
                row.room_id
                for scope, key in keys
                for row in session.scalars(
                    select(LoginThrottle).where(
                        LoginThrottle.scope == scope,
                        LoginThrottle.key == key,
                        LoginThrottle.locked_at.is_not(None),
                    )
                )
                if row.room_id is not None
            }
        if rooms:
            signals.login_locked.send("candidate", room_ids=sorted(rooms), at=rt.clock.now())

    def _identified(self) -> Terminal:
        """The connection's terminal, once its ``hello`` proved who it is."""
        term = self._terminal()
        if term.identity is None:
            raise terminals.TerminalError("not_enrolled", "send challenge and hello first")
        return term

    def _terminal(self) -> Terminal:
        sid = request.sid  # type: ignore[attr-defined]
        with self._lock:
            term = self.terminals.get(sid)
            if term is None:
                term = self.terminals[sid] = Terminal(sid)
        term.last_contact = runtime().clock.now()
        if term.revoked:
            raise terminals.TerminalError("not_enrolled", "enrolment revoked")
        return term

    # -- client -> server ------------------------------------------------------------

    @_edge
    def on_challenge(self, data: Any = None) -> p.Message:
        """Terminal -> server, first on a connection: random bytes for ``hello`` to sign."""
        p.parse(p.Challenge, data or {})
        term = self._terminal()
        term.challenge = os.urandom(32)
        return p.ChallengeOk(challenge=base64.b64encode(term.challenge).decode())

    @_edge
    def on_hello(self, data: Any) -> p.Message:
        """Terminal -> server, after ``challenge``: protocol version and the terminal's
        proof that it holds the key it enrolled with; replies with its enrolled seat."""
        version = data.get("protocol") if isinstance(data, dict) else None
        if version not in p.SUPPORTED_VERSIONS:
            supported = ", ".join(str(v) for v in sorted(p.SUPPORTED_VERSIONS))
            raise p.ProtocolError(
                "protocol_mismatch",
                f"{message('protocol_mismatch', runtime().config.LANG)} "
                f"(client {version!r}; server supports {supported})",
                field="protocol",
            )
        hello = p.parse(p.Hello, data)
        rt = runtime()
        now = rt.clock.now()
        term = self._terminal()
        challenge, term.challenge = term.challenge, None  # one use only
        if challenge is None:
            raise terminals.TerminalError("bad_proof", "no challenge on this connection")
        with rt.db.read() as session:
            identity = terminals.prove(session, hello.terminal_id, challenge, hello.proof)
        term.hello, term.identity = hello, identity
        join_room(terminal_room(identity.enrolment_id))
        self._start_watching()
        if hello.seat and hello.seat != identity.seat:
            log.warning(
                "terminal %s says it is at %s; it is enrolled at %s",
                identity.terminal_id,
                hello.seat,
                identity.seat,
            )
        warning = False
        if hello.local_time is not None:
            term.clock_offset_s = (hello.local_time - now).total_seconds()
            warning = abs(term.clock_offset_s) > rt.config.CLOCK_WARNING_S
        signals.terminal_hello.send(
            "candidate",
            sid=term.sid,
            terminal_id=identity.terminal_id,
            seat=identity.seat,
            clock_offset_s=term.clock_offset_s,
            at=now,
        )
        return p.HelloOk(
            protocol=p.PROTOCOL_VERSION,
            server_time=now,
            clock_warning=warning,
            seat=identity.seat,
            time_zone=runtime().config.TIME_ZONE,
        )

    @_edge
    def on_login(self, data: Any) -> p.Message:
        """Terminal -> server: a candidate's ticket and ID number; replies with the attempt."""
        term = self._identified()
        msg = p.parse(p.Login, data)
        rt = runtime()
        cfg = rt.config
        limits = service.LoginLimits(
            ticket=cfg.LOGIN_TICKET_LIMIT,
            terminal=cfg.LOGIN_TERMINAL_LIMIT,
            window=timedelta(seconds=cfg.LOGIN_WINDOW_S),
        )
        assert term.identity is not None
        identity = term.identity
        return self._enter(
            term,
            msg.ticket,
            lambda session, now: service.login(
                session,
                now,
                ticket=msg.ticket,
                id_number=msg.id_number,
                terminal_id=identity.terminal_id,
                seat_label=identity.seat,
                sitting_id=msg.sitting_id,
                limits=limits,
                terminal_room_id=identity.room_id,
            ),
        )

    @_edge
    def on_resume(self, data: Any) -> p.Message:
        """Terminal -> server, after a reconnect or a restart: log its candidate in again
        with the resume token of their login at this terminal (no ID number)."""
        term = self._identified()
        msg = p.parse(p.Resume, data)
        assert term.identity is not None
        identity = term.identity
        return self._enter(
            term,
            None,
            lambda session, now: service.resume(
                session,
                now,
                attempt_id=msg.attempt_id,
                token=msg.token,
                terminal_id=identity.terminal_id,
                seat_label=identity.seat,
                sitting_id=msg.sitting_id,
            ),
        )

    def _enter(
        self,
        term: Terminal,
        ticket: str | None,
        login: Callable[[Any, datetime], service.LoginResult],
    ) -> p.Message:
        rt = runtime()
        refused: Exception | None = None
        with rt.db.write() as session:
            now = rt.clock.now()
            try:
                result = login(session, now)
            except (service.ServiceError, RuleError) as exc:
                # Committed all the same: the refusal's log entry and the failure counts.
                refused = exc
            else:
                reply = login_reply(session, result, now)
                attempt = result.attempt
                room_id = attempt.seat.room_id
                ticket = attempt.candidate.ticket
        if refused is not None:
            if getattr(refused, "code", "") in ("login_locked", "terminal_locked"):
                self._alert_locks(term, ticket)
            raise refused
        assert ticket is not None
        self._bind(term, attempt.id, attempt.sitting_id, ticket)
        signals.candidate_logged_in.send(
            "candidate",
            sid=term.sid,
            attempt_id=attempt.id,
            sitting_id=attempt.sitting_id,
            room_id=room_id,
            terminal_id=term.terminal_id,
            seat=term.seat,
            first=result.first_login,
            at=now,
        )
        return reply

    @_edge
    def on_save(self, data: Any) -> p.Message:
        """Terminal -> server: one answer change; acknowledged only after commit."""
        term = self._terminal()
        msg = p.parse(p.Save, data)
        self._own(term, msg.attempt_id)
        rt = runtime()
        result = rt.writer.save(  # not-durable: an answer into the database, not a file
            service.SaveRequest(msg.attempt_id, msg.seq, msg.item_id, msg.response)
        )
        now = rt.clock.now()
        signals.answer_saved.send(
            "candidate",
            sid=term.sid,
            attempt_id=msg.attempt_id,
            seq=msg.seq,
            item_id=msg.item_id,
            response="".join(msg.response),  # as stored: "" is an item left blank
            duplicate=result.duplicate,
            at=now,
        )
        return p.SaveOk(seq=result.seq, duplicate=result.duplicate, server_time=now)

    @_edge
    def on_submit(self, data: Any) -> p.Message:
        """Terminal -> server: the candidate submits (from the sitting's earliest submission)."""
        term = self._terminal()
        msg = p.parse(p.Submit, data)
        self._own(term, msg.attempt_id)
        rt = runtime()
        with rt.db.write() as session:
            receipt = service.submit_by_candidate(
                session, rt.clock.now(), msg.attempt_id, msg.last_seq
            )
        signals.attempt_submitted.send(
            "candidate", attempt_id=msg.attempt_id, by="candidate", at=receipt.submitted_at
        )
        return p.SubmitOk(
            submitted_at=receipt.submitted_at,
            digest=receipt.digest,
            signature=receipt.signature,
            receipt=receipt.receipt,
        )

    @_edge
    def on_heartbeat(self, data: Any) -> p.Message:
        """Terminal -> server, every few seconds: still here (and how far along)."""
        beat = p.parse(p.Heartbeat, data or {})
        term = self._identified()
        now = runtime().clock.now()
        signals.terminal_heartbeat.send(
            "candidate",
            sid=term.sid,
            terminal_id=term.terminal_id,
            attempt_id=term.attempt_id,
            answered=beat.answered,
            stalled=p.dump(beat.stalled) if beat.stalled else None,
            at=now,
        )
        if beat.stalled is not None:
            log.warning(
                "terminal %s (seat %s): %d answer change(s) not stored for %.0f s (%s)",
                term.terminal_id,
                term.seat,
                beat.stalled.count,
                beat.stalled.since_s,
                beat.stalled.code,
            )
        return p.HelloOk(protocol=p.PROTOCOL_VERSION, server_time=now)

    @_edge
    def on_preload(self, data: Any) -> p.Message:
        """Terminal -> server, after hello: encrypted papers for this seat (no keys)."""
        term = self._identified()
        p.parse(p.Preload, data or {})
        assert term.seat is not None
        rt = runtime()
        with rt.db.read() as session:
            rows = service.preload_papers(session, rt.clock.now(), term.seat)
            papers = tuple(
                p.PreloadPaper(
                    sitting_id=sitting.id,
                    sitting_code=sitting.code,
                    paper_ref=paper.paper_ref,
                    start=sitting.start,
                    sha256=hashlib.sha256(paper.ciphertext).hexdigest(),
                    ciphertext=base64.b64encode(paper.ciphertext).decode(),
                    binding=binding,
                )
                for sitting, paper, binding in rows
            )
        return p.PreloadOk(seat=term.seat, papers=papers)

    @_edge
    def on_rules(self, data: Any) -> p.Message:
        """Terminal -> server, after hello: the ticket rule and this seat's windows."""
        term = self._terminal()
        p.parse(p.Rules, data or {})
        rt = runtime()
        with rt.db.read() as session:
            rules = service.ticket_rules(session)
            sittings: list[Sitting] = []
            # the seat the terminal enrolled at (never its word); a seat this centre
            # does not have: no windows, the rule all the same
            if term.seat:
                with contextlib.suppress(service.ServiceError):
                    sittings = service.seat_sittings(session, rt.clock.now(), term.seat)
            return p.RulesOk(
                ticket_rule=rules[0] if len(rules) == 1 else None,
                sittings=tuple(
                    p.SittingWindows(
                        sitting_id=s.id,
                        start=s.start,
                        entry_opens_before_s=s.entry_opens_before_s,
                        late_entry_s=s.late_entry_s,
                        earliest_submit_s=s.earliest_submit_s,
                    )
                    for s in sittings
                ),
            )

    @_edge
    def on_status(self, data: Any) -> p.Message:
        """Terminal -> server, every few seconds: the attempt's state and timing now."""
        term = self._terminal()
        msg = p.parse(p.Status, data)
        self._own(term, msg.attempt_id)
        rt = runtime()
        with rt.db.read() as session:
            now = rt.clock.now()
            attempt, timing = service.attempt_with_timing(session, msg.attempt_id)
            return p.StatusOk(
                attempt_id=attempt.id,
                state=attempt.state.value,
                server_time=now,
                sitting=sitting_info(attempt, timing, now),
                receipt=attempt.receipt,
            )

    @_edge
    def on_photo(self, data: Any) -> p.Message:
        """Terminal -> server: the logged-in candidate's registered photo (JPEG/PNG)."""
        term = self._terminal()
        p.parse(p.Photo, data or {})
        if term.attempt_id is None:
            raise service.ServiceError("not_logged_in")
        rt = runtime()
        with rt.db.read() as session:
            photo = service.candidate_photo(session, term.attempt_id)
        if not photo:
            raise service.ServiceError("no_photo")
        media = "image/png" if photo.startswith(b"\x89PNG") else "image/jpeg"
        return p.PhotoOk(media_type=media, data=base64.b64encode(photo).decode())

    # -- helpers ---------------------------------------------------------------------

    def _own(self, term: Terminal, attempt_id: int) -> None:
        if term.attempt_id is None:
            raise service.ServiceError("not_logged_in")
        if term.attempt_id != attempt_id:
            raise service.ServiceError(
                "not_your_attempt", f"logged in as attempt {term.attempt_id}"
            )

    def _bind(self, term: Terminal, attempt_id: int, sitting_id: int, ticket: str) -> None:
        with self._lock:
            if self.terminals.get(term.sid) is not term:
                raise TerminalGone(term.sid)
        try:
            for room in term.rooms:
                leave_room(room)
            term.attempt_id, term.ticket = attempt_id, ticket
            term.rooms = [attempt_room(attempt_id), sitting_room(sitting_id)]
            for room in term.rooms:
                join_room(room)
        except KeyError as exc:  # python-socketio: the sid left the namespace meanwhile
            with self._lock:
                if self.terminals.get(term.sid) is term:
                    del self.terminals[term.sid]
            raise TerminalGone(term.sid) from exc


def sitting_info(attempt: Attempt, timing: engine.Timing, now: datetime) -> p.SittingInfo:
    sitting = attempt.sitting
    paused = engine.is_paused(timing, now)
    return p.SittingInfo(
        sitting_id=sitting.id,
        subject=sitting.subject,
        sitting_code=sitting.code,
        start=sitting.start,
        end=sitting.end,
        submit_opens=engine.submit_opens_at(sitting.rules, timing),
        deadline=None if paused else engine.deadline(timing, now),
        time_left_s=service.seconds(engine.time_left(timing, now)),
        paused=paused,
    )


def login_reply(session: Any, result: service.LoginResult, now: datetime) -> p.LoginOk:
    attempt = result.attempt
    cand = attempt.candidate
    answers = service.current_answers(session, attempt.id)
    from exam_server.plans.keys import paper_key_for

    key = paper_key_for(attempt, now, runtime().vault)
    return p.LoginOk(
        attempt_id=attempt.id,
        state=attempt.state.value,
        server_time=now,
        candidate=p.CandidateInfo(
            name=cand.name,
            ticket=cand.ticket,
            trade=cand.trade,
            level=str(cand.level),
            photo_url=f"/photos/{cand.ticket}" if cand.photo else None,
        ),
        sitting=sitting_info(attempt, result.timing, now),
        items=tuple(
            p.ItemRef(item_id=i["item_id"], type=i["type"], points=str(i["points"]))
            for i in attempt.paper.items
        ),
        answers={k: tuple(v) for k, v in answers.items()},
        last_seq=attempt.last_seq,
        paper=base64.b64encode(attempt.paper.ciphertext).decode(),
        paper_key=base64.b64encode(key).decode() if key else None,
        receipt=attempt.receipt,
        resume_token=result.resume_token,
        binding=attempt.binding,
    )
