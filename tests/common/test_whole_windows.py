"""A long-polling terminal's whole send window fits in one Engine.IO payload, both ways.

python-engineio keeps its packets-per-payload limit on the ``Payload`` class, for the whole
process, at 16 by default: more were dropped ("Too many packets in payload") while the
client still showed as connected. The server's factory and the agent's constructor each
raise it; each test puts the library's default back first, so that neither passes on what
another test (or the other end, in the same process) did before it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engineio import packet
from engineio.payload import Payload

from exam_common import protocol as p


def window_payload(n: int) -> bytes | str:
    """A polling request body holding ``n`` saves, as the client encodes it."""
    save = f'42{p.NAMESPACE},7["save",{{"attempt_id":1,"seq":1,"item_id":"Q001","response":["A"]}}]'
    return Payload(packets=[packet.Packet(packet.MESSAGE, data=save) for _ in range(n)]).encode()


@pytest.fixture
def library_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Payload, "max_decode_packets", 16)
    with pytest.raises(ValueError, match="Too many packets"):
        Payload(encoded_payload=window_payload(p.SEND_WINDOW))


def test_the_server_accepts_a_whole_window_in_one_payload(
    library_default: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exam_server import create_app

    for var in ("EXAM_DATABASE_URL", "EXAM_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    create_app({"DATA_DIR": str(tmp_path), "TESTING": True})
    assert Payload.max_decode_packets >= p.SEND_WINDOW
    assert len(Payload(encoded_payload=window_payload(p.SEND_WINDOW)).packets) == p.SEND_WINDOW


def test_the_agent_accepts_a_whole_window_of_replies_in_one_payload(library_default: None) -> None:
    from exam_client.agent import Agent, AgentConfig
    from exam_client.journal import MemoryJournal

    Agent(AgentConfig(server="http://127.0.0.1:1", seat="01-01"), MemoryJournal("T-window"))
    assert Payload.max_decode_packets >= p.SEND_WINDOW
    assert len(Payload(encoded_payload=window_payload(p.SEND_WINDOW)).packets) == p.SEND_WINDOW
