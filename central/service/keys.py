"""Keys: a sitting's key released to its centre at its time, never before."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    select,
    update,
)

from central.service.base import CENTRE_TABLE, SITTING_TABLE, CentralError, Work, audit
from exam_common import offline_code

# --- keys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SittingKeys:
    """What releasing a sitting's keys needs from ``published_sitting`` (one row)."""

    id: int
    start: datetime
    end: datetime
    release_secret: bytes
    end_secret: bytes
    start_key_fetched_at: datetime | None
    end_key_fetched_at: datetime | None


_KEY_COLUMNS = (
    SITTING_TABLE.c.id,
    SITTING_TABLE.c.start,
    SITTING_TABLE.c.end,
    SITTING_TABLE.c.release_secret,
    SITTING_TABLE.c.end_secret,
    SITTING_TABLE.c.start_key_fetched_at,
    SITTING_TABLE.c.end_key_fetched_at,
)


_CENTRE_AND_SITTING = (
    select(CENTRE_TABLE.c.public_key, *_KEY_COLUMNS)
    .select_from(
        CENTRE_TABLE.outerjoin(
            SITTING_TABLE,
            and_(
                SITTING_TABLE.c.centre_code == CENTRE_TABLE.c.code,
                SITTING_TABLE.c.code == bindparam("code"),
            ),
        )
    )
    .where(CENTRE_TABLE.c.code == bindparam("centre"))
)
_SITTING_KEYS = select(*_KEY_COLUMNS).where(
    SITTING_TABLE.c.centre_code == bindparam("centre"), SITTING_TABLE.c.code == bindparam("code")
)


def centre_and_sitting(
    session: Work, centre: str, code: str
) -> tuple[str, SittingKeys | None] | None:
    """The centre's public key (hex) and its sitting ``code``'s keys, in one query (a key
    request's one read); None for a centre central never registered."""
    row = session.execute(_CENTRE_AND_SITTING, {"centre": centre, "code": code}).first()
    if row is None:
        return None
    keys = None if row.id is None else SittingKeys(*row[1:])
    return row.public_key, keys


def release_key(
    session: Work,
    centre: str,
    code: str,
    kind: str,
    now: datetime,
    *,
    actor: str,
    sitting: SittingKeys | None = None,
) -> dict[str, Any]:
    """A sitting's release secret from its start, its end secret from its end; never
    earlier, by central's clock, whatever the caller says. Every release is recorded
    (``key.released.<kind>``) in the caller's transaction, so the reply goes out only
    once its record is committed. ``sitting``: the row already read with the request's
    check (:func:`centre_and_sitting`), or None to read it here."""
    if kind not in ("start", "end"):
        raise CentralError("bad_request", "kind 应为 start 或 end")
    if sitting is None:
        row = session.execute(_SITTING_KEYS, {"centre": centre, "code": code}).first()
        sitting = None if row is None else SittingKeys(*row)  # type: ignore[arg-type]
    if sitting is None:
        raise CentralError(
            "unknown_sitting",
            f"考点 {centre} 没有场次 {code} / no such sitting for this centre",
            404,
        )
    due = sitting.start if kind == "start" else sitting.end
    if now < due:
        what = "试卷密钥在开考时" if kind == "start" else "答案密钥在考试结束时"
        raise CentralError(
            "key_too_early",
            f"场次 {code} 的{what}才下达（{due.isoformat()}），现在是 {now.isoformat()} "
            "(the key is released only at its time)",
            403,
            available_at=due.isoformat(),
            seconds_left=round((due - now).total_seconds(), 3),
        )
    secret = sitting.release_secret if kind == "start" else sitting.end_secret
    first = sitting.start_key_fetched_at if kind == "start" else sitting.end_key_fetched_at
    if first is None:
        column = (
            SITTING_TABLE.c.start_key_fetched_at
            if kind == "start"
            else SITTING_TABLE.c.end_key_fetched_at
        )
        # only if still unset: two first requests at once keep the earlier's time
        session.execute(
            update(SITTING_TABLE)
            .where(SITTING_TABLE.c.id == sitting.id, column.is_(None))
            .values({column: now})
        )
    audit(session, now, actor, f"key.released.{kind}", centre=centre, sitting=code)
    return {
        "ok": True,
        "sitting": code,
        "kind": kind,
        "secret": secret.hex(),
        "offline_code": offline_code.encode(secret),
    }
