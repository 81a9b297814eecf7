"""Who this terminal is: its own key, its enrolment, and the keys it pinned there.

``exam-client enrol --server URL --code CODE --ca-fingerprint FP`` (once per seat):

1. fetch the centre's CA certificate and compare it with the fingerprint the centre admin
   read off the console (or the CLI) — a server that shows another CA is refused, and
   nothing is sent to it;
2. make this terminal's Ed25519 key pair (kept in the data folder, 0600);
3. send the code, the terminal id and the public key, signed with the key, over TLS
   verified against that CA; the server answers with the seat, and with central's public
   key, which papers must be signed with.

From then on the terminal trusts only that CA (:meth:`TerminalIdentity.http_session`),
proves its key at every ``hello``, and shows only papers central signed for its
candidate. Files in the data folder: ``terminal.key``, ``enrolment.json``, ``ca.pem``.
"""

from __future__ import annotations

import base64
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from exam_common import protocol as p
from exam_common.durable import PUBLIC, DamagedSecret, Remedy, read_key, write_atomic
from exam_common.pki import (
    enrol_proof_message,
    fingerprint_matches,
    hello_proof_message,
    normalise_fingerprint,
)

KEY_FILE = "terminal.key"
ENROLMENT_FILE = "enrolment.json"
CA_FILE = "ca.pem"

#: a terminal's files come from its enrolment, never from a sealed copy: it enrols again
ENROL_AGAIN = Remedy(
    "请重新绑定本机：exam-client enrol --server URL --code CODE --ca-fingerprint FP"
    "（绑定码和指纹由考点管理员在监控台“终端绑定”生成）",
    "enrol this terminal again: exam-client enrol --server URL --code CODE --ca-fingerprint FP "
    "(the centre admin makes the code on the console's enrolment page)",
)


class EnrolError(Exception):
    """Enrolment refused or impossible; ``code`` for scripts, the message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class TerminalIdentity:
    terminal_id: str
    key: Ed25519PrivateKey
    server: str
    seat: str
    centre: str
    central_key: Ed25519PublicKey
    #: the centre CA this terminal pinned (None: the server runs plain HTTP)
    ca_path: Path | None

    @property
    def public_key_hex(self) -> str:
        return self.key.public_key().public_bytes_raw().hex()

    def prove(self, challenge: bytes) -> str:
        """The answer to a connection's challenge (``hello.proof``)."""
        return base64.b64encode(
            self.key.sign(hello_proof_message(challenge, self.terminal_id))
        ).decode()

    def http_session(self) -> requests.Session:
        """HTTP(S) that trusts the pinned CA only (never the system's list, never a CA
        bundle from the environment: ``trust_env`` off) and no proxy."""
        return pinned_session(self.ca_path)


