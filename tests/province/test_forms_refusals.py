"""Pass lines are never guessed: a level seated without a form is refused at plan load,
at publication and at package import, naming the level; a form that cannot decide is
refused; the old ``cutoffs`` are pointed at ``forms``."""

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
            "职业道德 没有单科合格线，计划也没有总成绩合格线",
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
