"""The console's own settings, read from the environment (``EXAM_CONSOLE_*``).

Kept beside the console rather than in :class:`exam_server.config.Config` so the console
can be tuned (and tests can shorten its windows) without touching the server's config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from exam_server.config import env_number


def _env(name: str, default: str) -> str:
    return os.environ.get(f"EXAM_CONSOLE_{name}", default)


def _int(name: str, default: str) -> int:
    value: int = env_number(f"EXAM_CONSOLE_{name}", default, int)
    return value


def _float(name: str, default: str) -> float:
    value: float = env_number(f"EXAM_CONSOLE_{name}", default, float)
    return value


def _flag(name: str, default: str) -> bool:
    return _env(name, default).lower() not in ("0", "false", "no", "")


@dataclass
class ConsoleSettings:
    #: failed logins of one user name from one address before that pair must wait
    #: (counted the same whether the name exists or not; nothing ever locks)
    MAX_FAILURES: int = field(default_factory=lambda: _int("MAX_FAILURES", "5"))
    #: failed logins of any names from one address before that address must wait
    SOURCE_MAX_FAILURES: int = field(default_factory=lambda: _int("SOURCE_MAX_FAILURES", "20"))
    #: the first wait past a limit (seconds); it doubles with each further failure
    THROTTLE_S: int = field(default_factory=lambda: _int("THROTTLE_S", "30"))
    #: the longest wait (seconds)
    LOCKOUT_S: int = field(default_factory=lambda: _int("LOCKOUT_S", "900"))
    #: a login lasts at most this long, whatever happens (seconds; a working day)
    SESSION_MAX_S: int = field(default_factory=lambda: _int("SESSION_MAX_S", str(10 * 3600)))
    #: a login with no request for this long ends (seconds). Longer than a sitting: an
    #: invigilator watching the live map for an hour must not be logged out mid-sitting.
    SESSION_IDLE_S: int = field(default_factory=lambda: _int("SESSION_IDLE_S", str(2 * 3600)))
    #: send the session cookie over HTTPS only (set when the console is served over TLS)
    SECURE_COOKIE: bool = field(default_factory=lambda: _flag("SECURE_COOKIE", "0"))
    #: how often the live map's changes are pushed, at most (seconds)
    FLUSH_S: float = field(default_factory=lambda: _float("FLUSH_S", "0.5"))
    #: out-of-contact time shorter than this is not proposed as extra time (seconds)
    LOST_TIME_MIN_S: float = field(default_factory=lambda: _float("LOST_TIME_MIN_S", "30"))
    #: silent terminal: amber after this many seconds, red (with a sound) after the next
    AMBER_S: int = field(default_factory=lambda: _int("AMBER_S", "10"))
    RED_S: int = field(default_factory=lambda: _int("RED_S", "60"))
    #: a candidate not logged in this long after the start is highlighted (seconds);
    #: capped at half the sitting's late-entry window so short sittings warn in time
    NOT_ARRIVED_S: int = field(default_factory=lambda: _int("NOT_ARRIVED_S", "900"))
    #: a seat's terminal reconnecting this many times is flagged
    RECONNECT_FLAG: int = field(default_factory=lambda: _int("RECONNECT_FLAG", "3"))

    @classmethod
    def from_mapping(cls, overrides: dict[str, Any] | None) -> ConsoleSettings:
        cfg = cls()
        names = {f.name for f in fields(cls)}
        for key, value in (overrides or {}).items():
            if key not in names:
                raise KeyError(f"unknown console setting {key!r}; known: {sorted(names)}")
            setattr(cfg, key, value)
        return cfg
