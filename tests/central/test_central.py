"""Central without a network: registration import, publication, key release by central's
clock, offline codes, and re-scoring that flags any difference."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.db import CentralDatabase
from central.migrate import upgrade
from central.models import (
    CentreAccount,
    Package,
    PlanConfig,
    PublishedSitting,
    Registration,
    RescoredAttempt,
    ResultPackage,
)
from central.plan import PlanDoc, parse_plan
from central.publishing import publish
from central.registrations import RegistrationError, import_registrations
from central.service import CentralError, release_key, rescore_pending, take_results
from exam_common import offline_code
from exam_common.receipts import answers_digest, receipt_code
from exam_common.result_package import RESULTS_FORMAT, build_result_package
from question_bank.catalogue import shipped
from question_bank.package import decrypt_answer_key, derive_end_key
from question_bank.scoring import score_paper
from seating.tickets import make_ticket
from tests.central.world import (
    CENTRE,
    HEADER,
    OTHER,
    plan_doc,
    registration_rows,
    write_registrations,
)
from tests.conftest import T0

SITTING = "T-ZYDD-L4"


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralDatabase]:
    db = CentralDatabase(f"sqlite:///{tmp_path / 'central.db'}")
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def plan() -> PlanDoc:
    return parse_plan(json.dumps(plan_doc(T0)))


def test_bad_rows_are_all_reported_and_nothing_is_imported(
    central: CentralDatabase, plan: PlanDoc, tmp_path: Path
) -> None:
    rows = registration_rows(4)
    rows[0][1] = rows[0][1][:17] + ("1" if rows[0][1][17] != "1" else "2")  # check digit
    rows[1][3] = "女" if rows[1][3] == "男" else "男"  # gender against the ID number
    rows[2][4] = "1999-01-01"  # birth date against the ID number
    rows[3][0] = make_ticket(2026, CENTRE, "007", 1)  # no room 007
    rows.append(list(rows[4]))  # duplicate ID number
    path = write_registrations(tmp_path, rows)
    with pytest.raises(RegistrationError) as err, central.write() as s:
        import_registrations(s, path, T0, plan=plan, catalogue=shipped("henan"))
    text = str(err.value)
    assert [p.row for p in err.value.problems] == [2, 3, 4, 5, 7]
    assert "校验位" in text and "第 17 位" in text and "与身份证号中的" in text
    assert "没有考场 007" in text and "与第 6 行的身份证号重复" in text
    with central.read() as s:
        assert s.scalar(select(func.count()).select_from(Registration)) == 0


def test_xlsx_import_with_a_photo_and_a_given_ticket(
    central: CentralDatabase, plan: PlanDoc, tmp_path: Path
) -> None:
    from PIL import Image

    Image.new("RGB", (30, 40), "white").save(tmp_path / "a.jpg", "JPEG")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([*HEADER, "照片"])
    for i, row in enumerate(registration_rows(2)):
        ws.append([*row, "a.jpg" if i == 0 else ""])
    wb.save(tmp_path / "reg.xlsx")
    with central.write() as s:
        summary = import_registrations(
            s, tmp_path / "reg.xlsx", T0, plan=plan, catalogue=shipped("henan")
        )
    assert (summary.imported, summary.with_ticket) == (3, 1)
    with central.read() as s:
        first = s.scalar(select(Registration).where(Registration.ticket.is_not(None)))
        assert first is not None and first.photo and (first.room, first.seat) == ("001", 2)


def test_registrations_are_looked_up_in_batches(
    central: CentralDatabase, plan: PlanDoc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL takes at most 65,535 parameters in a statement and a province imports
    100,000 registrations in one file: existing rows and taken tickets are looked up in
    batches (here of 2, so that every lookup spans several)."""
    monkeypatch.setattr("central.db.IN_BATCH", 2)
    rows = registration_rows(4)
    with central.write() as s:
        import_registrations(
            s, write_registrations(tmp_path, rows), T0, plan=plan, catalogue=shipped("henan")
        )
    rows[4][2] = "改名"  # the last row, in the third batch: updated, not added again
    with central.write() as s:
        import_registrations(
            s, write_registrations(tmp_path, rows), T0, plan=plan, catalogue=shipped("henan")
        )
    with central.read() as s:
        assert s.scalar(select(func.count()).select_from(Registration)) == 5
        assert s.scalar(select(Registration.name).where(Registration.id_number == rows[4][1]))
        names = set(s.scalars(select(Registration.name)))
        assert "改名" in names
        given = s.scalar(select(Registration.ticket).where(Registration.id_number == rows[0][1]))
    other = [list(r) for r in rows[3:4]]
    other[0][0] = given  # another person with the first one's ticket
    with pytest.raises(RegistrationError) as err, central.write() as s:
        import_registrations(
            s,
            write_registrations(tmp_path, other, "clash.csv"),
            T0,
            plan=plan,
            catalogue=shipped("henan"),
        )
    assert "已属于另一名考生" in str(err.value)


