"""The exam package (考试包): signed, encrypted papers for one centre.

The full specification is ``docs/paper-package-format.md``; in short:

* a zip file (entries stored, not compressed) holding ``manifest.json``, its Ed25519
  signature ``manifest.sig`` (64 raw bytes) and the parts the manifest lists, each with
  its size and SHA-256;
* ``papers/<paper_id>.bin``: one paper (one variant of one sitting) as JSON, encrypted
  with AES-256-GCM under its own random 32-byte data key (``nonce || ciphertext+tag``);
* ``keys/<sitting_code>.json``: each paper's data key wrapped (RFC 3394 AES key wrap)
  under the sitting key ``HKDF-SHA256(release_secret, info="exam-sitting-key/v1|" +
  sitting_code)``, where ``release_secret`` is 16 random bytes central holds until start;
* ``answers/<sitting_code>.bin``: the sitting's answer keys, AES-256-GCM under the end key
  ``HKDF-SHA256(end_secret, info="exam-answer-key/v1|" + sitting_code)``;
* ``parts/<name>``: any further parts central adds (roster, seat plan, cutoff rules...);
* the manifest names the centre, the package id and creation time, and each paper's
  public item list (item ids, types and points: no stems, no keys).

:func:`open_package` checks everything (signature, signer, centre, every part's presence,
size and hash, no unlisted entries) before it returns anything, holds everything in
memory and writes nothing; each failure has its own exception class.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from question_bank.assembly import AssembledPaper
from question_bank.catalogue import Subject
from question_bank.paper import Paper, PaperFormatError, PublicItem
from question_bank.scoring import KeyedItem

PACKAGE_FORMAT = "exam-package/1"
ANSWER_KEY_FORMAT = "exam-answer-key/1"
#: an answer key in which some item carries its own scoring rule (older readers, which
#: would score such an item by the plan's rule, refuse it instead)
ANSWER_KEY_FORMAT_V2 = "exam-answer-key/2"
WRAPPED_KEYS_FORMAT = "exam-wrapped-keys/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SITTING_INFO = b"exam-sitting-key/v1|"
END_INFO = b"exam-answer-key/v1|"
PAPER_AAD = b"exam-paper/v1"
ANSWER_AAD = b"exam-answer-key/v1"
SECRET_BYTES = 16
MAX_MANIFEST_BYTES = 64 * 1024 * 1024

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")  #: sitting codes and paper ids
CENTRE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,31}$")
PART_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


# --- errors ----------------------------------------------------------------------------


class PackageError(Exception):
    """Any reason to refuse a package. Messages are Chinese first and say what to do."""


class MalformedPackageError(PackageError):
    """Not a package of this format: not a zip, manifest unreadable, unlisted entries."""


class BadSignatureError(PackageError):
    """The manifest's signature does not verify (manifest or signature altered)."""


class UnknownSignerError(PackageError):
    """Signed, but by a key other than the trusted central key."""


class WrongCentreError(PackageError):
    """A genuine package, but made for another centre."""


class MissingPartError(PackageError):
    """A part the manifest lists is not in the file."""


class PartIntegrityError(PackageError):
    """A part's size or SHA-256 differs from the manifest (truncated or altered)."""


class WrongKeyError(PackageError):
    """Unwrapping or decrypting failed: wrong key (or altered ciphertext)."""


# --- keys ------------------------------------------------------------------------------


def new_secret() -> bytes:
    """16 random bytes: a release secret or an end secret."""
    return os.urandom(SECRET_BYTES)


def _hkdf(secret: bytes, info: bytes) -> bytes:
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"a secret is {SECRET_BYTES} bytes, not {len(secret)}")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def derive_sitting_key(release_secret: bytes, sitting_code: str) -> bytes:
    """The key that unwraps a sitting's paper data keys (released at start)."""
    return _hkdf(release_secret, SITTING_INFO + sitting_code.encode())


