"""IMS QTI 2.1: items as ``assessmentItem`` documents with a ``choiceInteraction``.

Export writes an IMS content package (a .zip, or a directory when the path has no .zip
suffix): ``imsmanifest.xml``, ``items/<id>.xml`` and ``images/<file>``.

* Single choice and true/false: ``cardinality="single"`` and the standard
  ``match_correct`` response processing template.
* Multiple choice: ``cardinality="multiple"``, a ``mapping`` (each right option earns its
  share of the points, a wrong pick cancels them, bounded by 0 and the points) and the
  standard ``map_response`` template. How a centre scores a partly right multiple answer is
  a plan setting (:class:`~question_bank.scoring.MultiplePolicy`); the key is always the
  ``correctResponse``.
* The points are the ``MAXSCORE`` outcome's default value.
* What QTI has no place for (subject, trade, levels, difficulty, knowledge point) travels
  in the manifest, as an extension element ``qb:item`` inside each resource's
  ``metadata`` (namespace :data:`QB_NS`), which content-package readers ignore.

Import reads such a package (zip or directory), or a single assessmentItem .xml (whose
catalogue fields must then be missing and are reported as such).
"""

from __future__ import annotations

import io
import posixpath
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exam_common.durable import atomic_writer, write_atomic
from question_bank.items import (
    IMAGE_EXTENSIONS,
    Image,
    Item,
    ItemIssue,
    ItemValidationError,
    RawRow,
    item_to_raw,
)
from question_bank.scoring import ItemType

QTI_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
QB_NS = "urn:x-exam-centre:qbank:1"
MATCH_CORRECT = "http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"
MAP_RESPONSE = "http://www.imsglobal.org/question/qti_v2p1/rptemplates/map_response"
ITEM_TYPE = "imsqti_item_xmlv2p1"

ET.register_namespace("", QTI_NS)
ET.register_namespace("xsi", XSI_NS)
ET.register_namespace("qb", QB_NS)


def _q(tag: str) -> str:
    return f"{{{QTI_NS}}}{tag}"


def _cp(tag: str) -> str:
    return f"{{{CP_NS}}}{tag}"


def _image_href(item: Item) -> str | None:
    return f"images/{item.item_id}.{item.image.extension}" if item.image else None


