"""A package built by ``question_bank`` (through central's real packaging path) is
decrypted in the terminal client and nowhere else; the centre server never holds a
plaintext paper, neither before the start nor after it.
"""

from __future__ import annotations

import ast
import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from central.demo import write_demo_package
from exam_client.agent import open_paper
from exam_client.identity import TerminalIdentity
from exam_server.config import Config
from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.packages.cli import import_file
from exam_server.plans.models import Sitting
from question_bank.bindings import BindingError
from question_bank.package import (
    OpenedPackage,
    WrongKeyError,
    derive_sitting_key,
    load_public_key,
    open_package,
    secrets_from_json,
    unwrap_data_key,
)
from question_bank.paper import Paper
from question_bank.shuffle import shuffle_for
from tests.client.conftest import ClientProcess
from tests.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]


def build(out: Path) -> dict[str, Path]:
    """The demo's package, built by central exactly as ``make demo`` builds it."""
    return {k: Path(v) for k, v in write_demo_package(out, datetime.now(UTC), quick=True).items()}


def move_sittings(db: Database, first_start: datetime) -> None:
    """Shift the imported sittings so the first starts at ``first_start`` (the demo's
    start is on a full minute; the keys depend on the sitting code, not on its time)."""
    with db.write() as session:
        sittings = list(session.scalars(select(Sitting).order_by(Sitting.start)))
        shift = first_start - sittings[0].start
        for sitting in sittings:
            sitting.start += shift
            sitting.end += shift


def bindings_of(opened: OpenedPackage) -> dict[str, tuple[str, str]]:
    """paper id -> (a ticket central bound it to, the signed binding), from the package."""
    out: dict[str, tuple[str, str]] = {}
    for text in opened.json_part("bindings.json")["bindings"]:
        body = json.loads(base64.urlsafe_b64decode(text.split(".")[0] + "=="))
        out.setdefault(body["paper_id"], (body["ticket"], text))
    return out


def terminal(files: dict[str, Path]) -> TerminalIdentity:
    """A terminal that pinned the demo central's key at enrolment."""
    central = load_public_key(files["public_key"].read_bytes())
    return TerminalIdentity(
        "T-interop", Ed25519PrivateKey.generate(), "", "001-01", "0101", central, None
    )


def stems_of_package(files: dict[str, Path]) -> tuple[list[str], dict[str, Paper]]:
    """(every stem of every paper, decrypted here with central's secrets), the opened package."""
    opened = open_package(
        files["package"].read_bytes(),
        load_public_key(files["public_key"].read_bytes()),
        "0101",
    )
    secrets = secrets_from_json(json.loads(files["secrets"].read_text()))
    stems: list[str] = []
    papers: dict[str, Paper] = {}
    bound = bindings_of(opened)
    for sitting in opened.manifest.sittings:
        key = derive_sitting_key(secrets[sitting.sitting_code][0], sitting.sitting_code)
        for entry in sitting.papers:
            data_key = unwrap_data_key(opened.wrapped_key(entry.paper_id), key)
            ticket, binding = bound[entry.paper_id]
            paper, _, _ = open_paper(
                opened.paper_ciphertext(entry.paper_id),
                data_key,
                ticket,
                binding=binding,
                identity=terminal(files),
            )
            papers[entry.paper_id] = paper
            stems += [q.stem for q in paper.questions if len(q.stem.encode()) >= 12]
    return stems, papers


def test_the_client_decrypts_a_package_built_by_question_bank(tmp_path: Path) -> None:
    files = build(tmp_path / "central")
    opened = open_package(
        files["package"].read_bytes(), load_public_key(files["public_key"].read_bytes()), "0101"
    )
    secrets = secrets_from_json(json.loads(files["secrets"].read_text()))
    sitting = opened.manifest.sittings[0]
    entry = sitting.papers[0]
    sitting_key = derive_sitting_key(secrets[sitting.sitting_code][0], sitting.sitting_code)
    data_key = unwrap_data_key(opened.wrapped_key(entry.paper_id), sitting_key)
    ticket, binding = bindings_of(opened)[entry.paper_id]
    identity = terminal(files)
    paper, shuffle, shown = open_paper(
        opened.paper_ciphertext(entry.paper_id),
        data_key,
        ticket,
        binding=binding,
        identity=identity,
    )
    assert paper.paper_id == entry.paper_id and paper.sitting_code == sitting.sitting_code
    assert [q.item_id for q in paper.questions] == [i.item_id for i in entry.items]
    assert [q.item_id for q in shown.questions] == list(shuffle.order)
    assert shuffle == shuffle_for(paper, ticket)
    # The same paper for another candidate is refused: central bound it to this one.
    with pytest.raises(BindingError):
        open_paper(
            opened.paper_ciphertext(entry.paper_id),
            data_key,
            "9" * 12,
            binding=binding,
            identity=identity,
        )
    # Another sitting's key does not open it.
    other = opened.manifest.sittings[1].sitting_code
    with pytest.raises(WrongKeyError):
        open_paper(
            opened.paper_ciphertext(entry.paper_id),
            unwrap_data_key(
                opened.wrapped_keys(other)[opened.manifest.sittings[1].papers[0].paper_id],
                derive_sitting_key(secrets[other][0], other),
            ),
            ticket,
            binding=binding,
            identity=identity,
        )


def test_the_server_code_never_decrypts_a_paper() -> None:
    """Static: no module of the centre server imports the paper decryption."""
    offenders = []
    for path in (ROOT / "exam_server").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and any(
                a.name in ("decrypt_paper", "open_paper") for a in node.names
            ):
                offenders.append(str(path.relative_to(ROOT)))
            if isinstance(node, ast.Attribute) and node.attr == "decrypt_paper":
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def scan(paths: list[Path], texts: list[str]) -> list[tuple[str, str]]:
    found = []
    needles = [(t, t.encode("utf-8")) for t in texts]
    for base in paths:
        for f in [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]:
            try:
                data = f.read_bytes()
            except FileNotFoundError:  # a running server's transient file (an SQLite journal)
                continue
            found += [(str(f), t) for t, n in needles if n in data]
    return found


def centre_with_demo_package(
    tmp_path: Path, starts_in_s: float
) -> tuple[LiveServer, list[dict[str, str]]]:
    """A running centre server that imported the demo's package (keys released from the
    demo escrow at the start, which is moved to ``starts_in_s`` from now); the roster."""
    files = build(tmp_path / "central")
    centre = tmp_path / "centre"
    cfg = Config.from_mapping(
        {
            "DATABASE_URL": f"sqlite:///{centre / 'centre.db'}",
            "DATA_DIR": str(centre),
            "CENTRE_CODE": "0101",
            "CENTRAL_PUBLIC_KEY": str(files["public_key"]),
        }
    )
    centre.mkdir()
    db = Database(cfg.DATABASE_URL)
    upgrade(db)
    import_file(cfg, db, files["package"], by="test-admin")
    move_sittings(db, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=starts_in_s))
    db.dispose()
    server = LiveServer(
        cfg.DATABASE_URL,
        centre,
        extra_env={
            "EXAM_KEY_ESCROW": str(files["secrets"]),
            "EXAM_CENTRE_CODE": "0101",
            "EXAM_CENTRAL_PUBLIC_KEY": str(files["public_key"]),
        },
    ).start()
    return server, json.loads(files["roster"].read_text())


@pytest.mark.slow
def test_plaintext_only_at_the_terminal_before_and_after_start(
    tmp_path: Path, clients: Callable[..., ClientProcess]
) -> None:
    server, roster = centre_with_demo_package(tmp_path, starts_in_s=15)
    centre = tmp_path / "centre"
    stems, papers = stems_of_package(
        {
            k: tmp_path / "central" / n
            for k, n in (
                ("package", "package.zip"),
                ("public_key", "central.pub"),
                ("secrets", "secrets.json"),
            )
        }
    )
    assert len(stems) > 50
    probe = tmp_path / "probe.bin"
    probe.write_bytes(b"\x00" + stems[0].encode() + b"\x00")
    assert scan([probe], stems[:1]) == [(str(probe), stems[0])]  # the scan does find text
    try:
        cand = roster[0]
        term = clients(server.url, cand["seat"], "terminal")
        term.wait_for(lambda x: x["online"])
        assert term.post("/api/login", {"ticket": cand["ticket"], "id_number": cand["id_number"]})[
            "ok"
        ]
        term.post("/api/confirm")
        st = term.state()
        assert st["screen"] == "waiting" and not st["paper_ready"]
        # Before the start: the encrypted paper is at the terminal (preloaded and with the
        # login), and no stem is in any file of the server or the terminal.
        assert scan([centre, term.data_dir], stems) == []

        term.wait_for(lambda x: x["screen"] == "paper", timeout=30)
        shown = term.paper()
        stems_shown = {q["stem"] for q in shown["questions"]}
        matching = [p for p in papers.values() if {q.stem for q in p.questions} == stems_shown]
        assert len(matching) == 1  # the terminal decrypted one real paper of the package
        assert [q["item_id"] for q in shown["questions"]] == list(
            shuffle_for(matching[0], cand["ticket"]).order
        )
        # After the start: still no plaintext on the server's disk, nor on the terminal's.
        assert scan([centre, term.data_dir], stems) == []
    finally:
        server.stop()
