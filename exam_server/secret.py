"""The centre secret: Flask sessions, CSRF, the backups' key and the sealed keys' key, one
file in the data folder (or ``EXAM_SECRET_KEY``)."""

from __future__ import annotations

import secrets
from pathlib import Path

from exam_common.durable import read_secret, write_atomic
from exam_server.config import Config

#: the centre secret is 32 random bytes written as 64 hex digits
SECRET_HEX_LEN = 64


def secret_from_data_dir(cfg: Config) -> str:
    """The centre secret (Flask sessions, CSRF, the backups' key, the sealed keys' key),
    generated durably on first start. A file that exists but is empty, short or
    unreadable (a power cut before it reached the disk, a bad restore) stops the server:
    every later backup would be encrypted under it, and every earlier one readable only
    with the old one."""
    path = cfg.data_path("secret_key")
    if not path.exists():
        write_atomic(path, secrets.token_hex(32))
    return read_centre_secret(path)


def read_centre_secret(path: Path) -> str:
    return (
        read_secret(path, min_bytes=SECRET_HEX_LEN, what="考点密钥 (the centre secret)")
        .decode()
        .strip()
    )
