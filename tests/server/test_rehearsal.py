"""The rehearsal's verdict: each target checked against the simulator's report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from exam_server.rehearsal.run import evaluate

END = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)


def report(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "logged_in": 300,
        "paper_opened": 300,
        "lost": 0,
        "pending_at_end": 0,
        "start_to_open_ms": {"p99": 420.0, "max": 900.0},
        "ack_latency_ms": {"p99": 35.0},
    }
    base.update(over)
    return base


def test_ready_when_every_target_is_met() -> None:
    checks = evaluate(report(), 300, 300, END + timedelta(seconds=2), END)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


def test_each_missed_target_is_named_with_advice() -> None:
    checks = evaluate(
        report(
            logged_in=290,
            ack_latency_ms={"p99": 240.0},
            start_to_open_ms={"p99": 1500.0, "max": 4000.0},
            lost=1,
        ),
        300,
        299,
        END + timedelta(seconds=9),
        END,
    )
    failed = {c.name.split(" / ")[1] for c in checks if not c.ok}
    assert failed == {
        "every terminal logged in",
        "paper open p99",
        "paper open, slowest",
        "answer save p99",
        "answers lost",
        "all submitted at the end",
        "scored and decided after the end",
    }
    slow = next(c for c in checks if "answer save" in c.name)
    assert "PostgreSQL" in slow.advice and slow.measured == "240.0 ms"


def test_unfinished_scoring_is_reported_not_crashed() -> None:
    checks = evaluate(report(), 300, 300, None, END)
    assert not next(c for c in checks if "scored" in c.name).ok
