"""The baseline: a bare python-socketio server on the same transport, doing no work.

It speaks just enough of the ``/candidate`` protocol for the same load generator
(``exam-client simulate``): hello, preload, login (a real encrypted paper whose key is
already there, so the terminal opens it at once), status, save (acknowledged at once, no
database), submit. The benchmarks divide our figures by this server's, measured in the
same run, so the ratio says how close the centre server comes to what the stack can do.

    python bench/echo_server.py --port 5999 [--async-mode threading|gevent]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any


def build_app(async_mode: str) -> Any:
    import socketio

    from exam_common import protocol as p
    from question_bank.assembly import assemble
    from question_bank.package import derive_sitting_key, new_secret, seal_sitting, unwrap_data_key
    from question_bank.sample import load_sample_bank, sample_blueprint

    # One real paper, sealed as central seals it; its data key unwrapped once, up front.
    assembly = assemble(
        load_sample_bank(), sample_blueprint("ZYDD", 4), "echo", 1, sitting_code="ECHO"
    )
    release = new_secret()
    sealed = seal_sitting(assembly.papers, release, new_secret()).papers[0]
    data_key = unwrap_data_key(sealed.wrapped_key, derive_sitting_key(release, "ECHO"))
    paper_b64 = base64.b64encode(sealed.ciphertext).decode()
    key_b64 = base64.b64encode(data_key).decode()
    items = tuple(
        p.ItemRef(item_id=i.item_id, type=i.type.value, points=str(i.points))
        for i in sealed.public_items
    )
    started = datetime.now(UTC) - timedelta(seconds=1)
    sitting = p.SittingInfo(
        sitting_id=1,
        subject="职业道德",
        sitting_code="ECHO",
        start=started,
        end=started + timedelta(hours=3),
        submit_opens=started,
        deadline=started + timedelta(hours=3),
        time_left_s=10800.0,
        paused=False,
    )
    candidate = p.CandidateInfo(name="基准", ticket="000000000000", trade="电工", level="4")

    sio = socketio.Server(async_mode=async_mode, ping_interval=10, ping_timeout=10)
    counter = itertools.count(1)
    lock = threading.Lock()
    by_sid: dict[str, int] = {}

    def now() -> datetime:
        return datetime.now(UTC)

    def on(event: str):  # type: ignore[no-untyped-def]
        return sio.on(event, namespace=p.NAMESPACE)

    @on("hello")
    def hello(sid, data):  # type: ignore[no-untyped-def]
        return p.dump(p.HelloOk(protocol=p.PROTOCOL_VERSION, server_time=now()))

    @on("heartbeat")
    def heartbeat(sid, data):  # type: ignore[no-untyped-def]
        return p.dump(p.HelloOk(protocol=p.PROTOCOL_VERSION, server_time=now()))

    @on("preload")
    def preload(sid, data):  # type: ignore[no-untyped-def]
        return {"ok": True, "seat": "", "papers": []}

    @on("login")
    def login(sid, data):  # type: ignore[no-untyped-def]
        with lock:
            attempt = by_sid.setdefault(sid, next(counter))
        return p.dump(
            p.LoginOk(
                attempt_id=attempt,
                state="in_progress",
                server_time=now(),
                candidate=candidate.model_copy(update={"ticket": data.get("ticket", "")}),
                sitting=sitting,
                items=items,
                answers={},
                last_seq=0,
                paper=paper_b64,
                paper_key=key_b64,
            )
        )

    @on("status")
    def status(sid, data):  # type: ignore[no-untyped-def]
        return p.dump(
            p.StatusOk(
                attempt_id=by_sid.get(sid, 1),
                state="in_progress",
                server_time=now(),
                sitting=sitting,
            )
        )

    @on("save")
    def save(sid, data):  # type: ignore[no-untyped-def]
        return p.dump(p.SaveOk(seq=int(data.get("seq", 0)), duplicate=False, server_time=now()))

    @on("submit")
    def submit(sid, data):  # type: ignore[no-untyped-def]
        return p.dump(
            p.SubmitOk(
                submitted_at=now(), digest="0" * 64, signature="0" * 128, receipt="AAAA-AAAA"
            )
        )

    @on("photo")
    def photo(sid, data):  # type: ignore[no-untyped-def]
        return p.dump(p.ErrorReply(code="no_photo", message="no photo"))

    return socketio.WSGIApp(sio)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=5999)
    ap.add_argument("--async-mode", default="threading")
    args = ap.parse_args()
    if args.async_mode == "gevent":
        from gevent import monkey

        monkey.patch_all()
        from gevent import pywsgi

        pywsgi.WSGIServer(("127.0.0.1", args.port), build_app("gevent"), log=None).serve_forever()
    else:
        # The same server the centre runs in threading mode: Werkzeug, one thread per link.
        from werkzeug.serving import make_server

        print(f"echo baseline on {args.port}", flush=True)
        make_server("127.0.0.1", args.port, build_app("threading"), threaded=True).serve_forever()


if __name__ == "__main__":
    main()
