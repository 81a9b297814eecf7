"""The centre's event log, anchored here: the heads central has seen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from central.models import (
    CentreAccount,
    ChainAnchor,
)
from central.service.base import SHA_RE, CentralError, audit, public_key_of
from exam_common.chain import check_segment, head_message

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
