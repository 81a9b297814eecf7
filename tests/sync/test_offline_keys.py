"""A centre with no link: the package from a USB stick, the keys typed as offline codes.

``exam-sync key --code`` hands the key to the running server over its local-only door,
and the terminals open the paper at once; a mistyped code is caught by its check; the
answer key's code at the end makes the server score.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import undefer

from central.db import CentralDatabase
from central.migrate import upgrade as central_upgrade
from central.models import Package, PlanConfig, PublishedSitting
from central.plan import parse_plan
from central.publishing import publish
from central.registrations import import_registrations
from exam_common import offline_code
from exam_server.db import Database
from exam_server.sittings.models import Attempt
from exam_server.sync.models import OutboxItem
from question_bank.catalogue import shipped
from question_bank.package import public_key_pem
from tests.central.world import CENTRE, plan_doc, registration_rows, write_registrations
from tests.live import LiveServer, Terminal
from tests.sync.harness import centre_env, lead_time, run, server_cli, sync, wait_for, wait_until

pytestmark = pytest.mark.slow


def test_usb_package_and_offline_codes(tmp_path: Path) -> None:
    server_cli(centre_env("sqlite://", tmp_path), "--help")  # how fast are commands here?
    start = datetime.now(UTC).replace(microsecond=0) + lead_time(5)
    end = start + lead_time(4, floor=14)
    plan = parse_plan(json.dumps(plan_doc(start, duration=end - start, windows=(120, 5, 2))))
    cdb = CentralDatabase(f"sqlite:///{tmp_path / 'central.db'}")
    central_upgrade(cdb)
    key = Ed25519PrivateKey.generate()
    now = datetime.now(UTC)
    with cdb.write() as s:
        s.add(
            PlanConfig(
                year=plan.year,
                name=plan.name,
                doc=json.loads(plan.model_dump_json()),
                loaded_at=now,
            )
        )
        import_registrations(
            s,
            write_registrations(tmp_path, registration_rows(2)),
            now,
            plan=plan,
            catalogue=shipped("henan"),
        )
        publish(s, plan, now, key)
        pkg = s.scalar(
            select(Package).options(undefer(Package.data)).where(Package.centre_code == CENTRE)
        )
        ps = s.scalar(select(PublishedSitting).where(PublishedSitting.centre_code == CENTRE))
        usb = tmp_path / "usb" / "package.zip"
        usb.parent.mkdir()
        usb.write_bytes(pkg.data)
        start_code = offline_code.encode(ps.release_secret)
        end_code = offline_code.encode(ps.end_secret)
    cdb.dispose()
    (tmp_path / "central.pub").write_bytes(public_key_pem(key.public_key()))

    db = Database(f"sqlite:///{tmp_path / 'centre' / 'centre.db'}")
    env = centre_env(db.url, tmp_path / "centre")
    server_cli(env, "db", "upgrade")
    sync(env, "setup", "--centre", CENTRE, "--central-key", str(tmp_path / "central.pub"))
    assert "已导入考试包" in sync(env, "pull", "--file", str(usb)).stdout

    server = LiveServer(db.url, tmp_path / "centre", central_key=False).start()
    env["EXAM_SERVER_URL"] = server.url
    terminal = None
    try:
        with db.read() as session:
            a = session.scalars(select(Attempt).order_by(Attempt.id)).first()
            seat, ticket, idn = a.seat.label, a.candidate.ticket, a.candidate.id_number
        terminal = Terminal(server.url, terminal_id="T1", seat=seat)
        assert terminal.hello()["ok"]
        login = terminal.login(ticket, idn)
        assert login["ok"], login
        wait_until(start + timedelta(seconds=0.3))

        typo = start_code[:-1] + ("0" if start_code[-1] != "0" else "1")
        bad = sync(env, "key", "T-ZYDD-L4", "--code", typo, check=False)
        assert bad.returncode == 1 and "校验不通过" in bad.stderr, bad.stderr
        ok = sync(env, "key", "T-ZYDD-L4", "--code", start_code.lower())
        assert "已通知运行中的服务器" in ok.stdout
        wait_for(
            lambda: any(e == "sitting_started" and d["paper_key"] for e, d in terminal.pushes),
            10,
            "the paper key on the terminal",
        )
        early = sync(env, "key", "T-ZYDD-L4", "--end", "--code", end_code, check=False)
        assert early.returncode == 1 and "key_too_early" in early.stderr, early.stderr

        wait_until(end + timedelta(seconds=0.5))
        assert (
            "已通知运行中的服务器"
            in sync(env, "key", "T-ZYDD-L4", "--end", "--code", end_code).stdout
        )
        with db.read() as session:
            assert all(
                x.score is not None
                for x in session.scalars(select(Attempt))
                if x.state.value == "submitted"
            )
        # The server queued the closed sitting's results; the admin carries them to central.
        wait_for(lambda: _queued(db), 20, "the result package in the outbox")
    finally:
        if terminal:
            terminal.close()
        server.stop()
    pushed = sync(env, "push").stdout
    assert "U 盘" in pushed, pushed
    results = next(line.strip() for line in pushed.splitlines() if "results-" in line)
    central = {**env, "EXAM_CENTRAL_DATABASE_URL": cdb.url}
    centre_key = (tmp_path / "centre" / "centre.pub").read_text().strip()
    run(
        [sys.executable, "-m", "central.cli", "centre", "add", CENTRE, "--public-key", centre_key],
        central,
    )
    taken = run(
        [sys.executable, "-m", "central.cli", "intake", results, "--centre", CENTRE], central
    )
    assert "复核差异 0 人，问题 0 项" in taken.stdout, taken.stdout
    again = run(
        [sys.executable, "-m", "central.cli", "intake", results, "--centre", CENTRE], central
    )
    assert "未重复保存" in again.stdout
    status = sync(env, "status", check=False)
    assert (
        "省中心 （未填写" in status.stdout
        and "试卷密钥 已下达" in status.stdout
        and "答案密钥 已下达" in status.stdout
    )
    # An offline centre is never promised automatic retries, and once the admin records
    # the files as handed over, the status stops asking for them (it exited 1 for ever).
    assert "会自动重试" not in status.stdout and "exam-sync push" in status.stdout
    assert status.returncode == 1 and "待交省中心" in status.stdout
    carried = sync(env, "push", "--carried").stdout
    assert "已记为拷贝交省中心" in carried and "results-" in carried
    after = sync(env, "status", check=False)
    assert "成绩 已拷贝交省中心（U 盘" in after.stdout and "待交省中心" not in after.stdout
    assert after.returncode == 0, after.stdout
    db.dispose()


def _queued(db: Database) -> bool:
    with db.read() as session:
        return session.scalar(select(OutboxItem.id).where(OutboxItem.kind == "results")) is not None
