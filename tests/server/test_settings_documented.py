"""The README's settings tables are the code's settings: every ``EXAM_*`` variable the
centre server and its console read has a row, no row names a variable nobody reads, and a
row's default is the one the code applies (read from a clean environment)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from exam_server.config import Config
from exam_server.console.settings import ConsoleSettings

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| `(EXAM_[A-Z0-9_]+)` \| (.+?) \| .+ \|$", re.MULTILINE)
#: defaults the code derives from other settings; the README says how, in words
DERIVED = {"EXAM_DATABASE_URL", "EXAM_SECRET_KEY", "EXAM_BACKUP_DIR", "EXAM_SERVER_URL"}


def documented() -> dict[str, str]:
    rows = ROW.findall((ROOT / "README.md").read_text())
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a variable has two rows"
    return dict(rows)


def settings(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every variable the code reads, with its default in a clean environment."""
    for var in [v for v in __import__("os").environ if v.startswith("EXAM_")]:
        monkeypatch.delenv(var)
    cfg, console = Config(), ConsoleSettings()
    found = {Config.env_name(n): getattr(cfg, n) for n in Config.names() - Config.STATE}
    found.update(
        {ConsoleSettings.env_name(n): getattr(console, n) for n in ConsoleSettings.names()}
    )
    return found


def as_written(value: Any) -> str:
    if isinstance(value, bool):
        return "`1`" if value else "`0`"
    if value in ("", None):
        return "—"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def test_every_setting_has_a_row_and_every_row_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, code = documented(), settings(monkeypatch)
    assert sorted(set(code) - set(rows)) == [], "read by the code, missing from README.md"
    assert sorted(set(rows) - set(code)) == [], "in README.md, read by no code"


def test_each_row_gives_the_default_the_code_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, code = documented(), settings(monkeypatch)
    wrong = {
        name: (rows.get(name), as_written(value))
        for name, value in code.items()
        if name not in DERIVED and rows.get(name) != as_written(value)
    }
    assert wrong == {}, "README default | the code's default"
