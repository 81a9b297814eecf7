"""``exam-server user ...``: console accounts for the centre admin."""

from __future__ import annotations

import sys

import click

from exam_server.accounts.models import Role
from exam_server.cli_common import config_for, data_dir_option, database_option

ROLES = {"admin": Role.ADMIN, "chief": Role.CHIEF, "invigilator": Role.INVIGILATOR}


def _db(database: str | None, data_dir: str | None):  # type: ignore[no-untyped-def]
    """The centre's database as every centre command finds it: ``--database``, else
    ``EXAM_DATABASE_URL``, else the data folder's ``centre.toml``, else its centre.db."""
    from exam_server.db import Database

    return Database(config_for(database, data_dir).DATABASE_URL)


def _now():  # type: ignore[no-untyped-def]
    from exam_server.clock import SystemClock

    return SystemClock().now()


def _fail(exc: Exception) -> None:
    from exam_server.messages import message

    code = getattr(exc, "code", "error")
    click.echo(f"{message(code)} / {message(code, 'en')} ({code})", err=True)
    sys.exit(2)


@click.group(
    "user",
    help="监控台账户 / console accounts: add, set passwords, unlock, bind invigilators to rooms.",
)
def user() -> None:
    pass


@user.command("add", help="新建账户 / add an account; asks for the password twice.")
@click.argument("username")
@click.option(
    "--name", "display_name", default="", help="Name shown on the console and the room record."
)
@click.option(
    "--role",
    type=click.Choice(sorted(ROLES)),
    required=True,
    help="admin, chief (主考) or invigilator (监考).",
)
@click.password_option(help="At least 8 characters (asked for when not given).")
@database_option
@data_dir_option
def add(
    username: str,
    display_name: str,
    role: str,
    password: str,
    database: str | None,
    data_dir: str | None,
) -> None:
    from exam_server.accounts import service

    try:
        with _db(database, data_dir).write() as session:
            u = service.create_user(
                session,
                _now(),
                username=username,
                display_name=display_name or username,
                role=ROLES[role],
                password=password,
                by="admin:cli",
            )
            click.echo(f"已新建账户 / created {u.username} ({role})")
    except service.AccountError as exc:
        _fail(exc)


@user.command("passwd", help="重设密码 / set a new password (also unlocks and logs the user out).")
@click.argument("username")
@click.password_option()
@database_option
@data_dir_option
def passwd(username: str, password: str, database: str | None, data_dir: str | None) -> None:
    from exam_server.accounts import service

    try:
        with _db(database, data_dir).write() as session:
            now = _now()
            service.set_password(
                session, now, service.get_user(session, username), password, by="admin:cli"
            )
        click.echo(f"密码已更新 / password set for {username}")
    except service.AccountError as exc:
        _fail(exc)


@user.command("unlock", help="解锁账户 / unlock an account locked by wrong passwords.")
@click.argument("username")
@database_option
@data_dir_option
def unlock_cmd(username: str, database: str | None, data_dir: str | None) -> None:
    from exam_server.accounts import service

    try:
        with _db(database, data_dir).write() as session:
            service.unlock(session, _now(), service.get_user(session, username), by="admin:cli")
        click.echo(f"已解锁 / unlocked {username}")
    except service.AccountError as exc:
        _fail(exc)


@user.command("assign", help="分配考场 / bind an invigilator to a room (for one sitting, or all).")
@click.argument("username")
@click.option("--room", "room_code", required=True, help="Room code (考场号), e.g. 01.")
@click.option(
    "--sitting", "sitting_code", default=None, help="Sitting code; omit for every sitting."
)
@database_option
@data_dir_option
def assign(
    username: str,
    room_code: str,
    sitting_code: str | None,
    database: str | None,
    data_dir: str | None,
) -> None:
    from sqlalchemy import select

    from exam_server.accounts import service
    from exam_server.centres.models import Room
    from exam_server.plans.models import Sitting

    try:
        with _db(database, data_dir).write() as session:
            room = session.scalar(select(Room).where(Room.code == room_code))
            if room is None:
                raise click.ClickException(f"没有考场 {room_code} / no room {room_code}")
            sitting_id = None
            if sitting_code:
                sitting_id = session.scalar(select(Sitting.id).where(Sitting.code == sitting_code))
                if sitting_id is None:
                    raise click.ClickException(
                        f"没有场次 {sitting_code} / no sitting {sitting_code}"
                    )
            service.assign_room(
                session,
                _now(),
                service.get_user(session, username),
                room,
                sitting_id,
                by="admin:cli",
            )
        click.echo(
            f"{username} → 考场 {room_code}"
            + (f"（{sitting_code}）" if sitting_code else "（全部场次）")
        )
    except service.AccountError as exc:
        _fail(exc)


@user.command("list", help="列出账户 / list accounts, roles, locks and rooms.")
@database_option
@data_dir_option
def list_cmd(database: str | None, data_dir: str | None) -> None:
    from sqlalchemy import select

    from exam_server.accounts.models import RoomAssignment, User
    from exam_server.centres.models import Room

    with _db(database, data_dir).read() as session:
        for u in session.scalars(select(User).order_by(User.username)):
            rooms = session.execute(
                select(Room.code, RoomAssignment.sitting_id)
                .join(RoomAssignment, RoomAssignment.room_id == Room.id)
                .where(RoomAssignment.user_id == u.id)
            ).all()
            where = ", ".join(f"{c}" + (f"@{s}" if s else "") for c, s in rooms)
            state = "" if u.active else " (停用 inactive)"
            click.echo(f"{u.username:16} {u.role.value:12} {u.display_name}{state} {where}")
