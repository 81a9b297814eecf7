"""The mark of a link that runs plain HTTP (``--insecure-http``: the demo and tests only),
on every log line of the process: the centre server's and the terminal's alike."""

from __future__ import annotations

import logging

INSECURE_MARK = "[明文HTTP 未加密 / INSECURE plain HTTP]"


class _InsecureMark(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_insecure_marked", False):
            record.msg = f"{INSECURE_MARK} {record.msg}"
            record._insecure_marked = True
        return True


def insecure_logging() -> None:
    """Every log line of this process says that its link is plain HTTP."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO)
    for handler in root.handlers:
        if not any(isinstance(f, _InsecureMark) for f in handler.filters):
            handler.addFilter(_InsecureMark())
