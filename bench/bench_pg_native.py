"""PostgreSQL units of work on the gevent hub's native threads: how the driver waits.

Under gevent the answer writer's batches and the end-of-sitting sweep run on native
threads (``Database.transact``). psycopg sees gevent's patching and then waits for the
server through gevent's ``poll`` in every thread, a hub of the thread's own and a turn of
it per round trip; the native threads' engine makes connections that wait in C instead
(the GIL released). Measured: CONCURRENCY greenlets each running UNITS units of three
``SELECT 1`` one after the other, in a gevent-patched process, three ways:

- ``greenlet``: the unit in the greenlet (cooperative wait): the baseline;
- ``native, gevent poll``: on a native thread, psycopg's default under gevent;
- ``native, blocking wait``: on a native thread, the engine ``Database`` uses.

    .venv/bin/python bench/bench_pg_native.py \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from common import machine, print_table  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from exam_server.db import Database, make_engine  # noqa: E402


def unit(session: Session) -> list[Any]:
    return [session.scalar(text("SELECT 1")) for _ in range(3)]


def timed(run: Any, concurrency: int, units: int) -> float:
    """Milliseconds per unit, all greenlets together."""
    run()  # connections made before measuring
    t0 = time.perf_counter()
    workers = [gevent.spawn(lambda: [run() for _ in range(units)]) for _ in range(concurrency)]
    gevent.joinall(workers, raise_error=True)
    return (time.perf_counter() - t0) * 1000 / (concurrency * units)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--database", required=True, help="a PostgreSQL URL (only SELECT 1 is run)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--units", type=int, default=40)
    args = ap.parse_args()
    print(f"machine: {machine()}")
    db = Database(args.database)
    plain = sessionmaker(make_engine(args.database, pool_size=2))
    pool = gevent.get_hub().threadpool

    def greenlet() -> Any:
        with db.read() as s:
            return unit(s)

    def native_poll() -> Any:
        return pool.apply(Database._unit, (plain, unit))

    rows = []
    for n in args.concurrency:
        base = timed(greenlet, n, args.units)
        poll = timed(native_poll, n, args.units)
        blocking = timed(lambda: db.transact(unit), n, args.units)
        rows.append(
            {
                "concurrent": n,
                "greenlet ms/unit": round(base, 2),
                "native, gevent poll ms/unit": round(poll, 2),
                "native, blocking wait ms/unit": round(blocking, 2),
                "ratio poll": round(poll / base, 2),
                "ratio blocking": round(blocking / base, 2),
            }
        )
    db.dispose()
    print_table(f"units of 3 queries, {args.units} per greenlet", rows)


if __name__ == "__main__":
    main()
