"""Import and export of items: xlsx, csv, json and IMS QTI 2.1.

Every reader returns :class:`~question_bank.items.RawRow` objects; :func:`read_items`
validates them all and raises :class:`~question_bank.items.ItemValidationError` listing
every problem, so an import is all-or-nothing. Writers take validated items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from question_bank.items import Item, ItemIssue, ItemValidationError, RawRow, validate_rows

FORMATS = ("xlsx", "csv", "json", "qti")


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".xlsx"):
        return "xlsx"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".json"):
        return "json"
    if name.endswith(".zip") or name.endswith(".xml") or path.is_dir():
        return "qti"
    raise ItemValidationError(
        [
            ItemIssue(
                str(path),
                None,
                None,
                "file",
                "无法从扩展名判断文件格式，请使用 .xlsx、.csv、.json 或 QTI 的 .zip/.xml，"
                "或用 --format 指定 (cannot tell the format from the file name: use .xlsx, "
                ".csv, .json or a QTI .zip/.xml, or give --format)",
            )
        ]
    )


def read_rows(path: Path, fmt: str | None = None) -> list[RawRow]:
    """Read raw rows from a file in any supported format (no validation yet)."""
    fmt = fmt or detect_format(path)
    if not path.exists():
        raise ItemValidationError(
            [
                ItemIssue(
                    str(path),
                    None,
                    None,
                    "file",
                    "文件不存在，请检查路径 (no such file: check the path)",
                )
            ]
        )
    if fmt == "xlsx":
        from question_bank.formats.tabular import read_xlsx

        return read_xlsx(path)
    if fmt == "csv":
        from question_bank.formats.tabular import read_csv

        return read_csv(path)
    if fmt == "json":
        from question_bank.formats.jsonfmt import read_json

        return read_json(path)
    if fmt == "qti":
        from question_bank.formats.qti import read_qti

        return read_qti(path)
    raise ValueError(f"unknown format {fmt}")


def read_items(
    paths: Sequence[Path],
    fmt: str | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    notices: list[ItemIssue] | None = None,
) -> list[Item]:
    """Read and validate every file; all problems of all files are reported together.

    ``progress`` is called with 1 after each file is read. ``notices``, when given,
    receives what was read but is not kept, without changing how an item is shown or
    scored (see :attr:`~question_bank.items.RawRow.notices`), when the import succeeds.
    """
    rows: list[RawRow] = []
    issues: list[ItemIssue] = []
    for p in paths:
        try:
            rows.extend(read_rows(p, fmt))
        except ItemValidationError as e:
            issues.extend(e.issues)
        if progress is not None:
            progress(1)
    try:
        items = validate_rows(rows, notices)
    except ItemValidationError as e:
        issues.extend(e.issues)
    if issues:
        raise ItemValidationError(issues)
    return items


def write_items(items: Sequence[Item], path: Path, fmt: str) -> None:
    if fmt == "xlsx":
        from question_bank.formats.tabular import write_xlsx

        write_xlsx(items, path)
    elif fmt == "csv":
        from question_bank.formats.tabular import write_csv

        write_csv(items, path)
    elif fmt == "json":
        from question_bank.formats.jsonfmt import write_json

        write_json(items, path)
    elif fmt == "qti":
        from question_bank.formats.qti import write_qti

        write_qti(items, path)
    else:
        raise ValueError(f"unknown format {fmt}")
