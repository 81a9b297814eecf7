"""Pass lines are never guessed: a level seated without a form, or whose form leaves a
part's line unset (Henan's level one in the sample: no notice prints it), is refused at
plan load, at publication and at package import, naming the level and the part; a form
that cannot decide is refused; the old ``cutoffs`` are pointed at ``forms``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from central.db import CentralDatabase
from central.migrate import upgrade as central_upgrade
from central.models import Package, PlanConfig
from central.outcomes import decide, score_reports
from central.plan import PlanDoc, PlanError, check_trades, parse_plan
from central.publishing import PublishError, publish
from central.registrations import import_registrations
from exam_common.samples import sample_plan
from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.packages.service import import_package
from question_bank.catalogue import shipped
from question_bank.package import open_package
from question_bank.package_parts import PartsError, read_centre_parts
from tests.central.world import plan_doc, registration_rows, write_registrations
from tests.conftest import T0
from tests.province.harness import Person, Province, id_number


def henan() -> dict[str, Any]:
    doc = copy.deepcopy(sample_plan("henan-2026"))
    doc["sittings"] = [s for s in doc["sittings"] if s["level"] == 5]
    return doc


def refusal(doc: dict[str, Any]) -> str:
    with pytest.raises(PlanError) as err:
        parse_plan(json.dumps(doc, ensure_ascii=False))
    return str(err.value)


def test_a_plan_seating_a_level_without_a_form_is_refused_naming_the_level() -> None:
    doc = henan()
    doc["forms"] = [f for f in doc["forms"] if f["level"] != 5]
    text = refusal(doc)
    assert "五级没有考核方式和合格线（forms）" in text and "HA-ZYDD-L5" in text


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda d: d.pop("forms"), "forms"),
        (lambda d: d.update(cutoffs=[]), "cutoffs 已由 forms 取代"),
        (
            lambda d: d["forms"][0]["parts"][0].pop("line"),
            "五级的 职业道德（ZYDD，机考） 没有合格线（line 为空），也没有总成绩合格线",
        ),
        (
            lambda d: d["forms"][0]["parts"][0].update(line=120),
            "合格线 120 高于满分 100",
        ),
        (
            lambda d: d["forms"][0]["parts"][0].update(subject="LLZS"),
            "无法识别的科目“LLZS”",
        ),
        (
            lambda d: d["forms"][0]["parts"][0].update(name="道德"),
            "在题库中叫“职业道德”（ZYDD），计划写的是“道德”",
        ),
        (
            lambda d: d["forms"].append(copy.deepcopy(d["forms"][0])),
            "五级 的考核方式写了两次",
        ),
        (
            lambda d: d["sittings"].pop(1),
            "五级的机考科目 职业能力 没有场次",
        ),
        (
            lambda d: d["forms"][0]["parts"][2].update(delivery="external"),
            "科目 GWJN 不是五级考核方式中的机考科目",
        ),
        (
            lambda d: d["forms"][4]["parts"][1].update(grading="verdict", delivery="cbt"),
            "机考科目按分数评定，不能是 verdict",
        ),
        (
            lambda d: d.update(ticket_rule={"length": 12, "charset": "digits", "check": "sha1"}),
            "ticket_rule.check",
        ),
    ],
)
def test_forms_that_cannot_decide_are_refused(change: Any, words: str) -> None:
    doc = henan()
    change(doc)
    assert words in refusal(doc)


def test_unknown_trades_in_a_plan_are_refused_with_the_closest_names() -> None:
    doc = henan()
    doc["sittings"][2]["trades"] = ["防疫工"]
    plan = parse_plan(json.dumps(doc, ensure_ascii=False))
    with pytest.raises(PlanError) as err:
        check_trades(plan, shipped("henan"))
    assert "工种“防疫工”不在工种目录（henan）中；是不是：防疫员？" in str(err.value)


@pytest.fixture
def central(tmp_path: Path) -> CentralDatabase:
    db = CentralDatabase(f"sqlite:///{tmp_path / 'central.db'}")
    central_upgrade(db)
    return db


def test_publication_refuses_a_level_without_a_form(
    central: CentralDatabase, tmp_path: Path
) -> None:
    """Registrations of level four imported under a plan that had its form; the plan is
    then loaded again without it: publication names the level and publishes nothing."""
    with_form = parse_plan(json.dumps(plan_doc(T0)))
    with central.write() as s:
        import_registrations(
            s,
            write_registrations(tmp_path, registration_rows(3)),
            T0,
            plan=with_form,
            catalogue=shipped("henan"),
        )
    doc = plan_doc(T0)
    doc["forms"][0]["level"] = 3
    doc["sittings"][0]["level"] = 3
    without = parse_plan(json.dumps(doc))
    with pytest.raises(PublishError) as err, central.write() as s:
        s.add(PlanConfig(year=2026, name=without.name, doc={}, loaded_at=T0))
        publish(s, without, T0, Ed25519PrivateKey.generate())
    assert "四级（" in str(err.value) and "没有这些等级的考核方式和合格线" in str(err.value)
    with central.read() as s:
        assert s.scalar(select(Package.id)) is None


def test_a_package_whose_plan_lacks_a_seated_levels_form_is_refused_and_nothing_written(
    central: CentralDatabase, tmp_path: Path
) -> None:
    """A package built by another tool (or altered before signing) that seats level four
    without its form: the centre refuses it before writing a row."""
    plan: PlanDoc = parse_plan(json.dumps(plan_doc(T0)))
    key = Ed25519PrivateKey.generate()
    with central.write() as s:
        import_registrations(
            s,
            write_registrations(tmp_path, registration_rows(3)),
            T0,
            plan=plan,
            catalogue=shipped("henan"),
        )
        publish(s, plan, T0, key)
        data = s.scalar(select(Package.data))
    assert data is not None
    opened = open_package(data, key.public_key(), "0101")
    parts = {n: opened.data_part(n) for n in opened.data_part_names()}
    plan_part = json.loads(parts["plan.json"])
    plan_part["forms"][0]["level"] = 3
    parts["plan.json"] = json.dumps(plan_part).encode()
    with pytest.raises(PartsError) as err:
        read_centre_parts(parts)
    assert "不是四级考核方式中的机考科目（或四级没有考核方式和合格线）" in str(err.value)

    # and the same through the import, on a real centre database: nothing written
    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)

    class Altered:
        manifest = opened.manifest
        manifest_bytes = opened.manifest_bytes

        def data_part_names(self) -> list[str]:
            return list(parts)

        def data_part(self, name: str) -> bytes:
            return parts[name]

    from exam_server.plans.models import ExamPlan

    with pytest.raises(PartsError), db.write() as session:
        import_package(  # type: ignore[arg-type]
            session, T0, Altered(), by="admin", central_key=key.public_key()
        )
    with db.read() as session:
        assert session.scalar(select(ExamPlan.id)) is None
    db.dispose()


# --- a line the province has still to set ------------------------------------------------

LEVEL_ONE_SITTING = {
    "code": "HA-ZYLL-DG-L1",
    "subject_code": "ZYLL",
    "level": 1,
    "trade": "电工",
    "trades": ["电工"],
    "start": "2026-09-13T00:00:00Z",
    "end": "2026-09-13T02:00:00Z",
    "variants": ["A", "B"],
    "windows_s": [1800, 1800, 1800],
    "blueprint": "sample",
}


def level_one(doc: dict[str, Any]) -> dict[str, Any]:
    form: dict[str, Any] = next(f for f in doc["forms"] if f["level"] == 1)
    return form


def test_the_sample_leaves_level_ones_line_to_the_province_and_a_plan_seating_it_is_refused() -> (
    None
):
    """No notice prints Henan's level-one 专业理论 line: the sample leaves it null and says
    so, loads as shipped (it seats no level one), and is refused, naming the level, the
    part and what to fill in, as soon as a plan seats level one with the line unset."""
    doc = copy.deepcopy(sample_plan("henan-2026"))
    parse_plan(json.dumps(doc, ensure_ascii=False))
    theory = level_one(doc)["parts"][0]
    assert (theory["subject"], theory["line"]) == ("ZYLL", None)
    assert "line 留空（null），省里按当年文件填写" in level_one(doc)["source"]
    assert all(s["level"] != 1 for s in doc["sittings"])

    doc["sittings"].append(copy.deepcopy(LEVEL_ONE_SITTING))
    text = refusal(doc)
    assert "场次 HA-ZYLL-DG-L1：一级的 专业理论（ZYLL，机考） 没有合格线（line 为空）" in text
    assert "请在考试计划 forms 中一级的这些科目写明省里规定的合格线 line（或写 total）" in text
    assert "level 1: ZYLL (CBT) has no pass line: fill in its line, or a total line" in text

    theory["line"] = 60  # the province's own line: the plan loads
    assert parse_plan(json.dumps(doc, ensure_ascii=False)).form(1, "电工") is not None
    # a total line decides as well
    theory["line"] = None
    level_one(doc)["total"] = {"line": 60, "basis": "sum"}
    parse_plan(json.dumps(doc, ensure_ascii=False))


def test_plan_load_of_the_sample_says_which_line_the_province_has_still_to_set(
    tmp_path: Path,
) -> None:
    """The sample as shipped, through ``exam-central plan load``: it loads (no level one
    seated), and says level one's 专业理论 line is unset and what that means; with a
    level-one sitting added, the command refuses it, naming the level and the part."""
    from click.testing import CliRunner

    from central.cli import main

    url = f"sqlite:///{tmp_path / 'c.db'}"
    run = CliRunner().invoke
    assert run(main, ["db", "upgrade", "--database", url]).exit_code == 0
    assert run(main, ["catalogue", "load", "henan", "--database", url]).exit_code == 0
    doc = copy.deepcopy(sample_plan("henan-2026"))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    ok = run(main, ["plan", "load", str(path), "--database", url])
    assert ok.exit_code == 0, ok.output
    assert "一级：专业理论（机考，满分 100，合格线 未设定）、综合评审（另行评分，合格/不合格）" in (
        ok.output
    )
    assert "注意：一级的 专业理论 合格线未设定，填写前不能安排一级的场次和考生" in ok.output
    assert "五级：职业道德（机考，满分 100，合格线 35）" in ok.output

    doc["sittings"].append(copy.deepcopy(LEVEL_ONE_SITTING))
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    refused = run(main, ["plan", "load", str(path), "--database", url])
    assert refused.exit_code != 0
    assert "一级的 专业理论（ZYLL，机考） 没有合格线（line 为空）" in refused.output, refused.output


def test_a_part_scored_elsewhere_without_a_line_is_refused_naming_it() -> None:
    """Hebei's 应会 (a practical exam, entered at central) with its line left null."""
    doc = copy.deepcopy(sample_plan("hebei-2024"))
    doc["forms"][0]["parts"][1]["line"] = None
    text = refusal(doc)
    assert "场次 HB-YZ-DG-L2：二级的 应会（YH，另行评分） 没有合格线（line 为空）" in text
    assert "YH (scored elsewhere) has no pass line" in text


