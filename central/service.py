"""Central's operations on behalf of an authenticated centre: keys at their time,
resumable uploads, result intake with independent re-scoring, backups.

Each function takes the session of the caller's unit of work (the key request's
functions also take its bare connection, :data:`Work`) and ``now`` from central's clock
(never the client's), and only flushes. Refusals raise :class:`CentralError`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    Connection,
    CursorResult,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, undefer

from central.db import batches
from central.models import (
    AuditEvent,
    Backup,
    CentreAccount,
    ChainAnchor,
    Package,
    PlanConfig,
    PublishedSitting,
    Registration,
    RescoredAttempt,
    ResultPackage,
    SeenNonce,
    Upload,
    UploadChunk,
)
from exam_common import offline_code
from exam_common.chain import check_segment, hash_of, head_message
from exam_common.forms import forms_from_json
from exam_common.receipts import answers_digest, receipt_code
from exam_common.result_package import ResultPackageError, open_result_package
from question_bank.package import decrypt_answer_key, derive_end_key
from question_bank.scoring import (
    CutoffRule,
    MultiplePolicy,
    SubjectResult,
    SubjectStatus,
    apply_cutoffs,
    centre_rule,
    rules_of,
    score_paper,
)

UPLOAD_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
KINDS = ("results", "backup")


class CentralError(Exception):
    """A refusal: machine ``code``, Chinese-first ``message``, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.extra = code, message, status, extra

    def to_json(self) -> dict[str, Any]:
        return {"ok": False, "code": self.code, "message": self.message, **self.extra}


def public_key_of(centre: CentreAccount) -> Ed25519PublicKey:
    return public_key(centre.public_key)


@functools.lru_cache(maxsize=4096)
def public_key(hex_key: str) -> Ed25519PublicKey:
    """A centre's public key, parsed once per process. Keyed by the key itself (the hex
    stored at central), which every request reads afresh: a centre whose key is changed
    is checked against the new key from its next request on, never against a copy."""
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(hex_key))


_AUDIT = cast(Table, AuditEvent.__table__)
_NONCE = cast(Table, SeenNonce.__table__)
_CENTRE = cast(Table, CentreAccount.__table__)
_SITTING = cast(Table, PublishedSitting.__table__)


#: statements of the hot paths, built once (values bound when executed)
_AUDIT_INSERT = insert(_AUDIT)
_NONCE_INSERT = {
    "postgresql": postgresql.insert(_NONCE).on_conflict_do_nothing().returning(_NONCE.c.id),
    "sqlite": sqlite.insert(_NONCE).on_conflict_do_nothing().returning(_NONCE.c.id),
}


#: a unit of work: the ORM session of most requests, or the bare connection of a hot one
Work = Session | Connection


def _dialect(work: Work) -> str:
    return work.dialect.name if isinstance(work, Connection) else work.get_bind().dialect.name


def audit(session: Work, now: datetime, actor: str, kind: str, **data: Any) -> None:
    """Record what central did or refused, in the caller's transaction (written at once:
    it commits or rolls back with the rest of the unit of work)."""
    session.execute(_AUDIT_INSERT, {"at": now, "actor": actor, "kind": kind, "data": data})


def remember_nonce(session: Work, centre: str, nonce: str, now: datetime) -> bool:
    """Record a signed request's nonce for ``centre``; False when it was seen before (a
    replay). One statement that never fails on the duplicate (``ON CONFLICT DO
    NOTHING``), so the caller's transaction goes on to record the refusal; a concurrent
    request with the same nonce waits for the first to commit, then finds it. (The row's
    id comes back only when it was inserted.)"""
    stmt = _NONCE_INSERT[_dialect(session)]
    row = session.execute(stmt, {"centre_code": centre, "nonce": nonce, "seen_at": now}).first()
    return row is not None


# --- packages ----------------------------------------------------------------------------


def list_packages(session: Session, centre: CentreAccount) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Package).where(Package.centre_code == centre.code).order_by(Package.id)
    )
    return [
        {
            "package_id": p.package_id,
            "sha256": p.sha256,
            "size": p.size,
            "created": p.created.isoformat(),
            "sittings": [s.code for s in p.sittings],
        }
        for p in rows
    ]


def fetch_package(session: Session, centre: CentreAccount, package_id: str, now: datetime) -> bytes:
    row = session.scalar(
        select(Package).options(undefer(Package.data)).where(Package.package_id == package_id)
    )
    if row is None:
        raise CentralError("unknown_package", f"没有考试包 {package_id} / no such package", 404)
    if row.centre_code != centre.code:
        raise CentralError(
            "wrong_centre",
            f"考试包 {package_id} 不属于考点 {centre.code} / not this centre's package",
            403,
        )
    if row.fetched_at is None:
        row.fetched_at = now
        audit(session, now, centre.code, "package.fetched", package_id=package_id)
    session.flush()
    return row.data


