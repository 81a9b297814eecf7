"""Every file the system writes goes through :mod:`exam_common.durable` (whole, fsynced,
private by default), so a power cut never leaves a key, a package, a backup or an outbox
entry half-written or empty. This test reads the source of every package and fails on a
write that bypasses the helper; the few that may are listed with their reason."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("exam_common", "exam_server", "exam_client", "central", "question_bank", "seating")

#: (file, call) -> why this write need not survive a power cut
ALLOWED = {
    ("exam_common/durable.py", "*"): "the helper itself",
    ("exam_server/rehearsal/run.py", "open"): "the rehearsal server's log, handed to the child",
    ("seating/documents/common.py", "open"): "photos in a temporary folder while a PDF renders",
    ("exam_server/demo.py", "open"): "the demo central's log, handed to the child",
    ("exam_server/serving.py", "open"): (
        "the data folder's lock file: held open (flock) for the server's life, its content "
        "only says which pid holds it"
    ),
    ("exam_server/backups/service.py", "os.replace"): (
        "restore moves the old database's write-ahead log aside with it (then fsyncs the folder)"
    ),
}

#: method names that write or move a file whatever object they are called on
WRITING_METHODS = {"write_bytes", "write_text", "mkdir", "rename", "replace"}
#: what an in-memory or helper-opened file object is called where code writes into one
FILE_OBJECTS = {"f", "buf"}
#: module-level functions that write or move files
WRITING_FUNCTIONS = {
    "os.replace",
    "os.rename",
    "os.makedirs",
    "os.mkdir",
    "shutil.copy",
    "shutil.copy2",
    "shutil.copyfile",
    "shutil.move",
}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _write_mode(call: ast.Call, position: int) -> bool:
    """Whether an ``open``-like call's mode argument asks to write."""
    mode: ast.expr | None = call.args[position] if len(call.args) > position else None
    for kw in call.keywords:
        if kw.arg == "mode":
            mode = kw.value
    return (
        isinstance(mode, ast.Constant)
        and isinstance(mode.value, str)
        and any(c in mode.value for c in "wax+")
    )


def _path_like(arg: ast.expr) -> bool:
    """A ``save`` argument that names a file rather than a file object or a request."""
    if isinstance(arg, ast.Name):
        return arg.id not in FILE_OBJECTS and arg.id not in ("out",)
    return isinstance(arg, (ast.Constant, ast.BinOp, ast.JoinedStr))


def bypasses(path: Path) -> list[tuple[int, str]]:
    """(line, call) of every write in ``path`` that does not go through the helper."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        if name in WRITING_FUNCTIONS:
            found.append((node.lineno, name))
        elif name == "open" and _write_mode(node, 1):
            found.append((node.lineno, "open"))
        elif method == "open" and _write_mode(node, 0):
            found.append((node.lineno, "Path.open"))
        elif name in ("zipfile.ZipFile", "ZipFile") and _write_mode(node, 1):
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Name) and first.id in FILE_OBJECTS:
                continue  # into memory, or a file object opened by atomic_writer
            found.append((node.lineno, "ZipFile"))
        elif method in WRITING_METHODS and name not in ("str.replace",):
            if method == "replace" and not node.args:
                continue  # dataclasses.replace(obj) / datetime.replace(...) keyword forms
            if method == "replace" and name.startswith(("os.", "Path")) is False:
                # str.replace(a, b) and datetime.replace(...): only Path.replace(target)
                # takes exactly one positional argument and no keywords
                if len(node.args) != 1 or node.keywords:
                    continue
                if isinstance(node.args[0], ast.Constant):
                    continue
            found.append((node.lineno, f".{method}"))
        elif method == "save" and node.args and _path_like(node.args[0]):
            found.append((node.lineno, ".save"))  # openpyxl, PIL: a workbook saved to a path
    return found


def test_no_write_bypasses_the_durable_helper() -> None:
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel or (rel, "*") in ALLOWED:
                continue
            for line, call in bypasses(path):
                if (rel, call.lstrip(".")) in ALLOWED or (rel, call) in ALLOWED:
                    continue
                offenders.append(f"{rel}:{line}: {call}")
    assert not offenders, (
        "writes that bypass exam_common.durable (use write_atomic / atomic_writer / "
        "ensure_dir, or add the place to ALLOWED with its reason):\n" + "\n".join(offenders)
    )


def test_the_scanner_sees_each_kind_of_bypass(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os, shutil, zipfile\n"
        "from pathlib import Path\n"
        "Path('a').write_bytes(b'')\n"  # 3
        "Path('a').write_text('')\n"  # 4
        "open('a', 'wb')\n"  # 5
        "open('a')\n"  # 6: a read
        "Path('a').open('w')\n"  # 7
        "os.replace('a', 'b')\n"  # 8
        "shutil.copy('a', 'b')\n"  # 9
        "zipfile.ZipFile('a.zip', 'w')\n"  # 10
        "Path('d').mkdir()\n"  # 11
        "'x'.replace('a', 'b')\n"  # 12: a string
        "wb.save('x.xlsx')\n"  # 13
        "wb.save(path)\n"  # 14
        "with atomic_writer(p) as f: wb.save(f)\n"  # 15: through the helper
    )
    assert [line for line, _ in bypasses(sample)] == [3, 4, 5, 7, 8, 9, 10, 11, 13, 14]
