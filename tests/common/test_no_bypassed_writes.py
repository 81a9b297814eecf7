"""Every file the system writes goes through :mod:`exam_common.durable` (whole, fsynced,
private by default), so a power cut never leaves a key, a package, a backup or an outbox
entry half-written or empty.

This test reads the source of every package (its syntax tree, with imports resolved, so
``from shutil import copy`` is ``shutil.copy``) and fails on every call that can write,
create, move or link a file outside ``exam_common/durable.py``. A mode or flags it cannot
read (a variable) count as a write. The only way past it is a marker on the line of the
call, with the reason the write need not survive a power cut::

    log = open(path, "ab")  # not-durable: the child's log; losing its tail loses nothing

One marker covers the call on its line only, so a new write next to an allowed one is a
finding of its own. Writing into a file object that ``atomic_writer`` opened, or into an
``io.BytesIO``, bound by name in the same function, is not a bypass.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("exam_common", "exam_server", "exam_client", "central", "question_bank", "seating")
HELPER = "exam_common/durable.py"

#: ``# not-durable: <reason>`` (the reason at least three words)
MARKER = re.compile(r"#\s*not-durable:\s*(\S+\s+\S+\s+\S+.*)$")

#: functions that write, create, move or link files, whatever their arguments
WRITING_FUNCTIONS = {
    "os.replace",
    "os.rename",
    "os.renames",
    "os.link",
    "os.symlink",
    "os.makedirs",
    "os.mkdir",
    "os.mkfifo",
    "os.truncate",
    "shutil.copy",
    "shutil.copy2",
    "shutil.copyfile",
    "shutil.copytree",
    "shutil.copyfileobj",
    "shutil.move",
    "tempfile.mkstemp",
}
#: open-like functions: name -> position of the mode argument (default: a read)
OPENERS = {
    "open": 1,
    "io.open": 1,
    "codecs.open": 1,
    "os.fdopen": 1,
    "gzip.open": 1,
    "gzip.GzipFile": 1,
    "bz2.open": 1,
    "bz2.BZ2File": 1,
    "lzma.open": 1,
    "lzma.LZMAFile": 1,
    "zipfile.ZipFile": 1,
    "tarfile.open": 1,
    "tarfile.TarFile": 1,
    "shelve.open": 1,
    "dbm.open": 1,
}
#: methods that write or move a file whatever object they are called on
WRITING_METHODS = {
    "write_bytes",
    "write_text",
    "mkdir",
    "touch",
    "rename",
    "symlink_to",
    "hardlink_to",
    "link_to",
}
#: functions called ``open`` that only read
READERS = {"PIL.Image.open", "webbrowser.open"}
#: the keywords of ``Path.open`` and ``ZipFile.open``: an ``.open`` taking another is not
#: a file's (``vault.open(sealed, sitting_code=...)`` opens a sealed key)
OPEN_KEYWORDS = {"mode", "buffering", "encoding", "errors", "newline", "pwd", "force_zip64"}
#: flags of ``os.open`` that only read
READ_FLAGS = {"O_RDONLY", "O_DIRECTORY", "O_CLOEXEC", "O_NOFOLLOW", "O_NONBLOCK", "O_NOATIME"}
#: what builds an in-memory file, or the helper's own file
SAFE_SINKS = {"io.BytesIO", "io.StringIO", "exam_common.durable.atomic_writer"}
#: a mode string (anything else in the mode's place is a member name: ``zf.open(name)``)
MODE = re.compile(r"^[rwxabtU+]+$")


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


class _Scanner(ast.NodeVisitor):
    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # local name -> module or module.attr
        self.sinks: list[set[str]] = [set()]  # per function: names of safe file objects
        self.found: list[tuple[int, int, str]] = []

    # -- imports -------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.asname:
                self.aliases[a.asname] = a.name
            else:
                top = a.name.split(".")[0]
                self.aliases[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for a in node.names:
            self.aliases[a.asname or a.name] = f"{node.module}.{a.name}" if node.module else a.name

    def resolve(self, node: ast.expr) -> str:
        name = _dotted(node)
        head, _, rest = name.partition(".")
        if head in self.aliases:
            full = self.aliases[head]
            name = f"{full}.{rest}" if rest else full
        return name.removeprefix("builtins.").removeprefix("pathlib.")

    # -- scopes and safe file objects ----------------------------------------------
    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.sinks.append(set())
        self.generic_visit(node)
        self.sinks.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def _sink(self, value: ast.expr | None) -> bool:
        return isinstance(value, ast.Call) and self.resolve(value.func) in SAFE_SINKS

    def visit_Assign(self, node: ast.Assign) -> None:
        if self._sink(node.value):
            self.sinks[-1].update(t.id for t in node.targets if isinstance(t, ast.Name))
        self.generic_visit(node)

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            if self._sink(item.context_expr) and isinstance(item.optional_vars, ast.Name):
                self.sinks[-1].add(item.optional_vars.id)
        self.generic_visit(node)

    visit_With = _with
    visit_AsyncWith = _with

    def into_sink(self, arg: ast.expr | None) -> bool:
        return isinstance(arg, ast.Name) and arg.id in self.sinks[-1]

    # -- calls ---------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        kind = self.kind(node)
        if kind:
            self.found.append((node.lineno, node.end_lineno or node.lineno, kind))
        self.generic_visit(node)

    def kind(self, node: ast.Call) -> str:
        """What write the call is ("" for none)."""
        name = self.resolve(node.func)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        first = node.args[0] if node.args else None
        if name in WRITING_FUNCTIONS:
            if name == "shutil.copyfileobj" and self.into_sink(_arg(node, 1, "fdst")):
                return ""
            return name
        if name == "os.open":
            return "" if _reads_only(_arg(node, 1, "flags")) else "os.open"
        if name == "tempfile.NamedTemporaryFile":
            delete = _arg(node, 99, "delete")
            keeps = delete is not None and not (
                isinstance(delete, ast.Constant) and delete.value is True
            )
            return "tempfile.NamedTemporaryFile(delete=False)" if keeps else ""
        if name in OPENERS:
            if name in ("zipfile.ZipFile", "tarfile.TarFile") and self.into_sink(first):
                return ""
            default = "r" if name != "tarfile.TarFile" else "r"
            return name if _writes(_arg(node, OPENERS[name], "mode"), default) else ""
        if method == "open" and name not in OPENERS and name not in READERS:
            if any(kw.arg not in OPEN_KEYWORDS for kw in node.keywords):
                return ""
            # Path.open(mode) has the mode first; ZipFile.open(name, mode) a member name
            mode = _arg(node, 99, "mode")
            if mode is None and first is not None:
                is_member = isinstance(first, ast.Constant) and not MODE.match(str(first.value))
                mode = _arg(node, 1, "mode") if is_member else first
            return ".open" if _writes(mode, "r") else ""
        if method == "touch" and any(not isinstance(a, ast.Constant) for a in node.args):
            return ""  # Path.touch(mode, exist_ok): numbers, never a list of ids
        if method in WRITING_METHODS and not name.startswith("os."):
            return f".{method}"
        if method == "replace" and _path_replace(node):
            return ".replace"
        if method == "backup" and first is not None:
            return ".backup"  # sqlite3.Connection.backup(target)
        if method == "save" and first is not None and not self.into_sink(first):
            return ".save"  # openpyxl, PIL: a workbook or an image saved to a path
        return ""


def _arg(node: ast.Call, position: int, keyword: str) -> ast.expr | None:
    for kw in node.keywords:
        if kw.arg == keyword:
            return kw.value
    return node.args[position] if len(node.args) > position else None


def _writes(mode: ast.expr | None, default: str) -> bool:
    """Whether a mode asks to write: a mode it cannot read counts as a write."""
    if mode is None:
        return any(c in default for c in "wax+")
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return any(c in mode.value for c in "wax+")
    return True


def _reads_only(flags: ast.expr | None) -> bool:
    """Whether ``os.open`` flags are all read flags (``os.O_RDONLY | os.O_DIRECTORY``)."""
    if flags is None:
        return False
    if isinstance(flags, ast.BinOp) and isinstance(flags.op, ast.BitOr):
        return _reads_only(flags.left) and _reads_only(flags.right)
    if isinstance(flags, ast.Attribute):
        return flags.attr in READ_FLAGS
    if isinstance(flags, ast.Call) and _dotted(flags.func) == "getattr" and len(flags.args) > 1:
        flag = flags.args[1]
        return isinstance(flag, ast.Constant) and flag.value in READ_FLAGS
    return False


def _path_replace(node: ast.Call) -> bool:
    """``Path.replace(target)`` takes one positional argument and no keyword; the other
    ``.replace`` (str, bytes, datetime, dataclasses) take two, or keywords, or a literal."""
    if len(node.args) != 1 or node.keywords:
        return False
    return not isinstance(node.args[0], ast.Constant)


def bypasses(path: Path) -> list[tuple[int, str]]:
    """(line, call) of every write in ``path`` that does not go through the helper and
    carries no ``# not-durable:`` marker with its reason."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    scanner = _Scanner()
    scanner.visit(ast.parse(source))
    found = []
    for first, last, kind in scanner.found:
        if not any(MARKER.search(lines[n - 1]) for n in range(first, last + 1)):
            found.append((first, kind))
    return sorted(found)