# --- keys ------------------------------------------------------------------------------


def _published(session: Session, centre: str, code: str) -> PublishedSitting:
    ps = session.scalar(
        select(PublishedSitting).where(
            PublishedSitting.centre_code == centre, PublishedSitting.code == code
        )
    )
    if ps is None:
        raise CentralError(
            "unknown_sitting",
            f"考点 {centre} 没有场次 {code} / no such sitting for this centre",
            404,
        )
    return ps


@dataclass(frozen=True)
class SittingKeys:
    """What releasing a sitting's keys needs from ``published_sitting`` (one row)."""

    id: int
    start: datetime
    end: datetime
    release_secret: bytes
    end_secret: bytes
    start_key_fetched_at: datetime | None
    end_key_fetched_at: datetime | None


_KEY_COLUMNS = (
    _SITTING.c.id,
    _SITTING.c.start,
    _SITTING.c.end,
    _SITTING.c.release_secret,
    _SITTING.c.end_secret,
    _SITTING.c.start_key_fetched_at,
    _SITTING.c.end_key_fetched_at,
)


_CENTRE_AND_SITTING = (
    select(_CENTRE.c.public_key, *_KEY_COLUMNS)
    .select_from(
        _CENTRE.outerjoin(
            _SITTING,
            and_(_SITTING.c.centre_code == _CENTRE.c.code, _SITTING.c.code == bindparam("code")),
        )
    )
    .where(_CENTRE.c.code == bindparam("centre"))
)
_SITTING_KEYS = select(*_KEY_COLUMNS).where(
    _SITTING.c.centre_code == bindparam("centre"), _SITTING.c.code == bindparam("code")
)


def centre_and_sitting(
    session: Work, centre: str, code: str
) -> tuple[str, SittingKeys | None] | None:
    """The centre's public key (hex) and its sitting ``code``'s keys, in one query (a key
    request's one read); None for a centre central never registered."""
    row = session.execute(_CENTRE_AND_SITTING, {"centre": centre, "code": code}).first()
    if row is None:
        return None
    keys = None if row.id is None else SittingKeys(*row[1:])
    return row.public_key, keys


def release_key(
    session: Work,
    centre: str,
    code: str,
    kind: str,
    now: datetime,
    *,
    actor: str,
    sitting: SittingKeys | None = None,
) -> dict[str, Any]:
    """A sitting's release secret from its start, its end secret from its end; never
    earlier, by central's clock, whatever the caller says. Every release is recorded
    (``key.released.<kind>``) in the caller's transaction, so the reply goes out only
    once its record is committed. ``sitting``: the row already read with the request's
    check (:func:`centre_and_sitting`), or None to read it here."""
    if kind not in ("start", "end"):
        raise CentralError("bad_request", "kind 应为 start 或 end")
    if sitting is None:
        row = session.execute(_SITTING_KEYS, {"centre": centre, "code": code}).first()
        sitting = None if row is None else SittingKeys(*row)  # type: ignore[arg-type]
    if sitting is None:
        raise CentralError(
            "unknown_sitting",
            f"考点 {centre} 没有场次 {code} / no such sitting for this centre",
            404,
        )
    due = sitting.start if kind == "start" else sitting.end
    if now < due:
        what = "试卷密钥在开考时" if kind == "start" else "答案密钥在考试结束时"
        raise CentralError(
            "key_too_early",
            f"场次 {code} 的{what}才下达（{due.isoformat()}），现在是 {now.isoformat()} "
            "(the key is released only at its time)",
            403,
            available_at=due.isoformat(),
            seconds_left=round((due - now).total_seconds(), 3),
        )
    secret = sitting.release_secret if kind == "start" else sitting.end_secret
    first = sitting.start_key_fetched_at if kind == "start" else sitting.end_key_fetched_at
    if first is None:
        column = (
            _SITTING.c.start_key_fetched_at if kind == "start" else _SITTING.c.end_key_fetched_at
        )
        # only if still unset: two first requests at once keep the earlier's time
        session.execute(
            update(_SITTING)
            .where(_SITTING.c.id == sitting.id, column.is_(None))
            .values({column: now})
        )
    audit(session, now, actor, f"key.released.{kind}", centre=centre, sitting=code)
    return {
        "ok": True,
        "sitting": code,
        "kind": kind,
        "secret": secret.hex(),
        "offline_code": offline_code.encode(secret),
    }


# --- uploads -----------------------------------------------------------------------------


def _stored(session: Session, centre: str, kind: str, sha256: str) -> bool:
    model = ResultPackage if kind == "results" else Backup
    return (
        session.scalar(select(model.id).where(model.centre_code == centre, model.sha256 == sha256))
        is not None
    )


