"""Under gevent, :meth:`Database.transact` runs the unit of work on a native thread: the
event loop (every terminal's socket) keeps running while SQLite works.

gevent's monkey-patching cannot be undone inside the test process, so each case runs in a
fresh patched interpreter, as the server does (``exam-server run`` patches first)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.loop_ticker import run_patched

SCRIPT = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()
    import json, sys, time
    import gevent
    from sqlalchemy import text
    from exam_server.db import Database

    from tests import loop_ticker

    db = Database("sqlite:///" + sys.argv[1])
    ticks = loop_ticker.start()

    def heavy(session):  # about 0.4 s of SQLite's own C code on these machines
        return session.execute(text(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000)"
            " SELECT count(*) FROM c"
        )).scalar()

    out = {}
    for mode in ("transact", "write"):
        t0 = time.perf_counter()
        if mode == "transact":
            n = db.transact(heavy)
        else:
            with db.write() as s:
                n = heavy(s)
        t1 = time.perf_counter()
        out[mode] = {"n": n, "s": t1 - t0, "ticks": len([t for t in ticks if t0 <= t <= t1])}

    with db.write() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))

    def insert_then_fail(session):
        session.execute(text("INSERT INTO t VALUES (1)"))
        raise ValueError("refused")

    try:
        db.transact(insert_then_fail)
    except ValueError as exc:
        out["raised"] = str(exc)
    out["returned"] = db.transact(
        lambda s: (s.execute(text("INSERT INTO t VALUES (2)")), s.scalar(text("SELECT 7")))[1]
    )
    with db.read() as s:
        out["rows"] = [r[0] for r in s.execute(text("SELECT x FROM t ORDER BY x"))]
    db.dispose()
    print(json.dumps(out))
    """
)


def test_transact_under_gevent_leaves_the_loop_running(tmp_path: Path) -> None:
    out = run_patched(SCRIPT, str(tmp_path / "centre.db"))
    assert out["transact"]["n"] == out["write"]["n"] == 3_000_000
    # Control: in the greenlet the same query blocks the loop for its whole length.
    assert out["write"]["ticks"] == 0
    # On a native thread the 5 ms ticker keeps running: at least a quarter of its ticks.
    assert out["transact"]["ticks"] >= max(3, out["transact"]["s"] / 0.005 / 4), out
    # A unit that raises is rolled back and the error reaches the caller; a result returns.
    assert out["raised"] == "refused"
    assert out["returned"] == 7
    assert out["rows"] == [2]