def derive_end_key(end_secret: bytes, sitting_code: str) -> bytes:
    """The key that decrypts a sitting's answer keys (released at the sitting's end)."""
    return _hkdf(end_secret, END_INFO + sitting_code.encode())


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint of a signing key: first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """A central public key from PEM, or 32 raw bytes, or their hex."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            raw = data if len(data) == 32 else bytes.fromhex(data.decode().strip())
            key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"无法读取 Ed25519 公钥：{e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("公钥不是 Ed25519 密钥")
    return key


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("私钥不是 Ed25519 密钥")
    return key


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- encryption of papers and answer keys ----------------------------------------------


def encrypt_paper(paper: Paper, data_key: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(data_key).encrypt(nonce, paper.to_bytes(), PAPER_AAD)


def decrypt_paper(ciphertext: bytes, data_key: bytes, *, paper_id: str | None = None) -> Paper:
    """Decrypt one paper with its (unwrapped) data key; the terminal calls this at start."""
    try:
        plain = AESGCM(data_key).decrypt(ciphertext[:12], ciphertext[12:], PAPER_AAD)
    except (InvalidTag, ValueError):
        raise WrongKeyError(
            "试卷解密失败：密钥不对或试卷数据已损坏 (paper decryption failed)"
        ) from None
    try:
        paper = Paper.from_bytes(plain)
    except PaperFormatError as e:
        raise MalformedPackageError(f"试卷内容格式错误：{e}") from None
    if paper_id is not None and paper.paper_id != paper_id:
        raise MalformedPackageError(f"解密得到的试卷是 {paper.paper_id}，不是 {paper_id}")
    return paper


def wrap_data_key(data_key: bytes, sitting_key: bytes) -> bytes:
    return aes_key_wrap(sitting_key, data_key)


def unwrap_data_key(wrapped: bytes, sitting_key: bytes) -> bytes:
    """A paper's data key from its wrapped form; the server calls this at start."""
    try:
        return aes_key_unwrap(sitting_key, wrapped)
    except (InvalidUnwrap, ValueError):
        raise WrongKeyError(
            "无法用该场次密钥解开试卷密钥：场次密钥（或离线密钥码）不对，或不属于这个场次 "
            "(wrong sitting key)"
        ) from None


def encrypt_answer_key(
    sitting_code: str, keys: Mapping[str, Sequence[KeyedItem]], end_key: bytes
) -> bytes:
    own_rules = any(k.scoring is not None for items in keys.values() for k in items)
    doc = {
        "format": ANSWER_KEY_FORMAT_V2 if own_rules else ANSWER_KEY_FORMAT,
        "sitting_code": sitting_code,
        "papers": {pid: [k.to_json() for k in items] for pid, items in keys.items()},
    }
    nonce = os.urandom(12)
    plain = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    return nonce + AESGCM(end_key).encrypt(nonce, plain, ANSWER_AAD)


