"""Under gevent, :meth:`Database.transact` runs the unit of work on a native thread: the
event loop (every terminal's socket) keeps running while SQLite works.

gevent's monkey-patching cannot be undone inside the test process, so each case runs in a
fresh patched interpreter, as the server does (``exam-server run`` patches first)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import drop_pg_database, make_pg_database
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


PG_SCRIPT = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()
    import json, sys, time
    from sqlalchemy import text
    from exam_server.db import Database

    from tests import loop_ticker

    db = Database(sys.argv[1])
    ticks = loop_ticker.start()

    def driver(session):
        return type(session.connection().connection.dbapi_connection).__name__

    def slow(session):  # 0.3 s in the database server, none of it in this process
        return session.scalar(text("SELECT count(*) FROM pg_sleep(0.3)")), driver(session)

    t0 = time.perf_counter()
    n, native_driver = db.transact(slow)
    t1 = time.perf_counter()
    with db.read() as s:
        greenlet_driver = driver(s)
    try:
        db.transact(lambda s: s.execute(text("SELECT nothing")))
    except Exception as exc:
        raised = type(exc).__name__
    db.dispose()
    print(json.dumps({
        "n": n, "s": t1 - t0, "ticks": len([t for t in ticks if t0 <= t <= t1]),
        "native": native_driver, "greenlet": greenlet_driver, "raised": raised,
    }))
    """
)


@pytest.mark.postgres
def test_native_units_wait_for_postgres_in_c_and_the_loop_runs() -> None:
    """On PostgreSQL the native threads' connections wait for the server in C (the GIL
    released), not through gevent's poll and a hub per thread; connections used from
    greenlets keep psycopg's cooperative wait."""
    url = make_pg_database()
    try:
        out = run_patched(PG_SCRIPT, url)
    finally:
        drop_pg_database(url)
    assert out["n"] == 1
    assert out["native"] == "BlockingWaitConnection", out
    assert out["greenlet"] == "Connection", out
    # The loop ran all through the unit's wait: at least a quarter of the 5 ms ticks.
    assert out["ticks"] >= max(3, out["s"] / 0.005 / 4), out
    assert out["raised"] == "ProgrammingError", out