def seed(db: CentralDatabase, plan: PlanDoc, tmp_path: Path) -> Ed25519PrivateKey:
    centre_key = Ed25519PrivateKey.generate()
    raw = centre_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    with db.write() as s:
        s.add(
            PlanConfig(
                year=plan.year, name=plan.name, doc=json.loads(plan.model_dump_json()), loaded_at=T0
            )
        )
        s.add(CentreAccount(code=CENTRE, name="", public_key=raw, registered_at=T0))
        import_registrations(
            s,
            write_registrations(tmp_path, registration_rows(4)),
            T0,
            plan=plan,
            catalogue=shipped("henan"),
        )
        publish(s, plan, T0, Ed25519PrivateKey.generate())
    return centre_key


def test_publication_keeps_given_tickets_and_downloaded_packages(
    central: CentralDatabase, plan: PlanDoc, tmp_path: Path
) -> None:
    seed(central, plan, tmp_path)
    given = make_ticket(2026, CENTRE, "001", 2)
    with central.write() as s:
        seats = {r.id_number: (r.ticket, r.seat) for r in s.scalars(select(Registration))}
        assert given in {t for t, _ in seats.values()}
        assert all(t for t, _ in seats.values())
        first = {p.centre_code: p.package_id for p in s.scalars(select(Package))}
        s.scalar(select(Package).where(Package.centre_code == CENTRE)).fetched_at = T0
    with central.write() as s:
        report = publish(s, plan, T0, Ed25519PrivateKey.generate())
        again = {r.id_number: (r.ticket, r.seat) for r in s.scalars(select(Registration))}
    assert again == seats, "a second publication moves nobody"
    assert report.kept == (CENTRE,)
    assert [p.centre_code for p in report.published] == [OTHER]
    with central.read() as s:
        now = {p.centre_code: p.package_id for p in s.scalars(select(Package))}
    assert now[CENTRE] == first[CENTRE] and now[OTHER] != first[OTHER]


def test_keys_only_from_their_time_by_centrals_clock(
    central: CentralDatabase, plan: PlanDoc, tmp_path: Path
) -> None:
    seed(central, plan, tmp_path)
    start, end = plan.sittings[0].start, plan.sittings[0].end
    with central.write() as s:
        for kind, at in (("start", start), ("end", end)):
            with pytest.raises(CentralError) as err:
                release_key(s, CENTRE, SITTING, kind, at - timedelta(microseconds=1), actor="t")
            assert err.value.code == "key_too_early" and err.value.status == 403
        got = release_key(s, CENTRE, SITTING, "start", start, actor="t")
        with pytest.raises(CentralError) as err:
            release_key(s, OTHER + "x", SITTING, "start", start, actor="t")
        assert err.value.code == "unknown_sitting"
    secret = bytes.fromhex(got["secret"])
    assert offline_code.decode(got["offline_code"]) == secret
    with central.read() as s:
        ps = s.scalar(select(PublishedSitting).where(PublishedSitting.centre_code == CENTRE))
        assert ps is not None and ps.release_secret == secret and ps.start_key_fetched_at == start


