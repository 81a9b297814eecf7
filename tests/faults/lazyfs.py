"""A power cut for one directory, with LazyFS (``../shared/tools/lazyfs/``).

LazyFS is a FUSE file system with a page cache of its own: what a process writes stays
there until it is fsynced, and ``lazyfs::clear-cache`` drops everything unsynced, as a
power cut drops the operating system's page cache. :class:`PowerDomain` is one machine's
disk on LazyFS: :meth:`PowerDomain.cut` freezes the machine's processes, drops the
unsynced writes, kills the processes and "reboots" (unmounts and mounts again), so what
the directory holds afterwards is what a disk would hold after the cut.

The binary: ``EXAM_LAZYFS`` or ``/tmp/lazyfs-bin/lazyfs``; ``.ci/run`` builds it there
with ``../shared/tools/lazyfs/build.sh``. Without it (or without ``/dev/fuse``) the tests
skip outside CI with a message saying how to build it, and fail under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from tests.conftest import require

LAZYFS = Path(os.environ.get("EXAM_LAZYFS", "/tmp/lazyfs-bin/lazyfs"))

CONFIG = """[faults]
fifo_path="{fifo}"
[cache]
apply_eviction=false
[cache.simple]
custom_size="0.5gb"
blocks_per_page=1
[filesystem]
log_all_operations=false
logfile=""
"""


def require_lazyfs() -> None:
    require(
        LAZYFS.exists() and Path("/dev/fuse").exists() and shutil.which("fusermount3") is not None,
        f"LazyFS ({LAZYFS}) with /dev/fuse",
        "build it with ../shared/tools/lazyfs/build.sh /tmp/lazyfs-bin (needs /dev/fuse and "
        "root; .ci/run does it), or point EXAM_LAZYFS at the binary",
    )


class PowerDomain:
    """One machine's disk (``self.mnt``) whose power can be cut."""

    def __init__(self, base: Path, name: str) -> None:
        self.name = name
        self.base = base / f"lazyfs-{name}"
        self.root = self.base / "root"  # what the disk holds
        self.mnt = self.base / "mnt"  # what the machine's processes see
        self.fifo = self.base / "faults.fifo"
        # LazyFS takes a config path containing "-o" (as in /tmp/pytest-of-root/...) for
        # an option and falls back to its default: keep it in a folder of our own naming
        self.config = Path(tempfile.mkdtemp(prefix="lazyfs_")) / "lazyfs.toml"
        self.log = self.base / "lazyfs.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.cuts = 0

    def mount(self) -> PowerDomain:
        for d in (self.root, self.mnt):
            d.mkdir(parents=True, exist_ok=True)
        self.config.write_text(CONFIG.format(fifo=self.fifo))
        log = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [str(LAZYFS), str(self.mnt), "--config-path", str(self.config)]
            + ["-o", "allow_other", "-o", "modules=subdir", "-o", f"subdir={self.root}", "-f"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 20
        while not (os.path.ismount(self.mnt) and self.fifo.exists()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"LazyFS did not mount {self.mnt}:\n{self.log.read_text()}")
            time.sleep(0.05)
        return self

    def _clear_cache(self) -> None:
        marker = self.log.read_text(errors="replace").count("cache is cleared")
        with open(self.fifo, "w") as fifo:
            fifo.write("lazyfs::clear-cache\n")
        deadline = time.monotonic() + 20
        while self.log.read_text(errors="replace").count("cache is cleared") <= marker:
            if time.monotonic() > deadline:
                raise RuntimeError(f"LazyFS did not clear its cache:\n{self.log.read_text()}")
            time.sleep(0.02)

    def freeze(self, pids: Iterable[int]) -> None:
        """Stop ``pids`` where they are (what a cut now would leave can be looked at)."""
        for pid in pids:
            if pid:
                _signal(pid, signal.SIGSTOP)

    def thaw(self, pids: Iterable[int]) -> None:
        """Let frozen ``pids`` run on (not the moment to cut after all)."""
        for pid in pids:
            if pid:
                _signal(pid, signal.SIGCONT)

    def cut(self, pids: Iterable[int]) -> None:
        """The power goes: ``pids`` (process groups where a process leads one) freeze at
        once, the unsynced writes are gone, the processes die, the machine comes back
        with the same disk."""
        pids = [p for p in pids if p]
        for pid in pids:
            _signal(pid, signal.SIGSTOP)
        self._clear_cache()
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.unmount()
        self.mount()
        self.cuts += 1

    def unmount(self) -> None:
        deadline = time.monotonic() + 10
        while os.path.ismount(self.mnt):
            done = subprocess.run(["fusermount3", "-u", str(self.mnt)], capture_output=True)
            if done.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.mnt} is busy and cannot be unmounted: {done.stderr.decode()}; "
                    f"open on it: {self.users()}"
                )
            time.sleep(0.1)
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None

    def close(self) -> None:
        """Unmount at the end of a test, whatever state it left (a lazy unmount if a
        process still holds a file there), so the next test starts clean."""
        try:
            self.unmount()
        except RuntimeError:
            subprocess.run(["fusermount3", "-uz", str(self.mnt)], capture_output=True)
            if self.proc is not None:
                self.proc.kill()
                self.proc.wait(10)
                self.proc = None

    def users(self) -> list[str]:
        """``pid: path`` of every file a process holds open under the mount point."""
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        target = os.readlink(f"/proc/{pid}/fd/{fd}")
                        if target.startswith(str(self.mnt)):
                            found.append(f"{pid} ({_cmdline(pid)}): {target}")
        return found


def _cmdline(pid: str) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    return "?"


def _signal(pid: int, sig: int) -> None:
    """Signal the process group ``pid`` leads, or the process alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass
