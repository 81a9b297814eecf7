"""The event log's anchor lived in the same database (issue 17): truncating the tail and
updating the stored head passed ``verify-log``. Now every sync push sends central the
chain's new entries and its signed head; central refuses a chain that no longer
continues the one it saw, and ``verify-log`` checks the log against central's heads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from werkzeug.serving import make_server

from central.app import create_app as create_central
from central.db import CentralDatabase
from central.migrate import upgrade as upgrade_central
from central.models import AuditEvent, CentreAccount, ChainAnchor
from exam_server.config import Config
from exam_server.db import Database
from exam_server.eventlog import service as eventlog
from exam_server.eventlog.models import ChainHead, Event
from exam_server.migrate import upgrade
from exam_server.sync import service as sync
from exam_server.sync.anchor import entry_json as anchor_entry
from exam_server.sync.models import SyncStatus
from exam_server.system.keys import public_key_hex, signing_key
from tests.factories import CENTRAL_PUBLIC_PEM

CENTRE = "001"


@pytest.fixture
def central(tmp_path: Path) -> Iterator[tuple[str, CentralDatabase]]:
    """Central's real app on a loopback port, in a thread (cheaper than a process)."""
    db = CentralDatabase(f"sqlite:///{tmp_path / 'central.db'}")
    upgrade_central(db)
    app = create_central({"DATABASE_URL": db.url, "DATA_DIR": str(tmp_path / "central")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", db
    server.shutdown()
    db.dispose()


def events(db: Database, n: int, at: datetime) -> None:
    with db.write() as session:
        for i in range(n):
            eventlog.append(session, at=at, actor="tests", kind="test.event", data={"i": i})


def test_a_truncated_or_rewritten_log_is_found_outside_the_centre(
    tmp_path: Path, central: tuple[str, CentralDatabase]
) -> None:
    url, cdb = central
    now = datetime.now(UTC)
    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)
    with db.write() as session:
        sync.setup(
            session, now, centre=CENTRE, url=url, central_public_key=CENTRAL_PUBLIC_PEM.encode()
        )
        key = public_key_hex(signing_key(session))
    with cdb.write() as session:
        session.add(CentreAccount(code=CENTRE, name="", public_key=key, registered_at=now))
    cfg = Config.from_mapping({"DATABASE_URL": db.url, "DATA_DIR": str(tmp_path / "data")})
    events(db, 30, now)

    # Each push sends what is new since central's last head, in order.
    first = sync.push(cfg, db, now)
    assert first.anchored >= 30 and not first.anchor_error
    events(db, 5, now + timedelta(seconds=1))
    second = sync.push(cfg, db, now + timedelta(seconds=2))
    assert second.anchored == 5 and not second.anchor_error
    with cdb.read() as session:
        heads = session.scalars(select(ChainAnchor).order_by(ChainAnchor.id)).all()
        assert [h.status for h in heads] == ["accepted", "accepted"]
        central_heads = [(h.seq, h.hash) for h in heads]

    # The attack of the issue: past the database's guards, the tail goes and the stored
    # head is set back to match. The log verifies on its own...
    with db.engine.begin() as conn:
        for trig in conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'")):
            conn.execute(text(f'DROP TRIGGER "{trig[0]}"'))
        conn.execute(text("DELETE FROM event_log WHERE seq > 20"))
        last = conn.execute(text("SELECT hash FROM event_log WHERE seq = 20")).scalar_one()
        conn.execute(text("UPDATE event_chain_head SET seq = 20, hash = :h"), {"h": last})
    with db.read() as session:
        assert eventlog.verify_chain(session).ok
        # ...but not against the heads central kept.
        problems = eventlog.check_heads(session, central_heads)
        assert problems and all("truncated" in p.problem for p in problems)
    # verify-log, fetching central's heads, says so (and fails).
    from exam_server.cli import main

    result = CliRunner().invoke(
        main,
        ["verify-log", "--database", db.url, "--data-dir", str(tmp_path / "data"), "--central"],
    )
    assert result.exit_code == 2 and "truncated" in result.output, result.output
    # A plain verify-log (no option): with a sync link it asks central all the same.
    plain = CliRunner().invoke(
        main, ["verify-log", "--database", db.url, "--data-dir", str(tmp_path / "data")]
    )
    assert plain.exit_code == 2 and "truncated" in plain.output, plain.output
    assert "chain intact" not in plain.output

    # The next push, with new entries appended to the shortened log (so that its head is
    # "further" than before): central refuses it and keeps the evidence.
    events(db, 40, now + timedelta(seconds=3))
    third = sync.push(cfg, db, now + timedelta(seconds=4))
    assert "chain_rewritten" in third.anchor_error, third.anchor_error
    with cdb.read() as session:
        refused = session.scalars(select(ChainAnchor).where(ChainAnchor.status == "refused")).all()
        assert len(refused) == 1 and refused[0].problem.startswith("chain_rewritten")
        assert session.scalar(
            select(AuditEvent.id).where(AuditEvent.kind == "chain.chain_rewritten")
        )
    # The uploads went on all the same, and the error is in the centre's sync status.
    with db.read() as session:
        status = session.get(SyncStatus, "last_error")
        assert status is not None and "chain_rewritten" in status.value

    # A rewritten log (same length, an entry changed and every hash recomputed) is found
    # by verify-log against central's heads too.
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE event_log SET reason = 'edited' WHERE seq = 3"))
    with db.write() as session:
        prev = eventlog.GENESIS
        for ev in session.scalars(select(Event).order_by(Event.seq)):
            fields = {
                k: getattr(ev, k)
                for k in (
                    "seq",
                    "at",
                    "actor",
                    "kind",
                    "sitting_id",
                    "room_id",
                    "attempt_id",
                    "data",
                    "reason",
                )
            }
            ev.prev_hash, ev.hash = prev, eventlog.entry_hash(prev, **fields)
            prev = ev.hash
        head = session.get(ChainHead, 1)
        assert head is not None
        head.hash = prev
    with db.read() as session:
        assert eventlog.verify_chain(session).ok
        assert any("rewritten" in p.problem for p in eventlog.check_heads(session, central_heads))
    db.dispose()


def _verify_log(db: Database, tmp_path: Path, *args: str) -> tuple[int, str]:
    from exam_server.cli import main

    result = CliRunner().invoke(
        main, ["verify-log", "--database", db.url, "--data-dir", str(tmp_path / "data"), *args]
    )
    return result.exit_code, result.output


def test_verify_log_says_when_no_outside_anchor_was_compared(tmp_path: Path) -> None:
    """Without a sync link, or with central out of reach, ``verify-log`` checks the local
    chain only: it says so, and exits 3 (not 0, never "chain intact"); ``--central``
    makes central's heads required (exit 1 when it cannot fetch them)."""
    from tests.conftest import free_port

    now = datetime.now(UTC)
    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)
    events(db, 10, now)
    code, out = _verify_log(db, tmp_path)
    assert code == 3, out
    assert "only the local chain was checked" in out and "no sync link" in out
    assert "chain intact" not in out
    with db.write() as session:  # a link to a central that does not answer
        sync.setup(
            session,
            now,
            centre=CENTRE,
            url=f"http://127.0.0.1:{free_port()}",
            central_public_key=CENTRAL_PUBLIC_PEM.encode(),
        )
    code, out = _verify_log(db, tmp_path)
    assert code == 3 and "central unreachable" in out, out
    code, out = _verify_log(db, tmp_path, "--central")
    assert code == 1 and "cannot fetch central's heads" in out, out
    # A broken chain is exit 2 whatever the anchor.
    with db.engine.begin() as conn:
        for trig in conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'")):
            conn.execute(text(f'DROP TRIGGER "{trig[0]}"'))
        conn.execute(text("UPDATE event_log SET reason = 'edited' WHERE seq = 3"))
    code, out = _verify_log(db, tmp_path)
    assert code == 2 and "chain broken at entry 3" in out, out
    db.dispose()


