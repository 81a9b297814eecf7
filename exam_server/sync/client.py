"""Talking to central: signed requests, package download, keys, resumable uploads.

Every request is signed with the centre's key (:mod:`exam_common.signed_requests`).
Uploads go in chunks; before sending, the client asks central how much it already holds
and continues from there, so a dropped link or a restart of either side costs at most one
chunk. Transient failures (no connection, timeouts, 5xx) are retried with exponential
backoff; a refusal (4xx with a code) is not retried and is reported as it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exam_common.signed_requests import sign_request

log = logging.getLogger(__name__)


class SyncError(Exception):
    """A failure talking to central. ``transient``: worth retrying later."""

    def __init__(
        self, code: str, message: str, *, transient: bool, reply: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.transient, self.reply = code, message, transient, reply or {}


@dataclass(frozen=True)
class UploadResult:
    reply: dict[str, Any]
    resumed_from: int  #: bytes central already held when this run started sending
    sent: int  #: bytes this run sent


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class CentralClient:
    def __init__(
        self,
        url: str,
        centre: str,
        key: Ed25519PrivateKey,
        *,
        timeout: float = 15,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.centre, self.signer, self.timeout = centre, key, timeout
        self.clock = clock or (lambda: datetime.now(UTC))
        self.http = requests.Session()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        raw: bool = False,
    ) -> Any:
        """One signed request; JSON reply (or bytes with ``raw``); :class:`SyncError`."""
        headers = sign_request(self.signer, self.centre, method, path, body, self.clock())
        if content_type:
            headers["Content-Type"] = content_type
        try:
            resp = self.http.request(
                method, self.url + path, data=body or None, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise SyncError(
                "no_connection",
                f"无法连接省中心 {self.url}（{type(exc).__name__}）：请检查网络 (no connection)",
                transient=True,
            ) from None
        if resp.status_code >= 500:
            raise SyncError(
                "central_error",
                f"省中心暂时出错（HTTP {resp.status_code}），稍后自动重试",
                transient=True,
            )
        if resp.status_code >= 400:
            try:
                reply = resp.json()
                code, message = str(reply.get("code")), str(reply.get("message"))
            except ValueError:
                reply, code, message = {}, f"http_{resp.status_code}", resp.text[:300]
            raise SyncError(code, message, transient=False, reply=reply)
        return resp.content if raw else resp.json()

    def post_json(self, path: str, doc: dict[str, Any]) -> Any:
        body = json.dumps(doc).encode()
        return self.request("POST", path, body=body, content_type="application/json")

    # --- packages and keys ---

    def packages(self) -> list[dict[str, Any]]:
        reply = self.request("GET", "/api/v1/packages")
        return list(reply["packages"])

    def package(self, package_id: str) -> bytes:
        data: bytes = self.request("GET", f"/api/v1/packages/{package_id}", raw=True)
        return data

    def key(self, sitting_code: str, kind: str) -> bytes:
        reply = self.request("GET", f"/api/v1/keys/{sitting_code}/{kind}")
        return bytes.fromhex(reply["secret"])

    # --- uploads ---

    def upload(
        self,
        path: Path,
        *,
        kind: str,
        upload_id: str,
        sha256: str,
        size: int,
        chunk: int,
        retries: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> UploadResult:
        """Send ``path`` to central, resuming where central's copy ends, retrying transient
        failures ``retries`` times with exponential backoff (0.5 s, 1 s, 2 s, ...)."""
        attempt = 0
        resumed_from: int | None = None
        sent = 0
        while True:
            try:
                start = self.post_json(
                    "/api/v1/uploads",
                    {
                        "upload_id": upload_id,
                        "kind": kind,
                        "sha256": sha256,
                        "size": size,
                        "name": path.name,
                    },
                )
                offset = int(start["received"])
                if resumed_from is None:
                    resumed_from = offset
                if start.get("complete"):
                    return UploadResult(start, resumed_from, sent)
                with path.open("rb") as f:
                    while offset < size:
                        f.seek(offset)
                        data = f.read(chunk)
                        try:
                            reply = self.request(
                                "PUT",
                                f"/api/v1/uploads/{upload_id}?offset={offset}",
                                body=data,
                                content_type="application/octet-stream",
                            )
                        except SyncError as exc:
                            if exc.code == "offset_mismatch" and "received" in exc.reply:
                                offset = int(exc.reply["received"])
                                continue
                            raise
                        sent += len(data)
                        offset = int(reply["received"])
                done = self.request("POST", f"/api/v1/uploads/{upload_id}/complete")
                return UploadResult(done, resumed_from, sent)
            except SyncError as exc:
                if not exc.transient or attempt >= retries:
                    raise
                delay = min(backoff * 2**attempt, 30.0)
                log.info("upload %s: %s; retrying in %.1f s", upload_id, exc.code, delay)
                sleep(delay)
                attempt += 1
