"""Signed requests between a centre and central (no passwords on the wire).

Every request a centre sends carries four headers:

``X-Exam-Centre``     the centre code (考点代码)
``X-Exam-Timestamp``  the sender's UTC time, whole seconds since the epoch
``X-Exam-Nonce``      32 random hex digits, never reused
``X-Exam-Signature``  base64 of the centre's Ed25519 signature over :func:`canonical`

The signed text binds the method, the path with its query string, the timestamp, the
nonce and the SHA-256 of the body, so a request cannot be altered or pointed elsewhere.
Central accepts a timestamp only inside its replay window and each nonce only once
(it remembers nonces for the window), so a captured request cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "exam-central-request/v1"
H_CENTRE = "X-Exam-Centre"
H_TIMESTAMP = "X-Exam-Timestamp"
H_NONCE = "X-Exam-Nonce"
H_SIGNATURE = "X-Exam-Signature"


def canonical(method: str, path: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    """The exact bytes that are signed."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{PREFIX}\n{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{digest}".encode()


def sign_request(
    key: Ed25519PrivateKey, centre: str, method: str, path: str, body: bytes, now: datetime
) -> dict[str, str]:
    """Headers for one request (``path`` includes any query string)."""
    timestamp = int(now.timestamp())
    nonce = os.urandom(16).hex()
    signature = key.sign(canonical(method, path, timestamp, nonce, body))
    return {
        H_CENTRE: centre,
        H_TIMESTAMP: str(timestamp),
        H_NONCE: nonce,
        H_SIGNATURE: base64.b64encode(signature).decode(),
    }


@dataclass(frozen=True)
class SignedHeaders:
    centre: str
    timestamp: int
    nonce: str
    signature: bytes


class RequestAuthError(ValueError):
    """Why a signed request is refused: ``code`` for machines, the message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_headers(headers: dict[str, str]) -> SignedHeaders:
    """The four headers, checked for shape (not yet for the signature)."""
    try:
        centre = headers[H_CENTRE]
        timestamp = int(headers[H_TIMESTAMP])
        nonce = headers[H_NONCE]
        signature = base64.b64decode(headers[H_SIGNATURE], validate=True)
    except (KeyError, ValueError) as exc:
        raise RequestAuthError(
            "unsigned_request", f"请求缺少或带有格式错误的签名头（{exc}）/ unsigned request"
        ) from None
    if not (len(nonce) == 32 and all(c in "0123456789abcdef" for c in nonce)):
        raise RequestAuthError("unsigned_request", "请求随机数格式错误 / bad nonce")
    if len(signature) != 64:
        raise RequestAuthError("bad_signature", "请求签名长度错误 / bad signature")
    return SignedHeaders(centre, timestamp, nonce, signature)


def verify_request(
    public_key: Ed25519PublicKey,
    signed: SignedHeaders,
    method: str,
    path: str,
    body: bytes,
    now: datetime,
    window_s: int,
) -> None:
    """Check the time window and the signature; raise :class:`RequestAuthError`."""
    skew = abs(now.timestamp() - signed.timestamp)
    if skew > window_s:
        raise RequestAuthError(
            "stale_request",
            f"请求时间与省中心时间相差 {int(skew)} 秒，超过 {window_s} 秒：请校准考点服务器时钟 "
            "(request timestamp outside the replay window)",
        )
    try:
        public_key.verify(
            signed.signature, canonical(method, path, signed.timestamp, signed.nonce, body)
        )
    except InvalidSignature:
        raise RequestAuthError(
            "bad_signature",
            "请求签名验证失败：考点密钥与省中心登记的不一致，或请求被改动 (bad request signature)",
        ) from None