def results_for(
    s: Session,
    centre_key: Ed25519PrivateKey,
    *,
    lie: bool = False,
    alter: bool = False,
    verdict_lie: bool = False,
) -> bytes:
    """A centre's honest result package (or one where it lies about a score, or where an
    answer was changed after the receipt)."""
    ps = s.scalar(select(PublishedSitting).where(PublishedSitting.centre_code == CENTRE))
    assert ps is not None
    keys = decrypt_answer_key(ps.answer_key_blob, derive_end_key(ps.end_secret, SITTING))
    regs = s.scalars(
        select(Registration).where(Registration.centre_code == CENTRE).order_by(Registration.id)
    ).all()
    attempts: list[dict[str, Any]] = []
    for n, reg in enumerate(regs):
        paper = sorted(keys)[n % len(keys)]
        items = keys[paper]
        answers = [
            {
                "seq": i + 1,
                "item_id": k.item_id,
                "response": "A" if i % 3 else "B",
                "server_time": "",
            }
            for i, k in enumerate(items[: 6 + n])
        ]
        current = {a["item_id"]: a["response"] for a in answers}
        digest = answers_digest(reg.ticket or "", SITTING, current)
        signature = centre_key.sign(bytes.fromhex(digest)).hex()
        result = score_paper(items, {k: tuple(v) for k, v in current.items()})
        if alter and n == 1:
            answers.append(
                {"seq": 99, "item_id": items[0].item_id, "response": "C", "server_time": ""}
            )
        attempts.append(
            {
                "ticket": reg.ticket,
                "paper_ref": paper,
                "state": "submitted",
                "digest": digest,
                "signature": signature,
                "receipt": receipt_code(signature),
                "score": str(result.total + (Decimal(4) if lie and n == 0 else 0)),
                "item_scores": {i.item_id: str(i.awarded) for i in result.items},
                "answers": answers,
            }
        )
    outcomes = []
    for n, a in enumerate(attempts):
        total = Decimal(a["score"])
        passed = total >= 35  # the test plan: 职业道德 only, subject line 35, no total line
        outcomes.append(
            {
                "ticket": a["ticket"],
                "total": str(total),
                "passed": passed != (verdict_lie and n == 0),
            }
        )
    doc = {
        "format": RESULTS_FORMAT,
        "candidate_results": outcomes,
        "centre_code": CENTRE,
        "generated_at": T0.isoformat(),
        "sitting": {"code": SITTING},
        "attempts": attempts,
        "event_log": {"head": {"seq": 1, "hash": "ab" * 32}, "entries": []},
    }
    return build_result_package(doc, centre_key)


def test_rescoring_agrees_with_an_honest_centre_and_flags_any_difference(
    central: CentralDatabase, plan: PlanDoc, tmp_path: Path
) -> None:
    centre_key = seed(central, plan, tmp_path)
    end = plan.sittings[0].end
    with central.write() as s:
        account = s.scalar(select(CentreAccount))
        honest = take_results(s, account, results_for(s, centre_key), "u1", end)
        assert (honest["attempts"], honest["differences"], honest["status"]) == (4, 0, "rescored")
        again = take_results(s, account, results_for(s, centre_key), "u2", end)
        assert again["differences"] == 0
        lied = take_results(s, account, results_for(s, centre_key, lie=True), "u3", end)
        altered = take_results(s, account, results_for(s, centre_key, alter=True), "u4", end)
    assert lied["differences"] == 1 and altered["differences"] == 1
    assert honest["problems"] == [] and again["problems"] == []
    with central.write() as s:
        account = s.scalar(select(CentreAccount))
        verdict = take_results(s, account, results_for(s, centre_key, verdict_lie=True), "u5", end)
    assert verdict["differences"] == 0
    assert len(verdict["problems"]) == 1 and "合格判定不同" in verdict["problems"][0]
    with central.read() as s:
        flagged = [d for r in s.scalars(select(RescoredAttempt)) for d in r.differences]
    assert any("总分不同" in d for d in flagged)
    assert any("答案摘要与答案记录不符" in d for d in flagged)


def test_results_before_the_end_are_kept_but_not_rescored(
    central: CentralDatabase, plan: PlanDoc, tmp_path: Path
) -> None:
    centre_key = seed(central, plan, tmp_path)
    with central.write() as s:
        account = s.scalar(select(CentreAccount))
        early = take_results(
            s,
            account,
            results_for(s, centre_key),
            "u1",
            plan.sittings[0].end - timedelta(seconds=1),
        )
    assert early["status"] == "not_rescored"
    with central.write() as s:
        assert rescore_pending(s, plan.sittings[0].end - timedelta(seconds=1)) == 0
        assert rescore_pending(s, plan.sittings[0].end) == 1
        row = s.scalar(select(ResultPackage))
        assert row is not None and (row.status, row.attempts, row.differences) == ("rescored", 4, 0)
        assert all(r.central_score is not None for r in row.rescored)


