"""Files that must survive a power cut: written whole or not at all, on disk on return.

A power cut takes the operating system's page cache with it: only what was fsynced
survives. Every file the system cannot lose (keys, secrets, packages, backups, the
outbox, configuration) is written here, the way SQLite and PostgreSQL write theirs:

1. into a temporary file in the same directory (created with its final permissions, so
   a secret is never readable by others, even for an instant);
2. flushed and ``fsync``-ed: the bytes are on disk;
3. renamed over the target (``os.replace``, atomic on POSIX): a reader sees the old file
   or the new one, never half of one;
4. the directory ``fsync``-ed: the rename itself is on disk.

Secrets are read back through :func:`read_secret`, which refuses an empty, short or
unreadable file with a message naming the file and what to do, instead of letting a
process run on a damaged key.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NamedTuple, TypeVar

T = TypeVar("T")

#: files that only their owner may read: keys, secrets, databases, journals
PRIVATE = 0o600
#: files meant to be read by others: public keys, exported reports, printed documents
PUBLIC = 0o644
#: directories that hold private files
PRIVATE_DIR = 0o700


class DamagedSecret(Exception):
    """A secret or key file that is missing, empty, short or unreadable."""


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a directory's entries (a new or renamed file in it) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: str | os.PathLike[str], mode: int = PRIVATE_DIR) -> Path:
    """Create ``path`` (and its parents) if needed, durably; a directory this call creates
    gets ``mode``, and an existing one is narrowed to it when it is wider (a private data
    directory never stays readable by others)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=mode)
        os.chmod(d, mode)  # mkdir's mode is filtered by the umask
        fsync_dir(d.parent)
    if not missing and mode == PRIVATE_DIR and path.stat().st_mode & 0o077:
        os.chmod(path, mode)
    return path


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: int = PRIVATE) -> Iterator[IO[bytes]]:
    """A binary file to write ``path`` through: it replaces ``path`` only when the block
    ends without an exception, and is on disk (data and rename) when it does. On an
    exception the target is untouched and the temporary file removed."""
    path = Path(path)
    ensure_dir(path.parent, PRIVATE_DIR if mode == PRIVATE else 0o755)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w+b") as f:  # readable too: a signer reads back what it wrote
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_atomic(path: str | os.PathLike[str], data: bytes | str, mode: int = PRIVATE) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` whole and durably (see the module)."""
    with atomic_writer(path, mode) as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


class Remedy(NamedTuple):
    """What to do about a damaged file, in Chinese and English (one clause each)."""

    zh: str
    en: str


#: the remedy for a key only a sealed copy can bring back
SEALED_COPY = Remedy("请从密封备份恢复该文件", "restore it from its sealed copy")


def read_secret(
    path: str | os.PathLike[str], *, min_bytes: int, what: str, remedy: Remedy = SEALED_COPY
) -> bytes:
    """The bytes of a secret or key file, or :class:`DamagedSecret` saying which file,
    what is wrong with it and what to do (a process must never run on an empty key).

    ``what``: what the file is, for the message ("the centre secret"); ``remedy``: what
    to do (default: restore the sealed copy; a terminal enrols again instead)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DamagedSecret(
            f"{what} 文件不存在：{path}。{remedy.zh}。"
            f" / {what}: {path} does not exist; {remedy.en}."
        ) from None
    except OSError as exc:
        raise DamagedSecret(
            f"{what} 文件无法读取：{path}（{exc.strerror}）。请检查文件权限，或{remedy.zh}。"
            f" / {what}: {path} cannot be read ({exc.strerror}); check its permissions, "
            f"or {remedy.en}."
        ) from None
    if len(data.strip()) < min_bytes:
        state = "为空" if not data.strip() else f"只有 {len(data.strip())} 字节"
        raise DamagedSecret(
            f"{what} 文件已损坏（{state}，至少应有 {min_bytes} 字节）：{path}。"
            f"不能在损坏的密钥上运行：{remedy.zh}。"
            f" / {what}: {path} is damaged ({len(data.strip())} bytes, at least {min_bytes} "
            f"expected). Refusing to run on a damaged key: {remedy.en}."
        )
    return data


def read_key(
    path: str | os.PathLike[str],
    parse: Callable[[bytes], T],
    *,
    what: str,
    remedy: Remedy = SEALED_COPY,
    min_bytes: int = 1,
) -> T:
    """``parse`` of a key, certificate or enrolment file read with :func:`read_secret`:
    a file that is there but does not parse (cut short, overwritten, another kind of key)
    is :class:`DamagedSecret` too, in one line naming it, never a traceback. ``parse``
    signals a bad file with ``ValueError``, ``TypeError``, ``KeyError`` (or their
    subclasses: ``json.JSONDecodeError``, ``UnicodeDecodeError``)."""
    path = Path(path)
    data = read_secret(path, min_bytes=min_bytes, what=what, remedy=remedy)
    try:
        return parse(data)
    except (ValueError, TypeError, KeyError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise DamagedSecret(
            f"{what} 文件已损坏（无法解析）：{path}。不能在损坏的文件上运行：{remedy.zh}。"
            f" / {what}: {path} is damaged (cannot be parsed: {reason}). Refusing to run on "
            f"it: {remedy.en}."
        ) from None


def private_sqlite(path: str | os.PathLike[str]) -> Path:
    """Make ``path`` a database file only its owner can read, before SQLite opens it:
    created empty with mode 0600 if it does not exist, narrowed to 0600 (with its
    ``-wal``, ``-shm`` and ``-journal`` files) if it is wider. SQLite gives the journal
    files it creates later the main file's mode, so they are private too."""
    path = Path(path)
    if not path.exists():
        ensure_dir(path.parent, PRIVATE_DIR) if not path.parent.exists() else None
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    for p in (path, *(Path(f"{path}{s}") for s in ("-wal", "-shm", "-journal"))):
        with contextlib.suppress(FileNotFoundError):
            if p.stat().st_mode & 0o077:
                os.chmod(p, PRIVATE)
    return path


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///...`` URL (None for memory or another database)."""
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])
