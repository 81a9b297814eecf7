"""Entering a sitting's keys into a running server: store, then tell the terminals.

Keys come from central at the start and the end (the sync tool), or as an offline code
typed by the centre admin. In the demo, a local escrow file plays central's part
(``EXAM_KEY_ESCROW``): the scheduler releases each key from it at its time.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from exam_server.packages.service import enter_end_key, enter_sitting_key
from exam_server.plans.models import Sitting
from exam_server.scoring.service import score_sitting
from exam_server.sittings.start import announce_start

if TYPE_CHECKING:
    from exam_server.runtime import Runtime

log = logging.getLogger(__name__)


def release_sitting_key(rt: Runtime, sitting_id: int, release_secret: bytes, *, by: str) -> None:
    with rt.db.write() as session:
        sitting = session.get(Sitting, sitting_id)
        if sitting is None:
            raise LookupError(f"no sitting {sitting_id}")
        enter_sitting_key(session, rt.clock.now(), sitting, release_secret, by=by, vault=rt.vault)
    announce_start(rt, sitting_id)
    if rt.scheduler is not None:
        rt.scheduler.sitting_changed(sitting_id)


def release_end_key(rt: Runtime, sitting_id: int, end_secret: bytes, *, by: str) -> int:
    """Store the end key and score what is submitted. Returns attempts scored."""
    with rt.db.write() as session:
        sitting = session.get(Sitting, sitting_id)
        if sitting is None:
            raise LookupError(f"no sitting {sitting_id}")
        now = rt.clock.now()
        enter_end_key(session, now, sitting, end_secret, by=by, vault=rt.vault)
        return score_sitting(session, now, sitting, rt.vault)


def release_from_escrow(rt: Runtime, sitting_id: int) -> None:
    """Demo only: release whatever keys are due from the escrow file."""
    path = rt.config.KEY_ESCROW
    if not path:
        return
    doc = json.loads(Path(path).read_text())
    with rt.db.read() as session:
        sitting = session.get(Sitting, sitting_id)
        if sitting is None or sitting.code not in doc.get("sittings", {}):
            return
        now = rt.clock.now()
        need_start = sitting.sitting_key is None and now >= sitting.start
        need_end = sitting.end_key is None and now >= sitting.end
        code = sitting.code
    secrets = doc["sittings"][code]
    if need_start:
        release_sitting_key(
            rt, sitting_id, bytes.fromhex(secrets["release_secret"]), by="demo-central"
        )
        log.info("demo: released the paper key of %s", code)
    if need_end:
        release_end_key(rt, sitting_id, bytes.fromhex(secrets["end_secret"]), by="demo-central")
        log.info("demo: released the answer key of %s and scored it", code)