def _upload(session: Session, centre: str, upload_id: str, *, lock: bool = False) -> Upload:
    q = select(Upload).where(Upload.upload_id == upload_id)
    if lock:
        q = q.with_for_update()
    up = session.scalar(q)
    if up is None:
        raise CentralError(
            "unknown_upload", f"没有上传 {upload_id}（或已完成）/ no such upload", 404
        )
    if up.centre_code != centre:
        raise CentralError(
            "wrong_centre", f"上传 {upload_id} 不属于考点 {centre} / not this centre's upload", 403
        )
    return up


def begin_upload(
    session: Session, centre: str, body: dict[str, Any], now: datetime, max_size: int
) -> dict[str, Any]:
    """Start or resume an upload; says how many bytes central already holds."""
    try:
        upload_id, kind = str(body["upload_id"]), str(body["kind"])
        sha, size, name = str(body["sha256"]), int(body["size"]), str(body.get("name", ""))[:200]
    except (KeyError, TypeError, ValueError) as exc:
        raise CentralError("bad_request", f"上传请求缺少字段 {exc} / bad upload request") from None
    if not UPLOAD_ID_RE.match(upload_id) or kind not in KINDS or not SHA_RE.match(sha):
        raise CentralError("bad_request", "上传编号、类型或 SHA-256 格式错误 / bad upload fields")
    if not 0 < size <= max_size:
        raise CentralError("too_large", f"上传大小 {size} 字节不在允许范围内 / bad size", 413)
    if _stored(session, centre, kind, sha):
        return {
            "ok": True,
            "upload_id": upload_id,
            "received": size,
            "complete": True,
            "duplicate": True,
        }
    up = session.scalar(select(Upload).where(Upload.upload_id == upload_id))
    if up is not None:
        if up.centre_code != centre:
            raise CentralError(
                "wrong_centre",
                f"上传编号 {upload_id} 属于另一个考点 / another centre's upload",
                403,
            )
        if (up.sha256, up.size, up.kind) != (sha, size, kind):
            raise CentralError(
                "upload_conflict",
                f"上传编号 {upload_id} 已用于另一份文件 / upload id reused for other content",
                409,
            )
        return {"ok": True, "upload_id": upload_id, "received": up.received, "complete": False}
    session.add(
        Upload(
            upload_id=upload_id,
            centre_code=centre,
            kind=kind,
            name=name,
            sha256=sha,
            size=size,
            received=0,
            started_at=now,
        )
    )
    session.flush()
    return {"ok": True, "upload_id": upload_id, "received": 0, "complete": False}


def upload_status(session: Session, centre: str, upload_id: str) -> dict[str, Any]:
    up = _upload(session, centre, upload_id)
    return {
        "ok": True,
        "upload_id": upload_id,
        "received": up.received,
        "size": up.size,
        "complete": False,
    }


def put_chunk(
    session: Session, centre: str, upload_id: str, offset: int, data: bytes, max_chunk: int
) -> dict[str, Any]:
    """Append one chunk at ``offset``; it must start where central's copy ends."""
    up = _upload(session, centre, upload_id, lock=True)
    if len(data) > max_chunk:
        raise CentralError("too_large", f"分块超过 {max_chunk} 字节 / chunk too large", 413)
    if offset != up.received:
        raise CentralError(
            "offset_mismatch",
            f"省中心已收到 {up.received} 字节，应从该处续传 / resume from {up.received}",
            409,
            received=up.received,
        )
    if offset + len(data) > up.size:
        raise CentralError("too_large", "分块超出声明的文件大小 / chunk beyond the declared size")
    session.add(UploadChunk(upload_pk=up.id, offset=offset, data=data))
    up.received = offset + len(data)
    session.flush()
    return {"ok": True, "upload_id": upload_id, "received": up.received}


def discard_upload(session: Session, centre: str, upload_id: str) -> None:
    up = session.scalar(
        select(Upload).where(Upload.upload_id == upload_id, Upload.centre_code == centre)
    )
    if up is not None:
        session.execute(delete(UploadChunk).where(UploadChunk.upload_pk == up.id))
        session.delete(up)
        session.flush()


def complete_upload(
    session: Session, centre: CentreAccount, upload_id: str, now: datetime
) -> dict[str, Any]:
    """Check the whole file and take it in. On any refusal the caller discards the upload."""
    up = _upload(session, centre.code, upload_id, lock=True)
    if up.received != up.size:
        raise CentralError(
            "upload_incomplete",
            f"还差 {up.size - up.received} 字节 / upload incomplete",
            409,
            received=up.received,
        )
    data = b"".join(
        session.scalars(
            select(UploadChunk.data)
            .where(UploadChunk.upload_pk == up.id)
            .order_by(UploadChunk.offset)
        )
    )
    if hashlib.sha256(data).hexdigest() != up.sha256:
        raise CentralError(
            "upload_corrupt", "收到的文件与声明的 SHA-256 不符，请重新上传 / checksum mismatch", 422
        )
    kind = up.kind
    session.execute(delete(UploadChunk).where(UploadChunk.upload_pk == up.id))
    session.delete(up)
    session.flush()
    if kind == "backup":
        report = take_backup(session, centre, data, upload_id, up.name, now)
    else:
        report = take_results(session, centre, data, upload_id, now)
    return {"ok": True, "upload_id": upload_id, "complete": True, **report}


