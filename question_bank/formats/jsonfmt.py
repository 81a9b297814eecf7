"""JSON: ``{"format": "qbank-items/1", "items": [...]}``; each item as
:meth:`~question_bank.items.Item.to_json` writes it (images inline as base64).

Input is validated like any other (the field values may also be given in Chinese, e.g.
``"type": "单选"``); ``version`` in input is ignored: the bank assigns versions.

Besides the fields of every format, an item may have ``image_alt``, ``shuffle`` (false:
never shuffle its options), ``fixed`` (labels that keep their place), ``scoring``
(``{"rule": "match_correct"}`` or ``{"rule": "map_response", "map": {"A": "1", ...},
"default": "0", "lower": "0", "upper": "2"}``) and ``body`` (the stem as written:
``[{"text": ...}, {"image": {media_type, data}, "alt": ...}, ...]``; then ``stem`` is its
text) and ``after`` (what the author wrote after the options, in the same form). :meth:`~question_bank.items.Item.to_json` writes them where they are not the
default.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exam_common.durable import write_atomic
from question_bank.items import Block, Image, Item, ItemIssue, ItemValidationError, RawRow

FORMAT = "qbank-items/1"


def _blocks(
    d: dict[str, Any],
    name: str,
    source: str,
    n: int,
    item_id: str | None,
    found: list[ItemIssue],
) -> list[Block] | None:
    """``body`` or ``after``: text and pictures in order (None when not given)."""
    if d.get(name) is None:
        return None
    blocks: list[Block] = []
    raw = d[name] if isinstance(d[name], list) else [None]
    for k, b in enumerate(raw, start=1):
        try:
            if not isinstance(b, dict) or not ("text" in b or "image" in b):
                raise ValueError(b)
            blocks.append(Block.from_json(b))
        except (KeyError, ValueError, TypeError, binascii.Error):
            found.append(
                ItemIssue(
                    source,
                    n,
                    item_id,
                    name,
                    f"{name} 的第 {k} 段须为 {{text}} 或 {{image: {{media_type, data}}, alt}} "
                    f"({name} part {k}: {{text}} or {{image, alt}})",
                )
            )
    return blocks


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
                    '需要 {"format": "qbank-items/1", "items": [...]} 或试题数组 '
                    '(expected {"format": "qbank-items/1", "items": [...]} or a list of items)',
                )
            ]
        )
    rows: list[RawRow] = []
    for n, d in enumerate(items, start=1):
        if not isinstance(d, dict):
            rows.append(
                RawRow(
                    source,
                    n,
                    {},
                    issues=[
                        ItemIssue(
                            source,
                            n,
                            None,
                            "item",
                            "每道试题必须是一个 JSON 对象 (each item is a JSON object)",
                        )
                    ],
                    unreadable=True,
                )
            )
            continue
        item_id = str(d.get("id") or "") or None
        found: list[ItemIssue] = []
        image = None
        if d.get("image"):
            try:
                image = Image.from_json(d["image"])
            except (KeyError, ValueError, TypeError, binascii.Error):
                found.append(
                    ItemIssue(
                        source,
                        n,
                        item_id,
                        "image",
                        "图片须为 {media_type, data(base64)} (image: {media_type, data})",
                    )
                )
        body = _blocks(d, "body", source, n, item_id, found)
        after = _blocks(d, "after", source, n, item_id, found)
        raw = {k: v for k, v in d.items() if k not in ("image", "version", "body", "after")}
        rows.append(RawRow(source, n, raw, image=image, body=body, after=after, issues=found))
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
                    f"不是有效的 UTF-8 JSON：{e} (not valid UTF-8 JSON)",
                )
            ]
        ) from None
    return rows_from_json(data, str(path))


def items_to_json(items: Sequence[Item]) -> dict[str, Any]:
    return {"format": FORMAT, "items": [i.to_json() for i in items]}


def write_json(items: Sequence[Item], path: Path) -> None:
    write_atomic(path, json.dumps(items_to_json(items), ensure_ascii=False, indent=1))
