"""Service functions of the sitting: login, answer saves, submission, the end.

Each takes the session of the caller's unit of work and the instant ``now`` from the
injected clock, checks the rules through :mod:`exam_server.sittings.engine`, and only
flushes. Refusals raise :class:`ServiceError` (or the engine's ``RuleError``) with a code.

One package in sections (``errors``, ``timing``, ``login``, ``answers``, ``submission``,
``pauses``, ``support``); every public name is here as it always was. A private one lives
in its section only: a test that swaps one swaps it there (``answers._ITEM_IDS``).
"""

from __future__ import annotations

from exam_server.sittings.service.answers import (
    ATTEMPT_TABLE,
    IS_LATEST,
    LATEST_SEQS,
    SaveRequest,
    SaveResult,
    current_answer_seqs,
    current_answers,
    current_answers_many,
    paper_item_ids,
    pauses_by_scope,
    save_answers,
)
from exam_server.sittings.service.errors import (
    ServiceError,
)
from exam_server.sittings.service.login import (
    LoginLimits,
    LoginResult,
    find_seat,
    login,
    parse_seat_label,
    resume,
    ticket_rules,
)
from exam_server.sittings.service.pauses import (
    KEY_WAIT,
    authorise_relogin,
    end_key_wait,
    end_pause,
    grant_extra_time,
    seconds,
    start_pause,
)
from exam_server.sittings.service.submission import (
    Receipt,
    SweepResult,
    force_submit,
    lock_attempt,
    submit_by_candidate,
    sweep,
)
from exam_server.sittings.service.support import (
    PRELOAD_AHEAD,
    attempt_with_timing,
    candidate_photo,
    preload_papers,
    seat_sittings,
)
from exam_server.sittings.service.timing import (
    pauses_for,
    timing_of,
    timings_for,
)

__all__ = [
    "ATTEMPT_TABLE",
    "IS_LATEST",
    "KEY_WAIT",
    "LATEST_SEQS",
    "LoginLimits",
    "LoginResult",
    "PRELOAD_AHEAD",
    "Receipt",
    "SaveRequest",
    "SaveResult",
    "ServiceError",
    "SweepResult",
    "attempt_with_timing",
    "authorise_relogin",
    "candidate_photo",
    "current_answer_seqs",
    "current_answers",
    "current_answers_many",
    "end_key_wait",
    "end_pause",
    "find_seat",
    "force_submit",
    "grant_extra_time",
    "lock_attempt",
    "login",
    "paper_item_ids",
    "parse_seat_label",
    "pauses_by_scope",
    "pauses_for",
    "preload_papers",
    "resume",
    "save_answers",
    "seat_sittings",
    "seconds",
    "start_pause",
    "submit_by_candidate",
    "sweep",
    "ticket_rules",
    "timing_of",
    "timings_for",
]