LEVEL_ONE_PEOPLE = [
    Person(
        f"26080061010{n}",
        id_number("410105", f"196{n}-05-1{n}", 2 * n + 1),
        name,
        "男",
        "河南省水利厅后勤服务中心",
        "电工",
        "一级",
        "0801",
    )
    for n, name in enumerate(("周明", "吴杰"), start=1)
]


def test_publication_refuses_level_one_registrations_while_its_line_is_unset(
    tmp_path: Path,
) -> None:
    """The sample as shipped (level five seated, level one's line unset) with level-one
    candidates registered: publication names the level and the part, publishes nothing."""
    prov = Province(tmp_path, copy.deepcopy(sample_plan("henan-2026")), "henan")
    prov.register(LEVEL_ONE_PEOPLE)
    with pytest.raises(PublishError) as err, prov.central.write() as s:
        publish(s, prov.plan, prov.clock.now(), prov.central_key)
    text = str(err.value)
    assert "考试计划有科目没有合格线，未发布" in text
    assert "一级的 专业理论（ZYLL，机考） 没有合格线" in text and "（2 名考生）" in text
    with prov.central.read() as s:
        assert s.scalar(select(Package.id)) is None


def test_candidates_of_a_level_whose_line_is_unset_are_never_decided_nor_reported(
    tmp_path: Path,
) -> None:
    """Level-one candidates registered with the province's tickets under the sample as
    shipped: deciding leaves them pending, saying the line is unset, and the score reports
    (which have no rule to print) leave them out instead of failing."""
    prov = Province(tmp_path, copy.deepcopy(sample_plan("henan-2026")), "henan")
    prov.register(LEVEL_ONE_PEOPLE)
    with prov.central.write() as s:
        report = decide(s, prov.clock.now(), plan=prov.plan, by="省中心")
        reports = score_reports(s, prov.plan, prov.clock.now().date())
    assert report.decided == 0
    assert [(tk, parts) for tk, _, parts in report.pending] == [
        (p.ticket, ("专业理论（合格线未设定）",)) for p in LEVEL_ONE_PEOPLE
    ]
    assert reports == []


