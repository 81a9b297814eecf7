"""Central's signed binding of a paper to a candidate (试卷绑定): what a terminal checks
before it shows anything.

For every candidate and sitting, central signs with its package key (Ed25519) a small
statement: this centre, this sitting, this paper (id, variant, SHA-256 of its
ciphertext), for this ticket at this room and seat. The package carries the statements
(``parts/bindings.json``); the centre checks each against the package at import and
passes the candidate's one to the terminal with the paper. The terminal, holding
central's public key pinned at enrolment, verifies the signature, that the ciphertext is
the one named, and that the ticket is the candidate who logged in: a rogue server can
neither serve a paper of its own nor swap a candidate's variant.

Wire form: ``base64url(canonical JSON) "." base64url(signature)``; the signature covers
``b"exam-paper-binding/1\\n"`` followed by the canonical JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

BINDING_FORMAT = "exam-paper-binding/1"
_DOMAIN = b"exam-paper-binding/1\n"


class BindingError(Exception):
    """A binding that does not verify or does not match: the paper must not be shown."""


@dataclass(frozen=True)
class PaperBinding:
    centre: str
    sitting: str  #: the sitting's code
    paper_id: str
    variant: int
    sha256: str  #: of the paper's ciphertext, hex
    ticket: str
    room: str
    seat: int

    @property
    def seat_label(self) -> str:
        return f"{self.room}-{self.seat:02d}"

    def canonical(self) -> bytes:
        doc = {"format": BINDING_FORMAT, **asdict(self)}
        return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_binding(key: Ed25519PrivateKey, binding: PaperBinding) -> str:
    body = binding.canonical()
    return f"{_b64(body)}.{_b64(key.sign(_DOMAIN + body))}"


def read_binding(signed: str, public_key: Ed25519PublicKey) -> PaperBinding:
    """The binding, once its signature verifies with central's key."""
    try:
        body_b64, sig_b64 = signed.split(".")
        body, signature = _unb64(body_b64), _unb64(sig_b64)
        public_key.verify(signature, _DOMAIN + body)
    except (ValueError, InvalidSignature):
        raise BindingError(
            "试卷签名验证失败：这份试卷不是省中心签发的，或已被改动。请勿作答，立即报告监考老师 "
            "(the paper's signature does not verify)"
        ) from None
    try:
        doc: dict[str, Any] = json.loads(body)
        if doc.pop("format") != BINDING_FORMAT:
            raise ValueError("format")
        return PaperBinding(**doc)
    except (ValueError, TypeError, KeyError) as exc:
        raise BindingError(f"试卷签名内容格式错误 / malformed binding: {exc!r}") from None


def check_paper(
    signed: str | None,
    public_key: Ed25519PublicKey,
    ciphertext: bytes,
    *,
    ticket: str | None = None,
    seat: str | None = None,
) -> PaperBinding:
    """Verify that ``ciphertext`` is the paper central bound to ``ticket`` (when given) or
    to ``seat`` (when given): what a terminal runs before caching or showing a paper."""
    if not signed:
        raise BindingError(
            "试卷没有省中心的签名，不能显示。请报告监考老师 (the paper carries no signature)"
        )
    binding = read_binding(signed, public_key)
    if hashlib.sha256(ciphertext).hexdigest() != binding.sha256:
        raise BindingError(
            "试卷内容与省中心签名不符：试卷被替换或改动。请勿作答，立即报告监考老师 "
            "(the paper is not the one central signed)"
        )
    if ticket is not None and binding.ticket != ticket:
        raise BindingError(
            f"这份试卷属于准考证 {binding.ticket}，不是 {ticket}。请报告监考老师 "
            "(the paper is bound to another candidate)"
        )
    if seat is not None and binding.seat_label != seat:
        raise BindingError(
            f"这份试卷属于座位 {binding.seat_label}，不是本机座位 {seat} "
            "(the paper is bound to another seat)"
        )
    return binding
