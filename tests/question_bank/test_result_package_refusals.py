"""exam_common.result_package: every way a result package is refused, and why."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_common.result_package import (
    RESULTS_FORMAT,
    ResultPackageError,
    build_result_package,
    open_result_package,
)

KEY = Ed25519PrivateKey.generate()
DOC = {"format": RESULTS_FORMAT, "centre": "0101", "attempts": [{"ticket": "250800610001"}]}


def zipped(**entries: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name.replace("_", "."), data)
    return buf.getvalue()


def refused(data: bytes, key: Ed25519PrivateKey = KEY) -> ResultPackageError:
    with pytest.raises(ResultPackageError) as caught:
        open_result_package(data, key.public_key())
    return caught.value


def test_a_package_opens_only_with_the_centres_key() -> None:
    data = build_result_package(DOC, KEY)
    assert open_result_package(data, KEY.public_key()) == DOC
    assert build_result_package(DOC, KEY) == data  # the same document, the same bytes
    e = refused(data, Ed25519PrivateKey.generate())
    assert e.code == "bad_results_signature" and "签名验证失败" in str(e)


def test_every_malformed_package_is_refused_with_its_reason() -> None:
    body = json.dumps(DOC).encode()
    e = refused(b"not a zip at all")
    assert e.code == "malformed_results" and "不是有效的 zip" in str(e)
    e = refused(zipped(results_json=body))
    assert e.code == "malformed_results" and "['results.json']" in str(e)
    e = refused(zipped(results_json=body, results_sig=KEY.sign(body), extra_txt=b"x"))
    assert e.code == "malformed_results" and "extra.txt" in str(e)
    e = refused(zipped(results_json=body, results_sig=KEY.sign(body)[:63]))
    assert e.code == "bad_results_signature"
    tampered = body.replace(b"0101", b"0102")
    assert refused(zipped(results_json=tampered, results_sig=KEY.sign(body))).code == (
        "bad_results_signature"
    )
    # signed by the centre, but not a result document
    for text, says in ((b"\xff{", "不是有效的 JSON"), (b"[1]", RESULTS_FORMAT)):
        e = refused(zipped(results_json=text, results_sig=KEY.sign(text)))
        assert e.code == "malformed_results" and says in str(e)
    other = json.dumps({"format": "exam-results/0"}).encode()
    e = refused(zipped(results_json=other, results_sig=KEY.sign(other)))
    assert str(e) == f"成绩包格式不是 {RESULTS_FORMAT}"


def test_a_document_without_the_format_is_not_signed() -> None:
    with pytest.raises(ValueError, match=RESULTS_FORMAT):
        build_result_package({"centre": "0101"}, KEY)
