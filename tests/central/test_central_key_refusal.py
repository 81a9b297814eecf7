"""Central never signs with a damaged key: an empty, cut-short or unparsable
``central.key`` stops the command in one line naming it and saying to restore its sealed
copy (a new key would not match the public key every centre pinned)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "content",
    [b"", b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI", b"x" * 120],
    ids=["empty", "short", "not-a-key"],
)
def test_publish_refuses_a_damaged_signing_key(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "central.key").write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "central.cli", "publish", "--data-dir", str(tmp_path)]
        + ["--database", f"sqlite:///{tmp_path / 'central.db'}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    [line] = [x for x in proc.stderr.splitlines() if x.strip()]
    assert str(tmp_path / "central.key") in line and "sealed copy" in line, line
    assert "every centre pinned" in line, line
