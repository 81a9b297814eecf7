"""Encrypted, consistent snapshots of the centre database, and restoring one.

A snapshot is taken while the server runs:

* SQLite: the sqlite3 online backup API copies a consistent image (it sees one
  transaction's state, WAL included) into a temporary file;
* PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot by MVCC); restored with
  ``pg_restore --clean``. Without ``pg_dump`` on the PATH the backup is refused with a
  message saying so.

The file (``*.exambak``) is ``EXAMBAK1`` + a 4-byte big-endian header length + the JSON
header + a 12-byte nonce + the zlib-compressed snapshot encrypted with AES-256-GCM under
``HKDF-SHA256(centre secret, info="exam-backup/v1")``, the header as associated data (so
it cannot be altered either) + the centre's Ed25519 signature (64 bytes) of everything
before it, which central checks against the key the centre registered. The centre secret is ``<DATA_DIR>/secret_key`` (or
``EXAM_SECRET_KEY``): keep a sealed copy of it off site, or no backup can be read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.engine import make_url

from exam_common.durable import DamagedSecret, atomic_writer, ensure_dir, fsync_dir, write_atomic
from exam_server.config import Config

MAGIC = b"EXAMBAK1"
FORMAT = "exam-backup/1"
INFO = b"exam-backup/v1"
SIGNATURE_BYTES = 64
CHUNK = 1 << 20  #: bytes read, hashed, compressed and encrypted at a time


class BackupError(Exception):
    """Why a backup or a restore cannot be done (Chinese first, says what to do)."""


@dataclass(frozen=True)
class BackupHeader:
    dialect: str
    taken_at: datetime
    centre: str
    sitting: str | None
    sha256: str  #: of the plain snapshot
    size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "dialect": self.dialect,
            "taken_at": self.taken_at.isoformat(),
            "centre": self.centre,
            "sitting": self.sitting,
            "sha256": self.sha256,
            "size": self.size,
            "compression": "zlib",
        }


def centre_secret(cfg: Config) -> bytes:
    """The centre secret backups are encrypted under (``EXAM_SECRET_KEY`` or the file the
    server generated in its data folder)."""
    if cfg.SECRET_KEY:
        return cfg.SECRET_KEY.encode()
    from exam_server.secret import read_centre_secret

    path = Path(cfg.DATA_DIR, "secret_key")
    if not path.exists():
        raise BackupError(
            f"找不到考点密钥文件 {path}：备份用它加密，请指定正确的 --data-dir "
            "(the centre secret is missing)"
        )
    try:
        return read_centre_secret(path).encode()
    except DamagedSecret as exc:
        raise BackupError(str(exc)) from None


def backup_key(secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret)


def _libpq_url(url: str) -> str:
    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def snapshot_to(url: str, out: Path) -> str:
    """Write a consistent copy of the database at ``url`` to the file ``out``; return
    the dialect. Nothing of it is held in memory."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if not path or path == ":memory:":
            raise BackupError("内存数据库无法备份 (in-memory database)")
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(out)
        try:
            # the plain snapshot, in a temporary folder: sealed into the backup by atomic_writer
            src.backup(dst)  # not-durable: a temporary plain snapshot
        finally:
            dst.close()
            src.close()
        return "sqlite"
    if url.startswith("postgresql"):
        if shutil.which("pg_dump") is None:
            raise BackupError(
                "找不到 pg_dump：请安装 PostgreSQL 客户端（apt-get install postgresql-client）"
            )
        proc = subprocess.run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={out}",
                _libpq_url(url),
            ],
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise BackupError(f"pg_dump 失败：{proc.stderr.decode(errors='replace')[:500]}")
        return "postgresql"
    raise BackupError(f"不支持的数据库 {url.split(':')[0]}")


def _file_digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def encode_backup(
    header: BackupHeader, plain: bytes, secret: bytes, key: Ed25519PrivateKey
) -> bytes:
    """The backup file's bytes: encrypted under the centre secret, signed by the centre.
    (In memory; :func:`write_backup` writes the same format without holding the snapshot.)"""
    head = json.dumps(header.to_json(), sort_keys=True).encode()
    nonce = os.urandom(12)
    body = AESGCM(backup_key(secret)).encrypt(nonce, zlib.compress(plain, 6), head)
    data = MAGIC + len(head).to_bytes(4, "big") + head + nonce + body
    return data + key.sign(data)