def test_no_write_bypasses_the_durable_helper() -> None:
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == HELPER:
                continue
            offenders += [f"{rel}:{line}: {call}" for line, call in bypasses(path)]
    assert not offenders, (
        "writes that bypass exam_common.durable (use write_atomic / atomic_writer / "
        "ensure_dir, or mark the line `# not-durable: <why it need not survive a power "
        "cut>`):\n" + "\n".join(offenders)
    )


def test_the_scanner_sees_each_kind_of_bypass(tmp_path: Path) -> None:
    cases = [
        ("Path('a').write_bytes(b'')", True),
        ("Path('a').write_text('')", True),
        ("open('a', 'wb')", True),
        ("open('a')", False),
        ("open('a', 'rb')", False),
        ("open('a', mode)", True),  # a mode it cannot read is a write
        ("open('a', mode='a')", True),
        ("Path('a').open('w')", True),
        ("Path('a').open(mode)", True),
        ("Path('a').open()", False),
        ("zf.open('member.json')", False),
        ("zf.open('member.json', 'w')", True),
        ("os.replace('a', 'b')", True),
        ("os.rename('a', 'b')", True),
        ("os.link('a', 'b')", True),
        ("os.open('a', os.O_WRONLY | os.O_CREAT)", True),
        ("os.open('a', os.O_RDWR)", True),
        ("os.open('a', flags)", True),
        ("os.open('d', os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))", False),
        ("os.fdopen(fd, 'wb')", True),
        ("os.fdopen(fd, 'w+b')", True),
        ("os.fdopen(fd)", False),
        ("io.open('a', 'w')", True),
        ("gzip.open('a.gz', 'wb')", True),
        ("gzip.open('a.gz')", False),
        ("bz2.open('a.bz2', 'wt')", True),
        ("lzma.open('a.xz', 'w')", True),
        ("tempfile.NamedTemporaryFile(delete=False)", True),
        ("tempfile.NamedTemporaryFile()", False),
        ("tempfile.mkstemp()", True),
        ("shutil.copy('a', 'b')", True),
        ("shutil.copytree('a', 'b')", True),
        ("shutil.copyfileobj(src, dst)", True),
        ("shutil.move('a', 'b')", True),
        ("copy('a', 'b')", True),  # from shutil import copy
        ("replace('a', 'b')", True),  # from os import replace
        ("cp('a', 'b')", True),  # from shutil import copyfile as cp
        ("zipfile.ZipFile('a.zip', 'w')", True),
        ("zipfile.ZipFile('a.zip')", False),
        ("tarfile.open('a.tar', 'w:gz')", True),
        ("Path('d').mkdir()", True),
        ("Path('a').touch()", True),
        ("Path('a').touch(0o600)", True),
        ("hub.touch(attempt_ids)", False),
        ("vault.open(sealed, sitting_code=code)", False),
        ("Image.open(io.BytesIO(data))", False),  # from PIL import Image
        ("Path('a').rename('b')", True),
        ("Path('a').replace(target)", True),
        ("Path('a').symlink_to('b')", True),
        ("conn.backup(target)", True),  # sqlite3.Connection.backup
        ("'x'.replace('a', 'b')", False),
        ("when.replace(tzinfo=utc)", False),
        ("wb.save('x.xlsx')", True),
        ("wb.save(path)", True),
        ("open('a', 'wb')  # not-durable: a log nobody reads back after a cut", False),
        ("open('a', 'wb')  # not-durable: log", True),  # a marker needs its reason
    ]
    sample = tmp_path / "sample.py"
    header = (
        "import io, os, shutil, zipfile, gzip, bz2, lzma, tarfile, tempfile\n"
        "from pathlib import Path\n"
        "from shutil import copy, copyfile as cp\n"
        "from os import replace\n"
        "from PIL import Image\n"
    )
    sample.write_text(header + "".join(f"{code}\n" for code, _ in cases))
    offset = header.count("\n") + 1
    seen = {line - offset for line, _ in bypasses(sample)}
    wrong = [
        f"{code}: {'missed' if writes else 'not a write'}"
        for i, (code, writes) in enumerate(cases)
        if (i in seen) != writes
    ]
    assert not wrong, wrong


def test_writes_into_the_helpers_file_or_memory_are_not_bypasses(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import io, shutil, zipfile\n"
        "from exam_common.durable import atomic_writer\n"
        "def a(p, wb, src):\n"
        "    with atomic_writer(p) as f:\n"
        "        wb.save(f)\n"  # 5
        "        zipfile.ZipFile(f, 'w')\n"  # 6
        "        shutil.copyfileobj(src, f)\n"  # 7
        "    buf = io.BytesIO()\n"
        "    wb.save(buf)\n"  # 9
        "def b(wb, f):\n"
        "    wb.save(f)\n"  # 11: another function's f is not the helper's
    )
    assert bypasses(sample) == [(11, ".save")]
