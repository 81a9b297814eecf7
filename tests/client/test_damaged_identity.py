"""A terminal never runs on a damaged key: an empty, cut-short or unreadable
``terminal.key``, ``enrolment.json`` or ``ca.pem`` stops ``exam-client run`` in one line
naming the file and saying to enrol again (a terminal's files come from its enrolment,
never from a sealed copy), with no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_client.identity import CA_FILE, ENROLMENT_FILE, KEY_FILE, TerminalIdentity, load, save
from exam_common.durable import DamagedSecret
from exam_server.tls import create_ca, tls_files


@pytest.fixture
def enrolled(tmp_path: Path) -> Path:
    """A terminal's data folder as `exam-client enrol` leaves it (https: with ca.pem)."""
    folder = tmp_path / "terminal"
    folder.mkdir()
    create_ca(tls_files(tmp_path / "centre"), "4101001", datetime.now(UTC))
    (folder / CA_FILE).write_bytes(tls_files(tmp_path / "centre").ca_cert.read_bytes())
    identity = TerminalIdentity(
        terminal_id="T-0001",
        key=Ed25519PrivateKey.generate(),
        server="https://127.0.0.1:5000",
        seat="001-01",
        centre="4101001",
        central_key=Ed25519PrivateKey.generate().public_key(),
        ca_path=folder / CA_FILE,
    )
    save(identity, folder)
    assert load(folder) is not None
    return folder


def _json_without(field: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        doc = json.loads(path.read_text())
        del doc[field]
        path.write_text(json.dumps(doc))

    return damage


DAMAGES: dict[str, Callable[[Path], object]] = {
    "empty": lambda path: path.write_bytes(b""),
    "cut short": lambda path: path.write_bytes(path.read_bytes()[:40]),
    "unreadable": lambda path: (path.unlink(), path.mkdir()),  # root reads any mode
}


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("name", [KEY_FILE, ENROLMENT_FILE, CA_FILE])
def test_a_damaged_identity_file_is_refused_saying_to_enrol_again(
    enrolled: Path, name: str, damage: str
) -> None:
    DAMAGES[damage](enrolled / name)
    with pytest.raises(DamagedSecret) as caught:
        load(enrolled)
    message = str(caught.value)
    assert str(enrolled / name) in message, message
    assert "exam-client enrol --server" in message and "sealed copy" not in message, message
    assert "\n" not in message


@pytest.mark.parametrize("field", ["central_public_key", "seat", "terminal_id"])
def test_an_enrolment_missing_a_field_is_refused(enrolled: Path, field: str) -> None:
    _json_without(field)(enrolled / ENROLMENT_FILE)
    with pytest.raises(DamagedSecret, match=f"{field} missing.*exam-client enrol"):
        load(enrolled)


def test_exam_client_run_refuses_a_damaged_enrolment_in_one_line(enrolled: Path) -> None:
    """What the terminal printed before: ``Error: Expecting value: line 1 column 1``."""
    (enrolled / ENROLMENT_FILE).write_bytes(b"")
    proc = subprocess.run(
        [sys.executable, "-m", "exam_client.cli", "run", "--data-dir", str(enrolled)]
        + ["--ui-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    [line] = [x for x in proc.stderr.splitlines() if x.strip()]
    assert str(enrolled / ENROLMENT_FILE) in line and "exam-client enrol" in line, line


def test_the_test_terminal_never_enrols_again_silently(tmp_path: Path) -> None:
    """The harness's terminal (``ClientProcess``) enrols again at a start that finds its
    enrolment gone, unless told not to (``reenrol=False``, the power-cut test): there a
    cut that lost ``enrolment.json`` fails the test instead of being hidden."""
    from tests.client.conftest import ClientProcess

    terminal = ClientProcess("http://127.0.0.1:9", "001-01", tmp_path, reenrol=False)
    terminal.enrolled = True  # an earlier start enrolled it; the files are gone since
    with pytest.raises(AssertionError, match="enrolment is gone"):
        terminal.enrol()
