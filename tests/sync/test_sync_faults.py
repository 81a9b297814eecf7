"""What goes wrong on the link, against a real central process.

The link drops in the middle of an upload (a proxy the test cuts) and the upload resumes
where central's copy ends, after the centre side "restarts"; a tampered result package,
a replayed request, a centre pushing (or reading) for another centre and a key asked for
before its time are each refused with a clear error and leave nothing behind.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from central.db import CentralDatabase
from central.migrate import upgrade as central_upgrade
from central.models import (
    AuditEvent,
    Backup,
    CentreAccount,
    Package,
    PublishedSitting,
    ResultPackage,
    Upload,
    UploadChunk,
)
from central.plan import parse_plan
from central.publishing import publish
from central.registrations import import_registrations
from exam_common.result_package import RESULTS_FORMAT, build_result_package
from exam_common.signed_requests import sign_request
from exam_server.backups.service import BackupHeader, encode_backup
from exam_server.config import Config
from exam_server.db import Database
from exam_server.migrate import upgrade as centre_upgrade
from exam_server.sync import service as sync
from exam_server.sync.client import CentralClient, SyncError
from exam_server.sync.models import OutboxItem
from exam_server.system.keys import SIGNING_KEY
from exam_server.system.models import ServerState
from question_bank.catalogue import shipped
from question_bank.package import public_key_pem
from tests.central.world import CENTRE, OTHER, plan_doc, registration_rows, write_registrations
from tests.sync.harness import Central, centre_env
from tests.sync.harness import sync as sync_cli
from tests.sync.proxy import CuttableProxy

pytestmark = pytest.mark.slow

SITTING = "T-ZYDD-L4"


@dataclass
class Province:
    central: Central
    db: CentralDatabase
    key_a: Ed25519PrivateKey  #: centre 0101
    key_b: Ed25519PrivateKey  #: centre 0102
    packages: dict[str, str]  #: centre -> package id

    def client(self, centre: str, key: Ed25519PrivateKey, **kw: object) -> CentralClient:
        return CentralClient(self.central.url, centre, key, timeout=5, **kw)  # type: ignore[arg-type]

    def count(self, model: type) -> int:
        with self.db.read() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

    def audit_kinds(self) -> list[str]:
        with self.db.read() as s:
            return [e.kind for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Province]:
    """Central with a plan whose sitting starts in an hour, two centres registered."""
    folder = tmp_path_factory.mktemp("province")
    db = CentralDatabase(f"sqlite:///{folder / 'central.db'}")
    central_upgrade(db)
    now = datetime.now(UTC)
    plan = parse_plan(json.dumps(plan_doc(now + timedelta(hours=1))))
    from central.models import PlanConfig

    key_a, key_b = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    with db.write() as s:
        s.add(
            PlanConfig(
                year=plan.year,
                name=plan.name,
                doc=json.loads(plan.model_dump_json()),
                loaded_at=now,
            )
        )
        for code, key in ((CENTRE, key_a), (OTHER, key_b)):
            s.add(CentreAccount(code=code, name=code, public_key=_hex(key), registered_at=now))
        import_registrations(
            s,
            write_registrations(folder, registration_rows(3)),
            now,
            plan=plan,
            catalogue=shipped("henan"),
        )
        central_key = Ed25519PrivateKey.generate()
        report = publish(s, plan, now, central_key)
    central = Central(db.url, folder / "central")
    central.public_key.parent.mkdir(parents=True, exist_ok=True)
    central.public_key.write_bytes(public_key_pem(central_key.public_key()))
    central.start()
    try:
        yield Province(
            central, db, key_a, key_b, {p.centre_code: p.package_id for p in report.published}
        )
    finally:
        central.stop()
        db.dispose()


def _raw(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def _hex(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def results_doc(centre: str) -> dict[str, object]:
    return {
        "format": RESULTS_FORMAT,
        "centre_code": centre,
        "generated_at": datetime.now(UTC).isoformat(),
        "sitting": {"code": SITTING},
        "attempts": [],
        "event_log": {"head": {"seq": 0, "hash": "0" * 64}, "entries": []},
        "nonce": os.urandom(8).hex(),  # each test's package is its own content
    }


def upload_bytes(api: CentralClient, tmp_path: Path, data: bytes, kind: str, name: str) -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    import hashlib

    result = api.upload(
        path,
        kind=kind,
        upload_id=os.urandom(8).hex(),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        chunk=64 * 1024,
        retries=0,
    )
    return result.reply


def test_the_link_drops_mid_upload_and_the_upload_resumes(
    province: Province, tmp_path: Path
) -> None:
    proxy = CuttableProxy(province.central.port, cut_after=300_000)
    centre_db = Database(f"sqlite:///{tmp_path / 'centre.db'}")
    centre_upgrade(centre_db)
    cfg = Config.from_mapping(
        {
            "DATABASE_URL": centre_db.url,
            "DATA_DIR": str(tmp_path / "data"),
            "SYNC_CHUNK_BYTES": 64 * 1024,
        }
    )
    now = datetime.now(UTC)
    with centre_db.write() as s:  # this centre's key is the one central registered for 0101
        s.add(ServerState(key=SIGNING_KEY, value="ed25519", blob=_raw(province.key_a)))
        s.flush()
        sync.setup(
            s,
            now,
            centre=CENTRE,
            url=proxy.url,
            central_public_key=province.central.public_key.read_bytes(),
        )
    header = BackupHeader("sqlite", now, CENTRE, None, "00" * 32, 700_000)
    payload = encode_backup(header, os.urandom(700_000), b"secret", province.key_a)
    path = tmp_path / "backup-test.exambak"
    path.write_bytes(payload)
    with centre_db.write() as s:
        sync.enqueue(s, now, "backup", path)
    try:
        report = sync.push(cfg, centre_db, now, retries=1)
        assert report.failed == ["backup-test.exambak"] and not report.done
        assert proxy.cuts == 1
        with province.db.read() as s:
            partial = s.scalar(select(Upload))
            held = partial.received
        assert 0 < held < len(payload), "central holds the first chunks"
        with centre_db.read() as s:
            item = s.scalar(select(OutboxItem))
            assert item.state == "pending" and "无法连接省中心" in item.last_error

        status = sync_cli(centre_env(centre_db.url, tmp_path / "data"), "status", check=False)
        assert status.returncode == 1
        assert "待上传：1 个备份" in status.stdout and "最近错误" in status.stdout
        assert "无法连接省中心" in status.stdout, status.stdout

        # The centre side "restarts" (new engine, state from the database) and the link is back.
        centre_db.dispose()
        proxy.restore()
        again = Database(centre_db.url)
        report = sync.push(cfg, again, datetime.now(UTC), retries=1)
        assert report.done == ["backup-test.exambak"]
        assert report.resumed_from == [held], "resumed where central's copy ended"
        with province.db.read() as s:
            stored = s.scalar(select(Backup).where(Backup.name == "backup-test.exambak"))
            assert stored is not None and stored.size == len(payload)
            assert s.scalar(select(func.count()).select_from(Upload)) == 0
            assert s.scalar(select(func.count()).select_from(UploadChunk)) == 0
        with again.read() as s:
            assert s.scalar(select(OutboxItem.state)) == "done"
        again.dispose()
    finally:
        proxy.close()


def test_the_same_upload_twice_is_one_upload(province: Province, tmp_path: Path) -> None:
    api = province.client(CENTRE, province.key_a)
    data = build_result_package(results_doc(CENTRE), province.key_a)
    first = upload_bytes(api, tmp_path, data, "results", "r1.zip")
    second = upload_bytes(api, tmp_path, data, "results", "r1-again.zip")
    assert first["complete"] and not first.get("duplicate")
    assert second["duplicate"] is True
    with province.db.read() as s:
        sha = first["sha256"]
        assert (
            s.scalar(
                select(func.count()).select_from(ResultPackage).where(ResultPackage.sha256 == sha)
            )
            == 1
        )


def test_a_tampered_result_package_is_refused_and_leaves_nothing(
    province: Province, tmp_path: Path
) -> None:
    good = build_result_package(results_doc(CENTRE), province.key_a)
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        body, sig = z.read("results.json"), z.read("results.sig")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("results.json", body.replace(b'"attempts": []', b'"attempts": [ ]'))
        z.writestr("results.sig", sig)
    before = (province.count(ResultPackage), province.count(Upload), province.count(UploadChunk))
    with pytest.raises(SyncError) as err:
        upload_bytes(
            province.client(CENTRE, province.key_a), tmp_path, buf.getvalue(), "results", "t.zip"
        )
    assert err.value.code == "bad_results_signature" and "签名验证失败" in err.value.message
    assert (province.count(ResultPackage), province.count(Upload), province.count(UploadChunk)) == (
        before[0],
        0,
        0,
    )
    assert "refused.bad_results_signature" in province.audit_kinds()

    # A backup altered after the centre signed it, or signed by another centre's key.
    header = BackupHeader("sqlite", datetime.now(UTC), CENTRE, None, "00" * 32, 10)
    backup = bytearray(encode_backup(header, b"0123456789", b"secret", province.key_a))
    backup[30] ^= 1
    forged = encode_backup(header, b"0123456789", b"secret", province.key_b)
    backups = province.count(Backup)
    for data, name in ((bytes(backup), "b1.exambak"), (forged, "b2.exambak")):
        with pytest.raises(SyncError) as err:
            upload_bytes(province.client(CENTRE, province.key_a), tmp_path, data, "backup", name)
        assert err.value.code == "bad_backup_signature", err.value.code
    assert province.count(Backup) == backups and province.count(Upload) == 0


def test_a_replayed_request_is_refused(province: Province) -> None:
    body = json.dumps(
        {
            "upload_id": "replay-" + os.urandom(4).hex(),
            "kind": "backup",
            "sha256": "ab" * 32,
            "size": 10,
        }
    ).encode()
    path = "/api/v1/uploads"
    headers = sign_request(province.key_a, CENTRE, "POST", path, body, datetime.now(UTC))
    headers["Content-Type"] = "application/json"
    first = requests.post(province.central.url + path, data=body, headers=headers, timeout=5)
    assert first.status_code == 200
    uploads = province.count(Upload)
    replay = requests.post(province.central.url + path, data=body, headers=headers, timeout=5)
    assert replay.status_code == 401 and replay.json()["code"] == "replayed_request"
    assert "重放" in replay.json()["message"]
    assert province.count(Upload) == uploads
    assert "refused.replay" in province.audit_kinds()
    # An altered body under the old signature is no better.
    headers = sign_request(province.key_a, CENTRE, "POST", path, body, datetime.now(UTC))
    forged = requests.post(
        province.central.url + path, data=body + b" ", headers=headers, timeout=5
    )
    assert forged.status_code == 401 and forged.json()["code"] == "bad_signature"


def test_a_centre_cannot_write_or_read_for_another(province: Province, tmp_path: Path) -> None:
    b = province.client(OTHER, province.key_b)
    results_before = province.count(ResultPackage)
    # 0102 pushes results it signed itself but that claim to be 0101's.
    claim = build_result_package(results_doc(CENTRE), province.key_b)
    with pytest.raises(SyncError) as err:
        upload_bytes(b, tmp_path, claim, "results", "claim.zip")
    assert err.value.code == "wrong_centre" and "0101" in err.value.message
    # 0102 speaks as 0101 with its own key.
    with pytest.raises(SyncError) as err:
        province.client(CENTRE, province.key_b).packages()
    assert err.value.code == "bad_signature"
    # 0102 reads 0101's package.
    with pytest.raises(SyncError) as err:
        b.package(province.packages[CENTRE])
    assert err.value.code == "wrong_centre"
    # Someone central never registered.
    with pytest.raises(SyncError) as err:
        province.client("9999", Ed25519PrivateKey.generate()).packages()
    assert err.value.code == "unknown_centre"
    assert province.count(ResultPackage) == results_before
    with province.db.read() as s:
        fetched = select(Package.fetched_at).where(Package.package_id == province.packages[CENTRE])
        assert s.scalar(fetched) is None
        left = select(func.count()).select_from(Upload).where(Upload.centre_code == OTHER)
        assert s.scalar(left) == 0
    assert "refused.wrong_centre" in province.audit_kinds()


def test_a_key_before_its_time_is_refused_whatever_the_client_says(province: Province) -> None:
    # A client whose clock runs 4 minutes fast (inside the replay window) is still refused:
    # central decides by its own clock.
    fast = province.client(
        CENTRE, province.key_a, clock=lambda: datetime.now(UTC) + timedelta(minutes=4)
    )
    for kind in ("start", "end"):
        with pytest.raises(SyncError) as err:
            fast.key(SITTING, kind)
        assert err.value.code == "key_too_early" and "available_at" in err.value.reply
        assert "才下达" in err.value.message
    # Far off (outside the window): refused as stale before anything else.
    far = province.client(
        CENTRE, province.key_a, clock=lambda: datetime.now(UTC) + timedelta(hours=2)
    )
    with pytest.raises(SyncError) as err:
        far.key(SITTING, "start")
    assert err.value.code == "stale_request"
    with province.db.read() as s:
        ps = s.scalar(select(PublishedSitting).where(PublishedSitting.centre_code == CENTRE))
        assert ps.start_key_fetched_at is None and ps.end_key_fetched_at is None
    kinds = province.audit_kinds()
    assert "refused.key_too_early" in kinds and not any(k.startswith("key.released") for k in kinds)