def pinned_session(ca_path: Path | None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE & co. would replace the pinned CA
    session.verify = str(ca_path) if ca_path is not None else True
    return session


def _fetch_ca(server: str, fingerprint: str, timeout: float) -> bytes:
    """The server's CA certificate, if its fingerprint is the one the admin gave."""
    if len(normalise_fingerprint(fingerprint)) < 20:
        raise EnrolError(
            "fingerprint_required",
            "请输入考点 CA 指纹（至少前 20 位十六进制，见监控台或 `exam-server tls show`） / "
            "give the centre CA's fingerprint (at least its first 20 hex digits)",
        )
    session = requests.Session()
    session.trust_env = False
    try:
        # Not verified yet, on purpose: the certificate is checked against the
        # fingerprint below, and nothing but this public certificate is exchanged.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            resp = session.get(server + "/enrol/ca.pem", verify=False, timeout=timeout)
    except requests.RequestException as exc:
        raise EnrolError("offline", f"无法连接考点服务器 {server}：{exc}") from None
    pem = resp.content
    try:
        ok = resp.status_code == 200 and fingerprint_matches(pem, fingerprint)
    except ValueError:
        ok = False
    if not ok:
        raise EnrolError(
            "wrong_ca",
            "服务器出示的证书指纹与给定的考点 CA 指纹不符：这不是本考点的服务器，或指纹抄错。"
            "终端未绑定，未发送任何信息 / the server's CA does not match the fingerprint: not "
            "this centre's server (or a typo); nothing was sent",
        )
    return pem


def enrol(
    server: str,
    code: str,
    *,
    terminal_id: str,
    fingerprint: str = "",
    key: Ed25519PrivateKey | None = None,
    ca_path: Path | None = None,
    timeout: float = 15,
) -> tuple[TerminalIdentity, bytes | None]:
    """Enrol at ``server`` with a one-time ``code``. Returns the identity and the CA
    certificate it pinned (None over plain HTTP). ``ca_path``: where the certificate
    will be kept (the identity points at it; the caller writes it there)."""
    server = server.rstrip("/")
    ca_pem: bytes | None = None
    if server.startswith("https://"):
        ca_pem = _fetch_ca(server, fingerprint, timeout)
        if ca_path is None:
            raise ValueError("ca_path is needed for an https server")
        write_atomic(ca_path, ca_pem, PUBLIC)
    identity = _enrol_pinned(
        server, code, terminal_id, ca_path if ca_pem is not None else None, timeout, key
    )
    return identity, ca_pem


def _enrol_pinned(
    server: str,
    code: str,
    terminal_id: str,
    ca_path: Path | None,
    timeout: float,
    key: Ed25519PrivateKey | None = None,
) -> TerminalIdentity:
    """The enrolment request itself, over a link that trusts ``ca_path`` only."""
    key = key or Ed25519PrivateKey.generate()
    public_hex = key.public_key().public_bytes_raw().hex()
    session = pinned_session(ca_path)
    body = p.EnrolRequest(
        code=code.strip(),
        terminal_id=terminal_id,
        public_key=public_hex,
        proof=base64.b64encode(
            key.sign(enrol_proof_message(code.strip(), terminal_id, public_hex))
        ).decode(),
    )
    try:
        resp = session.post(server + "/enrol", json=p.dump(body), timeout=timeout)
        reply: Any = resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise EnrolError("offline", f"绑定请求失败 / enrolment failed: {exc}") from None
    if not isinstance(reply, dict) or not reply.get("ok"):
        code_ = str(reply.get("code", "refused")) if isinstance(reply, dict) else "refused"
        msg = str(reply.get("message", code_)) if isinstance(reply, dict) else str(reply)
        raise EnrolError(code_, msg)
    ok = p.parse(p.EnrolOk, reply)
    central = serialization.load_pem_public_key(ok.central_public_key.encode())
    if not isinstance(central, Ed25519PublicKey):
        raise EnrolError("bad_reply", "省中心公钥不是 Ed25519 / central's key is not Ed25519")
    return TerminalIdentity(
        terminal_id=terminal_id,
        key=key,
        server=server,
        seat=ok.seat,
        centre=ok.centre,
        central_key=central,
        ca_path=ca_path,
    )


def save(identity: TerminalIdentity, folder: Path) -> None:
    """Keep the identity in a terminal's data folder (key 0600, written atomically)."""
    write_atomic(
        folder / KEY_FILE,
        identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    doc = {
        "terminal_id": identity.terminal_id,
        "server": identity.server,
        "seat": identity.seat,
        "centre": identity.centre,
        "central_public_key": identity.central_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "ca": CA_FILE if identity.ca_path is not None else None,
    }
    write_atomic(folder / ENROLMENT_FILE, json.dumps(doc, ensure_ascii=False, indent=1))


def load(folder: Path) -> TerminalIdentity | None:
    """The identity saved in ``folder``, or None if this terminal never enrolled. A file
    of it that is there but empty, short or unreadable is :class:`DamagedSecret` naming
    the file and saying to enrol again (never a terminal running on a damaged key)."""
    if not (folder / ENROLMENT_FILE).exists():
        return None
    doc = read_key(
        folder / ENROLMENT_FILE,
        _enrolment,
        what="终端绑定信息 (the terminal's enrolment)",
        remedy=ENROL_AGAIN,
    )
    key = read_key(
        folder / KEY_FILE,
        lambda pem: serialization.load_pem_private_key(pem, password=None),
        what="终端私钥 (the terminal key)",
        remedy=ENROL_AGAIN,
        min_bytes=32,
    )
    if not isinstance(key, Ed25519PrivateKey):
        raise DamagedSecret(
            f"终端私钥不是 Ed25519：{folder / KEY_FILE}。{ENROL_AGAIN.zh}。 / the terminal key "
            f"{folder / KEY_FILE} is not an Ed25519 key; {ENROL_AGAIN.en}."
        )
    ca_path = folder / doc["ca"] if doc.get("ca") else None
    if ca_path is not None:
        read_key(
            ca_path,
            x509.load_pem_x509_certificate,
            what="考点 CA 证书 (the centre CA this terminal pinned)",
            remedy=ENROL_AGAIN,
        )
    return TerminalIdentity(
        terminal_id=str(doc["terminal_id"]),
        key=key,
        server=str(doc["server"]),
        seat=str(doc["seat"]),
        centre=str(doc["centre"]),
        central_key=doc["central_key"],
        ca_path=ca_path,
    )


def _enrolment(data: bytes) -> dict[str, Any]:
    """``enrolment.json`` read: every field there, central's key an Ed25519 key
    (``ValueError``/``KeyError`` for a damaged one)."""
    doc = json.loads(data.decode("utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    for field in ("terminal_id", "server", "seat", "centre", "central_public_key"):
        if not doc.get(field):
            raise KeyError(f"{field} missing")
    central = serialization.load_pem_public_key(str(doc["central_public_key"]).encode())
    if not isinstance(central, Ed25519PublicKey):
        raise ValueError("central_public_key is not an Ed25519 key")
    return {**doc, "central_key": central}


def enrol_many(
    server: str,
    codes: dict[str, str],
    *,
    fingerprint: str,
    terminal_ids: dict[str, str],
    folder: Path,
    threads: int = 16,
    timeout: float = 30,
) -> dict[str, TerminalIdentity]:
    """Enrol one terminal per seat of ``codes`` (seat -> one-time code), as the bulk path
    for simulated terminals: the centre CA is fetched and checked against ``fingerprint``
    once, kept in ``folder``, and every enrolment goes over TLS verified against it."""
    from concurrent.futures import ThreadPoolExecutor

    server = server.rstrip("/")
    ca_path: Path | None = None
    if server.startswith("https://"):
        ca_path = folder / CA_FILE
        write_atomic(ca_path, _fetch_ca(server, fingerprint, timeout), PUBLIC)

    def one(seat: str) -> tuple[str, TerminalIdentity]:
        return seat, _enrol_pinned(server, codes[seat], terminal_ids[seat], ca_path, timeout)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return dict(pool.map(one, list(codes)))
