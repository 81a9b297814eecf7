"""The durable-write helper: whole files or none, private by default, damaged secrets
refused with the file named."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from exam_common.durable import (
    PUBLIC,
    DamagedSecret,
    atomic_writer,
    ensure_dir,
    read_secret,
    write_atomic,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_write_is_whole_private_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "keys" / "secret_key"
    write_atomic(target, "a" * 64)
    assert target.read_text() == "a" * 64
    assert mode(target) == 0o600 and mode(target.parent) == 0o700
    write_atomic(target, b"b" * 64)
    assert target.read_bytes() == b"b" * 64
    assert sorted(p.name for p in target.parent.iterdir()) == ["secret_key"]
    public = write_atomic(tmp_path / "pub" / "central.pub", "key", PUBLIC)
    assert mode(public) == 0o644


def test_a_failed_write_leaves_the_old_file_untouched(tmp_path: Path) -> None:
    target = write_atomic(tmp_path / "outbox.bin", b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as f:
        f.write(b"half of the new")
        raise RuntimeError("power")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["outbox.bin"]


def test_an_existing_private_directory_is_narrowed(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    ensure_dir(d)
    assert mode(d) == 0o700


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "为空"), (b"  \n", "为空"), (b"abc", "只有 3 字节")],
)
def test_a_damaged_secret_is_refused_naming_the_file(
    tmp_path: Path, content: bytes, words: str
) -> None:
    path = tmp_path / "secret_key"
    path.write_bytes(content)
    with pytest.raises(DamagedSecret) as exc:
        read_secret(path, min_bytes=32, what="考点密钥 (the centre secret)")
    assert str(path) in str(exc.value) and words in str(exc.value)
    assert "sealed copy" in str(exc.value)


def test_a_missing_or_unreadable_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DamagedSecret, match="does not exist"):
        read_secret(tmp_path / "nope", min_bytes=1, what="key")
    d = tmp_path / "adir"
    d.mkdir()
    with pytest.raises(DamagedSecret, match="cannot be read"):
        read_secret(d, min_bytes=1, what="key")
    assert read_secret(write_atomic(tmp_path / "ok", "x" * 40), min_bytes=32, what="k") == (
        b"x" * 40
    )


def test_the_file_is_fsynced_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order a power cut needs: the bytes on disk before the name points at them
    (else the new name can survive with empty content), the folder after the rename
    (else the rename itself can be lost and the old file, or none, come back)."""
    import exam_common.durable as durable

    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        calls.append(("fsync", "dir" if os.path.isdir(target) else Path(target).name))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append(("replace", Path(dst).name))
        real_replace(src, dst)

    (tmp_path / "keys").mkdir()
    monkeypatch.setattr(durable.os, "fsync", fsync)
    monkeypatch.setattr(durable.os, "replace", replace)
    durable.write_atomic(tmp_path / "keys" / "secret_key", "a" * 64)
    kinds = [(c, "tmp" if n.endswith(".tmp") else n) for c, n in calls]
    assert kinds == [("fsync", "tmp"), ("replace", "secret_key"), ("fsync", "dir")], calls
