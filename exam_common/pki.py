"""What both ends of the LAN link agree on about certificates and terminal keys.

The centre's CA certificate is known to a terminal by its **fingerprint**: SHA-256 of the
certificate's DER bytes, shown to people as 20 groups of 4 upper-case hex digits
(:func:`ca_fingerprint`) and typed as any prefix of at least :data:`MIN_FINGERPRINT_HEX`
digits (:func:`fingerprint_matches`). A terminal pins the CA whose fingerprint the centre
admin gave it at enrolment, never whatever certificate a server shows first.

A terminal proves it holds its enrolled Ed25519 key by signing the server's one-time
challenge (:func:`hello_proof_message`); the enrolment request itself is signed too
(:func:`enrol_proof_message`), so a code cannot bind a key its sender does not hold.
"""

from __future__ import annotations

import hashlib
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization

#: fewest hex digits of a CA fingerprint a person must type (80 bits)
MIN_FINGERPRINT_HEX = 20


def ca_fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the certificate's DER encoding, upper-case hex in groups of four."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return "-".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def normalise_fingerprint(text: str) -> str:
    """Hex digits only, upper case: ``"3f2a-91c0 ..."`` -> ``"3F2A91C0..."``."""
    return re.sub(r"[^0-9A-Fa-f]", "", text).upper()


def fingerprint_matches(cert_pem: bytes, typed: str) -> bool:
    """Whether ``typed`` (a prefix of at least :data:`MIN_FINGERPRINT_HEX` hex digits,
    separators ignored) is the fingerprint of ``cert_pem``."""
    want = normalise_fingerprint(typed)
    if len(want) < MIN_FINGERPRINT_HEX:
        return False
    return normalise_fingerprint(ca_fingerprint(cert_pem)).startswith(want)


def hello_proof_message(challenge: bytes, terminal_id: str) -> bytes:
    """What a terminal signs to answer the server's challenge on one connection."""
    return b"exam-terminal-hello/v1\n" + challenge + b"\n" + terminal_id.encode()


def enrol_proof_message(code: str, terminal_id: str, public_key_hex: str) -> bytes:
    """What a terminal signs when it enrols (proves it holds the key it enrols)."""
    return f"exam-terminal-enrol/v1\n{code}\n{terminal_id}\n{public_key_hex}".encode()
