"""The centre's hash-chained event log, as both ends read it.

Each entry's hash is SHA-256 of the previous entry's hash, a newline and the entry's
canonical JSON (``docs/result-package-format.md``); the first entry links to 64 zeros.
The centre appends and verifies (``exam_server.eventlog``); central verifies the segments
of the chain a centre sends at each sync, against the heads it has seen before
(``central.service.take_chain``), so a log truncated or rewritten at the centre is
detected outside it. A chain head travels signed by the centre's key
(:func:`head_message`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
HEAD_FORMAT = "exam-chain-head/1"


def entry_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime | str,
    actor: str,
    kind: str,
    sitting_id: int | None,
    room_id: int | None,
    attempt_id: int | None,
    data: dict[str, Any],
    reason: str,
) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds") if isinstance(at, datetime) else at,
            "actor": actor,
            "kind": kind,
            "sitting_id": sitting_id,
            "room_id": room_id,
            "attempt_id": attempt_id,
            "data": data,
            "reason": reason,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def hash_of(entry: dict[str, Any]) -> str:
    """The hash an entry as a JSON document (its ``prev_hash`` included) must carry."""
    return entry_hash(
        str(entry["prev_hash"]),
        seq=int(entry["seq"]),
        at=str(entry["at"]),
        actor=str(entry["actor"]),
        kind=str(entry["kind"]),
        sitting_id=entry["sitting_id"],
        room_id=entry["room_id"],
        attempt_id=entry["attempt_id"],
        data=entry["data"],
        reason=str(entry["reason"]),
    )


def head_message(centre: str, seq: int, head: str, at: str) -> bytes:
    """What the centre signs to vouch for its chain's head."""
    doc = {"format": HEAD_FORMAT, "centre": centre, "seq": seq, "hash": head, "at": at}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class SegmentProblem:
    """Why a segment does not continue the chain central knows."""

    code: str  #: chain_broken | chain_rewritten | chain_truncated | chain_gap
    seq: int  #: the first entry concerned
    detail: str


def check_segment(
    entries: Iterable[dict[str, Any]],
    *,
    known: tuple[int, str] | None,
    head: tuple[int, str],
) -> SegmentProblem | None:
    """Whether ``entries`` (consecutive, as JSON documents) continue the chain whose last
    known head is ``known`` (``None``: nothing known, the segment must start at entry 1)
    up to ``head``. ``None`` when it does."""
    head_seq, head_hash = head
    last_seq, last_hash = known if known is not None else (0, GENESIS)
    if head_seq < last_seq:
        return SegmentProblem(
            "chain_truncated",
            head_seq + 1,
            f"the log now ends at entry {head_seq}; entry {last_seq} was seen before",
        )
    entries = list(entries)
    if not entries:
        if head != (last_seq, last_hash):
            code = "chain_rewritten" if head_seq == last_seq else "chain_gap"
            return SegmentProblem(code, head_seq, "the head differs and no entries were sent")
        return None
    first = int(entries[0]["seq"])
    if first > last_seq + 1:
        return SegmentProblem("chain_gap", last_seq + 1, f"entries {last_seq + 1}… are missing")
    prev = None
    for e in entries:
        seq = int(e["seq"])
        if prev is not None and seq != prev[0] + 1:
            return SegmentProblem("chain_gap", prev[0] + 1, f"entry {prev[0] + 1} is missing")
        if hash_of(e) != e["hash"]:
            return SegmentProblem("chain_broken", seq, f"entry {seq}'s content does not match")
        if prev is not None and e["prev_hash"] != prev[1]:
            return SegmentProblem("chain_broken", seq, f"entry {seq} does not link to {seq - 1}")
        if seq == last_seq and e["hash"] != last_hash:
            return SegmentProblem(
                "chain_rewritten", seq, f"entry {seq} differs from the head seen before"
            )
        if seq == last_seq + 1 and e["prev_hash"] != last_hash:
            return SegmentProblem(
                "chain_rewritten",
                seq,
                f"entry {seq} does not follow entry {last_seq} as seen before",
            )
        prev = (seq, str(e["hash"]))
    assert prev is not None
    if prev != (head_seq, head_hash):
        return SegmentProblem("chain_broken", prev[0], "the last entry sent is not the head")
    return None  # (a head before the known one was refused first, as chain_truncated)
