"""Mutation testing of the rules the suite exists to protect (``make mutation``).

mutmut (a maintained mutation tester) changes one thing at a time in the rule modules
(``<`` to ``<=``, ``+`` to ``-``, a constant, a returned value...) and runs the tests that
cover the changed function; a mutant the tests do not notice *survived*. This script runs
mutmut on a copy of the tree (so the checkout is never touched), then compares every
survivor, and every mutant no test reaches, with the list of those we looked at and
explained (``tools/mutation-known.json``): a mutant that is in neither the killed set nor
that list fails the run, with its diff, so that a regression in what the tests prove
cannot pass green.

A mutant is known by what it changes (its module, its function and the changed lines),
not by mutmut's number, so the list survives edits elsewhere in a file.

    python tools/mutation.py                 # the core set: the sitting engine, scoring
    python tools/mutation.py --set all       # + the shuffle, the event-log chain, the writer
    python tools/mutation.py --record        # write the current survivors into the list,
                                             # each with an empty reason to fill in

Sets and the tests that judge them are declared in :data:`SETS`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KNOWN = ROOT / "tools" / "mutation-known.json"
PACKAGES = ["exam_server", "exam_common", "question_bank", "central", "exam_client", "seating"]


@dataclass(frozen=True)
class Target:
    """A module to mutate and the tests that judge it."""

    path: str
    tests: tuple[str, ...]
    #: the functions judged (None: all); the others are run by tests mutmut cannot drive
    #: (servers in threads) and are counted apart as outside the set
    functions: tuple[str, ...] | None = None

    @property
    def module(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")


ENGINE = Target("exam_server/sittings/engine.py", ("tests/server/test_engine.py",))
SCORING = Target(
    "question_bank/scoring.py",
    (
        "tests/test_scoring_core.py",
        "tests/question_bank/test_qbank_qti_items.py",
        "tests/question_bank/test_qbank_items.py",
    ),
)
# (tests/security/test_anchor.py runs servers in threads, which mutmut's runner does not
# take; tests/common/test_chain_format.py checks the same functions without them)
CHAIN_TESTS = ("tests/common/test_chain_format.py", "tests/server/test_eventlog_chain.py")
SHUFFLE = Target("question_bank/shuffle.py", ("tests/question_bank/test_qbank_shuffle.py",))
CHAIN = Target("exam_common/chain.py", CHAIN_TESTS)
# the answer path's model (tests/server/test_answer_path_model.py), with fewer examples
# under mutation (EXAM_MUTATION): a mutant there is killed in the first few
WRITER = Target(
    "exam_server/sittings/writer.py",
    (
        "tests/server/test_writer_refusals.py",
        "tests/server/test_sittings_service.py",
        "tests/server/test_answer_path_model.py::test_answer_path_model_sqlite",
    ),
    # the ordering: a batch committed in one transaction, a failed save bisected out,
    # transient errors told apart; the writer's thread (start, _run, _take_batch, save,
    # stats) runs under the live tests (tests/client/)
    ("AnswerWriter.commit", "AnswerWriter._store", "is_transient"),
)
SETS: dict[str, tuple[Target, ...]] = {
    "core": (ENGINE, SCORING),
    "chain": (
        SHUFFLE,
        CHAIN,
        # check_heads (the signed heads against central's) runs in tests/security/test_anchor.py
        Target(
            "exam_server/eventlog/service.py",
            CHAIN_TESTS,
            ("append", "append_many", "_entries", "verify_chain"),
        ),
    ),
    "writer": (WRITER,),
    "all": (
        ENGINE,
        SCORING,
        SHUFFLE,
        CHAIN,
        # check_heads (the signed heads against central's) runs in tests/security/test_anchor.py
        Target(
            "exam_server/eventlog/service.py",
            CHAIN_TESTS,
            ("append", "append_many", "_entries", "verify_chain"),
        ),
        WRITER,
    ),
}

STATUS = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+?)\s*$")


def fingerprint(name: str, diff: str) -> str:
    """What a mutant changes, independent of mutmut's numbering: module, function, and
    the removed and added lines (stripped)."""
    module, _, mangled = name.rpartition(".")
    function = re.sub(r"__mutmut_\d+$", "", mangled).removeprefix("x_").replace("ǁ", ".")
    function = function.removeprefix("x.").strip(".")
    changed = [
        line[0] + " " + line[1:].strip()
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return f"{module}:{function}: " + " | ".join(changed)


def mutmut(work: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``mutmut ARGS`` in ``work``; ``check``: stop with its output if it fails."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=work,
        capture_output=True,
        text=True,
        env={**os.environ, "EXAM_MUTATION": "1"},
    )
    if check and out.returncode != 0:
        sys.exit(f"mutmut {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def prepare(work: Path, targets: tuple[Target, ...]) -> None:
    """A copy of the tree with mutmut's configuration for ``targets``."""
    for name in PACKAGES + ["tests"]:
        shutil.copytree(
            ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy(ROOT / "setup.cfg", work / "setup.cfg")
    tests = sorted({t for target in targets for t in target.tests})
    config = (ROOT / "pyproject.toml").read_text() + (
        "\n[tool.mutmut]\n"
        f"source_paths = {json.dumps(PACKAGES)}\n"
        f"only_mutate = {json.dumps([t.path for t in targets])}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
    )
    (work / "pyproject.toml").write_text(config)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=sorted(SETS), default="core")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument(
        "--record",
        action="store_true",
        help="add the survivors not yet listed to tools/mutation-known.json (reason empty)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="read the results of an earlier run kept with --keep, without running again",
    )
    args = parser.parse_args()
    if args.report_only and not (args.keep and (args.keep / "mutants").is_dir()):
        parser.error("--report-only reads a run kept with --keep DIR")
    targets = SETS[args.set]
    work = args.keep or Path(tempfile.mkdtemp(prefix="exam-mutation-"))
    if args.keep and work.exists() and not args.report_only:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)

    def in_scope(name: str) -> bool:
        for t in targets:
            if name.startswith(t.module + "."):
                function = fingerprint(name, "").split(":")[1]
                return t.functions is None or function in t.functions
        return True

    began = time.monotonic()
    try:
        if not args.report_only:
            prepare(work, targets)
            print(f"mutation testing ({args.set}): {', '.join(t.path for t in targets)} in {work}")
            run = mutmut(work, "run", "--max-children", str(args.children), check=False)
            if "failed to collect stats" in run.stdout + run.stderr:
                sys.exit(
                    "mutmut could not run the tests of this set as they are (they must pass "
                    f"before anything is mutated):\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
                )
        statuses: dict[str, str] = {}
        for line in mutmut(work, "results", "--all", "true").stdout.splitlines():
            m = STATUS.match(line)
            if m:
                statuses[m["name"]] = m["status"]
        unchecked = sum(1 for v in statuses.values() if v == "not checked")
        if not statuses or unchecked:
            sys.exit(f"mutmut left {unchecked} of {len(statuses)} mutants unchecked")
        counts: dict[str, int] = {}
        for status in statuses.values():
            counts[status] = counts.get(status, 0) + 1
        open_ = {n: s for n, s in statuses.items() if s in ("survived", "no tests", "timeout")}
        outside = {n for n in open_ if not in_scope(n)}
        open_ = {n: s for n, s in open_.items() if n not in outside}
        prints = {n: mutmut(work, "show", n).stdout for n in open_}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    known: dict[str, str] = json.loads(KNOWN.read_text()) if KNOWN.exists() else {}

    new = {fingerprint(n, prints[n]): (n, s) for n, s in open_.items()}
    unexplained = {fp: v for fp, v in new.items() if not known.get(fp)}
    killed = counts.get("killed", 0)
    total = sum(counts.values())
    minutes = (time.monotonic() - began) / 60
    print(
        f"\n{total} mutants: {killed} killed, "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s != "killed")
        + f"; score {killed / total:.1%} ({minutes:.1f} min)"
    )
    if outside:
        print(f"{len(outside)} of them outside the set's functions (run by live tests)")
    print(f"{len(new) - len(unexplained)} survivors explained in {KNOWN.relative_to(ROOT)}")
    if args.record:
        for fp in new:
            known.setdefault(fp, "")
        KNOWN.write_text(
            json.dumps(dict(sorted(known.items())), ensure_ascii=False, indent=1) + "\n"
        )
        print(f"recorded {len(new)} survivors in {KNOWN}")
        return 0
    if unexplained:
        print(f"\n{len(unexplained)} mutants survived that no one has explained:")
        for fp, (name, status) in sorted(unexplained.items()):
            print(f"\n[{status}] {fp}\n{prints[name]}")
        print(
            "Kill each with a test that fails when the rule breaks, or, if it changes no "
            "behaviour, add it with the reason to tools/mutation-known.json."
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
