"""Console accounts: argon2id passwords (common and guessable ones refused), login
throttled per source and per user name at a source (never a lock that anyone could
trigger), login sessions, and which rooms an invigilator may see.

Service functions take the caller's session and ``now`` and only flush. Refusals raise
:class:`AccountError` with a code from :mod:`exam_server.messages`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from exam_server.accounts.models import LoginSession, Role, RoomAssignment, User
from exam_server.centres.models import Room
from exam_server.eventlog import service as eventlog
from exam_server.throttle import service as throttle

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the user name is unknown, so a wrong name costs the same time as
# a wrong password and does not tell an attacker which names exist.
_DUMMY_HASH = _hasher.hash("not a password: timing equaliser")

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
#: zxcvbn's score (0-4) a password must reach: 3 is "safely unguessable" against an
#: online attacker who is throttled, and refuses every common password and its variants
MIN_STRENGTH = 3
USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


class AccountError(Exception):
    """A refused login or account change. ``until``: when a throttled source may try again."""

    def __init__(self, code: str, detail: str = "", *, until: datetime | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.until = until


@dataclass(frozen=True)
class LoginPolicy:
    """Console login throttling: ``per_user`` failures of one user name from one source
    address, or ``per_source`` failures of any names from it, make that pair (or that
    source) wait ``wait``, doubling with each further failure up to ``max_wait``."""

    per_user: int = 5
    per_source: int = 20
    wait: timedelta = timedelta(seconds=30)
    max_wait: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(minutes=30)

    def user_policy(self) -> throttle.Policy:
        return throttle.Policy(self.per_user, self.window, wait=self.wait, max_wait=self.max_wait)

    def source_policy(self) -> throttle.Policy:
        return throttle.Policy(self.per_source, self.window, wait=self.wait, max_wait=self.max_wait)


# --- passwords ---------------------------------------------------------------------------


def hash_password(password: str, user_inputs: tuple[str, ...] = ()) -> str:
    check_password_strength(password, user_inputs)
    return _hasher.hash(password)


def check_password_strength(password: str, user_inputs: tuple[str, ...] = ()) -> None:
    """Refuse short passwords and guessable ones: zxcvbn (Dropbox's estimator, with its
    lists of common passwords, words and names) must score at least :data:`MIN_STRENGTH`,
    the user's own name and display name counting as known words."""
    if len(password) < MIN_PASSWORD:
        raise AccountError("weak_password", f"at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError("weak_password", f"at most {MAX_PASSWORD} characters")
    from zxcvbn import zxcvbn

    verdict = zxcvbn(password[:100], user_inputs=[u for u in user_inputs if u])
    if verdict["score"] < MIN_STRENGTH:
        hint = verdict["feedback"].get("warning") or "too easy to guess"
        raise AccountError("common_password", hint)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- users -------------------------------------------------------------------------------


def create_user(
    session: Session,
    now: datetime,
    *,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    by: str,
) -> User:
    username = username.strip().lower()
    if not username or not set(username) <= USERNAME_CHARS or len(username) > 64:
        raise AccountError("bad_username", username)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError("user_exists", username)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        role=role,
        password_hash=hash_password(password, (username, display_name)),
        active=True,
    )
    session.add(user)
    session.flush()
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="user.created",
        data={"username": username, "role": role.value},
    )
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise AccountError("no_such_user", username)
    return user


def set_password(session: Session, now: datetime, user: User, password: str, *, by: str) -> None:
    """New password; forgets the name's failed logins and ends every session it had."""
    user.password_hash = hash_password(password, (user.username, user.display_name))
    throttle.clear(session, "console_user", f"{user.username}@")
    end_sessions(session, now, user.id)
    session.flush()
    eventlog.append(
        session, at=now, actor=by, kind="user.password_set", data={"username": user.username}
    )


def unlock(session: Session, now: datetime, user: User, *, by: str) -> None:
    """Forget the failed logins of this user name, from every source."""
    throttle.clear(session, "console_user", f"{user.username}@")
    session.flush()
    eventlog.append(
        session, at=now, actor=by, kind="user.unlocked", data={"username": user.username}
    )


def assign_room(
    session: Session, now: datetime, user: User, room: Room, sitting_id: int | None, *, by: str
) -> RoomAssignment:
    """Bind an invigilator to a room for one sitting (or every sitting: ``None``)."""
    if user.role is not Role.INVIGILATOR:
        raise AccountError("not_invigilator", user.username)
    existing = session.scalar(
        select(RoomAssignment).where(
            RoomAssignment.user_id == user.id,
            RoomAssignment.room_id == room.id,
            RoomAssignment.sitting_id.is_(None)
            if sitting_id is None
            else RoomAssignment.sitting_id == sitting_id,
        )
    )
    if existing is not None:
        return existing
    assignment = RoomAssignment(user_id=user.id, room_id=room.id, sitting_id=sitting_id)
    session.add(assignment)
    session.flush()
    eventlog.append(
        session,
        at=now,
        actor=by,
        kind="user.assigned",
        room_id=room.id,
        sitting_id=sitting_id,
        data={"username": user.username, "room": room.code},
    )
    return assignment


