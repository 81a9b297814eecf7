"""The exam package: round trip, and every kind of tampering refused with its own error,
with nothing written anywhere."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_common import offline_code
from question_bank.package import (
    MANIFEST,
    SIGNATURE,
    BadSignatureError,
    MalformedPackageError,
    MissingPartError,
    OpenedPackage,
    PackageError,
    PartIntegrityError,
    UnknownSignerError,
    WrongCentreError,
    WrongKeyError,
    decrypt_answer_key,
    decrypt_paper,
    derive_end_key,
    derive_sitting_key,
    open_package,
    unwrap_data_key,
)

# --- a guard that fails the test if anything is opened for writing -------------------

_watching: list[list[str]] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _watching and event == "open":
        path, mode, flags = (list(args) + [None, None, None])[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & 0o3  # O_WRONLY | O_RDWR
        )
        if writing:
            _watching[-1].append(str(path))


sys.addaudithook(_audit)


@pytest.fixture
def nothing_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    writes: list[str] = []
    _watching.append(writes)
    try:
        yield
    finally:
        _watching.pop()
    assert writes == [], f"opening a package wrote {writes}"
    assert list(tmp_path.iterdir()) == []


def rebuild(
    data: bytes, change: Callable[[str, bytes], bytes | None], add: dict[str, bytes] | None = None
) -> bytes:
    """Copy a package zip entry by entry, letting ``change`` alter or drop (None) entries."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst,
    ):
        for info in src.infolist():
            blob = change(info.filename, src.read(info))
            if blob is not None:
                dst.writestr(info.filename, blob)
        for name, blob in (add or {}).items():
            dst.writestr(name, blob)
    return out.getvalue()


def flip(blob: bytes, at: int | None = None) -> bytes:
    i = len(blob) // 2 if at is None else at
    return blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1 :]


def member_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.namelist()


# --- round trip ----------------------------------------------------------------------


def test_round_trip_start_and_end(built: Any, central_key: Ed25519PrivateKey) -> None:
    opened = open_package(built.data, central_key.public_key(), "410101")
    m = opened.manifest
    assert (m.package_id, m.centre_code) == ("pkg-test", "410101")
    assert [s.sitting_code for s in m.sittings] == ["T26-ZYDD-L5", "T26-DG-L4"]
    assert opened.json_part("roster.json") == {"candidates": [{"ticket": "202611220001"}]}
    for a in built.assemblies:
        release, end = built.secrets[a.sitting_code]
        sitting_key = derive_sitting_key(release, a.sitting_code)
        for p in a.papers:
            # before start the server knows only the public list
            assert opened.public_items(p.paper_id) == p.public_items()
            # at start: unwrap with the released sitting key, the terminal decrypts
            data_key = unwrap_data_key(opened.wrapped_key(p.paper_id), sitting_key)
            paper = decrypt_paper(
                opened.paper_ciphertext(p.paper_id), data_key, paper_id=p.paper_id
            )
            assert paper == p.paper()
            assert "key" not in json.dumps(paper.to_json())  # no keys in a paper
            assert paper.total_points == 100
        # at the end: the answer key
        keys = decrypt_answer_key(
            opened.answer_key_blob(a.sitting_code), derive_end_key(end, a.sitting_code)
        )
        assert keys == {p.paper_id: p.answer_key() for p in a.papers}


def test_offline_code_read_over_the_phone_opens_the_sitting(
    built: Any, central_key: Ed25519PrivateKey
) -> None:
    opened = open_package(built.data, central_key.public_key(), "410101")
    a = built.assemblies[0]
    code = offline_code.encode(built.secrets[a.sitting_code][0])
    typed = code.lower().replace("-", " ")
    key = derive_sitting_key(offline_code.decode(typed), a.sitting_code)
    assert len(unwrap_data_key(opened.wrapped_key(a.papers[0].paper_id), key)) == 32


