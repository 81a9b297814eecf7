"""question_bank is pure: no web framework, no server, client, seating or central."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("flask", "flask_socketio", "exam_server", "exam_client", "seating", "central")


def test_question_bank_imports_nothing_it_must_not() -> None:
    code = (
        "import sys, pkgutil, importlib, question_bank\n"
        "for m in pkgutil.walk_packages(question_bank.__path__, 'question_bank.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
