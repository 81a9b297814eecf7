"""Papers carry no signature that a terminal checks (issue 17): central binds each
candidate's paper (ciphertext, sitting, variant, ticket, seat) with its signature; the
centre checks the bindings at import; the terminal, with central's key pinned at
enrolment, checks before it shows anything."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from central.demo import write_demo_package
from exam_client.agent import Agent, AgentConfig
from exam_client.journal import MemoryJournal
from exam_server.config import Config
from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.packages.cli import import_file
from exam_server.plans.models import Paper
from exam_server.sittings.models import Attempt
from question_bank.bindings import (
    BindingError,
    PaperBinding,
    check_paper,
    read_binding,
    sign_binding,
)
from question_bank.package import MANIFEST, SIGNATURE, load_private_key
from tests.factories import CENTRAL_KEY
from tests.security.conftest import Centre, wait_for


def test_the_terminal_shows_only_the_paper_central_signed_for_its_candidate(
    centre: Callable[..., Centre],
) -> None:
    """A server that serves a paper of its own (a rogue, or a tampered database: the
    ciphertext and its binding signed by another key) gets nothing shown: the real agent
    refuses it (``paper_unverified``) and shows no paper; the genuine paper next to it
    opens."""
    c = centre(tls=False, starts_in=3)
    rogue = Ed25519PrivateKey.generate()
    with c.db.write() as session:
        attempt = session.get(Attempt, c.attempt_ids[0])
        assert attempt is not None
        forged = PaperBinding(
            centre="001",
            sitting=attempt.sitting.code,
            paper_id=attempt.paper.paper_ref,
            variant=1,
            sha256=hashlib.sha256(attempt.paper.ciphertext).hexdigest(),
            ticket=attempt.candidate.ticket,
            room=attempt.seat.room.code,
            seat=attempt.seat.number,
        )
        attempt.binding = sign_binding(rogue, forged)
    agents = []
    try:
        for n in (0, 1):
            agent = Agent(
                AgentConfig(server=c.server.url, identity=c.server.enrol(c.seats[n])),
                MemoryJournal(),
            ).start()
            agents.append(agent)
            wait_for(lambda a=agent: a.online, 20, "online")
            assert agent.login(*c.candidate(n))["ok"]
            agent.confirm()
        refused, genuine = agents
        closed = wait_for(lambda: refused.closed, 20, "the forged paper refused")
        assert closed["code"] == "paper_unverified" and "签名" in closed["message"]
        assert refused.paper_json() is None and refused.shown is None
        assert wait_for(genuine.paper_json, 20, "the genuine paper opens")
    finally:
        for a in agents:
            a.stop()


@pytest.mark.parametrize("wrong", ["sitting", "centre"])
def test_the_terminal_refuses_a_paper_central_bound_to_another_sitting_or_centre(
    centre: Callable[..., Centre], wrong: str
) -> None:
    """Central's genuine signature, the candidate's own ticket and this very ciphertext,
    but bound to another sitting (the candidate's other subject, say) or another centre
    than the one the terminal enrolled at: the real agent refuses it
    (``paper_unverified``, naming what does not match) and shows nothing."""
    c = centre(tls=False, starts_in=3)
    with c.db.write() as session:
        attempt = session.get(Attempt, c.attempt_ids[0])
        assert attempt is not None
        genuine = read_binding(attempt.binding or "", CENTRAL_KEY.public_key())
        changed = (
            replace(genuine, sitting=genuine.sitting + "-OTHER")
            if wrong == "sitting"
            else replace(genuine, centre=genuine.centre + "9")
        )
        attempt.binding = sign_binding(CENTRAL_KEY, changed)
    agent = Agent(
        AgentConfig(server=c.server.url, identity=c.server.enrol(c.seats[0])), MemoryJournal()
    ).start()
    try:
        wait_for(lambda: agent.online, 20, "online")
        assert agent.login(*c.candidate(0))["ok"]
        agent.confirm()
        closed = wait_for(lambda: agent.closed, 20, "the paper refused")
        assert closed["code"] == "paper_unverified", closed
        words = (
            ("场次", "not the sitting") if wrong == "sitting" else ("考点", "not this terminal's")
        )
        assert all(w in closed["message"] for w in words), closed
        assert agent.paper_json() is None and agent.shown is None
    finally:
        agent.stop()


def test_a_swapped_or_altered_paper_fails_the_check() -> None:
    """The check itself: another candidate's binding (a variant swap), an altered
    ciphertext, no binding at all, or a binding for another seat at preload: refused."""
    ciphertext = b"\x01" * 64
    binding = PaperBinding(
        "001", "S1", "P-1", 1, hashlib.sha256(ciphertext).hexdigest(), "260001000017", "01", 7
    )
    signed = sign_binding(CENTRAL_KEY, binding)
    key = CENTRAL_KEY.public_key()
    assert check_paper(signed, key, ciphertext, ticket="260001000017") == binding
    assert check_paper(signed, key, ciphertext, seat="01-07") == binding
    for kwargs in (
        {"ticket": "260001000025"},
        {"seat": "01-08"},
    ):
        with pytest.raises(BindingError):
            check_paper(signed, key, ciphertext, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(BindingError):
        check_paper(signed, key, ciphertext[:-1] + b"\x02", ticket="260001000017")
    with pytest.raises(BindingError):
        check_paper(None, key, ciphertext, ticket="260001000017")
    body, sig = signed.split(".")
    with pytest.raises(BindingError):  # the statement edited, the signature kept
        check_paper(body[:-2] + "AA." + sig, key, ciphertext)


def _rebuild(
    package: bytes,
    drop: str | None = None,
    replace: dict[str, bytes] | None = None,
    key: Ed25519PrivateKey | None = None,
) -> bytes:
    """The package with a part dropped or replaced, manifest re-signed by ``key``."""
    z = zipfile.ZipFile(io.BytesIO(package))
    manifest = json.loads(z.read(MANIFEST))
    parts = {n: z.read(n) for n in z.namelist() if n not in (MANIFEST, SIGNATURE)}
    for name, data in (replace or {}).items():
        parts[name] = data
    if drop is not None:
        parts.pop(drop)
    listed = {p["name"] for p in manifest["parts"]}
    manifest["parts"] = [
        {**p, "size": len(parts[p["name"]]), "sha256": hashlib.sha256(parts[p["name"]]).hexdigest()}
        for p in manifest["parts"]
        if p["name"] in parts
    ] + [
        {
            "name": n,
            "kind": "data",
            "media_type": "application/octet-stream",
            "size": len(parts[n]),
            "sha256": hashlib.sha256(parts[n]).hexdigest(),
        }
        for n in parts
        if n not in listed
    ]
    body = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as w:
        w.writestr(MANIFEST, body)
        w.writestr(SIGNATURE, key.sign(body) if key else b"")
        for name, data in parts.items():
            w.writestr(name, data)
    return out.getvalue()


def test_the_centre_refuses_a_package_whose_bindings_are_missing_or_wrong(
    tmp_path: Path,
) -> None:
    """Packages and the centre's import stay coherent: a package (signed by central all
    the same) without bindings, or with a binding that names another paper, is refused
    and nothing is written; the genuine one imports with every attempt bound."""
    files = write_demo_package(tmp_path / "central", datetime.now(UTC), quick=True)
    key = load_private_key((tmp_path / "central" / "central.key").read_bytes())
    package = Path(files["package"]).read_bytes()
    cfg = Config.from_mapping(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'centre.db'}",
            "DATA_DIR": str(tmp_path / "centre"),
            "CENTRE_CODE": "0101",
            "CENTRAL_PUBLIC_KEY": files["public_key"],
        }
    )
    db = Database(cfg.DATABASE_URL)
    upgrade(db)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_rebuild(package, drop="parts/bindings.json", key=key))
    with pytest.raises(click.ClickException, match="bindings"):
        import_file(cfg, db, bad, by="tests")
    z = zipfile.ZipFile(io.BytesIO(package))
    signed = json.loads(z.read("parts/bindings.json"))["bindings"]
    first = read_binding(signed[0], key.public_key())
    other = next(
        b
        for b in (read_binding(x, key.public_key()) for x in signed)
        if b.sitting == first.sitting and b.paper_id != first.paper_id
    )
    forged = {
        # central's signature, but the candidate bound to another variant than the roster's
        "another variant": sign_binding(
            key, replace(first, paper_id=other.paper_id, variant=other.variant, sha256=other.sha256)
        ),
        # the right statement, signed by someone else than central
        "another signer": sign_binding(Ed25519PrivateKey.generate(), first),
    }
    for why, text in forged.items():
        doc = {"format": "exam-bindings/1", "bindings": [text, *signed[1:]]}
        bad.write_bytes(
            _rebuild(package, replace={"parts/bindings.json": json.dumps(doc).encode()}, key=key)
        )
        with pytest.raises(click.ClickException, match="签名"):
            import_file(cfg, db, bad, by="tests")
            pytest.fail(why)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 0
    good = tmp_path / "good.zip"
    good.write_bytes(package)
    import_file(cfg, db, good, by="tests")
    with db.read() as session:
        attempts = session.scalars(select(Attempt)).all()
        assert attempts and all(a.binding for a in attempts)
    db.dispose()