def test_wrong_keys_are_refused(built: Any, central_key: Ed25519PrivateKey) -> None:
    opened = open_package(built.data, central_key.public_key(), "410101")
    zydd, dg = built.assemblies
    paper_id = zydd.papers[0].paper_id
    release, end = built.secrets[zydd.sitting_code]
    other_release, other_end = built.secrets[dg.sitting_code]
    with pytest.raises(WrongKeyError, match="场次密钥"):
        unwrap_data_key(
            opened.wrapped_key(paper_id), derive_sitting_key(other_release, zydd.sitting_code)
        )
    with pytest.raises(WrongKeyError):  # the right secret, but another sitting's derivation
        unwrap_data_key(opened.wrapped_key(paper_id), derive_sitting_key(release, dg.sitting_code))
    with pytest.raises(WrongKeyError):  # the end key does not open papers
        unwrap_data_key(opened.wrapped_key(paper_id), derive_end_key(end, zydd.sitting_code))
    with pytest.raises(WrongKeyError):  # the sitting key does not open answers
        decrypt_answer_key(
            opened.answer_key_blob(zydd.sitting_code),
            derive_sitting_key(release, zydd.sitting_code),
        )
    data_key = unwrap_data_key(
        opened.wrapped_key(paper_id), derive_sitting_key(release, zydd.sitting_code)
    )
    with pytest.raises(WrongKeyError):  # one paper's data key does not open another paper
        decrypt_paper(opened.paper_ciphertext(zydd.papers[1].paper_id), data_key)


# --- tampering -----------------------------------------------------------------------


def expected_error(name: str) -> type[PackageError]:
    return BadSignatureError if name in (MANIFEST, SIGNATURE) else PartIntegrityError


def test_every_member_is_covered(built: Any) -> None:
    names = member_names(built.data)
    assert names[:2] == [MANIFEST, SIGNATURE]
    kinds = {n.split("/")[0] for n in names[2:]}
    assert kinds == {"papers", "keys", "answers", "parts"}


MEMBERS = [
    MANIFEST,
    SIGNATURE,
    "keys/T26-ZYDD-L5.json",
    "answers/T26-ZYDD-L5.bin",
    "papers/T26-ZYDD-L5-V1.bin",
    "papers/T26-ZYDD-L5-V2.bin",
    "keys/T26-DG-L4.json",
    "answers/T26-DG-L4.bin",
    "papers/T26-DG-L4-V1.bin",
    "papers/T26-DG-L4-V2.bin",
    "parts/roster.json",
]


def test_member_list_is_the_whole_package(built: Any) -> None:
    assert member_names(built.data) == MEMBERS


@pytest.fixture(params=range(len(MEMBERS)), ids=lambda i: MEMBERS[i])
def member(request: pytest.FixtureRequest, built: Any) -> str:
    names = member_names(built.data)
    return names[request.param]


@pytest.mark.usefixtures("nothing_written")
def test_flipping_a_byte_in_any_member_is_refused(
    built: Any, central_key: Ed25519PrivateKey, member: str
) -> None:
    for at in (0, None, -1):

        def change(name: str, blob: bytes, at: int | None = at) -> bytes:
            return flip(blob, None if at is None else at % len(blob)) if name == member else blob

        with pytest.raises(expected_error(member)):
            open_package(rebuild(built.data, change), central_key.public_key(), "410101")


