"""Submission digests and receipt codes (交卷回执码): the centre makes them, central checks them.

At submission the centre hashes the candidate's final answers (:func:`answers_digest`),
signs the digest with its Ed25519 key, and gives the candidate a short code derived from
that signature (:func:`receipt_code`). Central recomputes both from the answers in the
result package, so a changed answer or a changed receipt shows.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping


def answers_digest(ticket: str, sitting_code: str, answers: Mapping[str, str]) -> str:
    """SHA-256 (hex) of the final answers: ``{item_id: "AC"}``, canonical JSON."""
    body = json.dumps(
        {"ticket": ticket, "sitting": sitting_code, "answers": dict(sorted(answers.items()))},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def receipt_code(signature_hex: str) -> str:
    """The short code a candidate notes down: 8 base32 characters of the signature's hash."""
    raw = hashlib.sha256(bytes.fromhex(signature_hex)).digest()
    code = base64.b32encode(raw[:5]).decode()
    return f"{code[:4]}-{code[4:]}"
