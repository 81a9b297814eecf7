"""Configuration of the centre: one file in the data directory, ``EXAM_*`` over it.

Every centre tool (``exam-server``, ``exam-sync``, the console, ``exam-server restore``)
reads the same settings in the same order: a command-line option, else the environment
variable ``EXAM_<NAME>``, else ``<data dir>/centre.toml`` (written by ``exam-sync setup``
and ``exam-server demo``), else the default. The data directory itself comes from
``--data-dir`` or ``EXAM_DATA_DIR`` (default ``var``), and the database defaults to
``centre.db`` inside it, so one ``--data-dir`` is all a tool needs to find the centre.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli_w

from exam_common.durable import PUBLIC, ensure_dir, write_atomic

#: the centre's configuration file, inside the data directory
CONFIG_FILE = "centre.toml"


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
    #: (default: ``sqlite:///<DATA_DIR>/centre.db``)
    DATABASE_URL: str = field(default_factory=lambda: _env("DATABASE_URL", ""))
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
    #: how often each server process looks for revoked enrolments among its connected
    #: terminals (seconds): a revocation made by another process (the CLI, another
    #: worker) cuts its terminal off within this; the revoking process does it at once
    REVOCATION_CHECK_S: float = field(default_factory=lambda: _float("REVOCATION_CHECK_S", "0.5"))
    ENROL_CODE_VALID_S: float = field(
        default_factory=lambda: _float("ENROL_CODE_VALID_S", str(12 * 3600))
    )
    #: tests and rehearsals only, never an exam: a file holding seconds added to this
    #: machine's clock; writing a larger number jumps the time of every process of the
    #: centre at once (exam_server/clock.py, ShiftedClock). The server warns at start.
    CLOCK_OFFSET_FILE: str = field(default_factory=lambda: _env("CLOCK_OFFSET_FILE", ""))
    #: set by ``exam-server run`` when it serves TLS (cookies are then Secure)
    TLS: bool = False
    TESTING: bool = False

    #: the centre's time zone: every screen, printed document and CLI line shows times in it
    TIME_ZONE: str = field(default_factory=lambda: _env("TIME_ZONE", "Asia/Shanghai"))
    #: the file the settings came from, if there was one (not a setting)
    SOURCE_FILE: str = ""

    @classmethod
    def from_mapping(cls, overrides: dict[str, Any] | None) -> Config:
        """Options given by the caller over ``EXAM_*`` over ``<DATA_DIR>/centre.toml``."""
        cfg = cls()
        names = {f.name for f in fields(cls)}
        overrides = dict(overrides or {})
        for key in overrides:
            if key not in names:
                raise KeyError(
                    f"unknown configuration key {key!r}; known: {', '.join(sorted(names))}"
                )
        data_dir = str(overrides.get("DATA_DIR") or cfg.DATA_DIR)
        unusable = data_dir_problem(Path(data_dir))
        if unusable:
            raise ConfigError(unusable)
        path = Path(data_dir, CONFIG_FILE)
        for key, value in read_file(path).items():
            if f"EXAM_{key}" not in os.environ and key not in overrides:
                setattr(cfg, key, value)
        if path.exists():
            cfg.SOURCE_FILE = str(path)
        for key, value in overrides.items():
            setattr(cfg, key, value)
        if not cfg.DATABASE_URL:
            cfg.DATABASE_URL = f"sqlite:///{Path(cfg.DATA_DIR, 'centre.db')}"
        return cfg

    def where(self) -> str:
        """Where this configuration looked, for every status and error line."""
        source = self.SOURCE_FILE or f"{Path(self.DATA_DIR, CONFIG_FILE)}（不存在 / none）"
        return f"数据目录 / data dir {self.DATA_DIR}，配置 / config {source}"

    def fix(self, command: str) -> str:
        """``command`` as the admin should type it for this data directory."""
        return command if self.DATA_DIR == "var" else f"{command} --data-dir {self.DATA_DIR}"

    @property
    def tz(self) -> ZoneInfo:
        """The centre's time zone (``TIME_ZONE``), refused in one line when unknown."""
        try:
            return ZoneInfo(self.TIME_ZONE)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"未知的时区 TIME_ZONE={self.TIME_ZONE!r}，例如 Asia/Shanghai "
                f"(unknown time zone; e.g. Asia/Shanghai)"
            ) from None

    def data_path(self, *parts: str) -> Path:
        path = Path(self.DATA_DIR, *parts)
        ensure_dir(path.parent)
        return path


def data_dir_problem(path: Path) -> str | None:
    """Why this process cannot use the data directory ``path`` (one line naming it and the
    fix), or None: a folder that does not exist yet is no problem (it is made when needed)."""
    if path.exists() and not path.is_dir():
        problem = "不是目录 / not a directory"
    elif path.exists() and not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        problem = "本用户没有读写权限 / not readable and writable by this user"
    else:
        return None
    return (
        f"无法使用数据目录 {path}：{problem}。请改正（chown/chmod）或用 --data-dir 指定另一个"
        f"目录 / cannot use the data directory {path}"
    )


#: settings a centre keeps in its file (lower case there); the rest are per-process knobs
_FILE_KEYS = {
    f.name
    for f in fields(Config)
    if f.name not in ("TLS", "TESTING", "SOURCE_FILE", "DATA_DIR", "SECRET_KEY")
}


def _type_of(name: str) -> type:
    f = next(f for f in fields(Config) if f.name == name)
    if f.default is not MISSING:
        return type(f.default)
    assert f.default_factory is not MISSING
    return type(f.default_factory())


def read_file(path: Path) -> dict[str, Any]:
    """The settings in a centre's ``centre.toml`` (upper-case names), checked; {} when
    there is no file. A file that cannot be read or holds a wrong setting is refused in
    one line naming the file and the setting."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(
            f"无法读取考点配置文件 {path}：{exc.strerror}，请检查文件和目录的权限 "
            f"(cannot read the centre configuration {path}: {exc.strerror})"
        ) from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"考点配置文件 {path} 格式错误：{exc} (not valid TOML: {exc})") from None
    values: dict[str, Any] = {}
    for key, value in doc.items():
        name = key.upper()
        if name not in _FILE_KEYS:
            known = ", ".join(sorted(k.lower() for k in _FILE_KEYS))
            raise ConfigError(
                f"考点配置文件 {path} 中有未知的设置 {key!r} (unknown setting {key!r}; known: {known})"
            )
        want = _type_of(name)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ConfigError(
                f"考点配置文件 {path} 中 {key} = {value!r} 类型不对，应为 {want.__name__} "
                f"({key} must be {want.__name__})"
            )
        values[name] = value
    return values


def write_file(data_dir: str | Path, settings: dict[str, Any]) -> Path:
    """Merge ``settings`` (upper-case names) into ``<data_dir>/centre.toml`` and write it
    atomically; what the file held already is kept. Returns the file."""
    path = Path(ensure_dir(data_dir), CONFIG_FILE)
    current = {k.lower(): v for k, v in read_file(path).items()}
    for key, value in settings.items():
        if key not in _FILE_KEYS:
            raise KeyError(f"{key} is not a centre file setting")
        current[key.lower()] = value
    header = (
        "# 考点配置 / the centre's configuration: read by exam-server, exam-sync, the console\n"
        "# and exam-server restore. EXAM_<NAME> environment variables override it.\n"
    )
    write_atomic(path, header + tomli_w.dumps(dict(sorted(current.items()))), PUBLIC)
    return path
