"""The centre's TLS: its own certificate authority and the server certificate it signs.

At set-up (``exam-server tls setup``, or the first ``exam-server run``) the centre makes a
CA (ECDSA P-256, ten years) and a server certificate (ECDSA P-256, 397 days) for the
addresses the terminals and the invigilators' browsers use. Both live in
``<data-dir>/tls/``; the private keys are written 0600 and never leave it. Terminals pin
the CA by its fingerprint at enrolment (``docs/operations.md``); the console's browsers
trust ``ca.pem`` once.

A new server certificate under the same CA (new addresses, or the old one near its end)
changes nothing for terminals; a new CA means every terminal enrols again.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from exam_common.durable import PUBLIC, DamagedSecret, Remedy, ensure_dir, read_key, write_atomic
from exam_common.pki import ca_fingerprint

log = logging.getLogger(__name__)

CA_DAYS = 3650
SERVER_DAYS = 397  # what browsers accept for a server certificate
#: a server certificate this close to its end is renewed at startup
RENEW_BEFORE = timedelta(days=30)


class TlsError(DamagedSecret):
    """Unreadable or inconsistent TLS files: the message says what to do (a damaged key
    like any other, refused by every command in one line)."""


#: a lost or damaged CA: its sealed copy, or a new CA that every terminal enrols with again
CA_REMEDY = Remedy(
    "请从密封备份恢复考点的 tls 目录；若无备份，运行 `exam-server tls rotate-ca --yes` 并让所有终端"
    "重新绑定",
    "restore the centre's tls folder from its sealed copy; without one, run `exam-server tls "
    "rotate-ca --yes` and enrol every terminal again",
)
#: a damaged server certificate or key: a new one under the same CA changes nothing for
#: the terminals
SERVER_REMEDY = Remedy(
    "请运行 `exam-server tls rotate-server` 换发服务器证书（同一 CA，终端无需重新绑定）",
    "run `exam-server tls rotate-server` for a new server certificate under the same CA "
    "(terminals need nothing)",
)


def _certificate(path: Path, what: str, remedy: Remedy) -> x509.Certificate:
    return read_key(path, x509.load_pem_x509_certificate, what=what, remedy=remedy)


def _private_key(path: Path, what: str, remedy: Remedy) -> ec.EllipticCurvePrivateKey:
    key = read_key(
        path,
        lambda pem: serialization.load_pem_private_key(pem, password=None),
        what=what,
        remedy=remedy,
    )
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TlsError(
            f"{what} 不是 ECDSA 私钥：{path}。{remedy.zh}。 / {what}: {path} is not an ECDSA "
            f"key; {remedy.en}."
        )
    return key


@dataclass(frozen=True)
class TlsFiles:
    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.folder / "server.key"

    def exists(self) -> bool:
        return self.ca_cert.exists() and self.server_cert.exists() and self.server_key.exists()

    def fingerprint(self) -> str:
        return read_key(
            self.ca_cert,
            ca_fingerprint,
            what="考点 CA 证书 (the centre CA certificate)",
            remedy=CA_REMEDY,
        )


def tls_files(data_dir: str | Path) -> TlsFiles:
    return TlsFiles(Path(data_dir) / "tls")


def default_hosts() -> list[str]:
    """127.0.0.1, localhost, this machine's name and the IPv4 addresses it resolves to."""
    hosts = ["127.0.0.1", "localhost"]
    name = socket.gethostname()
    if name:
        hosts.append(name)
        try:
            for info in socket.getaddrinfo(name, None, socket.AF_INET):
                hosts.append(str(info[4][0]))
        except OSError:
            pass
    return _unique(hosts)


def _unique(hosts: list[str]) -> list[str]:
    seen: list[str] = []
    for h in hosts:
        h = h.strip()
        if h and h not in seen and h not in ("0.0.0.0", "::"):
            seen.append(h)
    return seen


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "考点机考系统 exam centre"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def create_ca(files: TlsFiles, centre: str, now: datetime) -> None:
    """A new centre CA (replacing any old one: every terminal must enrol again)."""
    ensure_dir(files.folder)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"考点 {centre or ''} CA".replace("  ", " "))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_atomic(files.ca_key, _key_pem(key))
    write_atomic(files.ca_cert, cert.public_bytes(serialization.Encoding.PEM), PUBLIC)


def _load_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = _certificate(files.ca_cert, "考点 CA 证书 (the centre CA certificate)", CA_REMEDY)
    key = _private_key(files.ca_key, "考点 CA 私钥 (the centre CA key)", CA_REMEDY)
    return cert, key


def issue_server_cert(files: TlsFiles, hosts: list[str], now: datetime) -> None:
    """A new server certificate for ``hosts`` (names and IP addresses), under the CA."""
    ca_cert, ca_key = _load_ca(files)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in _unique(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0] if hosts else "exam-server"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=SERVER_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    write_atomic(files.server_key, _key_pem(key))
    write_atomic(files.server_cert, cert.public_bytes(serialization.Encoding.PEM), PUBLIC)


def server_hosts(files: TlsFiles) -> list[str]:
    """The names and addresses the current server certificate is valid for."""
    cert = _server_cert(files)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(v) for v in san.get_values_for_type(x509.IPAddress)] + list(
        san.get_values_for_type(x509.DNSName)
    )


def server_cert_expires(files: TlsFiles) -> datetime:
    return _server_cert(files).not_valid_after_utc


def _server_cert(files: TlsFiles) -> x509.Certificate:
    return _certificate(files.server_cert, "服务器证书 (the server certificate)", SERVER_REMEDY)


def ensure_tls(
    data_dir: str | Path, *, centre: str = "", hosts: list[str] | None = None, now: datetime
) -> TlsFiles:
    """The CA and a server certificate valid for ``hosts`` (default: :func:`default_hosts`)
    and for at least :data:`RENEW_BEFORE` more: made on first use, the server certificate
    re-issued under the same CA when an address is missing or its end is near."""
    files = tls_files(data_dir)
    wanted = _unique([*(hosts or []), *default_hosts()])
    if not files.ca_cert.exists() or not files.ca_key.exists():
        if files.ca_cert.exists() or files.server_cert.exists():
            # A CA certificate without its key (or the reverse) is a damaged set-up: never
            # quietly replace a CA terminals have pinned.
            _load_ca(files)
        create_ca(files, centre, now)
        log.info("created the centre CA: fingerprint %s", files.fingerprint())
    else:
        _load_ca(files)  # never serve with a CA whose key is damaged: refuse at startup
    if not files.server_cert.exists() or not files.server_key.exists():
        issue_server_cert(files, wanted, now)
        return files
    missing = [h for h in wanted if h not in server_hosts(files)]
    if missing or server_cert_expires(files) - now < RENEW_BEFORE:
        issue_server_cert(files, _unique([*server_hosts(files), *wanted]), now)
        log.info("renewed the server certificate (added %s)", ", ".join(missing) or "nothing")
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The server side of TLS 1.2+ with the centre's certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _server_cert(files)
    _private_key(files.server_key, "服务器私钥 (the server key)", SERVER_REMEDY)
    try:
        ctx.load_cert_chain(str(files.server_cert), str(files.server_key))
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(
            f"服务器证书与私钥不配（{files.server_cert}，{files.server_key}：{exc}）。"
            f"{SERVER_REMEDY.zh}。 / the server certificate and key do not go together "
            f"({files.server_cert}, {files.server_key}: {exc}); {SERVER_REMEDY.en}."
        ) from None
    return ctx


def now_utc() -> datetime:
    return datetime.now(UTC)
