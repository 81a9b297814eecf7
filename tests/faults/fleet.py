"""A fleet of asyncio terminals for fault tests: they answer, keep every unacknowledged
change, reconnect with backoff after any failure, and re-send until acknowledged.

It records exactly what each terminal saw acknowledged, so a test can check the server
against it. (The product's terminal is ``exam_client``; this is a lean stand-in that
speaks the same protocol, to run many terminals in one process.)
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio

from exam_client.identity import TerminalIdentity, enrol_many
from exam_common import protocol as p


@dataclass
class FleetReport:
    #: (attempt_id, seq) -> (item_id, response) for every change the server acknowledged
    acked: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    #: (attempt_id, seq) -> (item_id, response) of every change sent (acknowledged or not)
    sent: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    #: sessions that ended because the link failed (a cut, a server restart): reconnected
    reconnects: int = 0
    #: sessions that ended on anything else: a bug in the fleet or the server's replies,
    #: which a test must see, not count as a reconnect
    errors: list[str] = field(default_factory=list)
    pending_at_end: int = 0
    latencies: list[float] = field(default_factory=list)
    #: wall-clock time of the last acknowledgement
    last_ack_at: float = 0.0
    deadlines: dict[int, list[str]] = field(default_factory=dict)


#: how a cut link or a restarting server shows in a session (python-socketio, aiohttp,
#: the socket): the terminal reconnects. A login refused for a reason that may pass (the
#: server not ready) is raised as ConnectionError too.
LINK_FAILURES = (
    socketio.exceptions.ConnectionError,
    socketio.exceptions.TimeoutError,
    socketio.exceptions.BadNamespaceError,
    asyncio.TimeoutError,
    ConnectionError,
    OSError,
)


def enrol_fleet(url: str, codes: dict[str, str]) -> dict[str, TerminalIdentity]:
    """Enrol one terminal per seat with the rehearsal's codes (plain HTTP servers)."""
    return enrol_many(
        url,
        codes,
        fingerprint="",
        terminal_ids={seat: f"fleet-{uuid.uuid4().hex[:12]}" for seat in codes},
        folder=Path(tempfile.mkdtemp(prefix="fleet-")),
    )


class FleetTerminal:
    def __init__(
        self,
        url: str,
        row: dict[str, str],
        report: FleetReport,
        pace: float,
        rng: random.Random,
        identity: TerminalIdentity,
    ) -> None:
        self.url, self.row, self.report, self.pace, self.rng = url, row, report, pace, rng
        self.identity = identity
        self.attempt: int | None = None
        self.items: list[str] = []
        self.seq = 0
        self.pending: dict[int, dict[str, Any]] = {}
        self.done = False

    async def _session(self, stop_at: float) -> None:
        sio = socketio.AsyncClient(reconnection=False)
        await sio.connect(
            self.url, namespaces=[p.NAMESPACE], transports=["websocket"], wait_timeout=5
        )
        try:
            challenge = await sio.call("challenge", {}, namespace=p.NAMESPACE, timeout=10)
            hello = {
                "protocol": 1,
                "client": "fleet",
                "terminal_id": self.identity.terminal_id,
                "proof": self.identity.prove(base64.b64decode(challenge["challenge"])),
            }
            await sio.call("hello", hello, namespace=p.NAMESPACE, timeout=10)
            login = await sio.call(
                "login",
                {"ticket": self.row["ticket"], "id_number": self.row["id_number"]},
                namespace=p.NAMESPACE,
                timeout=10,
            )
            if not login.get("ok"):
                self.report.refused[login.get("code", "?")] = (
                    self.report.refused.get(login.get("code", "?"), 0) + 1
                )
                if login.get("code") in (
                    "attempt_submitted",
                    "deadline_passed",
                    "late_entry_closed",
                ):
                    self.done = True
                raise ConnectionError(login.get("code"))
            self.attempt = login["attempt_id"]
            self.items = [i["item_id"] for i in login["items"]]
            self.seq = max(self.seq, login["last_seq"])
            self.report.deadlines.setdefault(self.attempt, []).append(
                str(login["sitting"]["deadline"])
            )
            while time.time() < stop_at:
                for seq in sorted(self.pending):  # re-send what is not acknowledged yet
                    await self._send(sio, self.pending[seq])
                self.seq += 1
                msg = {
                    "attempt_id": self.attempt,
                    "seq": self.seq,
                    "item_id": self.rng.choice(self.items),
                    "response": [self.rng.choice("ABCD")],
                }
                self.pending[self.seq] = msg
                self.report.sent[(self.attempt, self.seq)] = (msg["item_id"], msg["response"][0])
                await self._send(sio, msg)
                await asyncio.sleep(self.pace)
            for seq in sorted(self.pending):
                await self._send(sio, self.pending[seq])
            self.done = True
        finally:
            await sio.disconnect()

    async def _send(self, sio: socketio.AsyncClient, msg: dict[str, Any]) -> None:
        t0 = time.perf_counter()
        ack = await sio.call("save", msg, namespace=p.NAMESPACE, timeout=10)
        if ack.get("ok"):
            self.report.latencies.append(time.perf_counter() - t0)
            self.report.last_ack_at = time.time()
            self.report.acked[(msg["attempt_id"], msg["seq"])] = (
                msg["item_id"],
                "".join(msg["response"]),
            )
            self.pending.pop(msg["seq"], None)
        elif not ack.get("retry"):
            code = ack.get("code", "?")
            self.report.refused[code] = self.report.refused.get(code, 0) + 1
            self.pending.pop(msg["seq"], None)

    async def run(self, stop_at: float) -> None:
        backoff = 0.1
        while not self.done and time.time() < stop_at + 30:
            try:
                await self._session(stop_at)
                backoff = 0.1
            except LINK_FAILURES:
                if self.done:
                    break
                self.report.reconnects += 1
                await asyncio.sleep(backoff + self.rng.uniform(0, backoff))
                backoff = min(backoff * 2, 2.0)
            except Exception as exc:  # noqa: BLE001 - recorded for the test to fail on
                self.report.errors.append(f"{self.row['ticket']}: {exc!r}")
                break
        self.report.pending_at_end += len(self.pending)


def seeded(name: str) -> random.Random:
    """A random source for a fault test's schedule, seeded from ``EXAM_FAULT_SEED`` or
    afresh, and the seed printed, so a failing run can be replayed exactly."""
    seed = int(os.environ.get("EXAM_FAULT_SEED") or random.randrange(1 << 30))
    print(f"{name}: EXAM_FAULT_SEED={seed}")
    return random.Random(seed)


async def run_fleet(
    url: str,
    roster: list[dict[str, str]],
    *,
    seconds: float,
    pace: float,
    identities: dict[str, TerminalIdentity],
    rng: random.Random | None = None,
) -> FleetReport:
    """Every terminal of ``roster`` answers for ``seconds``; what each change and each
    choice of the terminals is comes from ``rng`` (see :func:`seeded`)."""
    rng = rng or seeded("fleet")
    report = FleetReport()
    stop_at = time.time() + seconds
    terminals = [
        FleetTerminal(url, row, report, pace, random.Random(rng.random()), identities[row["seat"]])
        for row in roster
    ]
    await asyncio.gather(*(t.run(stop_at) for t in terminals))
    return report
