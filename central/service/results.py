"""Results: intake of a centre's result package, independent re-scoring, the
outcomes checked against the province's rules."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session, undefer

from central.db import batches
from central.models import (
    AuditEvent,
    CentreAccount,
    PlanConfig,
    PublishedSitting,
    Registration,
    RescoredAttempt,
    ResultPackage,
)
from central.service.base import CentralError, audit, public_key_of, published_sitting
from exam_common.chain import hash_of
from exam_common.forms import forms_from_json
from exam_common.receipts import answers_digest, receipt_code
from exam_common.result_package import ResultPackageError, open_result_package
from question_bank.package import decrypt_answer_key, derive_end_key
from question_bank.scoring import (
    CutoffRule,
    MultiplePolicy,
    ScoringRule,
    SubjectResult,
    SubjectStatus,
    apply_cutoffs,
    centre_rule,
    rules_of,
    score_paper,
)

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
    ps = published_sitting(session, centre.code, code)
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


def own_rules(session: Session) -> dict[tuple[str, str], dict[str, str]]:
    """(centre, sitting) -> item id -> rule, for the items central last scored by the
    item's own rule (``match_correct``, ``map_response``), read from the audit of each
    re-score (``results.received``, ``results.rescored``): what the results report shows
    beside the scores."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.kind.in_(("results.received", "results.rescored")))
        .order_by(AuditEvent.id)
    )
    for e in events:
        rules = e.data.get("rules")
        if not isinstance(rules, dict):
            continue
        centre = e.data.get("centre") or e.actor  # the centre is the actor of a receipt
        found[(str(centre), str(e.data.get("sitting")))] = {
            item: rule
            for item, rule in sorted(rules.items())
            if rule in {r.value for r in ScoringRule if r.from_item}
        }
    return found


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
        ps = published_sitting(session, row.centre_code, row.sitting_code)
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
