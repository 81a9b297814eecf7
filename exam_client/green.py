"""Greenlet terminals for the simulator (``exam-client simulate --green``).

This module imports nothing else of the client on purpose: a green simulator process
must monkey-patch before the agent, python-socketio and engineio are imported, or the
locks those modules create at import time stay OS locks, and a greenlet blocking on one
stops every terminal of the process (measured: the whole simulator hung at its end).
"""

from __future__ import annotations


def patch() -> None:
    """Pool initializer of a green run: make this process's threads greenlets."""
    from gevent import monkey

    monkey.patch_all()