# --- backups -----------------------------------------------------------------------------


def check_backup(data: bytes, centre: CentreAccount) -> dict[str, Any]:
    """A backup's header, once its signature (the last 64 bytes, over everything before
    them) verifies with the centre's key and it names this centre. Central cannot decrypt
    the snapshot itself: only the centre's secret opens it (``docs/sync.md``)."""
    if not data.startswith(b"EXAMBAK1") or len(data) < 12 + 12 + 64:
        raise CentralError("not_a_backup", "这不是考点备份文件 / not a centre backup", 422)
    try:
        public_key_of(centre).verify(data[-64:], data[:-64])
    except InvalidSignature:
        raise CentralError(
            "bad_backup_signature",
            "备份签名验证失败：文件被改动，或不是本考点的密钥签名的 (bad backup signature)",
            422,
        ) from None
    n = int.from_bytes(data[8:12], "big")
    try:
        header = json.loads(data[12 : 12 + n])
        if not isinstance(header, dict):
            raise ValueError("header")
    except ValueError as exc:
        raise CentralError("not_a_backup", f"备份文件头无法读取：{exc}", 422) from None
    if header.get("centre") != centre.code:
        raise CentralError(
            "wrong_centre",
            f"备份属于考点 {header.get('centre')}，不能由考点 {centre.code} 上传",
            403,
        )
    return header


def take_backup(
    session: Session, centre: CentreAccount, data: bytes, upload_id: str, name: str, now: datetime
) -> dict[str, Any]:
    sha = hashlib.sha256(data).hexdigest()
    header = check_backup(data, centre)
    name = name or f"backup-{header.get('taken_at', '')}"
    if not _stored(session, centre.code, "backup", sha):
        session.add(
            Backup(
                centre_code=centre.code,
                name=name,
                upload_id=upload_id,
                sha256=sha,
                size=len(data),
                data=data,
                received_at=now,
            )
        )
        audit(session, now, centre.code, "backup.received", name=name, sha256=sha, size=len(data))
        session.flush()
    return {"kind": "backup", "sha256": sha}


@dataclass(frozen=True)
class BackupsOfCentre:
    """What a province admin asks of a centre's backups: how many, how big, the latest,
    and whether the latest still verifies (the stored bytes are the ones received, and
    their signature is the centre's)."""

    centre_code: str
    count: int
    total_size: int
    latest_name: str
    latest_size: int
    latest_received_at: datetime
    #: when the centre took the latest (its header), and for which sitting, if any
    latest_taken_at: str
    latest_sitting: str | None
    #: "" when the latest verifies now, else what is wrong with it
    problem: str


def backups_by_centre(session: Session, centre: str | None = None) -> list[BackupsOfCentre]:
    """Per centre (or the one named), its backups at central; the latest is read back and
    checked again (SHA-256 as received, the centre's signature, the centre named inside).

    Args:
        session: central's database session.
        centre: a centre code, or every centre when None.
    """
    q = select(Backup.centre_code, func.count(), func.sum(Backup.size)).group_by(Backup.centre_code)
    if centre:
        q = q.where(Backup.centre_code == centre)
    out = []
    for code, count, total in session.execute(q.order_by(Backup.centre_code)).all():
        latest = session.scalars(
            select(Backup)
            .where(Backup.centre_code == code)
            .order_by(Backup.received_at.desc(), Backup.id.desc())
            .limit(1)
        ).one()
        account = session.scalar(select(CentreAccount).where(CentreAccount.code == code))
        header: dict[str, Any] = {}
        problem = ""
        if hashlib.sha256(latest.data).hexdigest() != latest.sha256:
            problem = "SHA-256 与收到时不符 / not the bytes received"
        elif account is None:
            problem = "考点未登记 / unknown centre"
        else:
            try:
                header = check_backup(latest.data, account)
            except CentralError as exc:
                problem = exc.message
        out.append(
            BackupsOfCentre(
                centre_code=code,
                count=int(count),
                total_size=int(total or 0),
                latest_name=latest.name,
                latest_size=latest.size,
                latest_received_at=latest.received_at,
                latest_taken_at=str(header.get("taken_at", "")),
                latest_sitting=header.get("sitting"),
                problem=problem,
            )
        )
    return out


