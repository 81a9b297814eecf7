"""Configuration, read from the environment (``EXAM_*``); see the README's table."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from exam_common.durable import ensure_dir


def _env(name: str, default: str) -> str:
    return os.environ.get(f"EXAM_{name}", default)


class ConfigError(ValueError):
    """An ``EXAM_*`` variable that cannot be read: says which, and what it must be."""


def env_number(var: str, default: str, kind: type[int] | type[float]) -> Any:
    """The environment variable ``var`` (or ``default``) as an int or a float; a value
    that is not one is refused with a message naming the variable."""
    raw = os.environ.get(var, default)
    try:
        return kind(raw)
    except ValueError:
        what = ("整数", "an integer") if kind is int else ("数字", "a number")
        raise ConfigError(
            f"环境变量 {var}={raw!r} 不是{what[0]}，请改正 ({var} must be {what[1]})"
        ) from None


def _int(name: str, default: str) -> int:
    value: int = env_number(f"EXAM_{name}", default, int)
    return value


def _float(name: str, default: str) -> float:
    value: float = env_number(f"EXAM_{name}", default, float)
    return value


@dataclass
class Config:
    #: SQLAlchemy URL of the centre database
    DATABASE_URL: str = field(
        default_factory=lambda: _env("DATABASE_URL", "sqlite:///var/centre.db")
    )
    #: Flask secret (sessions, CSRF). Generated into the data dir when not set.
    SECRET_KEY: str = field(default_factory=lambda: _env("SECRET_KEY", ""))
    #: where backups, the generated secret and keys live
    DATA_DIR: str = field(default_factory=lambda: _env("DATA_DIR", "var"))
    #: zh_CN (default) or en
    LANG: str = field(default_factory=lambda: _env("LANG", "zh_CN"))
    #: gevent (default) or threading; the benchmarks chose (docs/benchmarks.md)
    ASYNC_MODE: str = field(default_factory=lambda: _env("ASYNC_MODE", "gevent"))
    #: run the APScheduler scheduler inside this process (single-process centre)
    SCHEDULER: bool = field(
        default_factory=lambda: _env("SCHEDULER", "1") not in ("0", "false", "no")
    )
    #: Socket.IO message queue (Redis URL) when several workers run
    MESSAGE_QUEUE: str = field(default_factory=lambda: _env("MESSAGE_QUEUE", ""))
    #: warn the console when a terminal's clock is off by more than this (seconds)
    CLOCK_WARNING_S: float = field(default_factory=lambda: _float("CLOCK_WARNING_S", "60"))
    #: group commit: longest a save waits for companions before the batch commits (ms).
    #: Fewer, larger batches pay under load: at 1,000 terminals 10 ms took the ack p99
    #: from 1,429 to 229 ms (docs/benchmarks.md, first pass, commits still on the loop).
    GROUP_COMMIT_WAIT_MS: float = field(
        default_factory=lambda: _float("GROUP_COMMIT_WAIT_MS", "10")
    )
    #: the cycle collector's youngest-generation threshold in the serving process (Python's
    #: default is 700). Under load every save's short-lived objects (its greenlet, the
    #: event's request context) outlived the young collections that ran every few ms and
    #: were promoted, and a full collection of the ~340,000 objects a 1,000-terminal
    #: server holds (~200 ms without a socket served) followed every ~8 s; at 7,000 one
    #: came in a 60 s run (docs/benchmarks.md, "Third pass"). 0 keeps Python's.
    GC_YOUNG_THRESHOLD: int = field(default_factory=lambda: _int("GC_YOUNG_THRESHOLD", "7000"))
    #: downtime longer than this is credited to everyone as a centre pause (a power cut)
    DOWNTIME_CREDIT_S: float = field(default_factory=lambda: _float("DOWNTIME_CREDIT_S", "60"))
    #: downtime longer than this is recorded for the chief examiner at restart (seconds)
    DOWNTIME_RECORD_S: float = field(default_factory=lambda: _float("DOWNTIME_RECORD_S", "10"))
    #: this centre's code (考点代码); packages for any other centre are refused
    CENTRE_CODE: str = field(default_factory=lambda: _env("CENTRE_CODE", ""))
    #: central's Ed25519 public key (PEM file), pinned at setup: packages must carry its signature
    CENTRAL_PUBLIC_KEY: str = field(default_factory=lambda: _env("CENTRAL_PUBLIC_KEY", ""))
    #: demo only: a central secrets file from which the scheduler releases keys at their time
    KEY_ESCROW: str = field(default_factory=lambda: _env("KEY_ESCROW", ""))
    #: central's URL (set by ``exam-sync setup``; this overrides it): keys, results, backups
    CENTRAL_URL: str = field(default_factory=lambda: _env("CENTRAL_URL", ""))
    #: how often the scheduler syncs with central: due keys, queued uploads (seconds)
    SYNC_INTERVAL_S: float = field(default_factory=lambda: _float("SYNC_INTERVAL_S", "60"))
    #: during a sitting, an encrypted database backup this often (seconds; 0: never)
    BACKUP_INTERVAL_S: float = field(default_factory=lambda: _float("BACKUP_INTERVAL_S", "300"))
    #: where backups are written (default: <DATA_DIR>/backups)
    BACKUP_DIR: str = field(default_factory=lambda: _env("BACKUP_DIR", ""))
    #: upload chunk size (bytes); an interrupted upload resumes from the last whole chunk
    SYNC_CHUNK_BYTES: int = field(
        default_factory=lambda: _int("SYNC_CHUNK_BYTES", str(1024 * 1024))
    )
    #: the running centre server, for ``exam-sync key`` to hand it a key (local only);
    #: empty: the address the running server wrote into its data folder (``server_url``)
    SERVER_URL: str = field(default_factory=lambda: _env("SERVER_URL", ""))
    #: serve plain HTTP instead of TLS: for the demo and tests only. Every console page
    #: and every log line of the server says so.
    INSECURE_HTTP: bool = field(
        default_factory=lambda: _env("INSECURE_HTTP", "0").lower() not in ("0", "false", "no", "")
    )
    #: extra names and addresses for the server certificate (comma-separated), besides
    #: 127.0.0.1, localhost, this machine's name and its addresses
    TLS_HOSTS: str = field(default_factory=lambda: _env("TLS_HOSTS", ""))
    #: wrong ID numbers for one ticket before the ticket locks (the invigilator unlocks)
    LOGIN_TICKET_LIMIT: int = field(default_factory=lambda: _int("LOGIN_TICKET_LIMIT", "5"))
    #: wrong logins from one terminal before the terminal locks (the invigilator unlocks)
    LOGIN_TERMINAL_LIMIT: int = field(default_factory=lambda: _int("LOGIN_TERMINAL_LIMIT", "10"))
    #: failures further apart than this start counting afresh (seconds)
    LOGIN_WINDOW_S: float = field(default_factory=lambda: _float("LOGIN_WINDOW_S", "1800"))
    #: how long an enrolment code made on the console or the CLI stays valid (seconds)
    ENROL_CODE_VALID_S: float = field(
        default_factory=lambda: _float("ENROL_CODE_VALID_S", str(12 * 3600))
    )
    #: set by ``exam-server run`` when it serves TLS (cookies are then Secure)
    TLS: bool = False
    TESTING: bool = False

    @classmethod
    def from_mapping(cls, overrides: dict[str, Any] | None) -> Config:
        cfg = cls()
        names = {f.name for f in fields(cls)}
        for key, value in (overrides or {}).items():
            if key not in names:
                raise KeyError(
                    f"unknown configuration key {key!r}; known: {', '.join(sorted(names))}"
                )
            setattr(cfg, key, value)
        return cfg

    def data_path(self, *parts: str) -> Path:
        path = Path(self.DATA_DIR, *parts)
        ensure_dir(path.parent)
        return path
