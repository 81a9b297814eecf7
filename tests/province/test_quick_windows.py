"""Messages name the sitting's own windows: in the demo's quick mode (3-minute windows)
every refusal about a window, and the admission ticket's 须知, say 3 分钟, never the
notices' 30."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central.demo import demo_times
from central.publishing import seat_plan_of
from exam_common.samples import sample_plan
from seating import documents
from tests.province.harness import Person, Province, id_number
from tests.province.test_province_day import pdf_text, sitting


def test_quick_mode_refusals_and_the_ticket_say_the_sittings_three_minutes(
    tmp_path: Path,
) -> None:
    windows = demo_times(datetime(2026, 9, 12, tzinfo=UTC), quick=True).windows
    assert windows == (180, 180, 180)  # the demo's quick mode: the notices' 30 min / 10
    doc = copy.deepcopy(sample_plan("henan-2026"))
    doc["sittings"] = [
        sitting("HA-ZYDD-L5", "ZYDD", 5, "2026-09-12", "08:00", "08:06", "防疫员"),
        sitting("HA-ZYNL-L5", "ZYNL", 5, "2026-09-12", "08:10", "08:16", "防疫员"),
        sitting("HA-GWJN-FYY-L5", "GWJN", 5, "2026-09-12", "08:20", "08:26", "防疫员"),
    ]
    for s in doc["sittings"]:
        s["windows_s"] = list(windows)
    prov = Province(tmp_path, doc, "henan")
    on_time, late = (
        Person(
            f"25080061000{n}",
            id_number("411502", f"198{n}-08-15", 2 * n),
            name,
            "女",
            "漯河市委",
            "防疫员",
            "五级",
            "0801",
        )
        for n, name in ((1, "李红"), (2, "王芳"))
    )
    prov.register([on_time, late])
    prov.publish_and_import()
    sitting_id, code, start, _end = prov.sittings()[0]

    term = prov.terminal(prov.seat_of(on_time.ticket))
    assert [w["late_entry_s"] for w in term.call("rules", {})["sittings"]] == [180] * 3
    prov.clock.set(start - timedelta(minutes=4))
    early = term.login(on_time.ticket, on_time.id_number)
    assert early["code"] == "entry_not_open", early
    assert "开考前 3 分钟方可登录" in early["message"] and "30" not in early["message"]

    prov.clock.set(start - timedelta(minutes=2))
    reply = term.login(on_time.ticket, on_time.id_number)
    assert reply["ok"], reply
    prov.start(sitting_id, code, start)
    prov.clock.set(start + timedelta(minutes=1))
    too_soon = term.submit(reply["attempt_id"])
    assert too_soon["code"] == "submit_too_early", too_soon
    assert "开考 3 分钟后方可交卷" in too_soon["message"] and "30" not in too_soon["message"]

    prov.clock.set(start + timedelta(minutes=3))
    other = prov.terminal(prov.seat_of(late.ticket))
    closed = other.login(late.ticket, late.id_number)
    assert closed["code"] == "late_entry_closed", closed
    assert "开考已超过 3 分钟" in closed["message"] and "30" not in closed["message"]
    term.close()
    other.close()

    with prov.central.read() as s:
        seat_plan = seat_plan_of(s, prov.plan)
    flat = "".join(pdf_text(documents.admission_tickets(seat_plan)).split())
    assert "考试开始3分钟后，迟到人员不得入场" in flat and "考试开始前3分钟" in flat
    assert "30分钟" not in flat
    prov.close()
