"""Hold each package, and the modules an exam day cannot do without, to a coverage floor.

``make test`` measures coverage (pytest-cov; the servers, terminals and CLIs the tests
start as subprocesses included, ``[tool.coverage.run]`` in pyproject.toml), then runs
this script on the combined data: it prints one line per package and per named module,
and fails when one is below its floor, naming it and by how much. Floors sit a little
under what the suite measured (docs/testing.md has the figures), so that a change that
drops a package's tests shows here and not in the field.

    python tools/coverage_floors.py            # reads .coverage in the current folder
"""

from __future__ import annotations

import sys
from pathlib import Path

import coverage

#: package (a folder prefix) -> the least line coverage it may have, in percent
PACKAGES: dict[str, float] = {
    # measured 2026-12-02 by `make test` (docs/testing.md), less about three points
    "exam_server/": 87,  # 90.5
    "exam_client/": 82,  # 85.5
    "exam_common/": 88,  # 91.6
    "question_bank/": 88,  # 91.3
    "seating/": 88,  # 91.2
    "central/": 87,  # 90.0
}

#: modules a day cannot do without: results to central, backups, sync, lost time
MODULES: dict[str, float] = {
    "exam_common/result_package.py": 80,
    "exam_server/backups/service.py": 80,
    "exam_server/sync/service.py": 80,
    "exam_server/sync/client.py": 80,
    "exam_server/sync/jobs.py": 80,
    "exam_server/system/service.py": 80,  # the downtime a restart finds, credited
}


def main() -> int:
    data = Path(".coverage")
    if not data.exists():
        print("no .coverage here: run the tests with coverage first (make test)")
        return 2
    cov = coverage.Coverage(data_file=str(data))
    cov.load()
    root = Path.cwd().resolve()
    stats: dict[str, tuple[int, int]] = {}  # relative path -> (statements, missed)
    for path in cov.get_data().measured_files():
        if not path.endswith(".py"):
            continue  # a template's compiled code is counted under its file's name
        rel = Path(path).resolve()
        try:
            name = rel.relative_to(root).as_posix()
        except ValueError:
            continue
        _, statements, _, missing, _ = cov.analysis2(path)
        stats[name] = (len(statements), len(missing))

    def percent(prefix: str) -> tuple[float, int]:
        chosen = [v for k, v in stats.items() if k == prefix or k.startswith(prefix)]
        total = sum(s for s, _ in chosen)
        missed = sum(m for _, m in chosen)
        return (100.0 * (total - missed) / total if total else 0.0), total

    failed = []
    print(f"{'coverage':<40} {'measured':>9} {'floor':>6}")
    for name, floor in [*PACKAGES.items(), *MODULES.items()]:
        measured, statements = percent(name)
        mark = "" if measured >= floor else "  <- below its floor"
        print(f"{name:<40} {measured:8.1f}% {floor:5.0f}%{mark}")
        if not statements:
            failed.append(f"{name}: nothing measured (is it still there, and imported?)")
        elif measured < floor:
            failed.append(f"{name}: {measured:.1f}% < {floor:.0f}% ({floor - measured:.1f} short)")
    if failed:
        print("\ncoverage below its floor (add the tests, or say in docs/testing.md why not):")
        for line in failed:
            print(f"  {line}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
