"""What every centre command line shares (``exam-server``, its ``user``/``terminals``/
``tls`` groups, ``exam-sync``): one-line refusals, the data folder check, the
configuration a command reads, and the ``--database``/``--data-dir`` options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import sqlalchemy.exc

from exam_common.durable import DamagedSecret, ensure_dir
from exam_server.config import Config, ConfigError


class Commands(click.Group):
    """Every command: an unreadable ``EXAM_*`` variable, a database URL that is not one, or
    a database that cannot be reached is a one-line refusal saying what to fix."""

    @staticmethod
    def _centre_toml(ctx: click.Context) -> str:
        """The configuration file this command read: ``--data-dir`` as typed, else
        ``EXAM_DATA_DIR``, else the default folder."""
        protected = getattr(ctx, "_protected_args", None)  # click >= 8.2 keeps them here
        args = [*(ctx.protected_args if protected is None else protected), *ctx.args]
        folder = os.environ.get("EXAM_DATA_DIR") or "var"
        for i, arg in enumerate(args):
            if arg == "--data-dir" and i + 1 < len(args):
                folder = args[i + 1]
            elif arg.startswith("--data-dir="):
                folder = arg.split("=", 1)[1]
        return str(Path(folder) / "centre.toml")

    def invoke(self, ctx: click.Context) -> Any:
        toml = self._centre_toml(ctx)
        try:
            return super().invoke(ctx)
        except (ConfigError, DamagedSecret) as exc:
            raise click.ClickException(str(exc)) from None
        except PermissionError as exc:
            raise click.ClickException(
                f"没有权限访问 {exc.filename}：请改正权限（chown/chmod）或用 --data-dir 指定另一个"
                f"目录 / permission denied: {exc.filename}"
            ) from None
        except sqlalchemy.exc.ArgumentError as exc:
            raise click.ClickException(
                f"数据库地址无效 / not a database URL: {exc}. 例如 / e.g. "
                "sqlite:///var/centre.db, postgresql+psycopg://user@127.0.0.1:5432/centre "
                f"(--database, EXAM_DATABASE_URL, or database_url in {toml})"
            ) from None
        except sqlalchemy.exc.OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise click.ClickException(
                f"无法使用数据库 / the database failed: {reason}. 请检查 --database、"
                f"EXAM_DATABASE_URL 或 {toml} 里的 database_url 是否正确、数据库是否在"
                f"运行 / check --database, EXAM_DATABASE_URL or database_url in {toml}, "
                "and that the database is running"
            ) from None


def check_data_dir(cfg: Config, *, create: bool = False) -> None:
    """A data directory this process cannot use is one line naming it and the fix;
    ``create``: make it (0700) when it does not exist yet."""
    from exam_server.config import data_dir_problem

    path = Path(cfg.DATA_DIR)
    problem = data_dir_problem(path)
    if problem is None and create:
        try:
            ensure_dir(path)
        except OSError as exc:
            problem = (
                f"无法创建数据目录 {path}：{exc.strerror}。请改正权限或用 --data-dir 指定另一个"
                f"目录 / cannot create the data directory {path}"
            )
    if problem:
        raise click.ClickException(problem)


def config_for(database: str | None, data_dir: str | None) -> Config:
    """The centre's configuration as a command sees it: ``--database`` and ``--data-dir``
    over ``EXAM_*`` over ``<data dir>/centre.toml``."""
    overrides: dict[str, object] = {}
    if database:
        overrides["DATABASE_URL"] = database
    if data_dir:
        overrides["DATA_DIR"] = data_dir
    return Config.from_mapping(overrides)


database_option = click.option(
    "--database",
    envvar="EXAM_DATABASE_URL",
    help="SQLAlchemy URL (default: database_url in the data folder's centre.toml, else "
    "sqlite:///<data folder>/centre.db).",
)
data_dir_option = click.option(
    "--data-dir",
    envvar="EXAM_DATA_DIR",
    help="The centre's data folder: centre.toml, keys, backups (default: var).",
)
insecure_option = click.option(
    "--insecure-http",
    is_flag=True,
    help="明文 HTTP，不加密 / serve plain HTTP instead of TLS: for the demo and tests only "
    "(every console page and log line then says so). Also EXAM_INSECURE_HTTP=1.",
)
