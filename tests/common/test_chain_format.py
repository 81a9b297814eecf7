"""exam_common.chain: the event log's hash, written out by hand.

The centre hashes its log with this function and central re-checks every centre's log
with it, years later for an appeal: a change to the canonical form would break every log
already kept. So the form is spelt out here byte for byte, not recomputed with the code
under test."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from exam_common.chain import (
    GENESIS,
    SegmentProblem,
    check_segment,
    entry_hash,
    hash_of,
    head_message,
)

AT = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_an_entrys_hash_is_sha256_of_the_link_and_its_canonical_json() -> None:
    first = entry_hash(
        GENESIS,
        seq=1,
        at=AT,
        actor="console:王主考",
        kind="attempt.voided",
        sitting_id=3,
        room_id=4,
        attempt_id=5,
        data={"理由": "夹带", "n": [1, 2], "at": AT},
        reason="违纪",
    )
    body = (
        '{"actor":"console:王主考","at":"2026-06-01T01:00:00.000000+00:00","attempt_id":5,'
        '"data":{"at":"2026-06-01 01:00:00+00:00","n":[1,2],"理由":"夹带"},'
        '"kind":"attempt.voided","reason":"违纪","room_id":4,"seq":1,"sitting_id":3}'
    )
    assert first == sha(f"{'0' * 64}\n{body}")
    second = {
        "prev_hash": first,
        "seq": 2,
        "at": "2026-06-01T01:00:01.000000+00:00",
        "actor": "server",
        "kind": "sitting.started",
        "sitting_id": 3,
        "room_id": None,
        "attempt_id": None,
        "data": {},
        "reason": "",
    }
    assert hash_of(second) == sha(
        f"{first}\n"
        '{"actor":"server","at":"2026-06-01T01:00:01.000000+00:00","attempt_id":null,'
        '"data":{},"kind":"sitting.started","reason":"","room_id":null,"seq":2,"sitting_id":3}'
    )
    # every field is in the hash
    for field, other in (
        ("seq", 3),
        ("at", "2026-06-01T01:00:02.000000+00:00"),
        ("actor", "x"),
        ("kind", "x"),
        ("sitting_id", 9),
        ("room_id", 9),
        ("attempt_id", 9),
        ("data", {"x": 1}),
        ("reason", "x"),
        ("prev_hash", GENESIS),
    ):
        assert hash_of({**second, field: other}) != hash_of(second), field


def test_the_head_a_centre_signs_is_its_canonical_json() -> None:
    assert head_message("0101", 2, "ab" * 32, "2026-06-01T01:00:02+00:00") == (
        b'{"at":"2026-06-01T01:00:02+00:00","centre":"0101","format":"exam-chain-head/1",'
        b'"hash":"' + b"ab" * 32 + b'","seq":2}'
    )


# --- central's check of a segment of a centre's log ---------------------------------------


def log(n: int) -> list[dict[str, object]]:
    """An honest log of ``n`` entries, as JSON documents."""
    entries: list[dict[str, object]] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        e: dict[str, object] = {
            "prev_hash": prev,
            "seq": seq,
            "at": f"2026-06-01T01:00:{seq:02d}.000000+00:00",
            "actor": "server",
            "kind": "test",
            "sitting_id": None,
            "room_id": None,
            "attempt_id": None,
            "data": {"n": seq},
            "reason": "",
        }
        e["hash"] = hash_of(e)
        prev = str(e["hash"])
        entries.append(e)
    return entries


def head(entries: list[dict[str, object]], seq: int) -> tuple[int, str]:
    return seq, str(entries[seq - 1]["hash"])


def test_central_takes_a_segment_that_continues_what_it_knows() -> None:
    e = log(6)
    assert check_segment(e, known=None, head=head(e, 6)) is None
    assert check_segment(e[3:], known=head(e, 3), head=head(e, 6)) is None
    assert check_segment(e[2:], known=head(e, 3), head=head(e, 6)) is None  # overlap
    assert check_segment([], known=head(e, 6), head=head(e, 6)) is None  # nothing new


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "head before known",
            SegmentProblem(
                "chain_truncated", 5, "the log now ends at entry 4; entry 6 was seen before"
            ),
        ),
        (
            "no entries, other head",
            SegmentProblem("chain_rewritten", 6, "the head differs and no entries were sent"),
        ),
        (
            "no entries, later head",
            SegmentProblem("chain_gap", 6, "the head differs and no entries were sent"),
        ),
        ("starts past known", SegmentProblem("chain_gap", 4, "entries 4… are missing")),
        ("hole", SegmentProblem("chain_gap", 5, "entry 5 is missing")),
        ("content", SegmentProblem("chain_broken", 5, "entry 5's content does not match")),
        ("link", SegmentProblem("chain_broken", 5, "entry 5 does not link to 4")),
        (
            "known entry differs",
            SegmentProblem("chain_rewritten", 3, "entry 3 differs from the head seen before"),
        ),
        (
            "next does not follow",
            SegmentProblem("chain_rewritten", 4, "entry 4 does not follow entry 3 as seen before"),
        ),
        (
            "last is not head",
            SegmentProblem("chain_broken", 5, "the last entry sent is not the head"),
        ),
    ],
)
def test_central_names_what_is_wrong_with_a_segment(case: str, expected: SegmentProblem) -> None:
    e = log(6)
    forged = log(6)
    forged[2]["data"] = {"n": "forged"}  # entry 3 rewritten, every later hash recomputed
    prev = GENESIS
    for x in forged:
        x["prev_hash"] = prev
        x["hash"] = hash_of(x)
        prev = str(x["hash"])
    relinked = [dict(x) for x in e]
    relinked[4]["prev_hash"] = "f" * 64
    relinked[4]["hash"] = hash_of(relinked[4])
    edited = [dict(x) for x in e]
    edited[4]["actor"] = "forged"
    calls = {
        "head before known": lambda: check_segment(e, known=head(e, 6), head=head(e, 4)),
        "no entries, other head": lambda: check_segment([], known=head(e, 6), head=(6, "f" * 64)),
        "no entries, later head": lambda: check_segment([], known=head(e, 3), head=head(e, 6)),
        "starts past known": lambda: check_segment(e[4:], known=head(e, 3), head=head(e, 6)),
        "hole": lambda: check_segment(e[:4] + e[5:], known=None, head=head(e, 6)),
        "content": lambda: check_segment(edited, known=None, head=head(e, 6)),
        "link": lambda: check_segment(relinked, known=None, head=(6, str(relinked[5]["hash"]))),
        "known entry differs": lambda: check_segment(
            forged[2:], known=head(e, 3), head=head(forged, 6)
        ),
        "next does not follow": lambda: check_segment(
            forged[3:], known=head(e, 3), head=head(forged, 6)
        ),
        "last is not head": lambda: check_segment(e[:5], known=None, head=head(e, 6)),
    }
    assert calls[case]() == expected
