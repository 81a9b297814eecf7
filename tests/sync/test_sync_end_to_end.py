"""Central and a centre as two real servers on loopback, driven by the real tools.

Registrations imported (one row refused first: all or nothing), the plan published, the
package pulled and imported at the centre, a key asked for too early and refused, the
paper key fetched by the centre's scheduler at the start, a sitting answered by real
Socket.IO clients, the answer key fetched at the end and the attempts scored, the signed
result package pushed and re-scored at central with no difference, backups received,
and ``exam-sync status`` saying so in Chinese. On SQLite, and with central on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from central.db import CentralDatabase
from central.models import AuditEvent, Backup, RescoredAttempt, ResultPackage
from exam_server.db import Database
from exam_server.plans.models import Sitting
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import Attempt, CandidateResult
from tests.central.world import CENTRE, plan_doc, registration_rows, write_plan, write_registrations
from tests.conftest import drop_pg_database, make_pg_database
from tests.live import LiveServer, Terminal
from tests.sync.harness import (
    PY,
    Central,
    centre_env,
    lead_time,
    run,
    server_cli,
    sync,
    wait_for,
    wait_until,
)

pytestmark = pytest.mark.slow

SITTING = "T-ZYDD-L4"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def central_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'central.db'}"
        return
    url = make_pg_database()
    yield url
    drop_pg_database(url)


def test_registrations_to_rescored_results(central_url: str, tmp_path: Path) -> None:
    central = Central(central_url, tmp_path / "central")
    central.cli("db", "upgrade")
    central.cli("init")
    # The slow preparation first (under a loaded CI machine each command takes seconds);
    # the plan is loaded again with the real times just before publication.
    central.cli("catalogue", "load", "henan")
    central.cli("plan", "load", str(write_plan(tmp_path, plan_doc(datetime.now(UTC)))))
    rows = registration_rows(4)
    bad = [list(r) for r in rows]
    bad[2][1] = bad[2][1][:17] + ("0" if bad[2][1][17] != "0" else "1")  # check digit
    refused = central.cli(
        "registrations", "import", str(write_registrations(tmp_path, bad, "bad.csv")), check=False
    )
    assert refused.returncode == 1 and "第 4 行「身份证号」" in refused.stderr, refused.stderr
    assert "未导入任何记录" in refused.stderr
    central.cli("registrations", "import", str(write_registrations(tmp_path, rows)))
    central.start()

    centre_db = Database(f"sqlite:///{tmp_path / 'centre' / 'centre.db'}")
    env = centre_env(
        centre_db.url,
        tmp_path / "centre",
        EXAM_SERVER_URL="http://127.0.0.1:9",  # no server yet
    )
    server_cli(env, "db", "upgrade")
    setup = sync(
        env,
        "setup",
        "--centre",
        CENTRE,
        "--central-url",
        central.url,
        "--central-key",
        str(central.public_key),
    )
    centre_key = (tmp_path / "centre" / "centre.pub").read_text().strip()
    assert centre_key in setup.stdout
    central.cli("centre", "add", CENTRE, "--public-key", centre_key)
    # The server runs all day: the package pulled later is adopted by its scheduler.
    server = LiveServer(
        centre_db.url,
        tmp_path / "centre",
        extra_env={"EXAM_SYNC_INTERVAL_S": "1", "EXAM_BACKUP_INTERVAL_S": "3"},
        central_key=False,  # the centre pinned its own central at `exam-sync setup`
    ).start()
    terminals: list[Terminal] = []
    try:
        # Eight more commands and the server's start come before the first login.
        start = datetime.now(UTC).replace(microsecond=0) + lead_time(10)
        central.cli("plan", "load", str(write_plan(tmp_path, plan_doc(start))))
        published = central.cli("publish").stdout
        assert f"考点 {CENTRE}" in published and "4 名考生" in published

        pulled = sync(env, "pull").stdout
        assert "已导入考试包" in pulled and "4 名考生" in pulled
        assert "没有新的考试包" in sync(env, "pull").stdout  # idempotent
        before = sync(env, "status", check=False)
        assert "考试包：已导入 1 个" in before.stdout and "试卷密钥 开考时" in before.stdout

        # A key asked for before its time is refused, and nothing is entered.
        early = sync(env, "key", SITTING, check=False)
        assert early.returncode == 1 and "key_too_early" in early.stderr, early.stderr
        with centre_db.read() as session:
            assert session.scalar(select(Sitting.sitting_key)) is None

        with centre_db.read() as session:
            seats = [
                (a.seat.label, a.candidate.ticket, a.candidate.id_number, a.paper.items)
                for a in session.scalars(select(Attempt).order_by(Attempt.id))
            ]
        logged = []
        for n, (label, ticket, id_number, items) in enumerate(seats[:3]):
            t = Terminal(server.url, terminal_id=f"T{n}", seat=label)
            terminals.append(t)
            assert t.hello()["ok"]
            reply = t.login(ticket, id_number)
            assert reply["ok"], reply
            logged.append((t, reply["attempt_id"], [i["item_id"] for i in items]))

        assert datetime.now(UTC) < start, "the machine was too slow to log in before the start"
        wait_until(start)
        for t, _, _ in logged:
            # The start sweep may announce before the key is in (the sitting then waits in
            # a recorded pause); the key from central follows within moments.
            wait_for(
                lambda t=t: any(e == "sitting_started" and d["paper_key"] for e, d in t.pushes),
                15,
                "the paper key from central at the start",
            )
        for n, (t, attempt_id, items) in enumerate(logged):
            for seq, item in enumerate(items[: 5 + 3 * n], start=1):
                assert t.save(attempt_id, seq, item, ["A"] if seq % 2 else ["B"])["ok"]
        wait_until(start + timedelta(seconds=3.5))
        first_t, first_id, first_items = logged[0]
        assert first_t.submit(first_id, 5)["ok"]

        # End: the answer key comes from central, the server scores, closes and pushes.
        cdb = CentralDatabase(central_url)

        def rescored() -> tuple[str, str, int, int, list[str]] | None:
            with cdb.read() as s:
                row = s.scalar(select(ResultPackage))
                return row and (
                    row.sitting_code,
                    row.status,
                    row.attempts,
                    row.differences,
                    row.problems,
                )

        package = wait_for(rescored, 120, "the result package at central")
        wait_for(lambda: _count(cdb, Backup) >= 1, 20, "a backup at central")
    finally:
        for t in terminals:
            t.close()
        server.stop()
        central.stop()

    assert package == (SITTING, "rescored", 4, 0, [])
    with cdb.read() as s, centre_db.read() as session:
        rows_ = {r.ticket: r for r in s.scalars(select(RescoredAttempt))}
        kinds = [e.kind for e in s.scalars(select(AuditEvent))]
        attempts = session.scalars(select(Attempt)).all()
        results = session.scalars(select(CandidateResult)).all()
        for a in attempts:
            r = rows_[a.candidate.ticket]
            assert r.differences == [] and r.receipt_ok
            assert r.central_score == a.score
        states = sorted(a.state.value for a in attempts)
        assert states == ["absent", "submitted", "submitted", "submitted"]
        assert {a.submitted_by for a in attempts if a.state is AttemptState.SUBMITTED} == {
            "candidate",
            "deadline",
        }
        assert len(results) == 4  # one subject: every candidate's result is decided
    assert "key.released.start" in kinds and "key.released.end" in kinds
    assert "refused.key_too_early" in kinds

    status = sync(env, "status", check=False).stdout
    assert "成绩 已上传" in status and "省中心复核一致" in status, status
    assert "试卷密钥 已下达" in status and "答案密钥 已下达，已评分" in status
    assert "最近备份：" in status and "最近备份：无" not in status
    # The province admin sees the pushed backup at central, verified.
    pushed = run([PY, "-m", "central.cli", "backups", "--database", central_url], env).stdout
    assert f"考点 {CENTRE}: " in pushed and "已核验 verified" in pushed, pushed
    assert f"场次 {SITTING}" in pushed or "场次 —" in pushed, pushed
    cdb.dispose()
    centre_db.dispose()


def _count(db: CentralDatabase, model: type) -> int:
    with db.read() as s:
        return len(s.scalars(select(model)).all())


def test_result_document_is_json(tmp_path: Path) -> None:
    """Guard: the world helpers produce a plan central accepts."""
    from central.plan import parse_plan

    doc = plan_doc(datetime(2026, 6, 1, 1, 0, tzinfo=UTC))
    assert parse_plan(json.dumps(doc)).sittings[0].code == SITTING