def seal(
    header: BackupHeader, snapshot_file: Path, f: IO[bytes], secret: bytes, key: Ed25519PrivateKey
) -> None:
    """Write the backup file ``out`` from ``snapshot_file`` chunk by chunk: the same bytes
    :func:`encode_backup` makes (zlib level 6, AES-256-GCM whose tag follows the
    ciphertext, the header as associated data, then the centre's signature of everything
    before it). Only the compressed file is read back whole, to be signed: Ed25519 signs
    a message, not a stream."""
    head = json.dumps(header.to_json(), sort_keys=True).encode()
    nonce = os.urandom(12)
    encryptor = Cipher(algorithms.AES(backup_key(secret)), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(head)
    deflate = zlib.compressobj(6)
    with snapshot_file.open("rb") as src:
        f.write(MAGIC + len(head).to_bytes(4, "big") + head + nonce)
        while chunk := src.read(CHUNK):
            f.write(encryptor.update(deflate.compress(chunk)))
        f.write(encryptor.update(deflate.flush()))
        f.write(encryptor.finalize() + encryptor.tag)
        f.seek(0)
        f.write(key.sign(f.read()))


def write_backup(
    cfg: Config,
    now: datetime,
    *,
    centre: str,
    sitting: str | None,
    key: Ed25519PrivateKey,
    folder: Path | None = None,
    offload: Callable[..., Any] | None = None,
) -> Path:
    """Take a snapshot, encrypt and sign it, write it atomically into the backup folder.

    The snapshot goes to a temporary file and is hashed, compressed and encrypted from it
    in 1 MiB pieces. ``offload(fn, *args)`` (the server passes ``Database.offload``) runs
    the parts that would hold up the caller (the SQLite copy, the sealing) on a native
    thread; ``pg_dump`` stays in the caller, where a subprocess wait is cooperative."""
    run = offload or (lambda fn, *args: fn(*args))
    folder = ensure_dir(folder or backup_folder(cfg))
    secret = centre_secret(cfg)
    name = f"backup-{centre or 'centre'}-{now.strftime('%Y%m%dT%H%M%S%fZ')}.exambak"
    # The plain snapshot stays beside the data (never in the backup folder, which may be
    # a share or a removable disk) and is deleted as soon as it is sealed.
    data_dir = ensure_dir(cfg.DATA_DIR)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".snapshot-") as work:
        plain = Path(work, "snapshot")
        if cfg.DATABASE_URL.startswith("sqlite"):
            dialect = run(snapshot_to, cfg.DATABASE_URL, plain)
        else:
            dialect = snapshot_to(cfg.DATABASE_URL, plain)

        def sealed() -> None:
            sha256, size = _file_digest(plain)
            header = BackupHeader(dialect, now, centre, sitting, sha256, size)
            # whole and on disk, or not there at all (exam_common.durable)
            with atomic_writer(folder / name) as f:
                seal(header, plain, f, secret, key)

        run(sealed)
    return folder / name


def backup_folder(cfg: Config) -> Path:
    return Path(cfg.BACKUP_DIR) if cfg.BACKUP_DIR else Path(cfg.DATA_DIR, "backups")


def read_backup(path: Path, secret: bytes) -> tuple[dict[str, Any], bytes]:
    """Decrypt and check a backup file: (header, plain snapshot)."""
    data = path.read_bytes()
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise BackupError(f"{path.name} 不是考点备份文件 (not a backup file)")
    n = int.from_bytes(data[8:12], "big")
    head = data[12 : 12 + n]
    # the last 64 bytes are the centre's signature (central checks it; restore need not)
    nonce, body = data[12 + n : 24 + n], data[24 + n : -SIGNATURE_BYTES]
    try:
        header = json.loads(head)
        if header.get("format") != FORMAT:
            raise ValueError(header.get("format"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"备份文件头无法读取：{exc}") from None
    try:
        plain = zlib.decompress(AESGCM(backup_key(secret)).decrypt(nonce, body, head))
    except (InvalidTag, ValueError, zlib.error):
        raise BackupError(
            "备份无法解密：考点密钥不对，或文件已损坏 (wrong centre secret or damaged file)"
        ) from None
    if hashlib.sha256(plain).hexdigest() != header["sha256"]:
        raise BackupError("备份内容校验失败 (checksum mismatch)")
    return header, plain


def restore(path: Path, target_url: str, secret: bytes, *, force: bool = False) -> dict[str, Any]:
    """Bring a backup back into ``target_url``. The server must be stopped. An existing
    SQLite file is replaced only with ``force`` (it is kept beside as ``*.before-restore``)."""
    header, plain = read_backup(path, secret)
    if header["dialect"] == "sqlite":
        if not target_url.startswith("sqlite"):
            raise BackupError("这是 SQLite 备份，只能恢复到 SQLite 数据库")
        target = Path(make_url(target_url).database or "")
        if target.exists() and not force:
            raise BackupError(
                f"{target} 已存在：确认服务器已停止后加 --force 覆盖（原文件会保留为 .before-restore）"
            )
        before = target.with_name(target.name + ".before-restore")
        if target.exists():
            # the database as it was, with its write-ahead log (committed data a killed
            # server had not checkpointed yet), kept beside
            before.unlink(missing_ok=True)
            os.link(target, before)  # not-durable: kept aside, fsync_dir below
            for suffix in ("-wal", "-shm"):
                log = f"{target}{suffix}"
                if Path(log).exists():
                    os.replace(log, f"{before}{suffix}")  # not-durable: kept aside, fsync_dir below
            fsync_dir(target.parent)
        write_atomic(target, plain)
        return header
    if not target_url.startswith("postgresql"):
        raise BackupError("这是 PostgreSQL 备份，只能恢复到 PostgreSQL 数据库")
    if shutil.which("pg_restore") is None:
        raise BackupError("找不到 pg_restore：请安装 PostgreSQL 客户端")
    proc = subprocess.run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--dbname",
            _libpq_url(target_url),
        ],
        input=plain,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BackupError(f"pg_restore 失败：{proc.stderr.decode(errors='replace')[:500]}")
    return header
