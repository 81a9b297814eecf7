"""Released keys at rest: sealed under a key derived from the centre secret.

A sitting's key (which unwraps its papers' data keys) and its end key (which opens the
answer key) reach the centre at the start and at the end. The database never holds them
in plaintext: each is sealed with AES-256-GCM under ``HKDF-SHA256(centre secret,
"exam-released-keys/v1")``, with the sitting's code and the key's kind as associated
data (a sealed key moved to another row does not open). A copy of the database alone,
or a backup without the centre secret, gives no paper away. Opening is one AES-GCM
decryption (microseconds): the start of a sitting stays as fast as before.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INFO = b"exam-released-keys/v1"
MAGIC = b"EKV1"


class VaultError(Exception):
    """A sealed key that does not open: another centre secret, or altered data."""


class KeyVault:
    def __init__(self, centre_secret: bytes) -> None:
        if len(centre_secret) < 16:
            raise ValueError("the centre secret is too short to derive a key from")
        kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(centre_secret)
        self._aead = AESGCM(kek)

    @staticmethod
    def _aad(sitting_code: str, kind: str) -> bytes:
        return f"{kind}|{sitting_code}".encode()

    def seal(self, key: bytes, *, sitting_code: str, kind: str) -> bytes:
        """``kind``: ``sitting`` or ``end``."""
        nonce = os.urandom(12)
        return MAGIC + nonce + self._aead.encrypt(nonce, key, self._aad(sitting_code, kind))

    def open(self, sealed: bytes, *, sitting_code: str, kind: str) -> bytes:
        if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + 12 + 16:
            raise VaultError(
                f"场次 {sitting_code} 的{kind}密钥不是加密保存的格式 / not a sealed key"
            )
        body = sealed[len(MAGIC) :]
        try:
            return self._aead.decrypt(body[:12], body[12:], self._aad(sitting_code, kind))
        except InvalidTag:
            raise VaultError(
                f"无法用本考点密钥打开场次 {sitting_code} 的{kind}密钥：数据目录的考点密钥"
                "（secret_key）不是保存它时的那一个 / the centre secret does not open this key"
            ) from None


def vault_for(cfg: object) -> KeyVault:
    """The vault of a centre's configuration (``EXAM_SECRET_KEY`` or the data folder's
    ``secret_key``, created there on first use)."""
    from exam_server.config import Config
    from exam_server.secret import secret_from_data_dir

    assert isinstance(cfg, Config)
    secret = cfg.SECRET_KEY or secret_from_data_dir(cfg)
    return KeyVault(secret.encode())
