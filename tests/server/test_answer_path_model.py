"""A model of the answer path, checked against the real answer writer and service.

A hypothesis state machine plays several terminals of one sitting: each makes answer
changes (new, older and newer sequence numbers, blanks, items not on the paper), sends
them in any order and any grouping into the writer's group commits, re-sends what was
acknowledged, sends a conflicting change under a used number, submits, lets the clock run
past the deadline and the scheduler's sweep submit, restarts the server between any two
steps, and injects two kinds of failure into a commit: one save the database refuses
(a trigger) and the database being unavailable for one transaction.

After every step the database is checked against a simple model:

- every acknowledged save is stored, with the acknowledged response;
- each item's stored answer is the response of its highest stored sequence number, and the
  attempt's ``last_seq`` is the highest one;
- a save is refused with ``retry`` only when an outage was injected into its
  transaction, and then it is a real transient: sent again alone, it is not refused the
  same way (a retry anywhere else would have the terminal re-send it for ever);
- one save that cannot be stored fails only itself: every other save of its batch gets
  the result it would have had without it;
- the event log's chain holds.

Random batches reach a dangerous shape only by luck, so the shapes that broke once are
built on purpose: every example begins with issue 15's (a terminal's newer change stored,
then its older one alone in a batch), and rules send late older changes alone, batches
of duplicates and late older changes only, and a backlog newest first.

``make test`` runs a bounded number of examples on SQLite and PostgreSQL;
``make model`` or ``pytest -m slow`` (the ``slow`` test, ``MANY_EXAMPLES`` unless
``EXAM_MODEL_EXAMPLES`` says otherwise) runs many more: docs/testing.md.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from exam_server.clock import ManualClock
from exam_server.db import Database
from exam_server.eventlog.service import verify_chain
from exam_server.migrate import upgrade
from exam_server.sittings import service
from exam_server.sittings.engine import AttemptState, RuleError
from exam_server.sittings.models import Answer, Attempt
from exam_server.sittings.service import SaveRequest, SaveResult, ServiceError, answers
from exam_server.sittings.writer import AnswerWriter
from tests.conftest import PG_ADMIN_URL, T0, make_pg_database
from tests.factories import ITEMS, id_number_for, make_world, seat_label, ticket_for

MIN = timedelta(minutes=1)
CANDIDATES = 3
#: the third candidate was given five minutes of extra time: two deadlines to pass
EXTRA_S = 300
DURATION = timedelta(minutes=60)
PAPER_ITEMS = [i["item_id"] for i in ITEMS]
RESPONSES = [(), ("A",), ("B",), ("A", "C"), ("B", "D"), ("T",), ("F",)]

POISON_SQLITE = """
CREATE TABLE poison (attempt_id INTEGER NOT NULL, seq INTEGER NOT NULL);
CREATE TRIGGER poison_answer BEFORE INSERT ON answer
WHEN EXISTS (SELECT 1 FROM poison WHERE attempt_id = NEW.attempt_id AND seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'injected: this save cannot be stored'); END;
"""
POISON_PG = [
    "CREATE TABLE poison (attempt_id INTEGER NOT NULL, seq INTEGER NOT NULL)",
    """CREATE FUNCTION poison_answer() RETURNS trigger AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM poison WHERE attempt_id = NEW.attempt_id AND seq = NEW.seq)
      THEN RAISE EXCEPTION 'injected: this save cannot be stored'; END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER poison_answer BEFORE INSERT ON answer
    FOR EACH ROW EXECUTE FUNCTION poison_answer()""",
]


# --- the world, built once per backend and copied for every example ---------------------


def seed(db: Database) -> dict[int, int]:
    """The sitting, three candidates logged in one minute after the start; the
    attempts' ids, by candidate index."""
    with db.write() as session:
        world = make_world(session, start=T0, duration=DURATION, candidates=CANDIDATES)
        world.attempt(2).extra_time_s = EXTRA_S
        for n in range(CANDIDATES):
            service.login(
                session,
                T0 + MIN,
                ticket=ticket_for(n + 1),
                id_number=id_number_for(n + 1),
                terminal_id=f"T{n + 1}",
                seat_label=seat_label(world, n),
            )
        return {n: world.attempt(n).id for n in range(CANDIDATES)}


