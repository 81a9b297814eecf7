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
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli_w
from pydantic_settings import SettingsConfigDict

from exam_common.durable import PUBLIC, ensure_dir, write_atomic
from exam_common.settings import ConfigError, Settings

__all__ = ["CONFIG_FILE", "Config", "ConfigError", "read_file", "write_file"]

#: the centre's configuration file, inside the data directory
CONFIG_FILE = "centre.toml"


#: the file a :meth:`Config.from_mapping` reads below the environment (None: no file)
_FILE: ContextVar[Path | None] = ContextVar("centre_config_file", default=None)


class Config(Settings):
    """The centre's settings: ``EXAM_<NAME>`` over ``<DATA_DIR>/centre.toml`` over the
    defaults below (see the module's docstring for the whole order)."""

    model_config = SettingsConfigDict(env_prefix="EXAM_")
    STATE: ClassVar[frozenset[str]] = frozenset({"TLS", "TESTING", "SOURCE_FILE"})

    DATABASE_URL: str = ""
    """SQLAlchemy URL of the centre database (default: ``sqlite:///<DATA_DIR>/centre.db``)
    """
    SECRET_KEY: str = ""
    """Flask secret (sessions, CSRF). Generated into the data dir when not set."""
    DATA_DIR: str = "var"
    """where backups, the generated secret and keys live"""
    LANG: str = "zh_CN"
    """zh_CN (default) or en"""
    ASYNC_MODE: str = "gevent"
    """gevent (default) or threading; the benchmarks chose (docs/benchmarks.md)"""
    SCHEDULER: bool = True
    """run the APScheduler scheduler inside this process (single-process centre)"""
    MESSAGE_QUEUE: str = ""
    """Socket.IO message queue (Redis URL) when several workers run"""
    CLOCK_WARNING_S: float = 60.0
    """warn the console when a terminal's clock is off by more than this (seconds)"""
    GROUP_COMMIT_WAIT_MS: float = 10.0
    """group commit: longest a save waits for companions before the batch commits (ms).
    Fewer, larger batches pay under load: at 1,000 terminals 10 ms took the ack p99 from
    1,429 to 229 ms (docs/benchmarks.md, first pass, commits still on the loop).
    """
    GC_YOUNG_THRESHOLD: int = 7000
    """the cycle collector's youngest-generation threshold in the serving process (Python's
    default is 700). Under load every save's short-lived objects (its greenlet, the
    event's request context) outlived the young collections that ran every few ms and
    were promoted, and a full collection of the ~340,000 objects a 1,000-terminal server
    holds (~200 ms without a socket served) followed every ~8 s; at 7,000 one came in a
    60 s run (docs/benchmarks.md, "Third pass"). 0 keeps Python's.
    """
    DOWNTIME_CREDIT_S: float = 60.0
    """downtime longer than this is credited to everyone as a centre pause (a power cut)
    """
    DOWNTIME_RECORD_S: float = 10.0
    """downtime longer than this is recorded for the chief examiner at restart (seconds)
    """
    CENTRE_CODE: str = ""
    """this centre's code (考点代码); packages for any other centre are refused"""
    CENTRAL_PUBLIC_KEY: str = ""
    """central's Ed25519 public key (PEM file), pinned at setup: packages must carry its
    signature
    """
    KEY_ESCROW: str = ""
    """demo only: a central secrets file from which the scheduler releases keys at their
    time
    """
    CENTRAL_URL: str = ""
    """central's URL (set by ``exam-sync setup``; this overrides it): keys, results,
    backups
    """
    SYNC_INTERVAL_S: float = 60.0
    """how often the scheduler syncs with central: due keys, queued uploads (seconds)"""
    BACKUP_INTERVAL_S: float = 300.0
    """during a sitting, an encrypted database backup this often (seconds; 0: never)"""
    BACKUP_DIR: str = ""
    """where backups are written (default: <DATA_DIR>/backups)"""
    SYNC_CHUNK_BYTES: int = 1024 * 1024
    """upload chunk size (bytes); an interrupted upload resumes from the last whole chunk
    """
    SERVER_URL: str = ""
    """the running centre server, for ``exam-sync key`` to hand it a key (local only);
    empty: the address the running server wrote into its data folder (``server_url``)
    """
    INSECURE_HTTP: bool = False
    """serve plain HTTP instead of TLS: for the demo and tests only. Every console page and
    every log line of the server says so.
    """
    TLS_HOSTS: str = ""
    """extra names and addresses for the server certificate (comma-separated), besides
    127.0.0.1, localhost, this machine's name and its addresses
    """
    LOGIN_TICKET_LIMIT: int = 5
    """wrong ID numbers for one ticket before the ticket locks (the invigilator unlocks)
    """
    LOGIN_TERMINAL_LIMIT: int = 10
    """wrong logins from one terminal before the terminal locks (the invigilator unlocks)
    """
    LOGIN_WINDOW_S: float = 1800.0
    """failures further apart than this start counting afresh (seconds)"""
    REVOCATION_CHECK_S: float = 0.5
    """how often each server process looks for revoked enrolments among its connected
    terminals (seconds): a revocation made by another process (the CLI, another worker)
    cuts its terminal off within this; the revoking process does it at once
    """
    ENROL_CODE_VALID_S: float = 12 * 3600.0
    """how long an enrolment code made on the console or the CLI stays valid (seconds)"""
    CLOCK_OFFSET_FILE: str = ""
    """tests and rehearsals only, never an exam: a file holding seconds added to this
    machine's clock; writing a larger number jumps the time of every process of the
    centre at once (exam_server/clock.py, ShiftedClock). The server warns at start.
    """
    TLS: bool = False
    """set by ``exam-server run`` when it serves TLS (cookies are then Secure)"""
    TESTING: bool = False
    TIME_ZONE: str = "Asia/Shanghai"
    """the centre's time zone: every screen, printed document and CLI line shows times in
    it
    """
    SOURCE_FILE: str = ""
    """the file the settings came from, if there was one (not a setting)"""

    @classmethod
    def file_sources(cls) -> tuple[Callable[[], dict[str, Any]], ...]:
        def centre_file() -> dict[str, Any]:
            path = _FILE.get()
            return {} if path is None else read_file(path)

        return (centre_file,)

    @classmethod
    def from_mapping(cls, overrides: dict[str, Any] | None) -> Config:
        """Options given by the caller over ``EXAM_*`` over ``<DATA_DIR>/centre.toml``."""
        overrides = cls.known(overrides)
        data_dir = str(overrides.get("DATA_DIR") or os.environ.get("EXAM_DATA_DIR") or "var")
        unusable = data_dir_problem(Path(data_dir))
        if unusable:
            raise ConfigError(unusable)
        path = Path(data_dir, CONFIG_FILE)
        token = _FILE.set(path)
        try:
            cfg = cls(**overrides)
        finally:
            _FILE.reset(token)
        if path.exists():
            cfg.SOURCE_FILE = str(path)
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
_FILE_KEYS = Config.names() - Config.STATE - {"DATA_DIR", "SECRET_KEY"}


def _type_of(name: str) -> type:
    annotation = Config.model_fields[name].annotation
    assert isinstance(annotation, type)
    return annotation


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
