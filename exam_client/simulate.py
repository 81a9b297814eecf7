"""Headless terminals for load tests and the centre's rehearsal: ``exam-client simulate``.

Each simulated terminal is a real :class:`~exam_client.agent.Agent` (same connection,
journal, re-send and clock code as at a seat) driven by a simulated candidate instead of
the UI: it logs in the roster's candidate at their seat, waits for the paper, answers at
the set pace (every item once in the order the candidate sees, then changes of mind),
submits once allowed when asked to, and otherwise lets the server submit at the end.

One process runs all the terminals: each agent has its worker thread (python-socketio adds
its own per connection); the candidates are driven by one loop, and the blocking calls
(login, submit) go through a small thread pool. Journals are in memory by default (a disk
per terminal would measure this machine's fsyncs, not the server).
"""

from __future__ import annotations

import json
import random
import re
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exam_client.agent import Agent, AgentConfig, AgentError
from exam_client.identity import EnrolError, TerminalIdentity, enrol_many
from exam_client.journal import MemoryJournal, SqliteJournal

#: login refusals worth waiting out (the simulator may start before entry opens)
LOGIN_LATER = frozenset({"offline", "entry_not_open", "server_busy", "server_error"})


@dataclass(frozen=True)
class RosterEntry:
    ticket: str
    id_number: str
    seat: str


class RosterError(ValueError):
    pass


def load_codes(path: Path) -> tuple[dict[str, str], str]:
    """A codes file of ``exam-server terminals codes --out``: (seat -> code, fingerprint)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        codes = {str(k): str(v) for k, v in doc["codes"].items()}
        return codes, str(doc.get("ca_fingerprint") or "")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RosterError(
            f"绑定码文件无法读取 / cannot read enrolment codes {path}: {exc}"
        ) from None


def load_roster(path: Path) -> list[RosterEntry]:
    """A JSON list of ``{"ticket", "id_number", "seat"}`` (other keys are ignored)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RosterError(f"名单文件无法读取 / cannot read roster {path}: {exc}") from None
    if not isinstance(doc, list) or not doc:
        raise RosterError(f"名单应为非空 JSON 数组 / roster {path} must be a non-empty JSON list")
    out = []
    for i, row in enumerate(doc, start=1):
        if not isinstance(row, dict):
            raise RosterError(f"第 {i} 条不是对象 / entry {i} is not an object")
        try:
            entry = RosterEntry(str(row["ticket"]), str(row["id_number"]), str(row["seat"]))
        except KeyError as exc:
            raise RosterError(
                f"第 {i} 条缺少 {exc.args[0]} / entry {i} lacks {exc.args[0]}"
            ) from None
        if not re.fullmatch(r"\d{12}", entry.ticket) or not re.fullmatch(
            r"[0-9A-Za-z]+-\d+", entry.seat
        ):
            raise RosterError(f"第 {i} 条格式错误 / entry {i} is malformed: {row}")
        out.append(entry)
    return out


@dataclass
class SimOptions:
    server: str
    terminals: int
    pace_s: float = 5.0
    submit: bool = False
    duration_s: float | None = None
    journal: str = "memory"  # memory | sqlite
    preload: bool = True
    #: after the candidates stop: how long pending changes may take to drain
    drain_s: float = 20.0
    seed: int = 1
    #: run the terminals in this many processes (each with its slice of the roster)
    processes: int = 1
    #: latencies and the save rate count only from this many seconds after the start
    #: (the benchmarks leave the connect and login storm out of "steady answering")
    measure_after_s: float = 0.0
    #: run each process's terminals as gevent greenlets instead of OS threads: the same
    #: agent code (its threads become greenlets), a fraction of the CPU, so a load
    #: generator on one machine can carry 1,000 terminals
    green: bool = False
    #: the bulk enrolment: seat -> one-time code (``exam-server terminals codes --out``),
    #: and the centre CA's fingerprint the terminals pin
    enrol_codes: dict[str, str] = field(default_factory=dict)
    ca_fingerprint: str = ""
    agent: dict[str, Any] = field(default_factory=dict)


