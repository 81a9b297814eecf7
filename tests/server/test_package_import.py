"""Importing central's package at the centre: all or nothing, idempotent, refusals."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from sqlalchemy import func, select

from central.demo import write_demo_package
from exam_server.candidates.models import Candidate
from exam_server.config import Config
from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.packages.cli import import_file
from exam_server.plans.models import Paper, Sitting
from exam_server.sittings.models import Attempt

NOW = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("central")
    return {k: Path(v) for k, v in write_demo_package(out, NOW, quick=True).items()}


@pytest.fixture
def centre(tmp_path: Path, demo_files: dict[str, Path]) -> tuple[Config, Database]:
    cfg = Config.from_mapping(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
            "DATA_DIR": str(tmp_path),
            "CENTRE_CODE": "0101",
            "CENTRAL_PUBLIC_KEY": str(demo_files["public_key"]),
        }
    )
    db = Database(cfg.DATABASE_URL)
    upgrade(db)
    return cfg, db


def counts(db: Database) -> tuple[int, int, int, int]:
    with db.read() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m))
            for m in (Sitting, Paper, Candidate, Attempt)
        )  # type: ignore[return-value]


def test_import_is_complete_and_idempotent(centre, demo_files) -> None:  # type: ignore[no-untyped-def]
    cfg, db = centre
    report = import_file(cfg, db, demo_files["package"], by="admin")
    assert (report.sittings, report.papers, report.candidates) == (3, 9, 26)
    assert counts(db) == (3, 9, 26, 78)
    again = import_file(cfg, db, demo_files["package"], by="admin")
    assert again.already_imported and counts(db) == (3, 9, 26, 78)
    with db.read() as s:
        paper = s.scalars(select(Paper)).first()
        assert paper is not None and paper.items and "stem" not in paper.items[0]
        # The paper is stored encrypted: no stem text anywhere in the database file.
    roster = json.loads(demo_files["roster"].read_text())
    assert {r["ticket"] for r in roster} == set(_tickets(db))


def _tickets(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(Candidate.ticket)))


def test_no_plaintext_paper_on_the_centre_disk(centre, demo_files) -> None:  # type: ignore[no-untyped-def]
    from question_bank.sample import load_sample_bank

    cfg, db = centre
    import_file(cfg, db, demo_files["package"], by="admin")
    db.dispose()
    raw = b"".join(p.read_bytes() for p in Path(cfg.DATA_DIR).glob("c.db*"))
    stems = [i.stem for i in load_sample_bank()][:200]
    assert not [s for s in stems if s.encode() in raw]


def test_another_centres_package_is_refused_and_nothing_written(centre, demo_files) -> None:  # type: ignore[no-untyped-def]
    cfg, db = centre
    cfg.CENTRE_CODE = "0202"
    with pytest.raises(click.ClickException, match="0101"):
        import_file(cfg, db, demo_files["package"], by="admin")
    assert counts(db) == (0, 0, 0, 0)


def test_a_flipped_byte_is_refused_and_nothing_written(centre, demo_files, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, db = centre
    with zipfile.ZipFile(demo_files["package"]) as z:
        name = next(n for n in z.namelist() if n.startswith("parts/roster"))
        members = {n: z.read(n) for n in z.namelist()}
    data = bytearray(members[name])
    data[10] ^= 1
    members[name] = bytes(data)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        for n, d in members.items():
            z.writestr(n, d)
    with pytest.raises(click.ClickException, match="SHA-256"):
        import_file(cfg, db, bad, by="admin")
    assert counts(db) == (0, 0, 0, 0)


def test_unconfigured_centre_is_told_what_to_set(centre, demo_files) -> None:  # type: ignore[no-untyped-def]
    cfg, db = centre
    cfg.CENTRAL_PUBLIC_KEY = ""
    with pytest.raises(click.ClickException, match="exam-sync setup --centre") as caught:
        import_file(cfg, db, demo_files["package"], by="admin")
    # it names the folder it looked in, and the command to run for that folder
    assert f"数据目录 / data dir {cfg.DATA_DIR}" in str(caught.value.message)