def item_xml(item: Item) -> bytes:
    """One assessmentItem document."""
    root = ET.Element(
        _q("assessmentItem"),
        {
            "identifier": item.item_id,
            "title": item.item_id,
            "adaptive": "false",
            "timeDependent": "false",
            f"{{{XSI_NS}}}schemaLocation": f"{QTI_NS} http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd",
        },
    )
    multiple = item.type is ItemType.MULTIPLE
    rd = ET.SubElement(
        root,
        _q("responseDeclaration"),
        {
            "identifier": "RESPONSE",
            "cardinality": "multiple" if multiple else "single",
            "baseType": "identifier",
        },
    )
    cr = ET.SubElement(rd, _q("correctResponse"))
    for label in sorted(item.key):
        ET.SubElement(cr, _q("value")).text = label
    if multiple:
        share = item.points / len(item.key)
        mapping = ET.SubElement(
            rd,
            _q("mapping"),
            {"lowerBound": "0", "upperBound": str(item.points), "defaultValue": "0"},
        )
        for o in item.options:
            value = share if o.label in item.key else -item.points
            ET.SubElement(
                mapping,
                _q("mapEntry"),
                {"mapKey": o.label, "mappedValue": f"{value:.4f}".rstrip("0").rstrip(".")},
            )
    for ident, default in (("SCORE", "0"), ("MAXSCORE", str(item.points))):
        od = ET.SubElement(
            root,
            _q("outcomeDeclaration"),
            {"identifier": ident, "cardinality": "single", "baseType": "float"},
        )
        ET.SubElement(ET.SubElement(od, _q("defaultValue")), _q("value")).text = default
    body = ET.SubElement(root, _q("itemBody"))
    href = _image_href(item)
    if href:
        ET.SubElement(ET.SubElement(body, _q("p")), _q("img"), {"src": "../" + href, "alt": "题图"})
    ci = ET.SubElement(
        body,
        _q("choiceInteraction"),
        {
            "responseIdentifier": "RESPONSE",
            "shuffle": "false",
            "maxChoices": str(len(item.options)) if multiple else "1",
        },
    )
    ET.SubElement(ci, _q("prompt")).text = item.stem
    for o in item.options:
        ET.SubElement(ci, _q("simpleChoice"), {"identifier": o.label}).text = o.text
    ET.SubElement(
        root, _q("responseProcessing"), {"template": MAP_RESPONSE if multiple else MATCH_CORRECT}
    )
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def manifest_xml(items: Sequence[Item]) -> bytes:
    ET.register_namespace("", CP_NS)
    try:
        root = ET.Element(_cp("manifest"), {"identifier": "QBANK-EXPORT"})
        md = ET.SubElement(root, _cp("metadata"))
        ET.SubElement(md, _cp("schema")).text = "QTIv2.1 Package"
        ET.SubElement(md, _cp("schemaversion")).text = "1.0.0"
        ET.SubElement(root, _cp("organizations"))
        resources = ET.SubElement(root, _cp("resources"))
        for item in items:
            href = f"items/{item.item_id}.xml"
            res = ET.SubElement(
                resources,
                _cp("resource"),
                {"identifier": f"RES-{item.item_id}", "type": ITEM_TYPE, "href": href},
            )
            raw = item_to_raw(item)
            ET.SubElement(
                ET.SubElement(res, _cp("metadata")),
                f"{{{QB_NS}}}item",
                {
                    "subject": raw["subject"],
                    "trade": raw["trade"],
                    "levels": raw["levels"],
                    "difficulty": raw["difficulty"],
                    "knowledgePoint": raw["knowledge_point"],
                    "points": raw["points"],
                    "type": raw["type"],
                    "version": str(item.version),
                },
            )
            ET.SubElement(res, _cp("file"), {"href": href})
            img = _image_href(item)
            if img:
                ET.SubElement(res, _cp("file"), {"href": img})
        ET.indent(root)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)
    finally:
        ET.register_namespace("", QTI_NS)


