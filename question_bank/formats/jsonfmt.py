"""JSON: ``{"format": "qbank-items/1", "items": [...]}``; each item as
:meth:`~question_bank.items.Item.to_json` writes it (images inline as base64).

Input is validated like any other (the field values may also be given in Chinese, e.g.
``"type": "单选"``); ``version`` in input is ignored: the bank assigns versions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exam_common.durable import write_atomic
from question_bank.items import Image, Item, ItemIssue, ItemValidationError, RawRow

FORMAT = "qbank-items/1"


def rows_from_json(data: Any, source: str) -> list[RawRow]:
    items = data.get("items") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ItemValidationError(
            [
                ItemIssue(
                    source,
                    None,
                    None,
                    "file",
                    '需要 {"format": "qbank-items/1", "items": [...]} 或试题数组',
                )
            ]
        )
    rows: list[RawRow] = []
    issues: list[ItemIssue] = []
    for n, d in enumerate(items, start=1):
        if not isinstance(d, dict):
            issues.append(ItemIssue(source, n, None, "item", "每道试题必须是一个 JSON 对象"))
            continue
        image = None
        if d.get("image"):
            try:
                image = Image.from_json(d["image"])
            except (KeyError, ValueError, TypeError):
                issues.append(
                    ItemIssue(
                        source,
                        n,
                        str(d.get("id") or ""),
                        "image",
                        "图片须为 {media_type, data(base64)}",
                    )
                )
        raw = {k: v for k, v in d.items() if k not in ("image", "version")}
        rows.append(RawRow(source, n, raw, image=image))
    if issues:
        raise ItemValidationError(issues)
    return rows


def read_json(path: Path) -> list[RawRow]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ItemValidationError(
            [
                ItemIssue(
                    str(path),
                    getattr(e, "lineno", None),
                    None,
                    "file",
                    f"不是有效的 UTF-8 JSON：{e}",
                )
            ]
        ) from None
    return rows_from_json(data, str(path))


def items_to_json(items: Sequence[Item]) -> dict[str, Any]:
    return {"format": FORMAT, "items": [i.to_json() for i in items]}


def write_json(items: Sequence[Item], path: Path) -> None:
    write_atomic(path, json.dumps(items_to_json(items), ensure_ascii=False, indent=1))
