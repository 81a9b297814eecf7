"""The centre's link to central: setup, pulling packages, keys, the upload queue, status.

Used by the ``exam-sync`` tool and by the scheduler's sync jobs (:mod:`.jobs`). State
lives in the centre database (``sync_link``, ``sync_outbox``, ``sync_status``), so a
restart of the server or of the tool loses nothing: a queued upload keeps its upload id
and resumes where central's copy ends.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from exam_common.durable import PUBLIC, Remedy, ensure_dir, read_secret, write_atomic
from exam_server.config import Config
from exam_server.db import Database
from exam_server.eventlog import service as eventlog
from exam_server.packages.models import ImportedPackage
from exam_server.plans.models import Sitting
from exam_server.sync.client import CentralClient, SyncError, sha256_file
from exam_server.sync.models import OutboxItem, SyncLink, SyncStatus
from exam_server.system.keys import public_key_hex, signing_key
from question_bank.package import load_public_key

#: longest wait between two tries of a failing upload (scheduler backoff)
MAX_BACKOFF_S = 300


@dataclass(frozen=True)
class Link:
    centre_code: str
    central_url: str
    central_public_key: str  #: PEM


def get_link(session: Session, cfg: Config) -> Link | None:
    """The link as ``exam-sync setup`` stored it; ``EXAM_*`` settings override it."""
    row = session.scalar(select(SyncLink).order_by(SyncLink.id.desc()))
    centre = cfg.CENTRE_CODE or (row.centre_code if row else "")
    url = cfg.CENTRAL_URL or (row.central_url if row else "")
    pem = (
        Path(cfg.CENTRAL_PUBLIC_KEY).read_text()
        if cfg.CENTRAL_PUBLIC_KEY and Path(cfg.CENTRAL_PUBLIC_KEY).exists()
        else (row.central_public_key if row else "")
    )
    if not centre or not pem:
        return None
    return Link(centre, url, pem)


def effective_config(cfg: Config, link: Link) -> Config:
    """``cfg`` with the centre code and central's key file filled from the link (what
    :func:`exam_server.packages.cli.import_file` needs)."""
    path = cfg.data_path("central.pub")
    if not path.exists() or path.read_text() != link.central_public_key:
        write_atomic(path, link.central_public_key, PUBLIC)
    return cfg.model_copy(update={"CENTRE_CODE": link.centre_code, "CENTRAL_PUBLIC_KEY": str(path)})


def setup(
    session: Session, now: datetime, *, centre: str, url: str, central_public_key: bytes
) -> str:
    """Store the link (pinning central's key) and return this centre's public key (hex),
    creating the centre key pair on first use. Flushes."""
    load_public_key(central_public_key)  # refuse a bad key before storing anything
    pem = central_public_key.decode()
    row = session.scalar(select(SyncLink))
    if row is None:
        session.add(
            SyncLink(centre_code=centre, central_url=url, central_public_key=pem, set_at=now)
        )
    else:
        row.centre_code, row.central_url, row.central_public_key, row.set_at = centre, url, pem, now
    key = public_key_hex(signing_key(session))
    stale = session.get(SyncStatus, "last_error")
    if stale is not None:  # an error from before the setup (e.g. not_set_up) is past
        session.delete(stale)
    session.flush()
    eventlog.append(
        session, at=now, actor="admin", kind="sync.setup", data={"centre": centre, "central": url}
    )
    return key


def note(session: Session, now: datetime, key: str, value: str) -> None:
    row = session.get(SyncStatus, key)
    if row is None:
        session.add(SyncStatus(key=key, value=value[:2000], at=now))
    else:
        row.value, row.at = value[:2000], now
    session.flush()


def not_set_up(cfg: Config) -> SyncError:
    """The refusal when the centre has no code or no central key, naming where it looked."""
    return SyncError(
        "not_set_up",
        f"尚未完成同步设置（{cfg.where()}）：请运行 "
        f"`{cfg.fix('exam-sync setup --centre 考点代码 --central-url 省中心地址 --central-key central.pub')}`"
        " (not set up)",
        transient=False,
    )


def record_error(db: Database, now: datetime, message: str) -> None:
    with db.write() as session:
        note(session, now, "last_error", message)


def client(db: Database, cfg: Config, *, timeout: float = 15) -> CentralClient:
    with db.write() as session:
        link = get_link(session, cfg)
        key = signing_key(session)
    if link is None:
        raise not_set_up(cfg)
    if not link.central_url:
        raise SyncError(
            "offline",
            "本考点未填写省中心地址（离线考点）：考试包用 `exam-sync pull --file`，密钥用 "
            "`exam-sync key --code`，成绩包和备份拷贝到 U 盘交省中心 (no central URL)",
            transient=False,
        )
    return CentralClient(link.central_url, link.centre_code, key, timeout=timeout)


# --- packages ------------------------------------------------------------------------------


def pull(cfg: Config, db: Database, now: datetime, *, file: Path | None = None) -> list[Any]:
    """Import every package central has for us that is not imported yet (or ``file``).
    Returns the import reports. A package is verified completely before anything is
    written (``exam_server.packages``)."""
    from exam_server.packages.cli import import_file

    with db.read() as session:
        link = get_link(session, cfg)
    if link is None:
        raise not_set_up(cfg)
    eff = effective_config(cfg, link)
    if file is not None:
        report = import_file(eff, db, file, by="admin:usb")
        with db.write() as session:
            note(session, now, "last_pull", f"{report.package_id} (U盘 {file.name})")
        return [report]
    api = client(db, cfg)
    with db.read() as session:
        done = set(session.scalars(select(ImportedPackage.package_id)))
    reports = []
    for info in api.packages():
        if info["package_id"] in done:
            continue
        data = api.package(info["package_id"])
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            raise SyncError("download_corrupt", "下载的考试包校验失败，请重试", transient=True)
        path = write_atomic(cfg.data_path("packages", f"{info['package_id']}.zip"), data)
        reports.append(import_file(eff, db, path, by="sync"))
        with db.write() as session:
            note(session, now, "last_pull", info["package_id"])
    return reports


# --- keys ------------------------------------------------------------------------------


def due_keys(session: Session, now: datetime) -> list[tuple[int, str, str]]:
    """(sitting id, code, kind) of every key that is due and not yet entered."""
    out = []
    for s in session.scalars(select(Sitting).order_by(Sitting.start)):
        if s.sitting_key is None and now >= s.start:
            out.append((s.id, s.code, "start"))
        if s.end_key is None and now >= s.end:
            out.append((s.id, s.code, "end"))
    return out


def local_token(cfg: Config) -> str:
    """The secret the ``exam-sync`` tool shows the running server (file in the data dir,
    readable only by the account that runs the centre)."""
    path = cfg.data_path("local_token")
    if not path.exists():
        write_atomic(path, secrets.token_hex(32))
    return (
        read_secret(
            path,
            min_bytes=64,
            what="同步工具令牌 (the sync tool's token)",
            remedy=Remedy(
                "请删除该文件后重试：会生成新的令牌，服务器和 exam-sync 每次都从该文件读取",
                "delete it and run the command again: a new one is made, and the server and "
                "exam-sync read it from that file each time",
            ),
        )
        .decode()
        .strip()
    )


def running_server_url(cfg: Config) -> str:
    """Where the running centre server listens: ``EXAM_SERVER_URL``, else the address it
    wrote into its data folder when it started (``server_url``: https unless it runs with
    --insecure-http), else https://127.0.0.1:5000."""
    if cfg.SERVER_URL:
        return cfg.SERVER_URL.rstrip("/")
    written = Path(cfg.DATA_DIR, "server_url")
    if written.exists():
        return written.read_text().strip().rstrip("/")
    return "https://127.0.0.1:5000"


def deliver_key(cfg: Config, db: Database, code: str, kind: str, secret: bytes, *, by: str) -> str:
    """Hand a key to the running server (which stores it, opens the papers on the
    terminals, and scores at the end); if no server answers, store it in the database
    directly (terminals get it when they log in). Returns how it was delivered."""
    url = running_server_url(cfg)
    session = requests.Session()
    session.trust_env = False
    ca = Path(cfg.DATA_DIR, "tls", "ca.pem")
    session.verify = str(ca) if url.startswith("https://") and ca.exists() else True
    try:
        resp = session.post(
            url + "/local/sync/key",
            json={"sitting": code, "kind": kind, "secret": secret.hex(), "by": by},
            headers={"X-Exam-Local-Token": local_token(cfg)},
            timeout=30,
        )
    except requests.ConnectionError:
        enter_key_offline(cfg, db, code, kind, secret, by=by)
        return "database"
    reply = resp.json()
    if not reply.get("ok"):
        raise SyncError(reply.get("code", "refused"), reply.get("message", ""), transient=False)
    return "server"


def enter_key_offline(
    cfg: Config, db: Database, code: str, kind: str, secret: bytes, *, by: str
) -> None:
    from exam_server.clock import SystemClock
    from exam_server.packages.service import enter_end_key, enter_sitting_key
    from exam_server.scoring.service import score_sitting
    from exam_server.system.vault import vault_for

    vault = vault_for(cfg)

    with db.write() as session:
        sitting = session.scalar(select(Sitting).where(Sitting.code == code))
        if sitting is None:
            raise SyncError("unknown_sitting", f"本考点没有场次 {code}", transient=False)
        now = SystemClock().now()
        if kind == "start":
            enter_sitting_key(session, now, sitting, secret, by=by, vault=vault)
        else:
            enter_end_key(session, now, sitting, secret, by=by, vault=vault)
            score_sitting(session, now, sitting, vault)


# --- the upload queue ------------------------------------------------------------------


def outbox_folder(cfg: Config) -> Path:
    return ensure_dir(Path(cfg.DATA_DIR, "outbox"))


def enqueue(
    session: Session, now: datetime, kind: str, path: Path, *, sitting_id: int | None = None
) -> OutboxItem:
    item = OutboxItem(
        kind=kind,
        upload_id=uuid.uuid4().hex,
        path=str(path),
        sha256=sha256_file(path),
        size=path.stat().st_size,
        sitting_id=sitting_id,
        created_at=now,
        state="pending",
        tries=0,
        last_error="",
    )
    session.add(item)
    session.flush()
    return item


def queue_results(session: Session, cfg: Config, now: datetime, sitting: Sitting) -> OutboxItem:
    """Build, sign and queue the result package of a sitting (flushes)."""
    from exam_server.results.package import build_results

    link = get_link(session, cfg)
    centre = link.centre_code if link else cfg.CENTRE_CODE
    data = build_results(session, sitting, now, centre)
    name = f"results-{sitting.code}-{now.strftime('%Y%m%dT%H%M%S%fZ')}.zip"
    # on disk before the queue entry that names it is committed
    path = write_atomic(outbox_folder(cfg) / name, data)
    item = enqueue(session, now, "results", path, sitting_id=sitting.id)
    eventlog.append(
        session,
        at=now,
        actor="sync",
        kind="results.queued",
        sitting_id=sitting.id,
        data={"sha256": item.sha256, "size": item.size},
    )
    return item


def results_queued(session: Session, sitting_id: int) -> bool:
    return (
        session.scalar(
            select(OutboxItem.id).where(
                OutboxItem.kind == "results", OutboxItem.sitting_id == sitting_id
            )
        )
        is not None
    )


def queue_backup(cfg: Config, db: Database, now: datetime, *, sitting: str | None) -> OutboxItem:
    from exam_server.backups.service import write_backup

    with db.write() as session:
        link = get_link(session, cfg)
        key = signing_key(session)
    path = write_backup(
        cfg,
        now,
        centre=link.centre_code if link else "",
        sitting=sitting,
        key=key,
        offload=db.offload,
    )
    with db.write() as session:
        item = enqueue(session, now, "backup", path)
        note(session, now, "last_backup", path.name)
        return item


def backoff(tries: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(tries - 1, 0), MAX_BACKOFF_S))