def write_qti(items: Sequence[Item], path: Path) -> None:
    files: dict[str, bytes] = {"imsmanifest.xml": manifest_xml(items)}
    for item in items:
        files[f"items/{item.item_id}.xml"] = item_xml(item)
        href = _image_href(item)
        if href and item.image:
            files[href] = item.image.data
    if path.suffix.lower() == ".zip":
        with atomic_writer(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files.items():
                z.writestr(name, data)
    else:
        for name, data in files.items():
            write_atomic(path / name, data)


# --- import ----------------------------------------------------------------------------


class _Source:
    """Files of a content package: a zip, a directory or one lone xml file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        if path.is_file() and path.suffix.lower() == ".zip":
            try:
                self._zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile:
                raise ItemValidationError(
                    [ItemIssue(str(path), None, None, "file", "不是有效的 zip 文件")]
                ) from None

    def read(self, name: str) -> bytes | None:
        try:
            if self._zip is not None:
                return self._zip.read(name)
            base = self.path if self.path.is_dir() else self.path.parent
            return (base / name).read_bytes()
        except (KeyError, OSError):
            return None


def _text(el: ET.Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def _parse_item(
    data: bytes, name: str, meta: dict[str, str], source: _Source, row: int
) -> tuple[RawRow | None, list[ItemIssue]]:
    where = f"{source.path}:{name}"
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        return None, [ItemIssue(where, row, None, "file", f"XML 格式错误：{e}")]
    if root.tag != _q("assessmentItem"):
        return None, [
            ItemIssue(
                where,
                row,
                None,
                "file",
                "不是 QTI 2.1 的 assessmentItem（命名空间须为 imsqti_v2p1）",
            )
        ]
    item_id = root.get("identifier", "")
    issues: list[ItemIssue] = []
    ci = root.find(f"{_q('itemBody')}//{_q('choiceInteraction')}")
    if ci is None:
        return None, [
            ItemIssue(where, row, item_id, "type", "没有 choiceInteraction：只支持选择题和判断题")
        ]
    choices = ci.findall(_q("simpleChoice"))
    labels = [c.get("identifier", "") for c in choices]
    rd = root.find(_q("responseDeclaration"))
    key = (
        [_text(v) for v in rd.findall(f"{_q('correctResponse')}/{_q('value')}")]
        if rd is not None
        else []
    )
    cardinality = rd.get("cardinality") if rd is not None else None
    if labels == ["T", "F"]:
        qtype = "判断"
        options: list[str] = []
    else:
        qtype = "多选" if cardinality == "multiple" else "单选"
        expected = [chr(ord("A") + i) for i in range(len(labels))]
        if labels != expected:
            # foreign identifiers (e.g. ChoiceA..): map them to A.. in document order
            mapping = dict(zip(labels, expected, strict=True))
            key = [mapping.get(k, k) for k in key]
        options = [_text(c) for c in choices]
    points = meta.get("points")
    if not points:
        for od in root.findall(_q("outcomeDeclaration")):
            if od.get("identifier") == "MAXSCORE":
                points = _text(od.find(f"{_q('defaultValue')}/{_q('value')}"))
    image: Image | None = None
    img = root.find(f"{_q('itemBody')}//{_q('img')}")
    if img is not None and img.get("src"):
        href = posixpath.normpath(posixpath.join(posixpath.dirname(name), img.get("src", "")))
        ext = href.rsplit(".", 1)[-1].lower()
        blob = source.read(href)
        if blob is None or ext not in IMAGE_EXTENSIONS:
            issues.append(ItemIssue(where, row, item_id, "image", f"找不到或不支持图片 {href}"))
        else:
            image = Image(IMAGE_EXTENSIONS[ext], blob)
    raw: dict[str, Any] = {
        "id": item_id,
        "type": meta.get("type") or qtype,
        "subject": meta.get("subject", ""),
        "trade": meta.get("trade", ""),
        "levels": meta.get("levels", ""),
        "stem": _text(ci.find(_q("prompt"))),
        "options": options,
        "key": key if qtype != "判断" else "".join(key),
        "points": points or "",
        "difficulty": meta.get("difficulty", ""),
        "knowledge_point": meta.get("knowledgePoint", ""),
    }
    return RawRow(where, row, raw, image=image), issues


def read_qti(path: Path) -> list[RawRow]:
    source = _Source(path)
    rows: list[RawRow] = []
    issues: list[ItemIssue] = []
    manifest = (
        source.read("imsmanifest.xml") if (path.is_dir() or path.suffix.lower() == ".zip") else None
    )
    entries: list[tuple[str, dict[str, str]]] = []
    if manifest is not None:
        try:
            root = ET.fromstring(manifest)
        except ET.ParseError as e:
            raise ItemValidationError(
                [ItemIssue(f"{path}:imsmanifest.xml", None, None, "file", f"XML 格式错误：{e}")]
            ) from None
        for res in root.iter(_cp("resource")):
            if res.get("type", "").startswith("imsqti_item_xmlv2p"):
                meta_el = res.find(f"{_cp('metadata')}/{{{QB_NS}}}item")
                entries.append(
                    (res.get("href", ""), dict(meta_el.attrib) if meta_el is not None else {})
                )
    elif path.is_file() and path.suffix.lower() == ".xml":
        entries.append((path.name, {}))
    else:
        raise ItemValidationError(
            [
                ItemIssue(
                    str(path),
                    None,
                    None,
                    "file",
                    "找不到 imsmanifest.xml：请提供 QTI 内容包 (.zip) 或单个 .xml 试题",
                )
            ]
        )
    for n, (href, meta) in enumerate(entries, start=1):
        data = source.read(href)
        if data is None:
            issues.append(
                ItemIssue(f"{path}:{href}", n, None, "file", "清单中列出的试题文件不存在")
            )
            continue
        row, found = _parse_item(data, href, meta, source, n)
        issues.extend(found)
        if row is not None:
            rows.append(row)
    if issues:
        raise ItemValidationError(issues)
    return rows


def qti_bytes(items: Sequence[Item]) -> bytes:
    """The QTI package as zip bytes (for callers that do not want a file)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("imsmanifest.xml", manifest_xml(items))
        for item in items:
            z.writestr(f"items/{item.item_id}.xml", item_xml(item))
    return buf.getvalue()