class SqliteTemplate:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="answer-model-"))
        self.path = self.dir / "template.db"
        db = Database(f"sqlite:///{self.path}")
        upgrade(db)
        with db.engine.begin() as conn:
            conn.connection.executescript(POISON_SQLITE)
        self.attempts = seed(db)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        path = self.dir / f"example-{self.count}.db"
        shutil.copyfile(self.path, path)
        return f"sqlite:///{path}"

    def discard(self, url: str) -> None:
        path = Path(url.removeprefix("sqlite:///"))
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresTemplate:
    def __init__(self) -> None:
        self.url = make_pg_database()
        self.name = self.url.rsplit("/", 1)[1]
        db = Database(self.url)
        upgrade(db)
        with db.engine.begin() as conn:
            for stmt in POISON_PG:
                conn.exec_driver_sql(stmt)
        self.attempts = seed(db)
        db.dispose()
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        name = f"{self.name}_{self.count}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"'))
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def discard(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        self.discard(self.url)
        self.admin.dispose()


# --- the model -------------------------------------------------------------------------


@dataclass
class Change:
    attempt_id: int
    seq: int
    item_id: str
    response: tuple[str, ...]

    @property
    def request(self) -> SaveRequest:
        return SaveRequest(self.attempt_id, self.seq, self.item_id, self.response)


@dataclass
class Terminal:
    attempt_id: int
    deadline: Any
    next_seq: int = 1
    #: changes made and not yet answered finally (sent or not)
    pending: dict[int, Change] = field(default_factory=dict)
    #: seq -> the acknowledged change
    acked: dict[int, Change] = field(default_factory=dict)
    submitted: bool = False


def outcome(result: SaveResult | Exception) -> tuple[str, bool]:
    """(code, retry) of a writer result; ``ok`` and ``dup`` for acknowledgements."""
    if isinstance(result, SaveResult):
        return ("dup" if result.duplicate else "ok"), False
    if isinstance(result, RuleError):
        return result.code.value, False
    assert isinstance(result, ServiceError), f"unexpected result {result!r}"
    return result.code, result.retry


class AnswerPath(RuleBasedStateMachine):
    template: Any = None  # set by the test: one per backend

    changes = Bundle("changes")

    def __init__(self) -> None:
        super().__init__()
        self.url = self.template.fresh()
        self.clock = ManualClock(T0 + 2 * MIN)
        self.db = Database(self.url)
        self.writer = AnswerWriter(self.db, self.clock)
        self.transient_next = False
        self.poisoned: set[tuple[int, int]] = set()
        self._wrap_transact()
        self.terminals = {
            aid: Terminal(aid, T0 + DURATION + (timedelta(seconds=EXTRA_S) if n == 2 else 0 * MIN))
            for n, aid in self.template.attempts.items()
        }
        #: (attempt, seq) -> every change the database holds
        self.stored: dict[tuple[int, int], Change] = {}

    def teardown(self) -> None:
        self.writer.stop()
        self.db.dispose()
        self.template.discard(self.url)

    def _wrap_transact(self) -> None:
        real = self.db.transact

        def transact(fn: Any) -> Any:
            if self.transient_next:
                self.transient_next = False
                raise OperationalError("BEGIN", {}, Exception("injected: database unavailable"))
            return real(fn)

        self.db.transact = transact  # type: ignore[method-assign]

    # -- what the model expects ------------------------------------------------------

    def closed(self, term: Terminal) -> str | None:
        if term.submitted:
            return "attempt_submitted"
        if self.clock.now() >= term.deadline:
            return "deadline_passed"
        return None

    def expect(self, change: Change) -> str:
        """The result the model predicts for one save, given what is stored so far."""
        key = (change.attempt_id, change.seq)
        if key in self.stored:
            return "dup" if self.stored[key].response == change.response else "seq_conflict"
        if change.item_id not in PAPER_ITEMS:
            return "unknown_item"
        closed = self.closed(self.terminals[change.attempt_id])
        if closed:
            return closed
        if key in self.poisoned:
            return "server_error"
        return "ok"

    def apply(
        self, change: Change, result: SaveResult | Exception, expected: str, outage: bool
    ) -> None:
        code, retry = outcome(result)
        term = self.terminals[change.attempt_id]
        assert not retry or outage, (
            f"save {change} refused with retry ({result!r}) with no outage injected: a "
            "retry that is no transient makes the terminal re-send it for ever"
        )
        if retry:
            # A retryable refusal must be a real transient: sent again alone, at once,
            # the same save is not refused the same way.
            again = self.writer.commit([change.request])[0]
            assert outcome(again) != (code, True), (
                f"save {change} refused with retry twice in a row: {again!r}"
            )
            self.apply(change, again, self.expect(change), outage=False)
            return
        assert code == expected, f"save {change}: got {result!r}, the model expects {expected}"
        if code == "ok":
            self.stored[(change.attempt_id, change.seq)] = change
        if term.pending.get(change.seq) != change:
            return  # a resend, or another terminal's content under this number
        if code in ("ok", "dup"):
            term.acked[change.seq] = term.pending.pop(change.seq)
        elif code != "server_error":
            del term.pending[change.seq]  # a final refusal: the terminal shows it

    def send(self, batch: list[Change]) -> None:
        transient = self.transient_next
        results = self.writer.commit([c.request for c in batch])
        assert len(results) == len(batch)
        if transient:
            # The database was unavailable for the whole transaction: every save of the
            # batch is refused with retry, none is stored.
            assert all(outcome(r) == ("server_busy", True) for r in results), results
        for change, result in zip(batch, results, strict=True):
            self.apply(change, result, self.expect(change), outage=transient)

    # -- rules -----------------------------------------------------------------------

    @rule(
        target=changes,
        terminal=st.integers(0, CANDIDATES - 1),
        item=st.sampled_from([*PAPER_ITEMS, "Q999"]),
        response=st.sampled_from(RESPONSES),
    )
    def change(self, terminal: int, item: str, response: tuple[str, ...]) -> Change:
        """A candidate changes an answer: a new sequence number, journaled, not yet sent."""
        return self._new_change(terminal, item, response)

    def _new_change(self, terminal: int, item: str, response: tuple[str, ...]) -> Change:
        term = self.terminals[self.template.attempts[terminal]]
        change = Change(term.attempt_id, term.next_seq, item, tuple(sorted(response)))
        term.next_seq += 1
        term.pending[change.seq] = change
        return change

    # -- the shapes that broke once, aimed at on purpose ---------------------------------
    #
    # Issue 15: a late older change alone in its group commit raised no attempt's
    # ``last_seq``, the update ran with no parameters and the whole batch failed. Random
    # batches reach that shape only by luck; these rules build it every time they run, and
    # every example begins with it.

    @initialize(
        target=changes,
        terminal=st.integers(0, CANDIDATES - 1),
        items=st.lists(st.sampled_from(PAPER_ITEMS), min_size=2, max_size=2),
        responses=st.lists(st.sampled_from(RESPONSES), min_size=2, max_size=2),
    )
    def begin_with_a_late_older_change(
        self, terminal: int, items: list[str], responses: list[tuple[str, ...]]
    ) -> Any:
        """Every example starts with issue 15's shape (see :meth:`late_older`)."""
        return self.late_older(terminal, items, responses)

    @rule(
        target=changes,
        terminal=st.integers(0, CANDIDATES - 1),
        items=st.lists(st.sampled_from([*PAPER_ITEMS, "Q999"]), min_size=2, max_size=2),
        responses=st.lists(st.sampled_from(RESPONSES), min_size=2, max_size=2),
    )
    def late_older(self, terminal: int, items: list[str], responses: list[tuple[str, ...]]) -> Any:
        """Two changes in a row; the newer reaches the server first, alone; then the older
        arrives alone (a resend after a reconnect): a batch that raises no ``last_seq``."""
        older = self._new_change(terminal, items[0], responses[0])
        newer = self._new_change(terminal, items[1], responses[1])
        self.send([newer])
        self.send([older])
        return multiple(older, newer)

    def stale(self) -> list[Change]:
        """Saves that cannot raise their attempt's ``last_seq``: the acknowledged ones
        (resent, they are duplicates) and pending changes older than the highest stored."""
        out: list[Change] = []
        for term in self.terminals.values():
            top = max((s for a, s in self.stored if a == term.attempt_id), default=0)
            out += [c for c in term.pending.values() if c.seq < top]
            out += term.acked.values()
        return out

    @precondition(lambda self: bool(self.stale()))
    @rule(data=st.data())
    def stale_batch(self, data: st.DataObject) -> None:
        """A group commit made only of duplicates and late older changes, in any order."""
        batch = data.draw(
            st.lists(st.sampled_from(self.stale()), min_size=1, max_size=6), label="stale"
        )
        self.send(batch)

    @precondition(lambda self: any(t.pending for t in self.terminals.values()))
    @rule(terminal=st.integers(0, CANDIDATES - 1))
    def newest_first_one_by_one(self, terminal: int) -> None:
        """A terminal's pending changes reach the server newest first, each alone (a
        backlog after an outage, its window's replies lost and re-sent out of order)."""
        term = self.terminals[self.template.attempts[terminal]]
        for seq in sorted(term.pending, reverse=True):
            change = term.pending.get(seq)
            if change is not None:
                self.send([change])

    @rule(data=st.data())
    def send_batch(self, data: st.DataObject) -> None:
        """Some pending changes of any terminals, in any order, in one group commit, with
        resends of acknowledged ones mixed in."""
        pending = [c for t in self.terminals.values() for c in t.pending.values()]
        acked = [c for t in self.terminals.values() for c in t.acked.values()]
        pool = pending + acked
        if not pool:
            return
        batch = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=8), label="batch")
        self.send(batch)

    @rule(change=changes)
    def resend(self, change: Change) -> None:
        """One change sent again on its own (a resend after a reconnect, or a late one)."""
        self.send([change])

    @rule(change=changes, response=st.sampled_from(RESPONSES))
    def conflicting(self, change: Change, response: tuple[str, ...]) -> None:
        """A stored sequence number sent with other content (a broken terminal): refused,
        never replacing what is stored."""
        if (change.attempt_id, change.seq) not in self.stored:
            return
        other = Change(change.attempt_id, change.seq, change.item_id, tuple(sorted(response)))
        self.send([other])

    @rule(change=changes)
    def poison(self, change: Change) -> None:
        """The database will refuse to store this one save (whatever batch it is in)."""
        key = (change.attempt_id, change.seq)
        if key in self.stored or key in self.poisoned:
            return
        self.poisoned.add(key)
        with self.db.write() as session:
            session.execute(
                text("INSERT INTO poison (attempt_id, seq) VALUES (:a, :s)"),
                {"a": change.attempt_id, "s": change.seq},
            )

    @rule(
        target=changes,
        terminal=st.integers(0, CANDIDATES - 1),
        item=st.sampled_from(PAPER_ITEMS),
        response=st.sampled_from(RESPONSES),
        data=st.data(),
    )
    def poisoned_in_a_batch(
        self, terminal: int, item: str, response: tuple[str, ...], data: st.DataObject
    ) -> Change:
        """A new change the database cannot store, sent at once among other pending and
        acknowledged saves: refused alone (and never with ``retry``), the others stored."""
        bad = self._new_change(terminal, item, response)
        self.poison(bad)
        pool = [
            c for t in self.terminals.values() for c in [*t.pending.values(), *t.acked.values()]
        ]
        others = data.draw(st.lists(st.sampled_from(pool), max_size=5), label="others")
        at = data.draw(st.integers(0, len(others)), label="at")
        self.send([*others[:at], bad, *others[at:]])
        return bad

    @rule()
    def database_unavailable(self) -> None:
        """The next transaction fails as a lost connection or a lock would."""
        self.transient_next = True

    @rule(seconds=st.sampled_from([1, 59, 60, 600, 1200, 1800]))
    def tick(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule()
    def sweep(self) -> None:
        """The scheduler's sweep: submits every attempt whose deadline has passed."""
        self.transient_next = False
        sitting_id = self.sitting_id()
        self.db.transact(lambda s: service.sweep(s, sitting_id, self.clock.now()))
        for term in self.terminals.values():
            if self.clock.now() >= term.deadline:
                term.submitted = True

    @rule(terminal=st.integers(0, CANDIDATES - 1))
    def submit(self, terminal: int) -> None:
        """The candidate submits; the terminal says which changes it has made."""
        self.transient_next = False
        term = self.terminals[self.template.attempts[terminal]]
        last = max([*term.pending, *term.acked], default=0)
        now = self.clock.now()
        expected: str
        if term.submitted:
            expected = "attempt_submitted"
        elif now < T0 + timedelta(minutes=30):
            expected = "submit_too_early"
        elif now >= term.deadline:
            expected = "deadline_passed"
        elif max((s for a, s in self.stored if a == term.attempt_id), default=0) < last:
            expected = "answers_pending"
        else:
            expected = "ok"
        try:
            with self.db.write() as session:
                service.submit_by_candidate(session, now, term.attempt_id, last)
            code = "ok"
        except (ServiceError, RuleError) as exc:
            code = exc.code if isinstance(exc, ServiceError) else exc.code.value
        assert code == expected, f"submit of {term.attempt_id} at {now}: {code}, not {expected}"
        if code == "ok":
            term.submitted = True

    @rule()
    def restart(self) -> None:
        """The server process stops and starts again on the same database."""
        self.writer.stop()
        self.db.dispose()
        answers._ITEM_IDS.clear()
        self.db = Database(self.url)
        self.writer = AnswerWriter(self.db, self.clock)
        self.transient_next = False
        self._wrap_transact()

    def sitting_id(self) -> int:
        with self.db.read() as session:
            return session.scalar(
                select(Attempt.sitting_id).where(
                    Attempt.id == next(iter(self.template.attempts.values()))
                )
            )

    # -- what must always hold ---------------------------------------------------------

    @invariant()
    def database_matches_the_model(self) -> None:
        ids = list(self.terminals)
        with self.db.read() as session:
            rows = {
                (a, s): r
                for a, s, r in session.execute(
                    select(Answer.attempt_id, Answer.seq, Answer.response).where(
                        Answer.attempt_id.in_(ids)
                    )
                )
            }
            current = service.current_answers_many(session, ids)
            attempts = {
                a.id: (a.last_seq, a.state)
                for a in session.scalars(select(Attempt).where(Attempt.id.in_(ids)))
            }
            chain = verify_chain(session)
        assert chain.ok, chain
        assert rows == {k: "".join(c.response) for k, c in self.stored.items()}, (
            "the database holds other saves than those acknowledged"
        )
        for aid, term in self.terminals.items():
            for seq, change in term.acked.items():
                assert rows.get((aid, seq)) == "".join(change.response), (aid, seq)
            latest: dict[str, Change] = {}
            for (a, _), c in sorted(self.stored.items()):
                if a == aid:
                    latest[c.item_id] = c  # in seq order: the highest wins
            assert current[aid] == {
                i: "".join(c.response) for i, c in latest.items() if c.response
            }, aid
            assert attempts[aid][0] == max((s for a, s in self.stored if a == aid), default=0), aid
            assert (attempts[aid][1] is AttemptState.SUBMITTED) == term.submitted, aid


def run_model(template: Any, examples: int, steps: int) -> None:
    machine = type("AnswerPathRun", (AnswerPath,), {"template": template})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


# Passing takes about a minute; a failure is shrunk to its shortest steps, which hypothesis
# caps at five minutes: the timeout leaves room for the report.
@pytest.mark.timeout(900)
def test_answer_path_model_sqlite() -> None:
    template = SqliteTemplate()
    try:
        # under mutation testing (tools/mutation.py) each mutant runs it: fewer examples
        run_model(template, examples=12 if os.environ.get("EXAM_MUTATION") else 40, steps=40)
    finally:
        template.close()


@pytest.mark.postgres
def test_answer_path_model_postgres() -> None:
    template = PostgresTemplate()
    try:
        run_model(template, examples=15, steps=30)
    finally:
        template.close()


#: examples of the many-examples run when ``EXAM_MODEL_EXAMPLES`` does not say
MANY_EXAMPLES = 2000


def selects_slow(config: pytest.Config) -> bool:
    """Whether this run asked for the slow tests by marker (``pytest -m slow``)."""
    expr = str(config.getoption("markexpr", "") or "")
    return "slow" in expr and "not slow" not in expr


@pytest.mark.slow
@pytest.mark.timeout(0)  # thousands of examples take as long as they take
def test_answer_path_model_many(request: pytest.FixtureRequest) -> None:
    examples = os.environ.get("EXAM_MODEL_EXAMPLES")
    if examples is None and not selects_slow(request.config):
        # `make test` already runs the bounded model above; this one takes a while
        pytest.skip("many examples of the answer-path model: `make model` or `pytest -m slow`")
    template = SqliteTemplate()
    try:
        run_model(template, examples=int(examples or MANY_EXAMPLES), steps=60)
    finally:
        template.close()
