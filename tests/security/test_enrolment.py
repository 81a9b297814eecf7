"""Terminals are whoever says so (issue 17): a terminal must be enrolled to a seat with a
one-time code, prove its key at every ``hello``, and gets its seat from the enrolment."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_client.identity import EnrolError, TerminalIdentity, enrol
from exam_common.pki import enrol_proof_message
from exam_server.sittings import service
from exam_server.sittings.models import Attempt
from exam_server.terminals import service as terminals
from tests.live import Terminal
from tests.security.conftest import Centre

pytestmark = pytest.mark.slow


def codes(c: Centre, *seats: str, valid: timedelta = timedelta(hours=1)) -> list[str]:
    with c.db.write() as session:
        issued = terminals.issue_codes(
            session,
            datetime.now(UTC),
            terminals.seats_for(session, labels=list(seats)),
            by="tests",
            valid=valid,
        )
    return [i.code for i in issued]


def test_a_terminal_without_enrolment_is_refused(centre: Callable[..., Centre]) -> None:
    """An unenrolled device gets nothing: no hello, no login, no paper; a device that
    copies an enrolled terminal's id but not its key fails the proof; a hello without the
    connection's challenge (a replayed proof) is refused too."""
    c = centre(tls=False)
    stranger = Terminal(c.server.url, terminal_id="T-stranger", seat=c.seats[0], enrolled=False)
    try:
        refused = stranger.hello()
        assert refused["ok"] is False and refused["code"] == "not_enrolled"
        login = stranger.login(*c.candidate(0))
        assert login["ok"] is False and login["code"] == "not_enrolled"
        preload = stranger.call("preload", {})
        assert preload["ok"] is False
    finally:
        stranger.close()
    real = c.server.enrol(c.seats[0], terminal_id="T-real")
    impostor_identity = TerminalIdentity(
        "T-real", Ed25519PrivateKey.generate(), "", c.seats[0], "001", real.central_key, None
    )
    impostor = Terminal(
        c.server.url, terminal_id="T-real", seat=c.seats[0], identity=impostor_identity
    )
    try:
        assert impostor.hello()["code"] == "bad_proof"
        assert impostor.login(*c.candidate(0))["code"] == "not_enrolled"
    finally:
        impostor.close()
    replay = Terminal(c.server.url, terminal_id="T-real", seat=c.seats[0], identity=real)
    try:
        # A proof made for another connection's challenge does not open this one.
        proof = real.prove(b"\x00" * 32)
        reply = replay.call(
            "hello", {"protocol": 1, "client": "x", "terminal_id": "T-real", "proof": proof}
        )
        assert reply["ok"] is False and reply["code"] == "bad_proof"
        assert replay.hello()["ok"]  # with this connection's challenge: in
    finally:
        replay.close()


def test_the_seat_comes_from_the_enrolment_and_a_seat_change_needs_the_invigilator(
    centre: Callable[..., Centre],
) -> None:
    """A terminal enrolled at one seat that says it is at another is still at its own:
    it cannot take the other seat's candidate. A spare seat's terminal takes a candidate
    only once the invigilator authorised the move (the seat change keeps working)."""
    c = centre(tls=False)
    liar_id = c.server.enrol(c.seats[1], terminal_id="T-liar")
    liar = Terminal(c.server.url, terminal_id="T-liar", seat=c.seats[0], identity=liar_id)
    spare = Terminal(c.server.url, terminal_id="T-spare", seat=c.spare[0])
    try:
        hello = liar.hello()
        assert hello["ok"] and hello["seat"] == c.seats[1]  # its word for 0 is ignored
        assert liar.login(*c.candidate(0))["code"] == "wrong_seat"
        assert spare.hello()["seat"] == c.spare[0]
        assert spare.login(*c.candidate(0))["code"] == "wrong_seat"
        with c.db.write() as session:
            attempt = session.get(Attempt, c.attempt_ids[0])
            assert attempt is not None
            service.authorise_relogin(
                session, datetime.now(UTC), attempt, reason="终端故障", by="inv"
            )
        moved = spare.login(*c.candidate(0))
        assert moved["ok"], moved
    finally:
        liar.close()
        spare.close()
    with c.db.read() as session:
        attempt = session.get(Attempt, c.attempt_ids[0])
        assert attempt is not None and attempt.seat.label == c.spare[0]
        assert attempt.terminal_id == "T-spare"


def test_enrolment_codes_are_one_time_expire_and_are_throttled(
    centre: Callable[..., Centre], tmp_path: Path
) -> None:
    """Over HTTP, as ``exam-client enrol`` does it: a code works once; an expired code
    is refused; a request whose proof does not match its key is refused; a source that
    guesses codes must wait; a new enrolment of a seat revokes the old terminal."""
    c = centre(tls=False)
    first, second = codes(c, c.seats[0], c.seats[1])
    a, _ = enrol(c.server.url, first, terminal_id="T-a")
    assert a.seat == c.seats[0]
    with pytest.raises(EnrolError) as used:
        enrol(c.server.url, first, terminal_id="T-b")
    assert used.value.code == "enrol_code_used"
    (stale,) = codes(c, c.seats[2], valid=timedelta(seconds=-1))
    with pytest.raises(EnrolError) as expired:
        enrol(c.server.url, stale, terminal_id="T-c")
    assert expired.value.code == "enrol_code_expired"
    # A proof made with another key than the one sent: refused, the code not spent.
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    body = {
        "code": second,
        "terminal_id": "T-d",
        "public_key": key.public_key().public_bytes_raw().hex(),
        "proof": base64.b64encode(
            other.sign(
                enrol_proof_message(second, "T-d", key.public_key().public_bytes_raw().hex())
            )
        ).decode(),
    }
    resp = requests.post(f"{c.server.url}/enrol", json=body, timeout=10)
    assert resp.status_code == 400 and resp.json()["code"] == "bad_enrolment"
    # Guessing: ten wrong codes from one address (the used and the expired one count), then
    # even a right one must wait.
    for n in range(8):
        with pytest.raises(EnrolError) as wrong:
            enrol(c.server.url, f"ZZZZ-ZZZZ-{n:04d}", terminal_id="T-guess")
        assert wrong.value.code == "enrol_code_invalid"
    with pytest.raises(EnrolError) as waiting:
        enrol(c.server.url, second, terminal_id="T-e")
    assert waiting.value.code == "enrol_throttled"
    # The seat enrolled again (the admin's CLI, another address): the first terminal is out.
    again = c.server.enrol(c.seats[0], terminal_id="T-new")
    old = Terminal(c.server.url, terminal_id="T-a", seat=c.seats[0], identity=a)
    new = Terminal(c.server.url, terminal_id="T-new", seat=c.seats[0], identity=again)
    try:
        assert old.hello()["code"] == "not_enrolled"
        assert new.hello()["ok"]
    finally:
        old.close()
        new.close()