def green_processes(terminals: int) -> int:
    """Processes for N greenlet terminals: about 250 each, at most 4 (sized on two cores,
    where the terminals share the machine with the server)."""
    return min(4, max(1, -(-terminals // 250)))


#: how long the simulator waits for its terminals to close their links at the end
CLOSE_WAIT_S = 15.0


@dataclass
class _Candidate:
    entry: RosterEntry
    agent: Agent
    rng: random.Random
    phase: str = "login"  # login | paper | done | failed
    job: Future[Any] | None = None
    next_at: float = 0.0
    order: list[str] = field(default_factory=list)
    cursor: int = 0
    login_refused: str | None = None
    submit_tries: int = 0


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    ms = sorted(v * 1000 for v in values)

    def pct(q: float) -> float:
        return round(ms[min(len(ms) - 1, int(q * len(ms)))], 1)

    return {
        "count": len(ms),
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "max": round(ms[-1], 1),
        "mean": round(statistics.fmean(ms), 1),
    }


class Simulation:
    def __init__(
        self,
        options: SimOptions,
        roster: list[RosterEntry],
        *,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        if options.terminals > len(roster):
            raise RosterError(
                f"名单只有 {len(roster)} 名考生 / the roster has only {len(roster)} candidates "
                f"for {options.terminals} terminals"
            )
        self.options = options
        self.progress = progress or (lambda _msg: None)
        self._tmp = (
            tempfile.TemporaryDirectory(prefix="exam-sim-") if options.journal == "sqlite" else None
        )
        self.pool = ThreadPoolExecutor(max_workers=min(32, max(4, options.terminals // 8)))
        self.candidates: list[_Candidate] = []
        entries = roster[: options.terminals]
        journals = [
            SqliteJournal(Path(self._tmp.name) / f"t{i:05d}.db")
            if self._tmp is not None
            else MemoryJournal(f"SIM-{i:05d}-{uuid.uuid4().hex[:8]}")
            for i in range(len(entries))
        ]
        identities = self._enrol(options, entries, journals)
        for i, entry in enumerate(entries):
            journal = journals[i]
            cfg = AgentConfig(
                server=options.server,
                seat=entry.seat,
                preload=options.preload,
                identity=identities.get(entry.seat),
                **options.agent,
            )
            self.candidates.append(
                _Candidate(entry, Agent(cfg, journal), random.Random(options.seed * 100003 + i))
            )
        self.peak_threads = threading.active_count()
        self.started = 0.0
        self.errors: list[str] = []

    def _enrol(
        self, options: SimOptions, entries: list[RosterEntry], journals: list[MemoryJournal]
    ) -> dict[str, TerminalIdentity]:
        """Each simulated terminal enrols at its seat with the seat's code (in parallel)."""
        if not options.enrol_codes:
            return {}
        missing = sorted({e.seat for e in entries} - set(options.enrol_codes))
        if missing:
            raise RosterError(
                f"绑定码文件缺少座位 {', '.join(missing[:5])} / no enrolment code for these seats"
            )
        self._keys = tempfile.TemporaryDirectory(prefix="exam-sim-ca-")
        try:
            return enrol_many(
                options.server,
                {e.seat: options.enrol_codes[e.seat] for e in entries},
                fingerprint=options.ca_fingerprint,
                terminal_ids={
                    e.seat: j.terminal_id for e, j in zip(entries, journals, strict=True)
                },
                folder=Path(self._keys.name),
            )
        except EnrolError as exc:
            raise RosterError(
                f"模拟终端绑定失败 / enrolment failed [{exc.code}]: {exc.message}"
            ) from None

    # -- driving ------------------------------------------------------------------------

    def run_raw(self) -> dict[str, Any]:
        self.started = time.monotonic()
        for c in self.candidates:
            c.agent.start()
            self.peak_threads = max(self.peak_threads, threading.active_count())
        until = self.started + self.options.duration_s if self.options.duration_s else None
        measure_from = self.started + self.options.measure_after_s
        self.acked_before_measure = 0
        self.measure_started: float | None = (
            None if self.options.measure_after_s > 0 else self.started
        )
        last_report = 0.0
        while True:
            now = time.monotonic()
            if self.measure_started is None and now >= measure_from:
                self._start_measuring(now)
            active = 0
            for c in self.candidates:
                self._step(c, now)
                active += c.phase in ("login", "paper")
            self.peak_threads = max(self.peak_threads, threading.active_count())
            if now - last_report >= 5:
                last_report = now
                self.progress(self._progress_line())
            if active == 0 or (until is not None and now >= until):
                break
            time.sleep(0.1)
        self._drain()
        raw = self.raw(time.monotonic() - self.started)
        # Close every terminal, but do not wait forever on a link whose clean close never
        # completes (seen with greenlet terminals: a websocket close waiting for the
        # server's reply on a socket another greenlet reads); the report is already made.
        closer = ThreadPoolExecutor(max_workers=64)
        stops = [closer.submit(c.agent.stop) for c in self.candidates]
        _, hung = wait(stops, timeout=CLOSE_WAIT_S)
        if hung:
            self.progress(f"{len(hung)} terminals did not close within {CLOSE_WAIT_S:g} s")
        closer.shutdown(wait=False, cancel_futures=True)
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self._tmp is not None:
            self._tmp.cleanup()
        if getattr(self, "_keys", None) is not None:
            self._keys.cleanup()
        return raw

    def _start_measuring(self, now: float) -> None:
        """Forget the samples so far: what follows is the measured window."""
        self.measure_started = now
        for c in self.candidates:
            st = c.agent.stats
            self.acked_before_measure += st.acknowledged
            st.ack_latency.clear()
            st.rtt.clear()

    def _drain(self) -> None:
        deadline = time.monotonic() + self.options.drain_s
        while time.monotonic() < deadline:
            if all(c.agent.pending_count == 0 for c in self.candidates):
                return
            time.sleep(0.1)

    def _step(self, c: _Candidate, now: float) -> None:
        agent = c.agent
        if c.phase in ("done", "failed"):
            return
        if agent.submitted is not None or agent.closed is not None:
            c.phase = "done" if agent.submitted is not None else "failed"
            return
        if c.job is not None:
            if not c.job.done():
                return
            self._job_done(c, c.job, now)
            c.job = None
            return
        if now < c.next_at:
            return
        if c.phase == "login":
            if agent.online:
                c.job = self.pool.submit(agent.login, c.entry.ticket, c.entry.id_number)
            else:
                c.next_at = now + 0.5
            return
        # paper phase
        if agent.shown is None or agent.shuffle is None:
            c.next_at = now + 0.1
            return
        if not c.order:
            c.order = list(agent.shuffle.order)
        if agent.sitting is not None and agent.sitting.paused:
            c.next_at = now + 1
            return
        all_answered = len(agent.answers) >= len(c.order)
        opens_in = agent.submit_opens_in()
        if (
            self.options.submit
            and all_answered
            and opens_in is not None
            and opens_in <= 0
            and agent.pending_count == 0
        ):
            c.submit_tries += 1
            c.job = self.pool.submit(agent.submit, 5.0)
            return
        self._answer(c)
        c.next_at = now + self.options.pace_s * c.rng.uniform(0.5, 1.5)

    def _answer(self, c: _Candidate) -> None:
        shuffle = c.agent.shuffle
        assert shuffle is not None
        if c.cursor < len(c.order):
            item = c.order[c.cursor]
            c.cursor += 1
        else:
            item = c.rng.choice(c.order)
        labels = list(shuffle.displayed_labels(item))
        if shuffle.types[item].value == "multiple":
            choice = sorted(c.rng.sample(labels, c.rng.randint(2, min(3, len(labels)))))
        else:
            choice = [c.rng.choice(labels)]
        try:
            c.agent.answer(item, choice)
        except AgentError as exc:
            if exc.code in ("attempt_submitted", "deadline_passed"):
                c.next_at = time.monotonic() + 1
            elif len(self.errors) < 20:
                self.errors.append(f"{c.entry.ticket}: answer refused locally: {exc.code}")

    def _job_done(self, c: _Candidate, job: Future[Any], now: float) -> None:
        try:
            result = job.result()
        except AgentError as exc:
            result = {"ok": False, "code": exc.code}
        except Exception as exc:  # reported, the rest of the simulation goes on
            if len(self.errors) < 20:
                self.errors.append(f"{c.entry.ticket}: {type(exc).__name__}: {exc}")
            result = {"ok": False, "code": "error"}
        if c.phase == "login":
            if result.get("ok"):
                c.phase = "paper"
                c.agent.confirm()
            elif result.get("code") in LOGIN_LATER:
                c.next_at = now + 2 * c.rng.uniform(0.5, 1.5)
            else:
                c.phase, c.login_refused = "failed", str(result.get("code"))
            return
        # a submit
        if result.get("ok"):
            c.phase = "done"
        else:
            c.next_at = now + 1
            if c.submit_tries > 20:
                c.phase = "failed"
                if len(self.errors) < 20:
                    self.errors.append(f"{c.entry.ticket}: submit refused: {result.get('code')}")

    def _progress_line(self) -> str:
        online = sum(c.agent.online for c in self.candidates)
        logged = sum(c.agent.attempt_id is not None for c in self.candidates)
        answered = sum(c.agent.stats.answered for c in self.candidates)
        acked = sum(c.agent.stats.acknowledged for c in self.candidates)
        done = sum(c.phase == "done" for c in self.candidates)
        return (
            f"[{time.monotonic() - self.started:6.1f}s] 在线 online {online}/{len(self.candidates)}"
            f"  登录 logged in {logged}  作答 answered {answered}  确认 acked {acked}"
            f"  完成 done {done}  threads {threading.active_count()}"
        )

    # -- the report ---------------------------------------------------------------------

    def raw(self, elapsed: float) -> dict[str, Any]:
        """Counts and raw samples (seconds); :func:`summarise` makes the report. Raw so
        that the slices of a multi-process run can be merged before the percentiles."""
        cands = self.candidates
        measured = self.measure_started
        raw: dict[str, Any] = {
            "elapsed_s": elapsed,
            "measured_s": self.started + elapsed - measured if measured is not None else 0.0,
            "acked_before_measure": self.acked_before_measure,
            "peak_threads": self.peak_threads,
            "terminals": len(cands),
            "errors": list(self.errors),
        }
        for key in COUNTS:
            raw[key] = 0
        for key in COUNTERS + SAMPLES:
            raw[key] = Counter() if key in COUNTERS else []
        for c in cands:
            a, st = c.agent, c.agent.stats
            raw["connected"] += st.connects > 0
            raw["online_at_end"] += a.online
            raw["reconnects"] += max(0, st.connects - 1)
            raw["logged_in"] += st.logins > 0
            raw["paper_opened"] += a.shown is not None
            raw["answered"] += st.answered
            raw["acknowledged"] += st.acknowledged
            raw["duplicates"] += st.duplicates
            raw["pending_at_end"] += a.pending_count
            raw["receipts"] += bool((a.submitted or {}).get("receipt"))
            raw["refused"].update(st.refused)
            if c.login_refused:
                raw["login_refused"][c.login_refused] += 1
            if a.submitted is not None:
                raw["submitted"][str(a.submitted.get("reason"))] += 1
            raw["ack_latency"] += st.ack_latency
            raw["rtt"] += st.rtt
            if st.key_to_open is not None:
                raw["key_to_open"].append(st.key_to_open)
            if st.start_to_open is not None:
                raw["start_to_open"].append(st.start_to_open)
        return raw


COUNTS = (
    "connected",
    "online_at_end",
    "reconnects",
    "logged_in",
    "paper_opened",
    "answered",
    "acknowledged",
    "duplicates",
    "pending_at_end",
    "receipts",
)
COUNTERS = ("refused", "login_refused", "submitted")
SAMPLES = ("ack_latency", "rtt", "key_to_open", "start_to_open")


def merge(raws: list[dict[str, Any]]) -> dict[str, Any]:
    """One raw result from several slices (processes) of a run."""
    out: dict[str, Any] = {
        "elapsed_s": max(r["elapsed_s"] for r in raws),
        "measured_s": min(r["measured_s"] for r in raws),
        "acked_before_measure": sum(r["acked_before_measure"] for r in raws),
        "peak_threads": sum(r["peak_threads"] for r in raws),
        "terminals": sum(r["terminals"] for r in raws),
        "errors": [e for r in raws for e in r["errors"]][:20],
    }
    for key in COUNTS:
        out[key] = sum(r[key] for r in raws)
    for key in COUNTERS:
        out[key] = sum((Counter(r[key]) for r in raws), Counter())
    for key in SAMPLES:
        out[key] = [x for r in raws for x in r[key]]
    return out


def summarise(raw: dict[str, Any], options: SimOptions) -> dict[str, Any]:
    """The JSON report (docs/client.md lists its fields)."""
    refused = dict(raw["refused"])
    return {
        "server": options.server,
        "terminals": raw["terminals"],
        "processes": options.processes,
        "green": options.green,
        "pace_s": options.pace_s,
        "submit": options.submit,
        "journal": options.journal,
        "elapsed_s": round(raw["elapsed_s"], 1),
        "peak_threads": raw["peak_threads"],
        **{key: raw[key] for key in COUNTS[:5]},
        "login_refused": dict(raw["login_refused"]),
        "answered": raw["answered"],
        "acknowledged": raw["acknowledged"],
        "duplicates": raw["duplicates"],
        "refused": refused,
        "pending_at_end": raw["pending_at_end"],
        "lost": raw["answered"] - raw["acknowledged"] - sum(refused.values()),
        "submitted": dict(raw["submitted"]),
        "receipts": raw["receipts"],
        "measured_after_s": options.measure_after_s,
        "measured_s": round(raw["measured_s"], 1),
        "acked_measured": raw["acknowledged"] - raw["acked_before_measure"],
        "ack_latency_ms": _percentiles(raw["ack_latency"]),
        "rtt_ms": _percentiles(raw["rtt"]),
        "key_to_open_ms": _percentiles(raw["key_to_open"]),
        "start_to_open_ms": _percentiles(raw["start_to_open"]),
        "errors": raw["errors"],
    }


def _run_slice(options: SimOptions, roster: list[RosterEntry], prefix: str) -> dict[str, Any]:
    """One process's share of a multi-process run (runs in a child process)."""
    import sys

    def progress(msg: str) -> None:
        print(f"{prefix} {msg}", file=sys.stderr, flush=True)

    return Simulation(options, roster, progress=progress).run_raw()


def simulate(
    options: SimOptions, roster: list[RosterEntry], progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run the simulation (in ``options.processes`` processes) and return the report."""
    roster = roster[: options.terminals]
    if options.terminals > len(roster):
        raise RosterError(
            f"名单只有 {len(roster)} 名考生 / the roster has only {len(roster)} candidates "
            f"for {options.terminals} terminals"
        )
    if options.processes <= 1 and not options.green:
        return summarise(Simulation(options, roster, progress=progress).run_raw(), options)
    import multiprocessing
    from dataclasses import replace

    slices = [roster[i :: options.processes] for i in range(options.processes)]
    ctx = multiprocessing.get_context("spawn")
    # Green terminals always run in fresh child processes: monkey-patching is for a whole
    # process and cannot be undone, so it never touches the caller's.
    from exam_client import green

    initializer = green.patch if options.green else None
    with ctx.Pool(len(slices), initializer=initializer) as pool:
        jobs = [
            pool.apply_async(
                _run_slice,
                (
                    replace(options, terminals=len(part), processes=1, seed=options.seed + i),
                    part,
                    f"[{i + 1}/{len(slices)}]",
                ),
            )
            for i, part in enumerate(slices)
            if part
        ]
        raws = [job.get() for job in jobs]
    return summarise(merge(raws), options)
