"""The terminal's answer journal: every change on local disk before it goes on the wire.

One SQLite file per terminal (``journal.db`` in the data dir), WAL mode with
``synchronous=FULL``: :meth:`SqliteJournal.record` returns only once the change is on
disk, so a browser crash, an agent crash (kill -9) or a power cut after the candidate's
click loses nothing. A change stays *pending* until the server acknowledges it (or refuses
it for good); the agent re-sends pending changes after every reconnect and restart.

Besides the changes the journal keeps small facts the terminal must not forget: its own
``terminal_id`` (generated once), the candidate session to resume after a restart, the
candidate's flags, and pre-loaded **encrypted** papers (never a key, never plaintext).

:class:`MemoryJournal` is the same interface in memory, for the load simulator, where
thousands of fsyncs per second would measure the test machine's disk, not the server.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exam_common.durable import ensure_dir, private_sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS change (
    attempt_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    response TEXT NOT NULL,          -- canonical labels, sorted and joined; '' clears
    created_at TEXT NOT NULL,        -- estimated server time of the click (ISO 8601)
    acked INTEGER NOT NULL DEFAULT 0,
    refused TEXT,                    -- final refusal code, if the server refused it for good
    PRIMARY KEY (attempt_id, seq)
);
CREATE TABLE IF NOT EXISTS flag (
    attempt_id INTEGER NOT NULL, item_id TEXT NOT NULL, PRIMARY KEY (attempt_id, item_id)
);
CREATE TABLE IF NOT EXISTS paper_cache (
    sha256 TEXT PRIMARY KEY,
    sitting_id INTEGER NOT NULL,
    paper_ref TEXT NOT NULL,
    ciphertext BLOB NOT NULL         -- encrypted as the package carried it
);
"""


@dataclass(frozen=True)
class Change:
    attempt_id: int
    seq: int
    item_id: str
    response: str
    created_at: str
    acked: bool = False
    refused: str | None = None


class MemoryJournal:
    """The journal's interface without a disk (simulator); also the base of the real one."""

    def __init__(self, terminal_id: str | None = None) -> None:
        self._lock = threading.Lock()
        self._meta: dict[str, str] = {"terminal_id": terminal_id or new_terminal_id()}
        self._changes: dict[tuple[int, int], Change] = {}
        self._flags: set[tuple[int, str]] = set()
        self._papers: dict[str, tuple[int, str, bytes]] = {}

    @property
    def terminal_id(self) -> str:
        return self._meta["terminal_id"]

    def get(self, key: str) -> Any:
        raw = self._meta.get(key)
        return None if raw is None else json.loads(raw)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            if value is None:
                self._meta.pop(key, None)
            else:
                self._meta[key] = json.dumps(value, ensure_ascii=False)

    def record(self, change: Change) -> None:
        with self._lock:
            self._changes[(change.attempt_id, change.seq)] = change

    def max_seq(self, attempt_id: int) -> int:
        return max((s for a, s in self._changes if a == attempt_id), default=0)

    def changes(self, attempt_id: int) -> list[Change]:
        return sorted(
            (c for (a, _), c in self._changes.items() if a == attempt_id), key=lambda c: c.seq
        )

    def pending(self, attempt_id: int) -> list[Change]:
        return [c for c in self.changes(attempt_id) if not c.acked and c.refused is None]

    def mark_acked(self, attempt_id: int, seqs: list[int]) -> None:
        with self._lock:
            for seq in seqs:
                c = self._changes.get((attempt_id, seq))
                if c is not None:
                    self._changes[(attempt_id, seq)] = _replace(c, acked=True)

    def mark_refused(self, attempt_id: int, seq: int, code: str) -> None:
        with self._lock:
            c = self._changes.get((attempt_id, seq))
            if c is not None:
                self._changes[(attempt_id, seq)] = _replace(c, refused=code)

    def set_flag(self, attempt_id: int, item_id: str, flagged: bool) -> None:
        with self._lock:
            (self._flags.add if flagged else self._flags.discard)((attempt_id, item_id))

    def flags(self, attempt_id: int) -> set[str]:
        return {i for a, i in self._flags if a == attempt_id}

    def cache_paper(self, sha256: str, sitting_id: int, paper_ref: str, ciphertext: bytes) -> None:
        with self._lock:
            self._papers[sha256] = (sitting_id, paper_ref, ciphertext)

    def cached_papers(self) -> dict[str, tuple[int, str, bytes]]:
        return dict(self._papers)

    def close(self) -> None:
        pass


