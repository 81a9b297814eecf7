"""The bank store: one SQLite file (stdlib ``sqlite3``), every version of every item.

Why SQLite: one durable file an exam office can copy and back up, atomic imports (one
transaction: all rows or none), and fast filtering for 200,000 items, with no server.

Table ``items`` holds one row per (item_id, version) with the item's canonical JSON and
its content hash. Importing an item whose content hash equals its latest version's is a
no-op (idempotent); a changed item is stored as the next version, and older versions stay
so that papers keep the version they were assembled with.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from question_bank.catalogue import Subject
from question_bank.items import Item
from question_bank.scoring import ItemType

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    subject TEXT NOT NULL,
    trade TEXT,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (item_id, version)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('format', 'qbank-store/1');
"""


class BankError(Exception):
    """The bank file cannot be used (missing, not a bank, unknown item)."""


@dataclass(frozen=True)
class ImportResult:
    added: tuple[str, ...]  #: new item ids (version 1)
    updated: tuple[str, ...]  #: wire ids of new versions of existing items
    unchanged: tuple[str, ...]  #: item ids whose content was already the latest version

    def summary(self) -> str:
        return (
            f"新增 {len(self.added)} 题，更新为新版本 {len(self.updated)} 题，"
            f"未变化 {len(self.unchanged)} 题 "
            f"(added {len(self.added)}, new versions {len(self.updated)}, unchanged {len(self.unchanged)})"
        )


class BankStore:
    """A bank file. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise BankError(
                f"题库文件不存在：{self.path}。请检查 --bank 路径，或先用 qbank import 建立题库"
            )
        try:
            self._db = sqlite3.connect(self.path)
            self._db.executescript(SCHEMA)
            fmt = self._db.execute("SELECT value FROM meta WHERE name='format'").fetchone()
        except sqlite3.DatabaseError as e:
            raise BankError(f"{self.path} 不是题库文件 ({e})。请检查 --bank 路径") from None
        if fmt is None or fmt[0] != "qbank-store/1":
            raise BankError(f"{self.path} 的题库格式无法识别 ({fmt})")

    def __enter__(self) -> BankStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def import_items(self, items: Sequence[Item], *, source: str, now: str) -> ImportResult:
        """Store items in one transaction. ``now`` is an ISO timestamp (the caller's clock).

        Items must already be validated (see :func:`question_bank.items.validate_rows`).
        """
        latest = {
            row[0]: (row[1], row[2])
            for row in self._db.execute(
                "SELECT item_id, MAX(version), content_hash FROM items GROUP BY item_id"
            )
        }
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        rows = []
        for item in items:
            h = item.content_hash()
            prev = latest.get(item.item_id)
            if prev is not None and prev[1] == h:
                unchanged.append(item.item_id)
                continue
            version = 1 if prev is None else prev[0] + 1
            v = item.with_version(version)
            (added if prev is None else updated).append(v.item_id if prev is None else v.wire_id)
            rows.append(
                (
                    v.item_id,
                    version,
                    h,
                    v.subject.value,
                    v.trade,
                    v.type.value,
                    json.dumps(v.to_json(), ensure_ascii=False),
                    now,
                    source,
                )
            )
        with self._db:
            self._db.executemany("INSERT INTO items VALUES (?,?,?,?,?,?,?,?,?)", rows)
        return ImportResult(tuple(added), tuple(updated), tuple(unchanged))

    def items(
        self,
        *,
        subject: Subject | None = None,
        trade: str | None = None,
        level: int | None = None,
        type: ItemType | None = None,
    ) -> list[Item]:
        """The latest version of every item, optionally filtered, ordered by id."""
        return list(self.iter_items(subject=subject, trade=trade, level=level, type=type))

    def iter_items(
        self,
        *,
        subject: Subject | None = None,
        trade: str | None = None,
        level: int | None = None,
        type: ItemType | None = None,
    ) -> Iterator[Item]:
        sql = (
            "SELECT i.data FROM items i JOIN (SELECT item_id, MAX(version) v FROM items "
            "GROUP BY item_id) m ON i.item_id = m.item_id AND i.version = m.v WHERE 1=1"
        )
        args: list[str] = []
        if subject is not None:
            sql += " AND i.subject = ?"
            args.append(subject.value)
        if trade is not None:
            sql += " AND i.trade = ?"
            args.append(trade)
        if type is not None:
            sql += " AND i.type = ?"
            args.append(type.value)
        sql += " ORDER BY i.item_id"
        for (data,) in self._db.execute(sql, args):
            item = Item.from_json(json.loads(data))
            if level is None or level in item.levels:
                yield item

    def get(self, item_id: str, version: int | None = None) -> Item:
        if version is None:
            row = self._db.execute(
                "SELECT data FROM items WHERE item_id=? ORDER BY version DESC LIMIT 1", (item_id,)
            ).fetchone()
        else:
            row = self._db.execute(
                "SELECT data FROM items WHERE item_id=? AND version=?", (item_id, version)
            ).fetchone()
        if row is None:
            which = item_id if version is None else f"{item_id}.v{version}"
            raise BankError(f"题库中没有试题 {which} (no such item)")
        return Item.from_json(json.loads(row[0]))

    def versions(self, item_id: str) -> list[int]:
        return [
            r[0]
            for r in self._db.execute(
                "SELECT version FROM items WHERE item_id=? ORDER BY version", (item_id,)
            )
        ]

    def count(self) -> int:
        row = self._db.execute("SELECT COUNT(DISTINCT item_id) FROM items").fetchone()
        return int(row[0])
