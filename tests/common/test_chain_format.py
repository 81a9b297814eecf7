"""exam_common.chain: the event log's hash, written out by hand.

The centre hashes its log with this function and central re-checks every centre's log
with it, years later for an appeal: a change to the canonical form would break every log
already kept. So the form is spelt out here byte for byte, not recomputed with the code
under test."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from exam_common.chain import GENESIS, entry_hash, hash_of, head_message

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