def test_central_refuses_a_head_with_a_forged_signature(
    tmp_path: Path, central: tuple[str, CentralDatabase]
) -> None:
    """A pushed head whose signature is not the centre's (another key, or the centre's
    signature of another head) is refused and not kept; the chain's real heads still
    verify (``verify-log`` exits 0 with them)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from exam_common.chain import head_message
    from exam_server.sync.client import SyncError
    from exam_server.sync.service import client

    url, cdb = central
    now = datetime.now(UTC)
    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)
    with db.write() as session:
        sync.setup(
            session, now, centre=CENTRE, url=url, central_public_key=CENTRAL_PUBLIC_PEM.encode()
        )
        key = signing_key(session)
    with cdb.write() as session:
        session.add(
            CentreAccount(code=CENTRE, name="", public_key=public_key_hex(key), registered_at=now)
        )
    cfg = Config.from_mapping({"DATABASE_URL": db.url, "DATA_DIR": str(tmp_path / "data")})
    events(db, 5, now)
    assert not sync.push(cfg, db, now).anchor_error
    events(db, 3, now + timedelta(seconds=1))
    api = client(db, cfg)  # the request itself is the centre's, signed with its key
    known = int(api.request("GET", "/api/v1/chain")["last"]["seq"])
    with db.read() as session:
        query = select(Event).where(Event.seq > known).order_by(Event.seq)
        entries = [anchor_entry(e) for e in session.scalars(query)]
    assert len(entries) == 3
    head = (int(entries[-1]["seq"]), str(entries[-1]["hash"]))
    at = now.isoformat()
    with cdb.read() as session:
        before = session.scalars(select(ChainAnchor)).all()
    forgeries = {
        "another key": Ed25519PrivateKey.generate().sign(
            head_message(CENTRE, head[0], head[1], at)
        ),
        "another head": key.sign(head_message(CENTRE, head[0], "0" * 64, at)),
        "garbage": b"\x00" * 64,
    }
    for why, signature in forgeries.items():
        with pytest.raises(SyncError) as refused:
            api.post_json(
                "/api/v1/chain",
                {
                    "head": {"centre": CENTRE, "seq": head[0], "hash": head[1], "at": at},
                    "signature": signature.hex(),
                    "entries": entries,
                },
            )
        assert refused.value.code == "bad_chain_signature", why
    with cdb.read() as session:
        assert len(session.scalars(select(ChainAnchor)).all()) == len(before)
    # The genuine push goes on from where central was.
    assert not sync.push(cfg, db, now + timedelta(seconds=2)).anchor_error
    code, out = _verify_log(db, tmp_path)
    assert code == 0 and "chain intact" in out and "heads seen outside all match" in out, out
    db.dispose()