def decrypt_answer_key(blob: bytes, end_key: bytes) -> dict[str, list[KeyedItem]]:
    """A sitting's answer keys: paper id -> the keyed items of that paper, in paper order
    (each with its own scoring rule where it has one). Reads ``exam-answer-key/1`` (keys
    sealed before items had their own rules) and ``/2``.

    Score one attempt with ``score_paper(keys[paper_id], responses, policy)``.
    """
    try:
        plain = AESGCM(end_key).decrypt(blob[:12], blob[12:], ANSWER_AAD)
    except (InvalidTag, ValueError):
        raise WrongKeyError(
            "答案解密失败：结束密钥不对或数据已损坏 (answer key decryption failed)"
        ) from None
    try:
        doc = json.loads(plain)
        if doc.get("format") not in (ANSWER_KEY_FORMAT, ANSWER_KEY_FORMAT_V2):
            raise ValueError(doc.get("format"))
        return {
            pid: [KeyedItem.from_json(x) for x in items] for pid, items in doc["papers"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise MalformedPackageError(f"答案数据格式错误：{e!r}") from None


# --- sealing and building --------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A further part central adds to a package (roster, seat plan, cutoff rules...)."""

    name: str  #: stored as ``parts/<name>``; lower case, digits, ``_ . -``
    data: bytes
    media_type: str = "application/json"

    @classmethod
    def json(cls, name: str, value: Any) -> Part:
        return cls(name, json.dumps(value, ensure_ascii=False, indent=1).encode())


@dataclass(frozen=True)
class SealedPaper:
    paper_id: str
    variant: int
    ciphertext: bytes
    wrapped_key: bytes
    public_items: tuple[PublicItem, ...]


@dataclass(frozen=True)
class SealedSitting:
    """A sitting's papers, encrypted once; may go into the packages of many centres."""

    sitting_code: str
    subject: Subject
    level: int
    trade: str | None
    title: str
    papers: tuple[SealedPaper, ...]
    answer_key: bytes


def seal_sitting(
    papers: Sequence[AssembledPaper], release_secret: bytes, end_secret: bytes
) -> SealedSitting:
    """Encrypt the variants of one sitting for packaging."""
    if not papers:
        raise ValueError("a sitting needs at least one paper")
    code = papers[0].sitting_code
    if not CODE_RE.match(code):
        raise ValueError(f"场次代码“{code}”无效：只用字母、数字和 _ . -，最长 64 个字符")
    if any(p.sitting_code != code for p in papers):
        raise ValueError("all papers of a sitting must have the same sitting code")
    sitting_key = derive_sitting_key(release_secret, code)
    sealed = []
    keys: dict[str, list[KeyedItem]] = {}
    for p in papers:
        if not CODE_RE.match(p.paper_id):
            raise ValueError(f"试卷编号“{p.paper_id}”无效")
        data_key = AESGCM.generate_key(bit_length=256)
        sealed.append(
            SealedPaper(
                p.paper_id,
                p.variant,
                encrypt_paper(p.paper(), data_key),
                wrap_data_key(data_key, sitting_key),
                p.public_items(),
            )
        )
        keys[p.paper_id] = p.answer_key()
    bp = papers[0].blueprint
    return SealedSitting(
        sitting_code=code,
        subject=bp.subject,
        level=bp.level,
        trade=bp.trade,
        title=bp.title,
        papers=tuple(sealed),
        answer_key=encrypt_answer_key(code, keys, derive_end_key(end_secret, code)),
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_package(
    *,
    centre_code: str,
    sittings: Sequence[SealedSitting],
    signing_key: Ed25519PrivateKey,
    created: datetime,
    package_id: str | None = None,
    extra_parts: Sequence[Part] = (),
    progress: Callable[[int], None] | None = None,
) -> bytes:
    """Build and sign one centre's package; returns the zip file's bytes.

    ``created`` comes from the caller's clock (timezone-aware). ``progress`` is called with
    the number of parts written since the last call.
    """
    if not CENTRE_RE.match(centre_code):
        raise ValueError(f"考点代码“{centre_code}”无效：只用字母、数字、_ 和 -，最长 32 个字符")
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    package_id = package_id or base64.b32encode(os.urandom(10)).decode().lower()
    files: dict[str, tuple[bytes, str, str]] = {}  # name -> (data, kind, media_type)

    def add(name: str, data: bytes, kind: str, media_type: str) -> None:
        if name in files:
            raise ValueError(f"重复的部件名 {name}（场次或试卷编号重复？）")
        files[name] = (data, kind, media_type)

    sitting_docs = []
    for s in sittings:
        keys_name = f"keys/{s.sitting_code}.json"
        answers_name = f"answers/{s.sitting_code}.bin"
        wrapped = {
            "format": WRAPPED_KEYS_FORMAT,
            "sitting_code": s.sitting_code,
            "algorithm": "AES-KW (RFC 3394) under HKDF-SHA256(release_secret, exam-sitting-key/v1|code)",
            "keys": {p.paper_id: base64.b64encode(p.wrapped_key).decode() for p in s.papers},
        }
        add(keys_name, json.dumps(wrapped, indent=1).encode(), "wrapped_keys", "application/json")
        add(answers_name, s.answer_key, "answer_key", "application/octet-stream")
        paper_docs = []
        for p in s.papers:
            name = f"papers/{p.paper_id}.bin"
            add(name, p.ciphertext, "paper", "application/octet-stream")
            paper_docs.append(
                {
                    "paper_id": p.paper_id,
                    "variant": p.variant,
                    "part": name,
                    "items": [i.to_json() for i in p.public_items],
                }
            )
        sitting_docs.append(
            {
                "sitting_code": s.sitting_code,
                "subject": s.subject.value,
                "level": s.level,
                "trade": s.trade,
                "title": s.title,
                "wrapped_keys": keys_name,
                "answer_key": answers_name,
                "papers": paper_docs,
            }
        )
    for part in extra_parts:
        if not PART_NAME_RE.match(part.name):
            raise ValueError(f"部件名“{part.name}”无效：只用小写字母、数字和 _ . -")
        add(f"parts/{part.name}", part.data, "data", part.media_type)
    manifest = {
        "format": PACKAGE_FORMAT,
        "package_id": package_id,
        "created": created.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "centre_code": centre_code,
        "signer": {"algorithm": "Ed25519", "key_id": key_id(signing_key.public_key())},
        "parts": [
            {"name": n, "kind": k, "media_type": m, "size": len(d), "sha256": _sha256(d)}
            for n, (d, k, m) in files.items()
        ],
        "sittings": sitting_docs,
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in (
            (MANIFEST, manifest_bytes),
            (SIGNATURE, signing_key.sign(manifest_bytes)),
        ):
            z.writestr(zipfile.ZipInfo(name, _ZIP_TIME), data)
        for name, (data, _, _) in files.items():
            z.writestr(zipfile.ZipInfo(name, _ZIP_TIME), data)
            if progress is not None:
                progress(1)
    return buf.getvalue()


# --- opening ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PartEntry:
    name: str
    kind: str  #: paper, wrapped_keys, answer_key or data
    media_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class PaperEntry:
    paper_id: str
    variant: int
    part: str
    items: tuple[PublicItem, ...]  #: the public item list (ids, types, points)


@dataclass(frozen=True)
class SittingEntry:
    sitting_code: str
    subject: Subject
    level: int
    trade: str | None
    title: str
    wrapped_keys: str  #: part name
    answer_key: str  #: part name
    papers: tuple[PaperEntry, ...]


@dataclass(frozen=True)
class Manifest:
    package_id: str
    created: datetime
    centre_code: str
    signer_key_id: str
    parts: tuple[PartEntry, ...]
    sittings: tuple[SittingEntry, ...]


@dataclass(frozen=True)
class OpenedPackage:
    """A verified package, held in memory. Parts are opaque (encrypted) bytes."""

    manifest: Manifest
    parts: Mapping[str, bytes] = field(repr=False)
    manifest_bytes: bytes = field(repr=False)
    signature: bytes = field(repr=False)

    def sitting(self, sitting_code: str) -> SittingEntry:
        for s in self.manifest.sittings:
            if s.sitting_code == sitting_code:
                return s
        raise KeyError(sitting_code)

    def paper_entry(self, paper_id: str) -> PaperEntry:
        for s in self.manifest.sittings:
            for p in s.papers:
                if p.paper_id == paper_id:
                    return p
        raise KeyError(paper_id)

    def sitting_of(self, paper_id: str) -> SittingEntry:
        for s in self.manifest.sittings:
            if any(p.paper_id == paper_id for p in s.papers):
                return s
        raise KeyError(paper_id)

    def paper_ciphertext(self, paper_id: str) -> bytes:
        return self.parts[self.paper_entry(paper_id).part]

    def public_items(self, paper_id: str) -> tuple[PublicItem, ...]:
        return self.paper_entry(paper_id).items

    def wrapped_keys(self, sitting_code: str) -> dict[str, bytes]:
        doc = json.loads(self.parts[self.sitting(sitting_code).wrapped_keys])
        return {pid: base64.b64decode(v) for pid, v in doc["keys"].items()}

    def wrapped_key(self, paper_id: str) -> bytes:
        return self.wrapped_keys(self.sitting_of(paper_id).sitting_code)[paper_id]

    def answer_key_blob(self, sitting_code: str) -> bytes:
        return self.parts[self.sitting(sitting_code).answer_key]

    def data_part(self, name: str) -> bytes:
        """A part central added with :class:`Part` (``name`` without ``parts/``)."""
        return self.parts[f"parts/{name}"]

    def data_part_names(self) -> list[str]:
        return [p.name[len("parts/") :] for p in self.manifest.parts if p.kind == "data"]

    def json_part(self, name: str) -> Any:
        return json.loads(self.data_part(name))


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return z.read(info)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as e:
        if info.filename in (MANIFEST, SIGNATURE):
            raise BadSignatureError(
                f"考试包的清单或签名已损坏或被改动（{e}）。请勿使用，向省中心重新获取考试包"
            ) from None
        raise PartIntegrityError(
            f"部件 {info.filename} 已损坏或被改动（{e}）。请勿使用，向省中心重新获取考试包"
        ) from None


def _parse_manifest(doc: Any) -> Manifest:
    try:
        if doc["format"] != PACKAGE_FORMAT:
            raise ValueError(f"format {doc['format']!r}")
        parts = tuple(
            PartEntry(
                str(p["name"]),
                str(p["kind"]),
                str(p["media_type"]),
                int(p["size"]),
                str(p["sha256"]),
            )
            for p in doc["parts"]
        )
        sittings = tuple(
            SittingEntry(
                sitting_code=str(s["sitting_code"]),
                subject=Subject(s["subject"]),
                level=int(s["level"]),
                trade=s["trade"],
                title=str(s["title"]),
                wrapped_keys=str(s["wrapped_keys"]),
                answer_key=str(s["answer_key"]),
                papers=tuple(
                    PaperEntry(
                        str(p["paper_id"]),
                        int(p["variant"]),
                        str(p["part"]),
                        tuple(PublicItem.from_json(i) for i in p["items"]),
                    )
                    for p in s["papers"]
                ),
            )
            for s in doc["sittings"]
        )
        created = datetime.fromisoformat(str(doc["created"]).replace("Z", "+00:00"))
        manifest = Manifest(
            package_id=str(doc["package_id"]),
            created=created,
            centre_code=str(doc["centre_code"]),
            signer_key_id=str(doc["signer"]["key_id"]),
            parts=parts,
            sittings=sittings,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise MalformedPackageError(
            f"考试包清单格式错误（{e!r}），请向省中心重新获取考试包"
        ) from None
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise MalformedPackageError("考试包清单中有重复的部件名")
    kinds = {p.name: p.kind for p in parts}
    for s in sittings:
        refs = [(s.wrapped_keys, "wrapped_keys"), (s.answer_key, "answer_key")]
        refs += [(p.part, "paper") for p in s.papers]
        for name, kind in refs:
            if kinds.get(name) != kind:
                raise MalformedPackageError(
                    f"场次 {s.sitting_code} 引用的部件 {name} 不在清单中或类型不对"
                )
    return manifest


def open_package(
    data: bytes, trusted_public_key: Ed25519PublicKey, centre_code: str
) -> OpenedPackage:
    """Verify a package completely and return it; raise a :class:`PackageError` subclass
    on the first thing wrong. Nothing is written anywhere."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise MalformedPackageError(
            f"不是有效的考试包：文件已损坏或不完整（{e}）。请重新下载或重新拷贝考试包"
        ) from None
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.filename in by_name:
            raise MalformedPackageError(f"考试包中 {info.filename} 出现了两次")
        by_name[info.filename] = info
    for required in (MANIFEST, SIGNATURE):
        if required not in by_name:
            raise MalformedPackageError(f"考试包中没有 {required}：这不是考试包，或文件不完整")
    if by_name[MANIFEST].file_size > MAX_MANIFEST_BYTES:
        raise MalformedPackageError("考试包清单过大")
    manifest_bytes = _read_member(z, by_name[MANIFEST])
    signature = _read_member(z, by_name[SIGNATURE])
    try:
        if len(signature) != 64:
            raise InvalidSignature()
        trusted_public_key.verify(signature, manifest_bytes)
    except InvalidSignature:
        signer = None
        try:
            signer = json.loads(manifest_bytes)["signer"]["key_id"]
        except Exception:  # an altered manifest may not even parse; that is a bad signature
            signer = None
        trusted = key_id(trusted_public_key)
        if isinstance(signer, str) and signer != trusted:
            raise UnknownSignerError(
                f"考试包由密钥 {signer} 签名，不是本考点信任的省中心密钥 {trusted}。"
                "请确认考试包来自省中心，或由管理员核对配置的中心公钥 (unknown signer)"
            ) from None
        raise BadSignatureError(
            "考试包签名验证失败：清单或签名被改动，或文件已损坏。请勿使用，向省中心重新获取考试包 "
            "(bad signature)"
        ) from None
    try:
        doc = json.loads(manifest_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MalformedPackageError(f"考试包清单不是有效的 JSON：{e}") from None
    manifest = _parse_manifest(doc)
    if manifest.centre_code != centre_code:
        raise WrongCentreError(
            f"这个考试包是发给考点 {manifest.centre_code} 的，不是本考点 {centre_code}。"
            "请向省中心获取本考点的考试包 (package for another centre)"
        )
    listed = {p.name for p in manifest.parts}
    extra = sorted(set(by_name) - listed - {MANIFEST, SIGNATURE})
    if extra:
        raise MalformedPackageError(f"考试包中有清单未列出的文件：{'、'.join(extra[:5])}；请勿使用")
    parts: dict[str, bytes] = {}
    for entry in manifest.parts:
        found = by_name.get(entry.name)
        if found is None:
            raise MissingPartError(f"考试包缺少部件 {entry.name}：文件不完整，请重新获取考试包")
        info = found
        if info.file_size != entry.size:
            raise PartIntegrityError(
                f"部件 {entry.name} 的大小为 {info.file_size} 字节，清单记载 {entry.size} 字节："
                "文件被截断或被改动，请重新获取考试包"
            )
        blob = _read_member(z, info)
        if len(blob) != entry.size or _sha256(blob) != entry.sha256:
            raise PartIntegrityError(
                f"部件 {entry.name} 的 SHA-256 与清单不符：内容被改动或损坏，请重新获取考试包"
            )
        parts[entry.name] = blob
    return OpenedPackage(manifest, parts, manifest_bytes, signature)


def secrets_to_json(secrets: Mapping[str, tuple[bytes, bytes]]) -> dict[str, Any]:
    """Central's secrets file: sitting code -> (release secret, end secret), hex."""
    return {
        "format": "exam-secrets/1",
        "sittings": {
            c: {"release_secret": r.hex(), "end_secret": e.hex()} for c, (r, e) in secrets.items()
        },
    }


def secrets_from_json(doc: Mapping[str, Any]) -> dict[str, tuple[bytes, bytes]]:
    if doc.get("format") != "exam-secrets/1":
        raise ValueError("不是密钥文件（需要 format=exam-secrets/1）")
    return {
        c: (bytes.fromhex(v["release_secret"]), bytes.fromhex(v["end_secret"]))
        for c, v in doc["sittings"].items()
    }
