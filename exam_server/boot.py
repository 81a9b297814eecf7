"""Before anything else is imported: gevent's monkey-patching for a serving process.

gevent must patch the standard library before any module imports ``ssl`` (SQLAlchemy
does, through asyncio; Flask and requests do, through http.client). Patched late, an
``ssl.SSLContext`` captured before the patch mixes with gevent's sockets: the server's
outgoing HTTPS to central could recurse or block the loop. ``exam_server.cli`` calls
:func:`patch_if_serving` as its very first statement, so ``exam-server run`` and
``exam-server demo`` in gevent mode are patched before the rest of the program loads.
This module imports nothing but the standard library's ``os``.
"""

from __future__ import annotations

import os

#: the commands that serve sockets in this process (``--workers N`` only supervises)
SERVING = ("run", "demo")


def serving_command(argv: list[str]) -> bool:
    """Whether ``argv`` (an ``exam-server`` command line) serves in this process."""
    args = argv[1:]
    command = next((a for a in args if not a.startswith("-")), None)
    if command not in SERVING:
        return False
    for i, arg in enumerate(args):
        value = None
        if arg == "--workers" and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--workers="):
            value = arg.split("=", 1)[1]
        if value is not None and value.isdigit() and int(value) > 1:
            return False
    return True


def patch_if_serving(argv: list[str]) -> bool:
    """Monkey-patch with gevent when ``argv`` serves in gevent mode; True if it did."""
    if os.environ.get("EXAM_ASYNC_MODE", "gevent") != "gevent" or not serving_command(argv):
        return False
    from gevent import monkey

    monkey.patch_all()
    return True