def _anchor(db: Database, now: datetime, api: CentralClient, report: PushReport) -> None:
    """Every push carries the event log's new entries and its signed head first; a
    refusal (central found the log truncated or rewritten) is noted, and the uploads go
    on all the same (central keeps the evidence)."""
    from exam_server.sync.anchor import anchor

    try:
        done = anchor(db, api.centre, now, api)
    except SyncError as exc:
        report.anchor_error = f"[{exc.code}] {exc.message}"
        with db.write() as session:
            note(session, now, "last_error", f"事件日志 / event log: {report.anchor_error}")
        return
    report.anchored = done.sent
    with db.write() as session:
        note(session, now, "last_anchor", f"{done.head[0]} {done.head[1][:16]}")


@dataclass
class PushReport:
    done: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    refused: list[str] = dataclasses.field(default_factory=list)
    replies: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    resumed_from: list[int] = dataclasses.field(default_factory=list)
    #: the event log's entries sent to central this push, and its refusal if any
    anchored: int = 0
    anchor_error: str = ""


def push(
    cfg: Config,
    db: Database,
    now: datetime,
    *,
    kinds: tuple[str, ...] = ("results", "backup"),
    retries: int = 3,
    due_only: bool = False,
    api: CentralClient | None = None,
) -> PushReport:
    """Upload every pending item (results first). Transient failures stay pending with a
    later retry time; a refusal marks the item refused with central's reason."""
    api = api or client(db, cfg)
    report = PushReport()
    _anchor(db, now, api, report)
    with db.read() as session:
        q = select(OutboxItem).where(OutboxItem.state == "pending", OutboxItem.kind.in_(kinds))
        items = sorted(session.scalars(q), key=lambda i: (i.kind != "results", i.id))
        for item in items:
            session.expunge(item)  # plain records while the uploads run
    for item in items:
        if due_only and item.next_try_at is not None and item.next_try_at > now:
            continue
        path = Path(item.path)
        try:
            if not path.exists():
                raise SyncError("file_missing", f"待上传文件不见了：{path}", transient=False)
            result = api.upload(
                path,
                kind=item.kind,
                upload_id=item.upload_id,
                sha256=item.sha256,
                size=item.size,
                chunk=cfg.SYNC_CHUNK_BYTES,
                retries=retries,
            )
        except SyncError as exc:
            with db.write() as session:
                row = session.get(OutboxItem, item.id)
                assert row is not None
                row.tries += 1
                row.last_error = f"[{exc.code}] {exc.message}"[:1000]
                if exc.transient:
                    row.next_try_at = now + backoff(row.tries)
                    report.failed.append(path.name)
                else:
                    row.state = "refused"
                    report.refused.append(path.name)
                note(session, now, "last_error", f"{path.name}: {row.last_error}")
            continue
        with db.write() as session:
            row = session.get(OutboxItem, item.id)
            assert row is not None
            row.state, row.done_at, row.reply, row.last_error = "done", now, result.reply, ""
            row.tries += 1
            eventlog.append(
                session,
                at=now,
                actor="sync",
                kind=f"{item.kind}.uploaded",
                sitting_id=item.sitting_id,
                data={"sha256": item.sha256, "resumed_from": result.resumed_from},
            )
        report.done.append(path.name)
        report.replies.append(result.reply)
        report.resumed_from.append(result.resumed_from)
    return report
