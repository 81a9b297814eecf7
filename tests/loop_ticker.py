"""A greenlet that notes each time it runs: how a test in a gevent-patched interpreter
sees whether the event loop was free while something else worked; and running such a
script (gevent's patching cannot be undone inside the test process)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gevent


def start(every: float = 0.005) -> list[float]:
    """Spawn the ticker (every ``every`` seconds) and let it run a little; the list it
    appends ``time.perf_counter()`` to."""
    ticks: list[float] = []

    def run() -> None:
        while True:
            ticks.append(time.perf_counter())
            gevent.sleep(every)

    gevent.spawn(run)
    gevent.sleep(0.05)
    return ticks


def run_patched(script: str, *args: str) -> Any:
    """Run ``script`` (which patches first) in a fresh interpreter, from the repository
    (so it can import ``tests.loop_ticker``); the JSON its last line prints."""
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])
