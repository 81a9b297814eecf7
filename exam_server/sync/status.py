"""``exam-sync status`` in plain Chinese: what is synced, what is pending, the last error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from exam_server.config import Config
from exam_server.packages.models import ImportedPackage
from exam_server.plans.models import Sitting
from exam_server.sync.models import OutboxItem, SyncStatus
from exam_server.sync.service import get_link


def _at(tz: tzinfo) -> Callable[[datetime | None], str]:
    def show(dt: datetime | None) -> str:
        return dt.astimezone(tz).strftime("%m-%d %H:%M:%S") if dt else "—"

    return show


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(n // 1024, 1)} KB"


def status_lines(session: Session, cfg: Config, now: datetime) -> tuple[list[str], bool]:
    """The report, and whether everything due is done (exit code 0) or not."""
    lines: list[str] = []
    _t = _at(cfg.tz)  # the centre's time zone, as on every screen
    link = get_link(session, cfg)
    if link is None:
        return [
            f"尚未设置（{cfg.where()}）：请运行 "
            f"`{cfg.fix('exam-sync setup --centre 考点代码 --central-url 省中心地址 --central-key central.pub')}`"
            "，填写考点代码、省中心地址和省中心公钥 / not set up"
        ], False
    url = link.central_url or "（未填写：只能用 U 盘导入和离线密钥码）"
    lines.append(f"考点 {link.centre_code}，省中心 {url}（{cfg.where()}）")
    packages = session.scalars(select(ImportedPackage).order_by(ImportedPackage.id)).all()
    if packages:
        last = packages[-1]
        lines.append(
            f"考试包：已导入 {len(packages)} 个（最近 {last.package_id}，{_t(last.imported_at)}）"
        )
    else:
        lines.append(
            "考试包：尚未导入。请运行 `exam-sync pull`（或 `exam-sync pull --file U盘上的考试包`）。"
        )
    ok = bool(packages)
    items = session.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
    by_sitting = {i.sitting_id: i for i in items if i.kind == "results"}
    sittings = session.scalars(select(Sitting).order_by(Sitting.start)).all()
    if sittings:
        lines.append("场次：")
    for s in sittings:
        if now < s.start:
            key = f"试卷密钥 开考时（{_t(s.start)}）下达"
        elif s.sitting_key is not None:
            key = f"试卷密钥 已下达（{_t(s.sitting_key_at)}）"
        else:
            key = "试卷密钥 未下达！请运行 `exam-sync key`，或向省中心要离线密钥码"
            ok = False
        if now < s.end:
            answer = "答案密钥 考试结束时下达"
        elif s.end_key is not None:
            answer = "答案密钥 已下达，已评分"
        else:
            answer = "答案密钥 未下达！请运行 `exam-sync key --end`"
            ok = False
        item = by_sitting.get(s.id)
        if s.closed_at is None:
            results = "成绩 考试未结束"
        elif item is None:
            results = "成绩 待生成"
            ok = False
        elif item.state == "done":
            diff = (item.reply or {}).get("differences")
            check = (
                "，省中心复核一致"
                if diff == 0
                else f"，省中心复核有 {diff} 人不一致！"
                if diff
                else ""
            )
            problems = (item.reply or {}).get("problems") or []
            if problems:
                check += f"；省中心发现成绩包问题：{problems[0]}"
            results = f"成绩 已上传（{_t(item.done_at)}）{check}"
            ok = ok and not diff and not problems
        elif item.state == "carried":
            results = f"成绩 已拷贝交省中心（U 盘，{_t(item.done_at)}）"
        elif item.state == "refused":
            results = f"成绩 被省中心拒收：{item.last_error}"
            ok = False
        else:
            results = "成绩 待上传"
            ok = False
        lines.append(
            f"  {s.code} {s.subject}（{_t(s.start)} - {_t(s.end)}）：{key}；{answer}；{results}"
        )
    pending = [i for i in items if i.state == "pending"]
    done = [i for i in items if i.state == "done"]
    refused = [i for i in items if i.state == "refused"]
    if pending:
        ok = False
        kinds = "、".join(
            f"{sum(1 for i in pending if i.kind == k)} 个{'成绩包' if k == 'results' else '备份'}"
            for k in ("results", "backup")
            if any(i.kind == k for i in pending)
        )
        size = _size(sum(i.size for i in pending))
        if link.central_url:
            lines.append(
                f"待上传：{kinds}，共 {size}（服务器运行时会自动重试，或运行 `exam-sync push`）"
            )
        else:
            lines.append(
                f"待交省中心：{kinds}，共 {size}。本考点没有省中心地址，不会自动上传："
                f"请运行 `{cfg.fix('exam-sync push')}` 查看文件，拷贝到 U 盘交省中心"
            )
    else:
        lines.append("待上传：无")
    lines.append(
        f"已上传：{sum(1 for i in done if i.kind == 'results')} 个成绩包，"
        f"{sum(1 for i in done if i.kind == 'backup')} 个备份"
    )
    carried = [i for i in items if i.state == "carried"]
    if carried:
        lines.append(
            f"已用 U 盘交省中心：{sum(1 for i in carried if i.kind == 'results')} 个成绩包，"
            f"{sum(1 for i in carried if i.kind == 'backup')} 个备份"
        )
    for i in refused:
        lines.append(f"被拒收：{i.path.rsplit('/', 1)[-1]}：{i.last_error}")
    backup = session.get(SyncStatus, "last_backup")
    lines.append(f"最近备份：{_t(backup.at)}（{backup.value}）" if backup else "最近备份：无")
    err = session.get(SyncStatus, "last_error")
    if err is None:
        lines.append("最近错误：无")
    else:
        later = [i.done_at for i in done if i.done_at and i.done_at > err.at]
        since = "（此后已成功上传）" if later else ""
        lines.append(f"最近错误：{_t(err.at)} {err.value}{since}")
    lines.append("结论：全部完成。" if ok else "结论：还有未完成的事项（见上）。")
    return lines, ok
