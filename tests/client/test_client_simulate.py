"""``exam-client simulate``: many headless terminals (the real agent) in one process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from exam_client.cli import main
from exam_client.simulate import RosterError, load_roster
from exam_server.sittings.models import Answer, Attempt
from exam_server.terminals import service as terminals
from exam_server.terminals.cli import codes_document
from tests.client.conftest import Sitting
from tests.factories import id_number_for


def test_roster_errors_are_specific(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    for doc, words in (
        ("{}", "非空 JSON 数组"),
        ('[{"ticket": "1"}]', "id_number"),
        ('[{"ticket": "12", "id_number": "x", "seat": "01-01"}]', "malformed"),
    ):
        bad.write_text(doc)
        with pytest.raises(RosterError, match=words):
            load_roster(bad)
    result = CliRunner().invoke(
        main, ["simulate", "--server", "ftp://x", "--roster", str(bad)], catch_exceptions=False
    )
    assert result.exit_code == 2 and "http://" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("green", [False, True], ids=["threads", "greenlets"])
def test_twenty_terminals_log_in_answer_and_submit(
    make_sitting: Callable[..., Sitting], tmp_path: Path, green: bool
) -> None:
    """The same agents as OS threads (one process) and as greenlets (--green, two
    processes): everyone logs in, answers, submits, and nothing is lost."""
    n = 20
    s = make_sitting(starts_in=6, duration=30, candidates=n, rules_s=(120, 30, 8))
    roster = tmp_path / "roster.json"
    roster.write_text(
        json.dumps(
            [
                {"ticket": s.tickets[i], "id_number": id_number_for(i + 1), "seat": s.seats[i]}
                for i in range(n)
            ]
        )
    )
    # The admin's bulk path: one code per seat in a file the simulated terminals enrol with.
    with s.db.write() as session:
        issued = terminals.issue_codes(
            session,
            datetime.now(UTC),
            terminals.seats_for(session, labels=s.seats[:n]),
            by="tests",
            valid=timedelta(hours=1),
        )
    codes = tmp_path / "codes.json"
    codes.write_text(json.dumps(codes_document(issued, "")))
    report_path = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "exam_client.cli",
            "simulate",
            "--server",
            s.server.url,
            "--roster",
            str(roster),
            "--enrol-codes",
            str(codes),
            "--terminals",
            str(n),
            "--pace",
            "0.3",
            "--submit",
            "--report",
            str(report_path),
            "--duration",
            "40",
            *(["--green", "--processes", "2"] if green else []),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["terminals"] == n and report["green"] is green
    assert report["processes"] == (2 if green else 1)
    assert report["connected"] == n and report["logged_in"] == n and report["paper_opened"] == n
    assert report["answered"] >= n * 10
    assert report["lost"] == 0 and report["pending_at_end"] == 0
    assert report["acknowledged"] == report["answered"]
    assert report["submitted"] == {"candidate": n} and report["receipts"] == n
    for key in ("ack_latency_ms", "rtt_ms", "key_to_open_ms", "start_to_open_ms"):
        assert set(report[key]) == {"count", "p50", "p90", "p99", "max", "mean"}
    assert report["ack_latency_ms"]["count"] == report["acknowledged"]
    assert report["key_to_open_ms"]["count"] == n

    with s.db.read() as session:
        states = session.execute(select(Attempt.state, Attempt.submitted_by)).all()
        assert {(st.value, by) for st, by in states} == {("submitted", "candidate")}
        stored = session.scalar(select(func.count()).select_from(Answer))
        assert stored == report["acknowledged"] - report["duplicates"]