@pytest.mark.usefixtures("nothing_written")
def test_flipping_a_byte_in_the_file_itself_is_refused(
    built: Any, central_key: Ed25519PrivateKey
) -> None:
    """Raw flips inside each member's stored bytes (the zip's own CRC notices them too)."""
    with zipfile.ZipFile(io.BytesIO(built.data)) as z:
        infos = z.infolist()
    for info in infos:
        # the data starts after the 30-byte local header, the name and the extra field
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        for at in (start, start + info.compress_size // 2, start + info.compress_size - 1):
            with pytest.raises(expected_error(info.filename)):
                open_package(flip(built.data, at), central_key.public_key(), "410101")


@pytest.mark.usefixtures("nothing_written")
def test_no_byte_flip_anywhere_changes_what_is_opened(
    built: Any, central_key: Ed25519PrivateKey
) -> None:
    """Every byte of the file: a flip is refused, or it hit zip bookkeeping that carries
    nothing (a timestamp, an attribute) and the opened package is exactly the original."""
    original = open_package(built.data, central_key.public_key(), "410101")
    with zipfile.ZipFile(io.BytesIO(built.data)) as z:
        data_ranges = [
            range(
                start := i.header_offset + 30 + len(i.filename.encode()) + len(i.extra),
                start + i.compress_size,
            )
            for i in z.infolist()
        ]
    # every byte of zip bookkeeping (headers, central directory), and every 97th data byte
    positions = [at for at in range(len(built.data)) if not any(at in r for r in data_ranges)]
    positions += range(0, len(built.data), 97)
    benign = 0
    for at in sorted(set(positions)):
        try:
            opened = open_package(flip(built.data, at), central_key.public_key(), "410101")
        except PackageError:
            continue
        benign += 1
        assert not any(at in r for r in data_ranges), f"flip at {at} inside a member was accepted"
        assert opened.manifest_bytes == original.manifest_bytes
        assert opened.signature == original.signature
        assert dict(opened.parts) == dict(original.parts)


@pytest.mark.usefixtures("nothing_written")
def test_truncation(built: Any, central_key: Ed25519PrivateKey) -> None:
    for size in (0, 10, len(built.data) // 2, len(built.data) - 1):
        with pytest.raises(MalformedPackageError):
            open_package(built.data[:size], central_key.public_key(), "410101")
    paper = next(n for n in member_names(built.data) if n.startswith("papers/"))
    short = rebuild(built.data, lambda n, b: b[:-5] if n == paper else b)
    with pytest.raises(PartIntegrityError, match="截断"):
        open_package(short, central_key.public_key(), "410101")


@pytest.mark.usefixtures("nothing_written")
def test_missing_and_unlisted_parts(built: Any, central_key: Ed25519PrivateKey) -> None:
    for victim in member_names(built.data)[2:]:
        with pytest.raises(MissingPartError, match=victim):
            open_package(
                rebuild(built.data, lambda n, b, v=victim: None if n == v else b),
                central_key.public_key(),
                "410101",
            )
    with pytest.raises(MalformedPackageError, match="清单未列出"):
        open_package(
            rebuild(built.data, lambda n, b: b, {"papers/extra.bin": b"x"}),
            central_key.public_key(),
            "410101",
        )
    for victim in (MANIFEST, SIGNATURE):
        with pytest.raises(MalformedPackageError):
            open_package(
                rebuild(built.data, lambda n, b, v=victim: None if n == v else b),
                central_key.public_key(),
                "410101",
            )


@pytest.mark.usefixtures("nothing_written")
def test_signed_by_another_key(built: Any, central_key: Ed25519PrivateKey) -> None:
    impostor = Ed25519PrivateKey.generate()
    # a package honestly built and signed by another key
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(built.data)).read(MANIFEST))
    from question_bank.package import key_id

    manifest["signer"]["key_id"] = key_id(impostor.public_key())
    raw = json.dumps(manifest).encode()
    forged = rebuild(
        built.data,
        lambda n, b: raw if n == MANIFEST else impostor.sign(raw) if n == SIGNATURE else b,
    )
    with pytest.raises(UnknownSignerError, match="不是本考点信任的省中心密钥"):
        open_package(forged, central_key.public_key(), "410101")
    # re-signing the original manifest with another key (key id claims central's)
    resigned = rebuild(built.data, lambda n, b: b)
    original = zipfile.ZipFile(io.BytesIO(built.data)).read(MANIFEST)
    resigned = rebuild(built.data, lambda n, b: impostor.sign(original) if n == SIGNATURE else b)
    with pytest.raises(BadSignatureError):
        open_package(resigned, central_key.public_key(), "410101")
    # and the honest package checked against the wrong trusted key
    with pytest.raises(UnknownSignerError):
        open_package(built.data, impostor.public_key(), "410101")


@pytest.mark.usefixtures("nothing_written")
def test_package_for_another_centre(built: Any, central_key: Ed25519PrivateKey) -> None:
    with pytest.raises(WrongCentreError, match="410101.*410999"):
        open_package(built.data, central_key.public_key(), "410999")


@pytest.mark.usefixtures("nothing_written")
def test_not_a_package(central_key: Ed25519PrivateKey) -> None:
    for junk in (b"", b"PK\x03\x04 nonsense", b"hello world" * 100):
        with pytest.raises(MalformedPackageError):
            open_package(junk, central_key.public_key(), "410101")


def test_signed_but_malformed_manifest(built: Any, central_key: Ed25519PrivateKey) -> None:
    """Central's own bug (a signed manifest that breaks the format) is still refused."""
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(built.data)).read(MANIFEST))
    del manifest["sittings"][0]["papers"][0]["part"]
    raw = json.dumps(manifest).encode()
    bad = rebuild(
        built.data,
        lambda n, b: raw if n == MANIFEST else central_key.sign(raw) if n == SIGNATURE else b,
    )
    with pytest.raises(MalformedPackageError, match="清单格式错误"):
        open_package(bad, central_key.public_key(), "410101")


