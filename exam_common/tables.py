"""One reader for the tables people hand us (registrations, seating inputs, the trade
catalogue): a csv in UTF-8 or GBK (what Excel and WPS save in China), or the first sheet
of an xlsx, as rows of stripped text. Each caller turns a :class:`TableError` into its
own refusal, naming the file.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from pathlib import Path

XLSX = (".xlsx", ".xlsm")
ENCODINGS = ("utf-8-sig", "gb18030")  # gb18030 reads GBK and GB2312 too


class TableError(ValueError):
    """A table that cannot be read, in Chinese (``zh``) and English (``en``)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person typed: whole numbers without ``.0``, a date
    (a time of midnight is a date typed into Excel) as ``YYYY-MM-DD``, a time of day as
    ``YYYY-MM-DDTHH:MM:SS``, nothing as ``""``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()[:10] if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(path: Path) -> list[list[str]]:
    """Every row (header first, blank rows kept) of a csv or xlsx file, cells stripped."""
    if not path.is_file():
        raise TableError(f"文件不存在：{path}", f"no such file: {path}")
    if path.suffix.lower() in XLSX:
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a bad file
            raise TableError(
                f"不是有效的 xlsx 文件：{exc}", f"not a valid xlsx file: {exc}"
            ) from exc
        try:
            return [[cell_text(v) for v in r] for r in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()
    raw = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
    raise TableError(
        "文件编码既不是 UTF-8 也不是 GBK，请在 Excel/WPS 中另存为“CSV UTF-8”",
        "the encoding is neither UTF-8 nor GBK: save it as CSV UTF-8",
    )
