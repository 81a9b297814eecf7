"""How many items each attempt has answered, kept up to date from the saves this worker
acknowledges instead of re-read from the answer history at every push.

The live map pushes the tiles of every attempt that saved in the last half second, each
with its count of answered items. Counting from the database reads the attempt's whole
history (every change ever saved, to find each item's latest), so its cost grew with the
sitting, twice a second in the event loop (``bench/bench_console_refresh.py``). Here each
attempt's latest change per item is read once, then every acknowledged save updates it.

What this worker knows is only right while it sees every save of the attempt. A worker
sees the saves of the terminals logged in through it, so only those attempts are kept:
one is forgotten when its terminal disconnects (with several workers it may come back on
another one), counted from the history while it is away, and read again to be kept when
its candidate logs in here again. A save reported before the attempt is read is in the
database by then (the signal is sent after the commit); one reported after it with a
sequence number at or below the one read changes nothing. Once the attempt is submitted
its answers can no longer change: only the count is kept.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from exam_server.sittings import service as sittings


class AnsweredCounts:
    """Per attempt: item -> (sequence number, answered) of its latest change."""

    def __init__(self) -> None:
        self._items: dict[int, dict[str, tuple[int, bool]]] = {}
        self._final: dict[int, int] = {}
        #: attempts whose terminal is logged in through this worker
        self._here: set[int] = set()

    def logged_in(self, attempt_id: int) -> None:
        """Its candidate logged in through this worker: its saves come here from now on
        (it is read at its next push, with everything saved before)."""
        self.forget(attempt_id)
        self._here.add(attempt_id)

    def saved(self, attempt_id: int, seq: int, item_id: str, response: str) -> None:
        """An acknowledged save (or a resent duplicate of one)."""
        items = self._items.get(attempt_id)
        if items is None:
            # Not read yet (it will be, with this save in it), or submitted: a save after
            # the submission would mean the attempt was reopened, so read it again.
            self._final.pop(attempt_id, None)
            return
        known = items.get(item_id)
        if known is None or seq > known[0]:
            items[item_id] = (seq, response != "")

    def forget(self, attempt_id: int) -> None:
        """Its terminal left this worker: counted from the history until it is back."""
        self._here.discard(attempt_id)
        self._items.pop(attempt_id, None)
        self._final.pop(attempt_id, None)

    def submitted(self, attempt_ids: Iterable[int]) -> None:
        """No more changes: keep the count only."""
        for attempt_id in attempt_ids:
            items = self._items.pop(attempt_id, None)
            if items is not None:
                self._final[attempt_id] = _answered(items)

    def counts(self, session: Session, attempt_ids: Iterable[int]) -> dict[int, int]:
        """The count for each attempt, reading those not known in one query."""
        ids = list(attempt_ids)
        missing = [a for a in ids if a not in self._items and a not in self._final]
        read = sittings.current_answer_seqs(session, missing) if missing else {}
        out = {}
        for attempt_id in ids:
            if attempt_id in self._final:
                out[attempt_id] = self._final[attempt_id]
                continue
            items = self._items.get(attempt_id)
            if items is None:
                items = {
                    item: (seq, response != "")
                    for item, (seq, response) in read.get(attempt_id, {}).items()
                }
                if attempt_id in self._here:
                    self._items[attempt_id] = items
            out[attempt_id] = _answered(items)
        return out

    def __len__(self) -> int:
        return len(self._items) + len(self._final)


def _answered(items: dict[str, tuple[int, bool]]) -> int:
    return sum(1 for _, answered in items.values() if answered)
