"""The province tests build centre databases of their own in the test process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exam_server.sittings.service import answers


@pytest.fixture(autouse=True)
def forget_paper_items() -> Iterator[None]:
    """The server memoises each paper's item ids by row id (one database per process).
    These tests make centre databases of their own: start and end with the memo empty,
    so neither they nor the tests after them in this process see another's papers."""
    answers._ITEM_IDS.clear()
    yield
    answers._ITEM_IDS.clear()
