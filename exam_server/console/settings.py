"""The console's own settings, read from the environment (``EXAM_CONSOLE_*``).

Kept beside the console rather than in :class:`exam_server.config.Config` so the console
can be tuned (and tests can shorten its windows) without touching the server's config.
"""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from exam_common.settings import Settings


class ConsoleSettings(Settings):
    """The console's settings: ``EXAM_CONSOLE_<NAME>`` over the defaults below."""

    model_config = SettingsConfigDict(env_prefix="EXAM_CONSOLE_")

    MAX_FAILURES: int = 5
    """failed logins of one user name from one address before that pair must wait (counted
    the same whether the name exists or not; nothing ever locks)
    """
    SOURCE_MAX_FAILURES: int = 20
    """failed logins of any names from one address before that address must wait"""
    THROTTLE_S: int = 30
    """the first wait past a limit (seconds); it doubles with each further failure"""
    LOCKOUT_S: int = 900
    """the longest wait (seconds)"""
    SESSION_MAX_S: int = 10 * 3600
    """a login lasts at most this long, whatever happens (seconds; a working day)"""
    SESSION_IDLE_S: int = 2 * 3600
    """a login with no request for this long ends (seconds). Longer than a sitting: an
    invigilator watching the live map for an hour must not be logged out mid-sitting.
    """
    SECURE_COOKIE: bool = False
    """send the session cookie over HTTPS only (set when the console is served over TLS)
    """
    FLUSH_S: float = 0.5
    """how often the live map's changes are pushed, at most (seconds)"""
    LOST_TIME_MIN_S: float = 30.0
    """out-of-contact time shorter than this is not proposed as extra time (seconds)"""
    AMBER_S: int = 10
    """silent terminal: amber after this many seconds"""
    RED_S: int = 60
    """silent terminal: red (with a sound) after this many seconds"""
    NOT_ARRIVED_S: int = 900
    """a candidate not logged in this long after the start is highlighted (seconds); capped
    at half the sitting's late-entry window so short sittings warn in time
    """
    RECONNECT_FLAG: int = 3
    """a seat's terminal reconnecting this many times is flagged"""
