"""The result package (成绩包): one sitting's results at a centre, signed by the centre.

A zip (entries stored) holding ``results.json`` (the document; see
``docs/result-package-format.md``) and ``results.sig``, the centre's Ed25519 signature
(64 raw bytes) over the exact bytes of ``results.json``. The centre builds it with
:func:`build_result_package`; central checks it with :func:`open_result_package` against
the key the centre registered, before it reads a single field.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

RESULTS_FORMAT = "exam-results/1"
RESULTS = "results.json"
SIGNATURE = "results.sig"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class ResultPackageError(ValueError):
    """A result package that cannot be accepted; ``code`` names the reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def build_result_package(doc: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """Serialise and sign ``doc`` (which must carry ``format`` = :data:`RESULTS_FORMAT`)."""
    if doc.get("format") != RESULTS_FORMAT:
        raise ValueError(f"a result document has format {RESULTS_FORMAT}")
    body = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo(RESULTS, _ZIP_TIME), body)
        z.writestr(zipfile.ZipInfo(SIGNATURE, _ZIP_TIME), key.sign(body))
    return buf.getvalue()


def open_result_package(data: bytes, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Verify the signature, then parse; raise :class:`ResultPackageError`."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = sorted(z.namelist())
            if names != sorted([RESULTS, SIGNATURE]):
                raise ResultPackageError(
                    "malformed_results",
                    f"成绩包内容不对：{names}（应只有 results.json 和 results.sig）",
                )
            body, signature = z.read(RESULTS), z.read(SIGNATURE)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        if isinstance(exc, ResultPackageError):
            raise
        raise ResultPackageError(
            "malformed_results", f"成绩包不是有效的 zip 文件（{exc}）/ not a result package"
        ) from None
    try:
        if len(signature) != 64:
            raise InvalidSignature()
        public_key.verify(signature, body)
    except InvalidSignature:
        raise ResultPackageError(
            "bad_results_signature",
            "成绩包签名验证失败：内容被改动，或不是用本考点登记的密钥签名的 (bad signature)",
        ) from None
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultPackageError("malformed_results", f"成绩包不是有效的 JSON：{exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != RESULTS_FORMAT:
        raise ResultPackageError("malformed_results", f"成绩包格式不是 {RESULTS_FORMAT}")
    return doc
