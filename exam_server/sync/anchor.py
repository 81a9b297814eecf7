"""The event log's anchor outside the centre: at every push, the chain's new entries and
its head, signed with the centre's key, go to central.

Central answers with the last head it accepted; the centre sends every entry after it,
in segments of at most :data:`SEGMENT_BYTES`, each ending at a signed head. Central
checks that each segment continues the chain exactly as it saw it: a log truncated, or
rewritten (even with every hash recomputed), no longer continues it and is refused and
recorded there. ``exam-server verify-log --central`` (or ``--heads FILE``) checks the
local log against every head central kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from exam_common.chain import head_message
from exam_server.db import Database
from exam_server.eventlog.models import ChainHead, Event
from exam_server.sync.client import CentralClient, SyncError
from exam_server.system.keys import signing_key

#: the most a segment's entries take as JSON (central reads requests of a few MB)
SEGMENT_BYTES = 1_000_000
#: the most segments one push sends (the rest go at the next push)
MAX_SEGMENTS = 50


@dataclass(frozen=True)
class AnchorReport:
    sent: int  #: entries sent
    head: tuple[int, str]  #: the head central holds now


def entry_json(e: Event) -> dict[str, Any]:
    """An entry as the result package and the anchor carry it."""
    return {
        "seq": e.seq,
        "at": e.at.isoformat(timespec="microseconds"),
        "actor": e.actor,
        "kind": e.kind,
        "sitting_id": e.sitting_id,
        "room_id": e.room_id,
        "attempt_id": e.attempt_id,
        "data": e.data,
        "reason": e.reason,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def _segment(db: Database, after: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    size = 0
    last = after
    with db.read() as session:
        while size < SEGMENT_BYTES:
            rows = session.scalars(
                select(Event).where(Event.seq > last).order_by(Event.seq).limit(500)
            ).all()
            if not rows:
                break
            for e in rows:
                doc = entry_json(e)
                size += len(json.dumps(doc, ensure_ascii=False, default=str))
                out.append(doc)
                last = e.seq
                if size >= SEGMENT_BYTES:
                    break
    return out


def anchor(db: Database, centre: str, now: datetime, api: CentralClient) -> AnchorReport:
    """Send central the chain's entries since the last head it accepted, each segment
    with its signed head. Raises :class:`SyncError` (``chain_*`` codes: central found the
    log truncated or rewritten, and recorded it)."""
    reply = api.request("GET", "/api/v1/chain")
    last = reply.get("last") or {"seq": 0, "hash": ""}
    known = (int(last["seq"]), str(last["hash"]))
    with db.write() as session:
        key = signing_key(session)
        row = session.get(ChainHead, 1)
        current = (row.seq, row.hash) if row is not None else (0, "")
    sent = 0
    for _ in range(MAX_SEGMENTS):
        entries = _segment(db, known[0]) if current[0] > known[0] else []
        if entries:
            head = (int(entries[-1]["seq"]), str(entries[-1]["hash"]))
        elif current[0] < known[0] or (current[0] == known[0] and current != known):
            head = current  # shorter or different: central must see it (and refuse it)
        else:
            break
        at = now.isoformat()
        signature = key.sign(head_message(centre, head[0], head[1], at)).hex()
        result = api.post_json(
            "/api/v1/chain",
            {
                "head": {"centre": centre, "seq": head[0], "hash": head[1], "at": at},
                "signature": signature,
                "entries": entries,
            },
        )
        if not result.get("ok"):
            raise SyncError(str(result.get("code")), str(result.get("message")), transient=False)
        sent += len(entries)
        known = head
        if not entries:
            break
    return AnchorReport(sent, known)