def test_opened_package_is_complete(built: Any, central_key: Ed25519PrivateKey) -> None:
    opened: OpenedPackage = open_package(built.data, central_key.public_key(), "410101")
    assert set(opened.parts) == set(member_names(built.data)[2:])
    assert opened.data_part_names() == ["roster.json"]


# --- items as their authors wrote them (issue 23) ----------------------------------------


def _authored_sitting(tmp_path: Path) -> Any:
    from tests.question_bank import qti_authored as qa

    return qa.authored_assembly(tmp_path)


def test_answer_keys_carry_the_items_own_rules_and_old_keys_still_open(tmp_path: Path) -> None:
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from question_bank.package import ANSWER_AAD, new_secret, seal_sitting
    from question_bank.scoring import ScoringRule, score_item

    assembly = _authored_sitting(tmp_path)
    release, end = new_secret(), new_secret()
    sealed = seal_sitting(assembly.papers, release, end)
    end_key = derive_end_key(end, "T-QTI")
    plain = AESGCM(end_key).decrypt(sealed.answer_key[:12], sealed.answer_key[12:], ANSWER_AAD)
    assert json.loads(plain)["format"] == "exam-answer-key/2"
    (keys,) = decrypt_answer_key(sealed.answer_key, end_key).values()
    by_id = {k.item_id.split(".")[0]: k for k in keys}
    mapped = by_id["ZD-MAP-01"]
    assert mapped.rule is ScoringRule.MAP_RESPONSE and mapped.out_of == 3
    assert mapped.choices == ("A", "B", "C", "D") and mapped.points == 15
    assert score_item(mapped, "A").awarded == 5
    assert by_id["ZD-ALL-02"].rule is ScoringRule.MATCH_CORRECT
    assert by_id["ZD-SEQ-03"].rule is None  # the plan's rule
    # a key sealed before items had their own rules (exam-answer-key/1) still opens
    old = {
        "format": "exam-answer-key/1",
        "sitting_code": "T-OLD",
        "papers": {
            "P": [{"item_id": "Q1.v1", "type": "multiple", "key": ["A", "C"], "points": "6"}]
        },
    }
    nonce = os.urandom(12)
    blob = nonce + AESGCM(end_key).encrypt(nonce, json.dumps(old).encode(), ANSWER_AAD)
    (q1,) = decrypt_answer_key(blob, end_key)["P"]
    assert q1.scoring is None and q1.key == {"A", "C"} and str(q1.points) == "6"


def test_papers_carry_body_and_option_order_but_no_scoring(tmp_path: Path) -> None:
    from question_bank.paper import Paper, PaperFormatError

    paper = _authored_sitting(tmp_path).papers[0].paper()
    doc = paper.to_json()
    assert doc["format"] == "exam-paper/3"  # a question goes on after its options
    q = {x["item_id"].split(".")[0]: x for x in doc["items"]}
    assert q["ZD-PART-04"]["after"] == [{"text": "（选“照顾熟人，兼顾原则”得一半分。）"}]
    assert all("after" not in x for k, x in q.items() if k != "ZD-PART-04")
    # without it the paper is exam-paper/2, which terminals before exam-paper/3 read
    plain = replace(paper, questions=tuple(replace(x, after=()) for x in paper.questions)).to_json()
    assert plain["format"] == "exam-paper/2"
    assert q["ZD-MAP-01"]["fixed"] == ["D"] and "shuffle" not in q["ZD-MAP-01"]
    assert q["ZD-SEQ-03"]["shuffle"] is False
    assert [b.get("alt") for b in q["ZD-MAP-01"]["body"]] == [
        None,
        "宣传画：爱岗敬业、诚实守信、办事公道",
        None,
    ]
    # what a terminal decrypts says nothing of keys or scoring
    text = json.dumps(doc, ensure_ascii=False)
    for word in ("scoring", "map_response", "match_correct", "mappedValue", '"key"', "upper"):
        assert word not in text
    assert Paper.from_bytes(paper.to_bytes()) == paper
    # a fixed option the question does not have is refused
    bad = json.loads(paper.to_bytes())
    bad["items"][0]["fixed"] = ["H"]
    with pytest.raises(PaperFormatError, match="fixed"):
        Paper.from_json(bad)


def test_plain_papers_are_still_exam_paper_1(built: Any) -> None:
    """A paper that needs nothing new stays readable by terminals of the previous release."""
    from question_bank.paper import Paper

    paper = built.assemblies[0].papers[0].paper()
    assert paper.to_json()["format"] == "exam-paper/1"
    assert Paper.from_bytes(paper.to_bytes()) == paper