def test_a_package_whose_seated_level_has_a_line_unset_is_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    """Published with the province's line; the plan part altered to null it (as another
    tool might build it): the centre refuses the package, naming the level and the part,
    before writing a row."""
    doc = copy.deepcopy(sample_plan("henan-2026"))
    doc["sittings"] = [copy.deepcopy(LEVEL_ONE_SITTING)]
    level_one(doc)["parts"][0]["line"] = 60
    prov = Province(tmp_path, doc, "henan")
    prov.register(LEVEL_ONE_PEOPLE)
    with prov.central.write() as s:
        publish(s, prov.plan, prov.clock.now(), prov.central_key)
        data = s.scalar(select(Package.data))
    assert data is not None
    key = prov.central_key
    opened = open_package(data, key.public_key(), "0801")
    parts = {n: opened.data_part(n) for n in opened.data_part_names()}
    read_centre_parts(parts)  # as published: fine
    plan_part = json.loads(parts["plan.json"])
    next(f for f in plan_part["forms"] if f["level"] == 1)["parts"][0]["line"] = None
    parts["plan.json"] = json.dumps(plan_part).encode()
    with pytest.raises(PartsError) as err:
        read_centre_parts(parts)
    assert "场次 HA-ZYLL-DG-L1：一级的 专业理论（ZYLL，机考） 没有合格线" in str(err.value)

    db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    upgrade(db)

    class Altered:
        manifest = opened.manifest
        manifest_bytes = opened.manifest_bytes

        def data_part_names(self) -> list[str]:
            return list(parts)

        def data_part(self, name: str) -> bytes:
            return parts[name]

    from exam_server.plans.models import ExamPlan

    with (
        pytest.raises(PartsError, match="专业理论（ZYLL，机考） 没有合格线"),
        db.write() as session,
    ):
        import_package(  # type: ignore[arg-type]
            session, T0, Altered(), by="admin", central_key=key.public_key()
        )
    with db.read() as session:
        assert session.scalar(select(ExamPlan.id)) is None
    db.dispose()
