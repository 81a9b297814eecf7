"""The one table reader (exam_common/tables.py) that registrations, seating inputs and the
trade catalogue share: csv in UTF-8 or GBK, xlsx, and a clear refusal otherwise."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from exam_common.tables import TableError, cell_text, read_table

ROWS = [["准考证号", "姓名", "工种"], ["250800610001", "张三", "防疫员"], ["", "", ""]]


def test_csv_in_utf8_with_or_without_bom_and_in_gbk(tmp_path: Path) -> None:
    text = "\n".join(",".join(f" {c} " for c in row) for row in ROWS) + "\n"
    for name, data in (
        ("utf8.csv", text.encode("utf-8")),
        ("bom.csv", text.encode("utf-8-sig")),
        ("gbk.csv", text.encode("gbk")),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        assert read_table(path) == ROWS, name  # stripped, blank rows kept


def test_xlsx_cells_as_the_text_a_person_typed(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["ticket", "n", "born", "at", "typed date", "none", "text"])
    ws.append(
        [
            250800610001,
            3.0,
            date(1990, 5, 1),
            datetime(2026, 12, 2, 9, 30),
            datetime(2026, 12, 2),
            None,
            " 电工 ",
        ]
    )
    path = tmp_path / "t.xlsx"
    wb.save(path)
    assert read_table(path)[1] == [
        "250800610001",
        "3",
        "1990-05-01",
        "2026-12-02T09:30:00",
        "2026-12-02",
        "",
        "电工",
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (2.5, "2.5"),
        (7.0, "7"),
        (0, "0"),
        (" a ", "a"),
        (date(2026, 1, 2), "2026-01-02"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_refusals_say_what_is_wrong_in_both_languages(tmp_path: Path) -> None:
    missing = tmp_path / "none.csv"
    with pytest.raises(TableError) as exc:
        read_table(missing)
    assert exc.value.zh == f"文件不存在：{missing}" and str(missing) in exc.value.en

    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(TableError) as exc:
        read_table(bad)
    assert exc.value.zh.startswith("不是有效的 xlsx 文件") and "xlsx" in exc.value.en

    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"\xff\xfe\x00\xd8 bytes that no encoding we take reads \x80\x81")
    with pytest.raises(TableError) as exc:
        read_table(latin)
    assert "既不是 UTF-8 也不是 GBK" in exc.value.zh and "UTF-8" in exc.value.en
    assert str(exc.value) == f"{exc.value.zh} / {exc.value.en}"