def test_catalogue_commands_come_before_the_plan(tmp_path: Path) -> None:
    """``plan load`` needs a catalogue; a province's file is checked row by row; a shipped
    one loads by name and is audited."""
    from click.testing import CliRunner

    from central.cli import main
    from tests.central.world import write_plan

    url = f"sqlite:///{tmp_path / 'c.db'}"
    run = CliRunner().invoke
    assert run(main, ["db", "upgrade", "--database", url]).exit_code == 0
    plan_path = write_plan(tmp_path, plan_doc(T0))
    early = run(main, ["plan", "load", str(plan_path), "--database", url])
    assert early.exit_code == 1 and "尚未读入工种目录" in early.output
    bad = tmp_path / "目录.csv"
    bad.write_text("工种代码,工种名称,等级\n01-001,电工,5-1\n01-001,焊工,九级\n", "utf-8")
    refused = run(main, ["catalogue", "load", str(bad), "--database", url])
    assert refused.exit_code == 1
    assert "第 3 行「工种代码」：01-001 与第 2 行重复" in refused.output
    assert "第 3 行「等级」" in refused.output
    loaded = run(main, ["catalogue", "load", "henan", "--database", url])
    assert loaded.exit_code == 0 and "46 个工种" in loaded.output, loaded.output
    shown = run(main, ["catalogue", "show", "--level", "1", "--database", url])
    assert "共 42 个工种" in shown.output
    ok = run(main, ["plan", "load", str(plan_path), "--database", url])
    assert ok.exit_code == 0, ok.output
    assert "四级：职业道德（机考，满分 100，合格线 35）；无总成绩合格线" in ok.output
    assert "准考证号：本系统编排的准考证号，12 位数字，末位为 damm 校验位" in ok.output
    db = CentralDatabase(url)
    with db.read() as s:
        from central.models import AuditEvent

        assert {e.kind for e in s.scalars(select(AuditEvent))} >= {
            "catalogue.loaded",
            "plan.loaded",
        }
    db.dispose()


def test_a_provinces_own_catalogue_loads_from_xlsx_through_the_command(tmp_path: Path) -> None:
    """``exam-central catalogue load 省工种目录.xlsx``: the province's codes, 行业 and levels
    as written, shown by ``catalogue show`` and used by ``plan load``; and ``plan --help``
    speaks of forms and lines, not cutoffs."""
    import openpyxl
    from click.testing import CliRunner

    from central.cli import main
    from tests.central.world import write_plan

    url = f"sqlite:///{tmp_path / 'c.db'}"
    run = CliRunner().invoke
    assert run(main, ["db", "upgrade", "--database", url]).exit_code == 0
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["工种代码", "工种名称", "行业", "等级", "别名"])
    ws.append(["11-005", "防疫员", "卫生类", "5-2", ""])
    ws.append(["04-010", "电工", "机电类", "5-1", "维修电工"])
    ws.append(["04-011", "焊工", "机电类", "5-3", ""])
    path = tmp_path / "省工种目录.xlsx"
    wb.save(path)
    loaded = run(main, ["catalogue", "load", str(path), "--database", url])
    assert loaded.exit_code == 0, loaded.output
    assert "已读入工种目录 省工种目录：3 个工种，2 个行业" in loaded.output
    shown = run(main, ["catalogue", "show", "--level", "1", "--database", url])
    assert shown.exit_code == 0 and "04-010  电工\t机电类" in shown.output, shown.output
    assert "防疫员" not in shown.output and "共 1 个工种（省工种目录）" in shown.output
    ok = run(main, ["plan", "load", str(write_plan(tmp_path, plan_doc(T0))), "--database", url])
    assert ok.exit_code == 0, ok.output
    helped = run(main, ["plan", "--help"])
    assert "各等级的考核方式和合格线（forms）" in helped.output and "cutoff" not in helped.output
