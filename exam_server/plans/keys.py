"""Paper keys at the centre: which terminal may have which data key, and when."""

from __future__ import annotations

from datetime import datetime

from exam_server.plans.models import Sitting
from exam_server.sittings.models import Attempt
from exam_server.system.vault import KeyVault


def paper_key_for(attempt: Attempt, now: datetime, vault: KeyVault) -> bytes | None:
    """The data key of this attempt's paper, once the sitting has started and its key has
    been released to the centre; None before. Only the terminal decrypts the paper."""
    key = sitting_key(attempt.sitting, now, vault)
    if key is None:
        return None
    from question_bank.package import unwrap_data_key

    return unwrap_data_key(attempt.paper.wrapped_key, key)


def sitting_key(sitting: Sitting, now: datetime, vault: KeyVault) -> bytes | None:
    """The sitting's key, opened from its sealed form, once it started and the key came."""
    if sitting.sitting_key is None or now < sitting.start:
        return None
    return vault.open(sitting.sitting_key, sitting_code=sitting.code, kind="sitting")


def end_key(sitting: Sitting, vault: KeyVault) -> bytes | None:
    """The sitting's end key (opens the answer key), once released; None before."""
    if sitting.end_key is None:
        return None
    return vault.open(sitting.end_key, sitting_code=sitting.code, kind="end")
