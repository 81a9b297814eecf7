"""Paper keys at the centre: which terminal may have which data key, and when."""

from __future__ import annotations

from datetime import datetime

from exam_server.sittings.models import Attempt


def paper_key_for(attempt: Attempt, now: datetime) -> bytes | None:
    """The data key of this attempt's paper, once the sitting has started and its key has
    been released to the centre; None before. Only the terminal decrypts the paper."""
    sitting = attempt.sitting
    if sitting.sitting_key is None or now < sitting.start:
        return None
    from question_bank.package import unwrap_data_key

    return unwrap_data_key(attempt.paper.wrapped_key, sitting.sitting_key)
