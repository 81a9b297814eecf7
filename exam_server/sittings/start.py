"""The start of a sitting: every logged-in terminal gets its paper's key at once."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from exam_common import protocol as p
from exam_server.plans.keys import paper_key_for
from exam_server.sittings import service
from exam_server.sittings.engine import AttemptState
from exam_server.sittings.models import Attempt

if TYPE_CHECKING:
    from exam_server.runtime import Runtime


def announce_start(rt: Runtime, sitting_id: int) -> int:
    """Push ``sitting_started`` (with the data key) to each open attempt's terminal.

    Keys are computed per paper variant once, then sent to each attempt's own room, so a
    terminal only ever receives the key of its candidate's paper. Returns pushes sent.
    """
    from exam_server.sittings.namespace import attempt_room, sitting_info

    messages = []
    with rt.db.read() as session:
        now = rt.clock.now()
        attempts = session.scalars(
            select(Attempt)
            .options(
                joinedload(Attempt.sitting), joinedload(Attempt.paper), joinedload(Attempt.seat)
            )
            .where(
                Attempt.sitting_id == sitting_id,
                Attempt.state.in_([AttemptState.IN_PROGRESS, AttemptState.PAUSED]),
            )
        ).all()
        keys: dict[int, bytes | None] = {}
        timings = service.timings_for(session, attempts)
        for attempt in attempts:
            if attempt.paper_id not in keys:
                keys[attempt.paper_id] = paper_key_for(attempt, now, rt.vault)
            key = keys[attempt.paper_id]
            info = sitting_info(attempt, timings[attempt.id], now)
            messages.append(
                (
                    attempt.id,
                    p.dump(
                        p.SittingStarted(
                            attempt_id=attempt.id,
                            paper_key=base64.b64encode(key).decode() if key else None,
                            sitting=info,
                        )
                    ),
                )
            )
    for attempt_id, payload in messages:
        rt.emit("sitting_started", payload, to=attempt_room(attempt_id), namespace=p.NAMESPACE)
    return len(messages)
