"""Bad input on the console API gave 500s (issue 17): a number or a list where text is
expected (``AttributeError .strip``), an attempt id of 20 digits (``OverflowError``), and
a 60 MB body read whole. Package references are confined to their package, and so are a
QTI item's pictures through ``qbank import`` (the importer's own tests are in
tests/question_bank)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest

from central.demo import write_demo_package
from exam_server.config import Config
from exam_server.db import Database
from exam_server.migrate import upgrade
from exam_server.packages.cli import import_file
from question_bank.package import load_private_key
from tests.console.conftest import Console, csrf_token, post
from tests.security.test_papers import _rebuild


def test_console_bodies_of_the_wrong_kind_are_400_naming_the_field(console: Console) -> None:
    inv1 = console.login("inv1")
    ids = console.ids
    attempt = f"/console/api/attempts/{ids['attempt1']}"
    room = f"/console/api/sittings/{ids['sitting']}/rooms/{ids['room1']}"
    cases = [
        (f"{attempt}/void", {"reason": 42}, "reason"),
        (f"{attempt}/void", {"reason": ["a", "b"]}, "reason"),
        (f"{attempt}/checkin", {"photo_matches": {"x": 1}}, "photo_matches"),
        (f"{attempt}/checkin", {"note": 7, "photo_matches": True}, "note"),
        (f"{attempt}/extra", {"minutes": 10**30, "reason": "x"}, "minutes"),
        (f"{attempt}/submit", {"reason": "x", "surprise": 1}, "surprise"),
        (f"{room}/broadcast", {"text": 12345}, "text"),
        (f"{room}/pause", {"reason": None}, "reason"),
    ]
    for path, body, field in cases:
        resp = post(inv1, path, body)
        assert resp.status_code == 400, (path, body, resp.status_code, resp.get_data(as_text=True))
        got = resp.get_json()
        assert got["field"] == field and field in got["message"], got
    # A body that is not an object at all.
    token = csrf_token(inv1, "/console/")
    for raw in ("[1, 2]", '"text"', "{not json"):
        resp = inv1.post(
            f"{attempt}/void",
            data=raw,
            content_type="application/json",
            headers={"X-CSRFToken": token},
        )
        assert resp.status_code == 400 and resp.get_json()["field"] == "body", raw


def test_ids_beyond_the_database_are_404_not_500(console: Console) -> None:
    chief = console.login("chief")
    big = "9" * 20
    for path in (
        f"/console/api/attempts/{big}/void",
        f"/console/api/gaps/{big}/accept",
        f"/console/api/locks/{big}/unlock",
        f"/console/api/sittings/{big}/rooms/1/pause",
    ):
        resp = post(chief, path, {"reason": "x"})
        assert resp.status_code == 404 and resp.get_json()["code"] == "not_found", path
    for path in (f"/console/photos/{big}", f"/console/sittings/{big}/rooms/{big}"):
        assert chief.get(path).status_code == 404
    # The live map's socket too: an answer, not an overflow.
    from exam_server.extensions import socketio

    sock = socketio.test_client(console.app, namespace="/proctor", flask_test_client=chief)
    for body in ({"sitting_id": int(big), "room_id": 1}, {"sitting_id": 1, "room_id": [1]}):
        reply = sock.emit("join", body, namespace="/proctor", callback=True)
        assert reply["ok"] is False, reply
    sock.disconnect(namespace="/proctor")


def test_a_huge_body_is_refused_before_it_is_read(console: Console) -> None:
    chief = console.login("chief")
    token = csrf_token(chief, "/console/")
    big = b'{"reason": "' + b"x" * (60 * 1024 * 1024) + b'"}'
    resp = chief.post(
        f"/console/api/attempts/{console.ids['attempt1']}/void",
        input_stream=io.BytesIO(big),
        content_type="application/json",
        headers={"X-CSRFToken": token, "Content-Length": str(len(big))},
    )
    assert resp.status_code == 413 and resp.get_json()["code"] == "too_large"


def test_package_photo_references_stay_in_the_package_and_must_be_images(
    tmp_path: Path,
) -> None:
    """A roster whose photo names a path outside the package, or a part that is not an
    image, is refused (even signed by central) and nothing is written."""
    files = write_demo_package(tmp_path / "central", datetime.now(UTC), quick=True)
    key = load_private_key((tmp_path / "central" / "central.key").read_bytes())
    package = Path(files["package"]).read_bytes()
    cfg = Config.from_mapping(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'centre.db'}",
            "DATA_DIR": str(tmp_path / "centre"),
            "CENTRE_CODE": "0101",
            "CENTRAL_PUBLIC_KEY": files["public_key"],
        }
    )
    db = Database(cfg.DATABASE_URL)
    upgrade(db)
    import zipfile

    z = zipfile.ZipFile(io.BytesIO(package))
    roster = json.loads(z.read("parts/roster.json"))
    with_photo = 0
    bad = tmp_path / "bad.zip"
    for name, replace_photo in (
        ("../../etc/passwd", None),
        ("/etc/passwd", None),
        ("photo-missing.jpg", None),
        ("photo-script.jpg", b"#!/bin/sh\necho not an image\n"),
        ("photo-fake.jpg", b"\xff\xd8\xff" + b"not really a jpeg" * 10),
    ):
        doc = [dict(c) for c in roster]
        doc[with_photo]["photo"] = name
        parts = {"parts/roster.json": json.dumps(doc).encode()}
        if replace_photo is not None:
            parts[f"parts/{name}"] = replace_photo
        bad.write_bytes(_rebuild(package, replace=parts, key=key))
        with pytest.raises(click.ClickException) as refused:
            import_file(cfg, db, bad, by="tests")
        assert "photo" in str(refused.value).lower() or "照片" in str(refused.value), name
    with db.read() as session:
        from sqlalchemy import func, select

        from exam_server.candidates.models import Candidate

        assert session.scalar(select(func.count()).select_from(Candidate)) == 0
    db.dispose()


# --- QTI image references, through `qbank import` -------------------------------------


def _qti_dir(root: Path, src: str, media: dict[str, bytes | Path]) -> Path:
    """A directory content package of one true/false item whose body shows ``src``;
    ``media`` files are written into it (a Path: a symbolic link to that file)."""
    from tests.question_bank import qti_authored as qa

    (root / "items").mkdir(parents=True)
    meta = {**qa.ETHICS, "knowledgePoint": "诚实守信"}
    (root / "imsmanifest.xml").write_text(qa.manifest({"items/tf.xml": meta}), encoding="utf-8")
    body = qa.TF_ITEM.replace("<itemBody>", f'<itemBody><p><img src="{src}" alt="图"/></p>')
    (root / "items" / "tf.xml").write_text(body, encoding="utf-8")
    for name, data in media.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Path):
            (root / name).symlink_to(data)
        else:
            (root / name).write_bytes(data)
    return root


def _outside(folder: Path, name: str) -> Path:
    """A real picture outside the package, with bytes no bank should ever hold."""
    from tests.question_bank import qti_authored as qa

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(qa.PNG + b"SECRET-OUTSIDE-THE-PACKAGE-" + name.encode())
    return path


@pytest.mark.parametrize(
    "attack", ["etc-passwd", "dot-dot", "absolute", "symlink-out", "not-an-image"]
)
def test_qbank_import_refuses_image_references_out_of_the_package(
    attack: str, tmp_path: Path
) -> None:
    """``qbank import`` (the CLI) of a package whose picture is /etc/passwd, ../../x.png,
    an absolute path, a symbolic link out of the package, or a non-image named .png: the
    import is refused naming the item, and the bank holds not one byte of the target."""
    import base64

    from click.testing import CliRunner

    from question_bank.cli import main as qbank
    from question_bank.store import BankStore
    from tests.question_bank import qti_authored as qa

    pkg = tmp_path / "pkg" / "deep"
    if attack == "etc-passwd":
        target = Path("/etc/passwd")
        _qti_dir(pkg, "/etc/passwd", {})
    elif attack == "dot-dot":
        target = _outside(tmp_path / "pkg", "x.png")  # deep/items/../../x.png: beside deep
        _qti_dir(pkg, "../../x.png", {})
    elif attack == "absolute":
        target = _outside(tmp_path, "abs.png")
        _qti_dir(pkg, str(target), {})
    elif attack == "symlink-out":
        target = _outside(tmp_path, "linked.png")
        _qti_dir(pkg, "../media/poster.png", {"media/poster.png": target})
    else:
        target = tmp_path / "fake-source"
        target.write_bytes(b"#!/bin/sh\necho SECRET-NOT-A-PICTURE\n" * 4)
        _qti_dir(pkg, "../media/fake.png", {"media/fake.png": target.read_bytes()})
    assert target.exists()
    bank = tmp_path / "bank.db"
    # the bank exists and holds a good item already (an import adds to it)
    good = qa.write_package(
        tmp_path / "good.zip",
        items={"items/tf.xml": qa.ITEMS["items/tf.xml"]},
        media={},
    )
    first = CliRunner().invoke(qbank, ["import", "--bank", str(bank), str(good)])
    assert first.exit_code == 0, first.output

    result = CliRunner().invoke(qbank, ["import", "--bank", str(bank), str(pkg)])
    assert result.exit_code != 0, result.output
    assert "ZD-TF-05" in result.output  # the item is named
    with BankStore(bank, create=False) as store:
        assert store.count() == 1
    content = target.read_bytes()
    for blob in (bank.read_bytes(), *(p.read_bytes() for p in tmp_path.glob("bank.db*"))):
        assert content not in blob
        assert base64.b64encode(content) not in blob
        assert content[-24:] not in blob  # not even the tail of it


def test_the_sync_tools_key_door_refuses_bodies_of_the_wrong_kind(console: Console) -> None:
    """``/local/sync/key`` (``exam-sync key`` -> the running server) gave a 500 for a JSON
    list: every body that is not the tool's object is 400 with the field named."""
    from exam_server.runtime import runtime
    from exam_server.sync.service import local_token

    headers = {"X-Exam-Local-Token": local_token(runtime(console.app).config)}
    client = console.app.test_client()
    good = {"sitting": "NO-SUCH", "kind": "start", "secret": "00" * 32}
    cases: list[tuple[object, str]] = [
        (["NO-SUCH", "start", "00"], "body"),
        (42, "body"),
        ("start", "body"),
        (None, "body"),
        ({**good, "sitting": ["a"]}, "sitting"),
        ({**good, "sitting": {"code": 1}}, "sitting"),
        ({**good, "kind": "middle"}, "kind"),
        ({**good, "kind": 1}, "kind"),
        ({**good, "secret": "not hex"}, "secret"),
        ({**good, "secret": 12345}, "secret"),
        ({k: v for k, v in good.items() if k != "secret"}, "secret"),
        ({**good, "by": ["x"]}, "by"),
        ({**good, "surprise": 1}, "surprise"),
    ]
    for body, field in cases:
        resp = client.post("/local/sync/key", json=body, headers=headers)
        assert resp.status_code == 400, (body, resp.get_data(as_text=True))
        reply = resp.get_json()
        assert reply["code"] == "bad_message" and reply["field"] == field, (body, reply)
        assert field in reply["message"]
    garbage = client.post(
        "/local/sync/key", data=b"{not json", content_type="application/json", headers=headers
    )
    assert garbage.status_code == 400 and garbage.get_json()["field"] == "body"
    # a well-formed body goes on to the rules: no such sitting here
    resp = client.post("/local/sync/key", json=good, headers=headers)
    assert resp.status_code == 404 and resp.get_json()["code"] == "unknown_sitting"
    # and the door still wants the token first
    assert client.post("/local/sync/key", json=[1]).status_code == 403