# --- results and re-scoring --------------------------------------------------------------


def _current(answers: list[dict[str, Any]]) -> dict[str, str]:
    """Each item's answer: the response of its highest sequence number ("" clears)."""
    best: dict[str, tuple[int, str]] = {}
    for a in answers:
        seq, item, resp = int(a["seq"]), str(a["item_id"]), str(a["response"])
        if item not in best or seq > best[item][0]:
            best[item] = (seq, resp)
    return {item: resp for item, (_, resp) in best.items() if resp}


def _dec(v: Any) -> Decimal | None:
    if v is None:
        return None
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return None


def rescore_attempt(
    a: dict[str, Any],
    sitting_code: str,
    keys: dict[str, Any] | None,
    policy: MultiplePolicy,
    centre_key: Ed25519PublicKey,
) -> tuple[Decimal | None, bool, list[str]]:
    """Central's own score of one attempt, whether its receipt holds, and the differences."""
    diffs: list[str] = []
    state = str(a["state"])
    current = _current(a.get("answers", []))
    receipt_ok = True
    if state == "submitted":
        digest = answers_digest(str(a["ticket"]), sitting_code, current)
        if digest != a.get("digest"):
            diffs.append("答案摘要与答案记录不符 / digest does not match the answers")
            receipt_ok = False
        try:
            centre_key.verify(bytes.fromhex(str(a.get("signature"))), bytes.fromhex(digest))
        except (InvalidSignature, ValueError):
            diffs.append("交卷签名无效 / submission signature invalid")
            receipt_ok = False
        else:
            if receipt_code(str(a["signature"])) != a.get("receipt"):
                diffs.append("交卷回执码不符 / receipt code differs")
                receipt_ok = False
    central_score: Decimal | None = None
    centre_score = _dec(a.get("score"))
    if keys is not None and state == "submitted":
        paper = keys.get(str(a.get("paper_ref")))
        if paper is None:
            diffs.append(f"未知试卷 {a.get('paper_ref')} / unknown paper")
        else:
            result = score_paper(paper, {k: tuple(v) for k, v in current.items()}, policy)
            central_score = result.total
            if centre_score is None or centre_score != central_score:
                diffs.append(f"总分不同：考点 {centre_score}，省中心 {central_score}")
            theirs = a.get("item_scores") or {}
            for s in result.items:
                if _dec(theirs.get(s.item_id)) != s.awarded:
                    diffs.append(
                        f"题 {s.item_id} 得分不同：考点 {theirs.get(s.item_id)}，省中心 {s.awarded}"
                        f"（按 {s.rule.value} 计分 / scored by {s.rule.value}）"
                    )
    elif state in ("absent", "voided") and centre_score not in (None, Decimal(0)):
        diffs.append(f"{state} 的考生不应有成绩（考点给了 {centre_score}）")
    return central_score, receipt_ok, diffs


GENESIS = "0" * 64


def event_hash(prev_hash: str, e: dict[str, Any]) -> str:
    """The centre's log entry hash (``docs/result-package-format.md``), computed by the
    one function the centre computes it with (``exam_common.chain``), linked to
    ``prev_hash``."""
    return hash_of({**e, "prev_hash": prev_hash})


def check_event_log(log: dict[str, Any], earlier: tuple[int, str] | None) -> list[str]:
    """Each entry's hash from its content and link; consecutive entries linked; the head
    consistent with the entries and with the centre's earlier packages."""
    problems: list[str] = []
    prev: dict[str, Any] | None = None
    try:
        head_seq, head_hash = int(log["head"]["seq"]), str(log["head"]["hash"])
        for e in log["entries"]:
            seq = int(e["seq"])
            if event_hash(str(e["prev_hash"]), e) != e["hash"]:
                problems.append(f"事件日志第 {seq} 条的内容与其哈希不符 / entry altered")
            if prev is not None and seq == int(prev["seq"]) + 1 and e["prev_hash"] != prev["hash"]:
                problems.append(f"事件日志第 {seq} 条没有链接到上一条 / broken link")
            if seq > head_seq or (seq == head_seq and e["hash"] != head_hash):
                problems.append(f"事件日志第 {seq} 条与链头不符 / entry beyond the head")
            prev = e
    except (KeyError, TypeError, ValueError) as exc:
        return [f"事件日志格式错误：{exc!r}"]
    if earlier is not None and (
        head_seq < earlier[0] or (head_seq == earlier[0] and head_hash != earlier[1])
    ):
        problems.append(
            f"链头（第 {head_seq} 条）早于或不同于此前成绩包的链头（第 {earlier[0]} 条）"
            " / chain rewound"
        )
    return problems