def rooms_of(session: Session, user: User, sitting_id: int) -> set[int]:
    """The room ids an invigilator is bound to for this sitting."""
    return set(
        session.scalars(
            select(RoomAssignment.room_id).where(
                RoomAssignment.user_id == user.id,
                or_(RoomAssignment.sitting_id.is_(None), RoomAssignment.sitting_id == sitting_id),
            )
        )
    )


def may_watch_room(session: Session, user: User, sitting_id: int, room_id: int) -> bool:
    """Chief: every room. Invigilator: their own. Admin: none (the admin runs the
    system, not the exam: they see the centre overview only)."""
    if user.role is Role.CHIEF:
        return True
    if user.role is Role.INVIGILATOR:
        return room_id in rooms_of(session, user, sitting_id)
    return False


# --- login and throttling ----------------------------------------------------------------


def authenticate(
    session: Session,
    now: datetime,
    username: str,
    password: str,
    *,
    policy: LoginPolicy,
    address: str = "",
) -> User:
    """Check a user name and password from ``address``.

    A source that failed too often, or a user name that failed too often from this
    source, must wait (:class:`AccountError` ``login_throttled`` with ``until``) before
    the password is even looked at. The counting never asks whether the name exists, and
    an unknown name is checked against a dummy argon2 hash, so neither the refusals nor
    their timing tell which names exist; and since a name is counted per source, nobody
    elsewhere on the LAN can keep the chief examiner out. Every outcome is logged."""
    name = username.strip().lower()[:64]
    password = password[:MAX_PASSWORD]  # argon2 of megabytes is a denial of service
    source = address or "?"
    user_key = f"{name}@{source}"
    try:
        throttle.check(session, now, "console_source", source)
        throttle.check(session, now, "console_user", user_key)
    except throttle.Throttled as exc:
        eventlog.append(
            session,
            at=now,
            actor=f"console:{name or '?'}",
            kind="user.login_throttled",
            data={"username": name, "address": address, "scope": exc.scope},
        )
        raise AccountError("login_throttled", until=exc.until) from None
    user = session.scalar(select(User).where(User.username == name))
    ok = _verify(user.password_hash if user is not None else _DUMMY_HASH, password)
    if user is None or not user.active or not ok:
        by_user = throttle.fail(session, now, "console_user", user_key, policy.user_policy())
        by_source = throttle.fail(session, now, "console_source", source, policy.source_policy())
        eventlog.append(
            session,
            at=now,
            actor=f"console:{name or '?'}",
            kind="user.login_failed",
            data={
                "username": name,
                "why": "unknown" if user is None else "inactive" if not user.active else "password",
                "address": address,
                "failures": by_user.failures,
                "source_failures": by_source.failures,
            },
        )
        raise AccountError("bad_login")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    throttle.succeeded(session, "console_user", user_key)
    session.flush()
    return user


# --- sessions ----------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session, now: datetime, user: User, *, max_age: timedelta, address: str = ""
) -> str:
    """Open a login session; returns the token for the browser's (signed) cookie."""
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + max_age,
            address=address[:64],
        )
    )
    session.flush()
    eventlog.append(
        session,
        at=now,
        actor=user.username,
        kind="user.login",
        data={"role": user.role.value, "address": address},
    )
    return token


@dataclass(frozen=True)
class SessionUser:
    """Who is behind a valid session: enough for access checks without the ORM object."""

    user_id: int
    username: str
    display_name: str
    role: Role
    session_id: int
    #: the stored last_seen_at needs refreshing (once a minute at most)
    stale: bool


def resolve_session(
    session: Session, now: datetime, token: str | None, *, idle: timedelta
) -> SessionUser | None:
    """The user behind a token, or None if it is unknown, ended, expired or idle too long
    (or the account was locked or deactivated since)."""
    if not token:
        return None
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == _token_hash(token)))
    if row is None or row.ended_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= idle:
        return None
    user = row.user
    if not user.active:
        return None
    return SessionUser(
        user.id,
        user.username,
        user.display_name,
        user.role,
        row.id,
        stale=now - row.last_seen_at >= timedelta(minutes=1),
    )


def touch_session(session: Session, now: datetime, session_id: int) -> None:
    session.execute(
        update(LoginSession).where(LoginSession.id == session_id).values(last_seen_at=now)
    )


def end_session(session: Session, now: datetime, token: str, *, by: str) -> None:
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == _token_hash(token)))
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.flush()
        eventlog.append(session, at=now, actor=by, kind="user.logout")


def end_sessions(session: Session, now: datetime, user_ids: int | Iterable[int]) -> None:
    ids = [user_ids] if isinstance(user_ids, int) else list(user_ids)
    session.execute(
        update(LoginSession)
        .where(LoginSession.user_id.in_(ids), LoginSession.ended_at.is_(None))
        .values(ended_at=now)
    )
