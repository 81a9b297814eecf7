"""The serving process freezes its start-up objects and collects its young generation
less often (``EXAM_GC_YOUNG_THRESHOLD``), so a full collection is rare and short."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = """
import gc, json
from exam_server.config import Config
from exam_server.serving import tune_gc
before = gc.get_threshold()
gc.collect()
tracked = len(gc.get_objects())
tune_gc(Config.from_mapping({}))
print(json.dumps({
    "before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count(),
    "tracked": tracked, "unfrozen": len(gc.get_objects()),
}))
"""


def run(env: dict[str, str]) -> dict[str, list[int] | int]:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, list[int] | int] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_start_up_objects_are_frozen_and_the_young_threshold_raised() -> None:
    out = run({})
    assert out["before"] == [700, 10, 10]
    assert out["after"] == [7000, 10, 10]
    # every object alive at start-up (the imported modules, the config) is frozen: no
    # later full collection walks them; only what was made since is left to collect
    assert isinstance(out["frozen"], int) and isinstance(out["tracked"], int)
    assert out["frozen"] >= 0.95 * out["tracked"] and out["tracked"] > 10_000, out
    assert isinstance(out["unfrozen"], int) and out["unfrozen"] < 0.02 * out["tracked"], out


def test_the_threshold_is_configurable_and_zero_keeps_pythons() -> None:
    assert run({"EXAM_GC_YOUNG_THRESHOLD": "2000"})["after"] == [2000, 10, 10]
    assert run({"EXAM_GC_YOUNG_THRESHOLD": "0"})["after"] == [700, 10, 10]