def take_results(
    session: Session, centre: CentreAccount, data: bytes, upload_id: str, now: datetime
) -> dict[str, Any]:
    """Verify a result package, store it once, re-score every attempt, flag differences."""
    try:
        doc = open_result_package(data, public_key_of(centre))
    except ResultPackageError as exc:
        raise CentralError(exc.code, str(exc), 422) from None
    if doc.get("centre_code") != centre.code:
        raise CentralError(
            "wrong_centre",
            f"成绩包属于考点 {doc.get('centre_code')}，不能由考点 {centre.code} 上传 "
            "(a centre may write only its own results)",
            403,
        )
    try:
        code = str(doc["sitting"]["code"])
        attempts = list(doc["attempts"])
        chain = doc["event_log"]["head"]
        generated = datetime.fromisoformat(str(doc["generated_at"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CentralError("malformed_results", f"成绩包缺少字段 {exc}", 422) from None
    ps = _published(session, centre.code, code)
    sha = hashlib.sha256(data).hexdigest()
    prior = session.scalar(
        select(ResultPackage).where(
            ResultPackage.centre_code == centre.code, ResultPackage.sha256 == sha
        )
    )
    if prior is not None:
        return {"kind": "results", "duplicate": True, **summary(prior)}
    earlier = session.execute(
        select(ResultPackage.chain_seq, ResultPackage.chain_head)
        .where(ResultPackage.centre_code == centre.code)
        .order_by(ResultPackage.chain_seq.desc())
        .limit(1)
    ).first()
    problems = check_event_log(doc["event_log"], (earlier[0], earlier[1]) if earlier else None)
    roster = set(
        session.scalars(select(Registration.ticket).where(Registration.centre_code == centre.code))
    )
    keys = None
    if now >= ps.end:
        blob = session.scalar(
            select(PublishedSitting.answer_key_blob).where(PublishedSitting.id == ps.id)
        )
        keys = decrypt_answer_key(blob or b"", derive_end_key(ps.end_secret, code))
    policy = MultiplePolicy(ps.multiple_policy)
    row = ResultPackage(
        centre_code=centre.code,
        sitting_code=code,
        upload_id=upload_id,
        sha256=sha,
        data=data,
        generated_at=generated,
        received_at=now,
        chain_seq=int(chain["seq"]),
        chain_head=str(chain["hash"]),
        attempts=len(attempts),
        differences=0,
        status="rescored" if keys is not None else "not_rescored",
        problems=problems,
    )
    session.add(row)
    _rescore_into(session, centre, row, doc, keys, policy, roster)
    audit(
        session,
        now,
        centre.code,
        "results.received",
        sitting=code,
        sha256=sha,
        attempts=len(attempts),
        differences=row.differences,
        rules=central_rules(keys, policy) if keys is not None else None,
    )
    session.flush()
    return {"kind": "results", "duplicate": False, **summary(row)}


def central_rules(keys: dict[str, Any], policy: MultiplePolicy) -> dict[str, str]:
    """Item id -> the rule central scores it by, over every paper of the sitting."""
    rules: dict[str, str] = {}
    for items in keys.values():
        rules.update(rules_of(items, policy))
    return dict(sorted(rules.items()))


def check_rules(doc: dict[str, Any], rules: dict[str, str]) -> list[str]:
    """Where the centre says it scored an item by another rule than central's (a package
    from a centre that does not report rules is not checked)."""
    theirs = (doc.get("sitting") or {}).get("item_rules")
    if not isinstance(theirs, dict):
        return []
    return [
        f"题 {item} 的计分规则不同：考点 {theirs.get(item)}，省中心 {rule} "
        f"(item {item} scored by {theirs.get(item)} at the centre, {rule} at central)"
        for item, rule in rules.items()
        if theirs.get(item) != rule
    ]


def _rescore_into(
    session: Session,
    centre: CentreAccount,
    row: ResultPackage,
    doc: dict[str, Any],
    keys: dict[str, Any] | None,
    policy: MultiplePolicy,
    roster: set[str | None],
) -> None:
    """Central's own score of every attempt of ``doc``, stored beside the centre's."""
    differing = 0
    for a in doc["attempts"]:
        central_score, receipt_ok, diffs = rescore_attempt(
            a, row.sitting_code, keys, policy, public_key_of(centre)
        )
        if str(a.get("ticket")) not in roster:
            diffs.append(f"准考证号 {a.get('ticket')} 不在本考点名单中")
        differing += bool(diffs)
        row.rescored.append(
            RescoredAttempt(
                ticket=str(a.get("ticket"))[:32],
                sitting_code=row.sitting_code,
                state=str(a["state"])[:16],
                centre_score=_dec(a.get("score")),
                central_score=central_score,
                receipt_ok=receipt_ok,
                differences=diffs,
            )
        )
    row.differences = differing
    session.flush()
    if keys is not None:
        row.problems = [
            *row.problems,
            *check_rules(doc, central_rules(keys, policy)),
            *check_outcomes(session, centre.code, doc),
        ]


def rescore_pending(session: Session, now: datetime) -> int:
    """Re-score result packages that came in before their sitting's end, once it has
    passed (``exam-central results`` runs this first). Returns how many."""
    done = 0
    rows = session.scalars(
        select(ResultPackage)
        .options(undefer(ResultPackage.data))
        .where(ResultPackage.status == "not_rescored")
    ).all()
    for row in rows:
        ps = _published(session, row.centre_code, row.sitting_code)
        if now < ps.end:
            continue
        centre = session.scalar(select(CentreAccount).where(CentreAccount.code == row.centre_code))
        if centre is None:
            continue
        doc = open_result_package(row.data, public_key_of(centre))
        blob = session.scalar(
            select(PublishedSitting.answer_key_blob).where(PublishedSitting.id == ps.id)
        )
        keys = decrypt_answer_key(blob or b"", derive_end_key(ps.end_secret, ps.code))
        roster = set(
            session.scalars(
                select(Registration.ticket).where(Registration.centre_code == centre.code)
            )
        )
        row.rescored.clear()
        session.flush()
        policy = MultiplePolicy(ps.multiple_policy)
        _rescore_into(session, centre, row, doc, keys, policy, roster)
        row.status = "rescored"
        audit(
            session,
            now,
            "central",
            "results.rescored",
            sitting=row.sitting_code,
            centre=row.centre_code,
            differences=row.differences,
            rules=central_rules(keys, policy),
        )
        done += 1
    session.flush()
    return done


def _rule(forms: list[dict[str, Any]], level: int, trade: str) -> CutoffRule | None:
    """The rule the centre applies for a level and trade (``exam_server.scoring.service.
    rule_for``): ``None`` where the centre decides nothing (a form with parts scored
    elsewhere is decided here, by :mod:`central.outcomes`)."""
    return centre_rule(forms_from_json(forms), level, trade)


def check_outcomes(session: Session, centre: str, doc: dict[str, Any]) -> list[str]:
    """Decide each reported candidate's pass/fail (合格判定) again from central's own
    scores of every subject the centre has sent, and name any that differs. A candidate
    whose subjects are not all at central yet is checked with a later package."""
    plan = session.scalar(select(PlanConfig))
    reported = doc.get("candidate_results") or []
    if plan is None or not reported:
        return []
    forms = list(plan.doc.get("forms", []))
    subject_of = {
        ps.code: ps.subject
        for ps in session.scalars(
            select(PublishedSitting).where(PublishedSitting.centre_code == centre)
        )
    }
    mine: dict[str, dict[str, RescoredAttempt]] = {}
    for ra in session.scalars(
        select(RescoredAttempt)
        .join(ResultPackage)
        .where(ResultPackage.centre_code == centre, ResultPackage.status == "rescored")
        .order_by(ResultPackage.id)
    ):
        mine.setdefault(ra.ticket, {})[subject_of.get(ra.sitting_code, "")] = ra
    # One query for every reported candidate's level and trade, and each form's rule
    # worked out once per level and trade (not a query and a parse per candidate: a
    # package of 300 candidates spent half its intake on those).
    tickets = [str(r.get("ticket")) for r in reported]
    registered = {
        t: (level, trade)
        for some in batches(tickets)
        for t, level, trade in session.execute(
            select(Registration.ticket, Registration.level, Registration.trade).where(
                Registration.ticket.in_(some)
            )
        )
    }
    rules: dict[tuple[int, str], CutoffRule | None] = {}
    problems = []
    for r in reported:
        ticket = str(r.get("ticket"))
        reg = registered.get(ticket)
        if reg is None:
            continue
        if reg not in rules:
            rules[reg] = _rule(forms, *reg)
        rule = rules[reg]
        if rule is None:
            continue
        results = []
        for subject in rule.subjects:
            got = mine.get(ticket, {}).get(subject)
            if got is None:
                break
            if got.state in ("absent", "voided"):
                results.append(SubjectResult(subject, SubjectStatus(got.state)))
            elif got.central_score is not None:
                results.append(SubjectResult(subject, SubjectStatus.SCORED, got.central_score))
        if len(results) != len(rule.subjects):
            continue
        outcome = apply_cutoffs(rule, results)
        theirs = (bool(r.get("passed")), _dec(r.get("total")))
        if (outcome.passed, outcome.total) != theirs:
            problems.append(
                f"考生 {ticket} 合格判定不同：考点 {'合格' if theirs[0] else '不合格'} {theirs[1]}，"
                f"省中心 {'合格' if outcome.passed else '不合格'} {outcome.total}"
            )
    return problems


def summary(row: ResultPackage) -> dict[str, Any]:
    return {
        "sitting": row.sitting_code,
        "sha256": row.sha256,
        "attempts": row.attempts,
        "differences": row.differences,
        "status": row.status,
        "problems": list(row.problems or []),
    }


def prune_nonces(session: Session, now: datetime, window_s: int) -> int:
    """Forget nonces older than twice the replay window, every centre's: a request that
    old is refused by its timestamp before its nonce is looked at. Run now and then
    (:func:`central.app` does it at most once a minute per worker), not per request; the
    rows deleted are ones no request touches any more, so nothing waits on them."""
    result = session.execute(
        delete(_NONCE).where(_NONCE.c.seen_at < now - timedelta(seconds=2 * window_s))
    )
    return cast(CursorResult[Any], result).rowcount


# --- the centre's event log, anchored here ---------------------------------------------

#: most entries one chain segment may carry (the centre sends several in a row)
MAX_SEGMENT_ENTRIES = 20000


def last_anchor(session: Session, centre: str) -> ChainAnchor | None:
    """The latest head of ``centre``'s chain central accepted."""
    return session.scalar(
        select(ChainAnchor)
        .where(ChainAnchor.centre_code == centre, ChainAnchor.status == "accepted")
        .order_by(ChainAnchor.seq.desc(), ChainAnchor.id.desc())
        .limit(1)
    )


def chain_heads(session: Session, centre: str) -> list[dict[str, Any]]:
    """Every head central accepted (what ``exam-server verify-log --heads`` checks) and
    every one it refused, with the problem."""
    return [
        {
            "seq": a.seq,
            "hash": a.hash,
            "signed_at": a.signed_at,
            "received_at": a.received_at.isoformat(),
            "status": a.status,
            "problem": a.problem,
        }
        for a in session.scalars(
            select(ChainAnchor).where(ChainAnchor.centre_code == centre).order_by(ChainAnchor.id)
        )
    ]


CHAIN_MESSAGES = {
    "chain_truncated": "考点事件日志被截短：省中心此前已见到更长的日志",
    "chain_rewritten": "考点事件日志被改写：与省中心此前见到的日志不一致",
    "chain_broken": "考点事件日志的哈希链断开（内容或链接被改动）",
    "chain_gap": "考点事件日志缺少条目",
}


def take_chain(
    session: Session, centre: CentreAccount, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A centre's signed chain head and the entries since the last head central accepted.

    The head's signature must verify with the centre's key; the entries must continue the
    chain exactly as central saw it (every hash recomputed, every link checked) and end
    at the head. Anything else is refused and kept (status refused, the problem named):
    the centre's log was truncated or rewritten since central last saw it."""
    try:
        head = body["head"]
        seq, digest, at = int(head["seq"]), str(head["hash"]), str(head["at"])[:40]
        signature = str(body["signature"])
        entries = list(body["entries"])
        if not SHA_RE.match(digest) or seq < 0 or len(entries) > MAX_SEGMENT_ENTRIES:
            raise ValueError("head")
        if str(head.get("centre")) != centre.code:
            raise ValueError("centre")
    except (KeyError, TypeError, ValueError) as exc:
        raise CentralError(
            "bad_request", f"链头请求格式错误 / malformed chain head: {exc}"
        ) from None
    try:
        public_key_of(centre).verify(
            bytes.fromhex(signature), head_message(centre.code, seq, digest, at)
        )
    except (InvalidSignature, ValueError):
        raise CentralError(
            "bad_chain_signature",
            "链头签名验证失败 / the chain head's signature does not verify",
            422,
        ) from None
    last = last_anchor(session, centre.code)
    known = (last.seq, last.hash) if last is not None else None
    try:
        problem = check_segment(entries, known=known, head=(seq, digest))
    except (KeyError, TypeError, ValueError) as exc:
        raise CentralError("bad_request", f"日志条目格式错误 / malformed entry: {exc!r}") from None
    row = ChainAnchor(
        centre_code=centre.code,
        seq=seq,
        hash=digest,
        signed_at=at,
        signature=signature[:128],
        received_at=now,
        status="accepted" if problem is None else "refused",
        problem=""
        if problem is None
        else f"{problem.code} at {problem.seq}: {problem.detail}"[:500],
    )
    session.add(row)
    if problem is not None:
        # Refused, and kept (the caller commits): the evidence stays at central.
        audit(session, now, centre.code, f"chain.{problem.code}", seq=problem.seq, head=seq)
        session.flush()
        return CentralError(
            problem.code,
            f"{CHAIN_MESSAGES.get(problem.code, problem.code)}（第 {problem.seq} 条）："
            f"{problem.detail}。省中心已记录，请联系省中心核查 / recorded at central",
            409,
            seq=problem.seq,
        ).to_json()
    session.flush()
    return {"ok": True, "seq": seq, "hash": digest}