def _replace(c: Change, **kw: Any) -> Change:
    return Change(**{**c.__dict__, **kw})


def new_terminal_id() -> str:
    return f"T-{uuid.uuid4().hex[:16]}"


class SqliteJournal(MemoryJournal):
    """The journal on disk. Safe to share between the agent's threads."""

    def __init__(self, path: Path) -> None:
        # The folder 0700 and the journal 0600: it holds the candidate's answers (and
        # never their ID number: the agent resumes with a token).
        ensure_dir(path.parent)
        private_sqlite(path)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        if self.get("terminal_id") is None:
            # Generated once: the server knows this terminal by it across restarts.
            self.put("terminal_id", new_terminal_id())

    @property
    def terminal_id(self) -> str:
        value = self.get("terminal_id")
        assert isinstance(value, str)
        return value

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(sql, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def get(self, key: str) -> Any:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def put(self, key: str, value: Any) -> None:
        if value is None:
            self._write("DELETE FROM meta WHERE key = ?", [(key,)])
        else:
            self._write(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(key, json.dumps(value, ensure_ascii=False))],
            )

    def record(self, change: Change) -> None:
        """Durable on return (WAL + synchronous=FULL fsyncs the commit)."""
        self._write(
            "INSERT OR REPLACE INTO change "
            "(attempt_id, seq, item_id, response, created_at, acked, refused) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    change.attempt_id,
                    change.seq,
                    change.item_id,
                    change.response,
                    change.created_at,
                    int(change.acked),
                    change.refused,
                )
            ],
        )

    def max_seq(self, attempt_id: int) -> int:
        rows = self._read("SELECT MAX(seq) FROM change WHERE attempt_id = ?", (attempt_id,))
        return int(rows[0][0] or 0)

    def changes(self, attempt_id: int) -> list[Change]:
        return [
            Change(a, s, i, r, t, bool(k), f)
            for a, s, i, r, t, k, f in self._read(
                "SELECT attempt_id, seq, item_id, response, created_at, acked, refused "
                "FROM change WHERE attempt_id = ? ORDER BY seq",
                (attempt_id,),
            )
        ]

    def mark_acked(self, attempt_id: int, seqs: list[int]) -> None:
        # One commit for a batch of acknowledgements: losing one only means a harmless resend.
        self._write(
            "UPDATE change SET acked = 1 WHERE attempt_id = ? AND seq = ?",
            [(attempt_id, s) for s in seqs],
        )

    def mark_refused(self, attempt_id: int, seq: int, code: str) -> None:
        self._write(
            "UPDATE change SET refused = ? WHERE attempt_id = ? AND seq = ?",
            [(code, attempt_id, seq)],
        )

    def set_flag(self, attempt_id: int, item_id: str, flagged: bool) -> None:
        sql = (
            "INSERT OR IGNORE INTO flag (attempt_id, item_id) VALUES (?, ?)"
            if flagged
            else "DELETE FROM flag WHERE attempt_id = ? AND item_id = ?"
        )
        self._write(sql, [(attempt_id, item_id)])

    def flags(self, attempt_id: int) -> set[str]:
        return {
            r[0] for r in self._read("SELECT item_id FROM flag WHERE attempt_id = ?", (attempt_id,))
        }

    def cache_paper(self, sha256: str, sitting_id: int, paper_ref: str, ciphertext: bytes) -> None:
        self._write(
            "INSERT OR REPLACE INTO paper_cache (sha256, sitting_id, paper_ref, ciphertext) "
            "VALUES (?, ?, ?, ?)",
            [(sha256, sitting_id, paper_ref, ciphertext)],
        )

    def cached_papers(self) -> dict[str, tuple[int, str, bytes]]:
        return {
            h: (s, r, bytes(c))
            for h, s, r, c in self._read(
                "SELECT sha256, sitting_id, paper_ref, ciphertext FROM paper_cache"
            )
        }

    def close(self) -> None:
        with self._lock:
            self._db.close()
