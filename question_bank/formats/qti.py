"""IMS QTI 2.1: items as ``assessmentItem`` documents with a ``choiceInteraction``.

Export writes an IMS content package (a .zip, or a directory when the path has no .zip
suffix): ``imsmanifest.xml``, ``items/<id>.xml`` and ``images/<file>``.

* The item body as written: each paragraph of text a ``<p>`` (lines separated by
  ``<br/>``), each picture ``<p><img src alt/></p>``, in order, then the
  ``choiceInteraction`` with ``shuffle`` as the item allows and ``fixed="true"`` on the
  options that keep their place, then what the author wrote after the options (``after``)
  in the same way.
* Scoring: an item with its own rule is written with it (``match_correct``, or
  ``map_response`` with its ``mapping`` exactly as imported). An item scored by the plan's
  rule is written with ``match_correct`` (the key or nothing, the plans' default) and
  marked ``scoring="plan"`` in the manifest, so that it comes back scored by the plan.
* The points are the ``MAXSCORE`` outcome's default value.
* What QTI has no place for (subject, trade, levels, difficulty, knowledge point) travels
  in the manifest, as an extension element ``qb:item`` inside each resource's
  ``metadata`` (namespace :data:`QB_NS`), which content-package readers ignore. Its
  ``format="2"`` says the item file means what this module writes; a ``qb:item`` without
  it comes from an older ``qbank`` (see :func:`read_qti`).

Import reads such a package (zip or directory), or a single assessmentItem .xml (whose
catalogue fields must then be missing and are reported as such). QTI 2.1 and 2.2 items
are read. Every problem of every item of every file is reported at once, each naming the
file in the package, the item's identifier, and what to fix, in Chinese and English; an
item that cannot be represented faithfully (another interaction type, custom response
processing, a table in the body...) is refused, never imported differently.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import re
import urllib.parse
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from exam_common.durable import atomic_writer, write_atomic
from question_bank.items import (
    CHOICE_LABELS,
    MAX_IMAGE_BYTES,
    Block,
    Item,
    ItemIssue,
    ItemValidationError,
    RawRow,
    image_from_bytes,
    item_to_raw,
)
from question_bank.scoring import ItemType, ScoringRule, decimal_text

QTI_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI22_NS = "http://www.imsglobal.org/xsd/imsqti_v2p2"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
QB_NS = "urn:x-exam-centre:qbank:1"
MATCH_CORRECT = "http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"
MAP_RESPONSE = "http://www.imsglobal.org/question/qti_v2p1/rptemplates/map_response"
ITEM_TYPE = "imsqti_item_xmlv2p1"
#: ``qb:item format``: what this module writes (see the module docstring)
QB_FORMAT = "2"
#: an item file larger than this is refused unread
MAX_ITEM_BYTES = 4 * 1024 * 1024

ET.register_namespace("", QTI_NS)
ET.register_namespace("xsi", XSI_NS)
ET.register_namespace("qb", QB_NS)


def _q(tag: str, ns: str = QTI_NS) -> str:
    return f"{{{ns}}}{tag}"


def _cp(tag: str) -> str:
    return f"{{{CP_NS}}}{tag}"


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _image_hrefs(item: Item) -> list[str]:
    """Where each picture of the item goes in the package, in body order."""
    images = item.images()
    if len(images) == 1 and not item.body and not item.after:
        return [f"images/{item.item_id}.{images[0].extension}"]
    return [f"images/{item.item_id}-{n}.{img.extension}" for n, img in enumerate(images, 1)]


def _write_blocks(body: ET.Element, blocks: Sequence[Block], hrefs: Iterator[str]) -> None:
    """Paragraphs (lines separated by ``<br/>``) and pictures, in order."""
    for block in blocks:
        p = ET.SubElement(body, _q("p"))
        if block.image is not None:
            ET.SubElement(p, _q("img"), {"src": "../" + next(hrefs), "alt": block.alt})
            continue
        lines = block.text.split("\n")
        p.text = lines[0]
        for line in lines[1:]:
            ET.SubElement(p, _q("br")).tail = line


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
    mapping = item.scoring.mapping if item.scoring is not None else None
    if mapping is not None:
        attrs = {"defaultValue": decimal_text(mapping.default)}
        if mapping.lower is not None:
            attrs["lowerBound"] = decimal_text(mapping.lower)
        if mapping.upper is not None:
            attrs["upperBound"] = decimal_text(mapping.upper)
        m = ET.SubElement(rd, _q("mapping"), attrs)
        for label, value in mapping.values:
            ET.SubElement(m, _q("mapEntry"), {"mapKey": label, "mappedValue": decimal_text(value)})
    for ident, default in (("SCORE", "0"), ("MAXSCORE", str(item.points))):
        od = ET.SubElement(
            root,
            _q("outcomeDeclaration"),
            {"identifier": ident, "cardinality": "single", "baseType": "float"},
        )
        ET.SubElement(ET.SubElement(od, _q("defaultValue")), _q("value")).text = default
    body = ET.SubElement(root, _q("itemBody"))
    hrefs = iter(_image_hrefs(item))
    _write_blocks(body, item.blocks(), hrefs)
    shuffle = item.shuffle and item.type is not ItemType.TRUE_FALSE
    ci = ET.SubElement(
        body,
        _q("choiceInteraction"),
        {
            "responseIdentifier": "RESPONSE",
            "shuffle": "true" if shuffle else "false",
            "maxChoices": str(len(item.options)) if multiple else "1",
        },
    )
    for o in item.options:
        attrs = {"identifier": o.label}
        if o.label in item.fixed:
            attrs["fixed"] = "true"
        ET.SubElement(ci, _q("simpleChoice"), attrs).text = o.text
    _write_blocks(body, item.after, hrefs)
    ET.SubElement(
        root,
        _q("responseProcessing"),
        {"template": MAP_RESPONSE if mapping is not None else MATCH_CORRECT},
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
                    "format": QB_FORMAT,
                    "subject": raw["subject"],
                    "trade": raw["trade"],
                    "levels": raw["levels"],
                    "difficulty": raw["difficulty"],
                    "knowledgePoint": raw["knowledge_point"],
                    "points": raw["points"],
                    "type": raw["type"],
                    "scoring": "item" if item.scoring is not None else "plan",
                    "version": str(item.version),
                },
            )
            ET.SubElement(res, _cp("file"), {"href": href})
            for img in _image_hrefs(item):
                ET.SubElement(res, _cp("file"), {"href": img})
        ET.indent(root)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)
    finally:
        ET.register_namespace("", QTI_NS)


def _package_files(items: Sequence[Item]) -> dict[str, bytes]:
    files: dict[str, bytes] = {"imsmanifest.xml": manifest_xml(items)}
    for item in items:
        files[f"items/{item.item_id}.xml"] = item_xml(item)
        for href, image in zip(_image_hrefs(item), item.images(), strict=True):
            files[href] = image.data
    return files


def write_qti(items: Sequence[Item], path: Path) -> None:
    files = _package_files(items)
    if path.suffix.lower() == ".zip":
        with atomic_writer(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in files.items():
                z.writestr(name, data)
    else:
        for name, data in files.items():
            write_atomic(path / name, data)


def qti_bytes(items: Sequence[Item]) -> bytes:
    """The QTI package as zip bytes (for callers that do not want a file)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in _package_files(items).items():
            z.writestr(name, data)
    return buf.getvalue()


# --- import ----------------------------------------------------------------------------


class _Source:
    """Files of a content package: a zip, a directory or one lone xml file. Names are
    package paths (``items/q1.xml``) that :func:`_package_path` has checked to stay
    inside the package; a directory's files are also checked after symbolic links."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        if path.is_file() and path.suffix.lower() == ".zip":
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError):
                raise ItemValidationError(
                    [
                        ItemIssue(
                            str(path),
                            None,
                            None,
                            "file",
                            "不是有效的 zip 文件，请重新打包 (not a valid zip file)",
                        )
                    ]
                ) from None

    def _file(self, name: str) -> Path | None:
        base = (self.path if self.path.is_dir() else self.path.parent).resolve()
        target = (base / name).resolve()
        return target if target.is_relative_to(base) and target.is_file() else None

    def escapes(self, name: str) -> bool:
        """True when a directory package's file is a symbolic link out of the package."""
        if self._zip is not None:
            return False
        base = (self.path if self.path.is_dir() else self.path.parent).resolve()
        return not (base / name).resolve().is_relative_to(base)

    def size(self, name: str) -> int | None:
        """The file's size in bytes, or None when the package has no such file."""
        if self._zip is not None:
            try:
                return self._zip.getinfo(name).file_size
            except KeyError:
                return None
        f = self._file(name)
        return f.stat().st_size if f is not None else None

    def read(self, name: str) -> bytes | None:
        try:
            if self._zip is not None:
                return self._zip.read(name)
            f = self._file(name)
            return f.read_bytes() if f is not None else None
        except (KeyError, OSError, zipfile.BadZipFile, EOFError):
            return None


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def _package_path(ref: str, base: str) -> tuple[str | None, str]:
    """Resolve a reference written in the package file ``base`` (an ``img src``, a
    resource ``href``) to a path inside the package: ``(path, "")``, or ``(None, why)``
    when it is empty, a URL, an absolute path, or leads out of the package with ``..``."""
    ref = ref.strip().replace("\\", "/")
    if not ref:
        return None, "地址为空 (empty reference)"
    if _SCHEME.match(ref) or ref.startswith("/"):
        return None, (
            f"“{ref}”是网址或绝对路径，指向内容包之外；请把文件放进内容包，用相对路径引用 "
            f"(“{ref}” is a URL or an absolute path, outside the content package; put the file "
            "in the package and refer to it by a relative path)"
        )
    path = posixpath.normpath(posixpath.join(posixpath.dirname(base), urllib.parse.unquote(ref)))
    if path == ".." or path.startswith("../") or path.startswith("/"):
        return None, (
            f"“{ref}”用 .. 指向了内容包之外；只能引用包内的文件 "
            f"(“{ref}” leads out of the content package with ..)"
        )
    return path, ""


#: interaction types, for refusals that say what was found
INTERACTION_NAMES = {
    "textEntryInteraction": "填空",
    "extendedTextInteraction": "问答",
    "orderInteraction": "排序",
    "matchInteraction": "匹配",
    "associateInteraction": "关联",
    "gapMatchInteraction": "选词填空",
    "inlineChoiceInteraction": "下拉选择",
    "hottextInteraction": "热文本",
    "hotspotInteraction": "图片热点",
    "graphicOrderInteraction": "图片排序",
    "graphicAssociateInteraction": "图片关联",
    "graphicGapMatchInteraction": "图片填空",
    "selectPointInteraction": "图上选点",
    "positionObjectInteraction": "图上放置",
    "sliderInteraction": "滑块",
    "uploadInteraction": "上传文件",
    "drawingInteraction": "绘图",
    "mediaInteraction": "音视频",
    "customInteraction": "自定义",
    "endAttemptInteraction": "结束作答",
}

#: elements of the body whose text is kept (formatting is not: the terminal shows plain
#: text); block elements start a new paragraph
_BLOCK = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "address"}
_LISTS = {"ul", "ol", "dl"}
_ITEMS = {"li", "dt", "dd"}
_INLINE = {
    "span",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "small",
    "big",
    "code",
    "kbd",
    "samp",
    "var",
    "q",
    "cite",
    "abbr",
    "acronym",
    "dfn",
    "tt",
    "a",
}
_SUP = str.maketrans("0123456789+-=()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿ")
_SUB = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
_SUP_OK = set("0123456789+-=()n")
_SUB_OK = set("0123456789+-=()")
_FORMATTING_SPACE = re.compile(r"[ \t\r\n]*[\t\r\n][ \t\r\n]*")


class _ItemReader:
    """Reads one assessmentItem; ``problems`` collects (field, message) for every issue."""

    def __init__(self, root: ET.Element, ns: str, name: str, source: _Source, legacy: bool):
        self.root, self.ns, self.name, self.source, self.legacy = root, ns, name, source, legacy
        self.problems: list[tuple[str, str]] = []
        self._blocks: list[Block] = []
        self._buf: list[str] = []
        self._ci: ET.Element | None = None
        self._field = "stem"  # what a problem found while walking is about
        self._options_at: int | None = None  # blocks before the options (body only)

    def q(self, tag: str) -> str:
        return _q(tag, self.ns)

    def bad(self, field: str, message: str) -> None:
        self.problems.append((field, message))

    # -- choices --------------------------------------------------------------------

    def choice_text(self, choice: ET.Element) -> str:
        """A choice's text: formatting dropped, super- and subscripts kept as characters;
        what a text option cannot hold (a picture, a table...) is refused."""
        self._blocks, self._buf = [], []
        self._ci, self._field = None, "options"
        self._walk_children(choice)
        self._flush()
        if any(b.image is not None or b.alt for b in self._blocks):
            self.bad(
                "options",
                f"选项 {choice.get('identifier')} 中有图片；本系统的选项只能是文字 "
                "(pictures in options are not supported)",
            )
        return " ".join(b.text.replace("\n", " ") for b in self._blocks if b.text)

    # -- body -----------------------------------------------------------------------

    def body(self, item_body: ET.Element, ci: ET.Element) -> tuple[list[Block], list[Block]]:
        """The body in the order written: paragraphs of text and pictures; the
        interaction's prompt where the interaction stands, its choices left out; split
        where the options stand: (before them, after them)."""
        self._blocks, self._buf = [], []
        self._ci, self._field = ci, "stem"
        self._options_at = None
        self._walk_children(item_body)
        self._flush()
        if self._options_at is None:
            return self._blocks, []
        return self._blocks[: self._options_at], self._blocks[self._options_at :]

    @property
    def _where(self) -> str:
        return "题干" if self._field == "stem" else "选项"

    def _flush(self) -> None:
        text = "".join(self._buf)
        self._buf = []
        lines = [line.strip() for line in text.split("\n")]
        while lines and not lines[0]:
            lines.pop(0)
        while lines and not lines[-1]:
            lines.pop()
        if lines:
            self._blocks.append(Block(text="\n".join(lines)))

    def _text(self, text: str | None) -> None:
        if text:
            self._buf.append(_FORMATTING_SPACE.sub(" ", text))

    def _walk_children(self, el: ET.Element) -> None:
        self._text(el.text)
        for child in el:
            self._walk(child, el)
            self._text(child.tail)

    def _walk(self, el: ET.Element, parent: ET.Element) -> None:
        tag = _local(el.tag)
        if not isinstance(el.tag, str):
            return  # a comment or processing instruction
        if el is self._ci:
            self._flush()
            prompt = el.find(self.q("prompt"))
            if prompt is not None:
                self._walk_children(prompt)
                self._flush()
            self._options_at = len(self._blocks)
            return
        if tag == "br":
            self._buf.append("\n")
        elif tag == "img" and self._field == "options":
            self._flush()
            self._blocks.append(Block(alt=el.get("alt") or "picture"))  # refused by the caller
        elif tag == "img":
            self._flush()
            self._image(el)
        elif tag in ("sup", "sub"):
            text = "".join(el.itertext())
            ok, table = (_SUP_OK, _SUP) if tag == "sup" else (_SUB_OK, _SUB)
            if len(el) or not set(text) <= ok:
                self.bad(
                    self._field,
                    f"{self._where}中的上标/下标 <{tag}>{text}</{tag}> 无法用纯文字显示；请改写为文字"
                    f"（如 m²、H₂O）或图片 (<{tag}> “{text}” cannot be shown as plain text; "
                    "write it as text or a picture)",
                )
            self._buf.append(text.translate(table))
        elif tag in _INLINE:
            self._walk_children(el)
        elif tag in _BLOCK or tag in _LISTS:
            self._flush()
            self._walk_children(el)
            self._flush()
        elif tag in _ITEMS:
            self._flush()
            if tag == "li" and _local(parent.tag) == "ol":
                self._buf.append(f"{list(parent).index(el) + 1}. ")
            elif tag == "li":
                self._buf.append("• ")
            self._walk_children(el)
            self._flush()
        elif tag == "hr":
            self._flush()
        elif tag.endswith("Interaction"):
            pass  # reported by the caller
        else:
            self.bad(
                self._field,
                f"{self._where}中的 <{tag}> 本系统无法显示（终端只显示文字和图片）；请改为文字或图片 "
                f"(<{tag}> in the item cannot be shown: terminals show text and pictures)",
            )

    def _image(self, el: ET.Element) -> None:
        src = el.get("src", "")
        alt = el.get("alt", "")
        if self.legacy and alt == "题图":
            alt = ""  # older qbank exports wrote this placeholder, not an author's text
        path, why = _package_path(src, self.name)
        if path is None:
            self.bad("image", f"图片{why}")
            return
        if self.source.escapes(path):
            self.bad(
                "image",
                f"图片 {path} 是指向内容包之外的符号链接 (picture {path} is a symbolic link "
                "out of the content package)",
            )
            return
        size = self.source.size(path)
        if size is None:
            self.bad(
                "image",
                f"内容包中找不到图片 {path}（img src=“{src}”） "
                f"(picture {path} is not in the content package)",
            )
            return
        if size > MAX_IMAGE_BYTES:
            self.bad("image", f"图片 {path} 超过 2 MB，请压缩后再导入 (picture over 2 MB)")
            return
        data = self.source.read(path)
        if data is None:
            self.bad("image", f"无法读取图片 {path} (cannot read the picture)")
            return
        try:
            image = image_from_bytes(path, data)
        except ValueError as e:
            self.bad("image", str(e))
            return
        self._blocks.append(Block(image=image, alt=alt.strip()))


def _template_name(rp: ET.Element) -> str | None:
    uri = rp.get("template") or rp.get("templateLocation") or ""
    if not uri:
        return None
    last = uri.rstrip("/").rsplit("/", 1)[-1]
    return last.removesuffix(".xml")


#: what inline response processing may use and still be one of the two templates
_INLINE_RP = {
    "responseCondition",
    "responseIf",
    "responseElseIf",
    "responseElse",
    "isNull",
    "variable",
    "correct",
    "match",
    "setOutcomeValue",
    "baseValue",
    "mapResponse",
}

#: The body of the two templates as QTI 2.1 publishes them (rptemplates/match_correct.xml
#: and map_response.xml). Inline processing is followed only when it is exactly one of
#: these (see :func:`_rp_shape`): the same elements, attributes and values in the same
#: places. Anything else, however close, might score differently and is refused.
_TEMPLATE_BODIES = {
    ScoringRule.MATCH_CORRECT: """
<responseCondition>
  <responseIf>
    <match><variable identifier="RESPONSE"/><correct identifier="RESPONSE"/></match>
    <setOutcomeValue identifier="SCORE"><baseValue baseType="float">1</baseValue></setOutcomeValue>
  </responseIf>
  <responseElse>
    <setOutcomeValue identifier="SCORE"><baseValue baseType="float">0</baseValue></setOutcomeValue>
  </responseElse>
</responseCondition>""",
    ScoringRule.MAP_RESPONSE: """
<responseCondition>
  <responseIf>
    <isNull><variable identifier="RESPONSE"/></isNull>
    <setOutcomeValue identifier="SCORE"><baseValue baseType="float">0.0</baseValue></setOutcomeValue>
  </responseIf>
  <responseElse>
    <setOutcomeValue identifier="SCORE"><mapResponse identifier="RESPONSE"/></setOutcomeValue>
  </responseElse>
</responseCondition>""",
}

#: one element of response processing, normalised: (name, attributes, text, children)
_Shape = tuple[str, tuple[tuple[str, str], ...], str, tuple[Any, ...]]


def _rp_shape(el: ET.Element, response: str) -> _Shape:
    """An element's normalised tree: namespaces, comments and layout whitespace dropped,
    attributes sorted, a ``baseValue``'s number compared as a number (``0`` is ``0.0``),
    and the interaction's response identifier written as the templates' ``RESPONSE``."""
    attrs = tuple(
        sorted(
            (_local(k), "RESPONSE" if k == "identifier" and v == response else v.strip())
            for k, v in el.attrib.items()
        )
    )
    text = (el.text or "").strip()
    if _local(el.tag) == "baseValue":
        with contextlib.suppress(InvalidOperation):
            text = str(Decimal(text).normalize())
    children = tuple(_rp_shape(c, response) for c in el if isinstance(c.tag, str))
    return _local(el.tag), attrs, text, children


_TEMPLATE_SHAPES = {
    rule: _rp_shape(ET.fromstring(body), "RESPONSE") for rule, body in _TEMPLATE_BODIES.items()
}


def _describe(shape: _Shape) -> str:
    name, attrs, text, _ = shape
    written = "".join(f' {k}="{v}"' for k, v in attrs)
    return f"<{name}{written}>{text}" if text else f"<{name}{written}>"


def _first_difference(
    got: Sequence[_Shape], want: Sequence[_Shape], where: str
) -> tuple[str, str, str]:
    """Where the written processing first departs from the template, for a person:
    (path, what is written there, what the template has there; "无 (nothing)" for none)."""
    for g, w in zip(got, want, strict=False):
        if g[:3] != w[:3]:
            return where, _describe(g), _describe(w)
        if g[3] != w[3]:
            return _first_difference(g[3], w[3], f"{where}/{g[0]}")
    if len(got) > len(want):
        return where, _describe(got[len(want)]), "无 (nothing)"
    return where, "无 (nothing)", _describe(want[len(got)])


def _rp_rule(
    rp: ET.Element | None, has_mapping: bool, response: str
) -> tuple[ScoringRule | None, str]:
    """The rule an item's responseProcessing states: the template it names, or inline
    processing that is one of the two templates written out (:data:`_TEMPLATE_BODIES`).
    ``(None, "")`` when there is none (the plan's rule scores the item); ``(None, why)``
    when it cannot be followed. ``response`` is the interaction's response identifier."""
    if rp is None:
        if has_mapping:
            return None, (
                "有 mapping 但没有 responseProcessing：请写明 map_response 模板 "
                "(a mapping without responseProcessing: state the map_response template)"
            )
        return None, ""
    name = _template_name(rp)
    if name is not None:
        if name == "match_correct":
            return ScoringRule.MATCH_CORRECT, ""
        if name == "map_response":
            return ScoringRule.MAP_RESPONSE, ""
        return None, (
            f"responseProcessing 模板“{name}”不支持，只能用 match_correct 或 map_response "
            f"(response processing template {name} is not supported; use match_correct or "
            "map_response)"
        )
    used = {_local(e.tag) for e in rp.iter() if e is not rp and isinstance(e.tag, str)}
    other = sorted(used - _INLINE_RP)
    if other or not used:
        return None, (
            f"自定义的 responseProcessing（含 {'、'.join(f'<{x}>' for x in other) or '空规则'}）"
            "无法照原样计分；请用 match_correct 或 map_response 模板 (custom response "
            "processing cannot be followed as written; use the match_correct or map_response "
            "template)"
        )
    got = tuple(_rp_shape(c, response) for c in rp if isinstance(c.tag, str))
    for rule, shape in _TEMPLATE_SHAPES.items():
        if got == (shape,):
            return rule, ""
    nearest = (
        ScoringRule.MATCH_CORRECT
        if "match" in used and "mapResponse" not in used
        else ScoringRule.MAP_RESPONSE
    )
    path, found, expected = _first_difference(
        got, (_TEMPLATE_SHAPES[nearest],), "responseProcessing"
    )
    return None, (
        f"choiceInteraction（responseIdentifier=“{response}”）的内联 responseProcessing "
        f"不是 {nearest.value} 模板的原样写法，可能另有计分方式，无法照原样计分；第一处不同在 "
        f"{path}：写的是 {found}，模板为 {expected}。请改用 "
        f'<responseProcessing template="…/{nearest.value}"/>，或照模板原文书写 (the inline '
        f"response processing of the choiceInteraction is not the {nearest.value} template "
        f"as published and may score otherwise; first difference at {path}: {found} where "
        "the template has "
        f"{expected}; name the template or write it exactly)"
    )


def _old_map(mapping: ET.Element | None, key: list[str], meta: dict[str, str]) -> bool:
    """Whether ``mapping`` is the one older qbank exports wrote for every multiple-choice
    item (each right option its share of the points, a wrong one minus the points, held in
    0..points), which stood for the plan's rule, not for an author's map."""
    if mapping is None or not key:
        return False
    try:
        points = Decimal(meta.get("points", ""))
    except InvalidOperation:
        return False
    share = points / len(key)
    expected = {
        e.get("mapKey", ""): (share if e.get("mapKey") in key else -points)
        for e in mapping.iter()
        if _local(e.tag) == "mapEntry"
    }
    written = {
        e.get("mapKey", ""): e.get("mappedValue", "")
        for e in mapping.iter()
        if _local(e.tag) == "mapEntry"
    }
    return (
        mapping.get("lowerBound") == "0"
        and mapping.get("upperBound") == str(points)
        and mapping.get("defaultValue") == "0"
        and all(written[k] == f"{v:.4f}".rstrip("0").rstrip(".") for k, v in expected.items())
    )


def _issue(where: str, item_id: str | None, field: str, message: str) -> ItemIssue:
    return ItemIssue(where, None, item_id, field, message)


def _unreadable(where: str, item_id: str | None, field: str, message: str) -> RawRow:
    return RawRow(
        where,
        None,
        {"id": item_id},
        issues=[_issue(where, item_id, field, message)],
        unreadable=True,
    )


def _parse_item(data: bytes, name: str, meta: dict[str, str], source: _Source) -> RawRow:
    where = f"{source.path}:{name}"
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        return _unreadable(where, None, "file", f"XML 格式错误：{e} (malformed XML)")
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if _local(root.tag) != "assessmentItem" or ns not in (QTI_NS, QTI22_NS):
        return _unreadable(
            where,
            None,
            "file",
            f"不是 QTI 2.1/2.2 的 assessmentItem（根元素为 <{_local(root.tag)}>，命名空间“{ns}”）"
            " (not a QTI 2.1/2.2 assessmentItem)",
        )
    item_id = root.get("identifier") or None
    if root.get("adaptive") == "true":
        return _unreadable(
            where,
            item_id,
            "type",
            "自适应试题（adaptive）不支持 (adaptive items are not supported)",
        )
    if root.find(_q("templateDeclaration", ns)) is not None:
        return _unreadable(
            where,
            item_id,
            "type",
            "带变量的模板试题（templateDeclaration）不支持；请导出为普通试题 "
            "(template items with variables are not supported)",
        )
    item_body = root.find(_q("itemBody", ns))
    found = (
        []
        if item_body is None
        else [e for e in item_body.iter() if _local(e.tag).endswith("Interaction")]
    )
    others = sorted({_local(e.tag) for e in found} - {"choiceInteraction"})
    if others:
        what = "、".join(f"{x}（{INTERACTION_NAMES.get(x, '未知题型')}）" for x in others)
        return _unreadable(
            where,
            item_id,
            "type",
            f"试题使用 {what}，本系统只支持 choiceInteraction（单选、多选、判断） "
            f"(the item uses {', '.join(others)}; only choiceInteraction, for single choice, "
            "multiple choice and true/false, is supported)",
        )
    if not found or item_body is None:
        return _unreadable(
            where,
            item_id,
            "type",
            "试题中没有 choiceInteraction（单选、多选、判断），无法导入 "
            "(the item has no choiceInteraction)",
        )
    if len(found) > 1:
        return _unreadable(
            where,
            item_id,
            "type",
            f"试题中有 {len(found)} 个 choiceInteraction，每道题只能有一个 "
            f"({len(found)} choiceInteractions; an item has one)",
        )
    ci = found[0]
    # an export of an older qbank: its qb:item has a version and no format
    legacy = "version" in meta and "format" not in meta
    reader = _ItemReader(root, ns, name, source, legacy)
    q = reader.q

    choices = ci.findall(q("simpleChoice"))
    idents = [c.get("identifier", "") for c in choices]
    if len(set(idents)) != len(idents):
        reader.bad("options", "选项的 identifier 有重复 (duplicate choice identifiers)")
    tf = idents == ["T", "F"]
    labels = (
        idents if tf else [CHOICE_LABELS[i] if i < 8 else f"#{i + 1}" for i in range(len(idents))]
    )
    to_label = dict(zip(idents, labels, strict=True))
    options = [reader.choice_text(c) for c in choices]
    fixed = [to_label[c.get("identifier", "")] for c in choices if c.get("fixed") == "true"]
    shuffle = True if legacy else ci.get("shuffle") == "true"

    rd = next(
        (
            r
            for r in root.findall(q("responseDeclaration"))
            if r.get("identifier") == ci.get("responseIdentifier")
        ),
        None,
    )
    key: list[str] = []
    cardinality = "single"
    mapping_el: ET.Element | None = None
    if rd is None:
        reader.bad(
            "key",
            f"找不到 identifier=“{ci.get('responseIdentifier')}”的 responseDeclaration "
            "(no responseDeclaration for the interaction)",
        )
    else:
        cardinality = rd.get("cardinality", "single")
        if cardinality not in ("single", "multiple"):
            reader.bad(
                "type",
                f"cardinality=“{cardinality}”不支持，只能是 single 或 multiple "
                "(only single or multiple cardinality)",
            )
        if rd.get("baseType") != "identifier":
            reader.bad(
                "type",
                f"baseType=“{rd.get('baseType')}”不支持，选择题须为 identifier "
                "(a choice item's baseType is identifier)",
            )
        for v in rd.findall(f"{q('correctResponse')}/{q('value')}"):
            ident = (v.text or "").strip()
            if ident not in to_label:
                reader.bad(
                    "key",
                    f"正确答案“{ident}”不是本题的选项 identifier "
                    "(the correct response names no choice of this item)",
                )
            else:
                key.append(to_label[ident])
        mapping_el = rd.find(q("mapping"))
    multiple = cardinality == "multiple"
    max_choices = ci.get("maxChoices", "1")
    if multiple and max_choices.isdigit() and 1 < int(max_choices) < len(choices):
        reader.bad(
            "options",
            f"maxChoices=“{max_choices}”限制了可选项数，本系统的多选题不限制；请设为 0 或选项数 "
            f"(maxChoices {max_choices} limits the choices; terminals do not: set 0 or the "
            "number of choices)",
        )

    rule, why = _rp_rule(
        root.find(q("responseProcessing")),
        mapping_el is not None,
        ci.get("responseIdentifier", "RESPONSE"),
    )
    if why:
        reader.bad("scoring", why)
    scoring: dict[str, Any] | None = None
    if meta.get("scoring") == "plan" or (
        legacy and (rule is not ScoringRule.MAP_RESPONSE or _old_map(mapping_el, key, meta))
    ):
        rule = None  # written by qbank for an item scored by the plan's rule
    notices: list[tuple[str, str]] = []
    if rule is ScoringRule.MATCH_CORRECT:
        scoring = {"rule": rule.value}
        if mapping_el is not None:
            notices.append(
                (
                    "scoring",
                    "responseDeclaration 中有 mapping，但 responseProcessing 是 match_correct："
                    "本题按 match_correct 计分（全对得分），mapping 不参与计分，不保存在题库中，"
                    "导出时也不再写出；若要按 mapping 计分，请改用 map_response 模板 (the "
                    "mapping is not used by match_correct scoring: it is not kept in the bank "
                    "and not exported; use the map_response template to score by it)",
                )
            )
    elif rule is ScoringRule.MAP_RESPONSE:
        if mapping_el is None:
            reader.bad(
                "scoring",
                "map_response 模板需要 responseDeclaration 中的 mapping "
                "(map_response needs a mapping)",
            )
        else:
            entries: dict[str, str] = {}
            for entry in mapping_el.findall(q("mapEntry")):
                ident = entry.get("mapKey", "")
                if ident not in to_label:
                    reader.bad(
                        "scoring",
                        f"mapping 中的 mapKey=“{ident}”不是本题的选项 identifier "
                        "(a mapKey names no choice of this item)",
                    )
                    continue
                entries[to_label[ident]] = entry.get("mappedValue", "")
            scoring = {
                "rule": rule.value,
                "map": entries,
                "default": mapping_el.get("defaultValue", "0"),
                "lower": mapping_el.get("lowerBound"),
                "upper": mapping_el.get("upperBound"),
            }

    points = meta.get("points")
    if not points:
        for od in root.findall(q("outcomeDeclaration")):
            value = od.find(f"{q('defaultValue')}/{q('value')}")
            if od.get("identifier") == "MAXSCORE" and value is not None:
                points = "".join(value.itertext()).strip()
    if not points and (scoring is None or rule is ScoringRule.MATCH_CORRECT):
        points = "1"  # what match_correct gives a correct response

    blocks, after = reader.body(item_body, ci)
    if legacy:
        # older exports put the picture before the stem; the item was stem then picture
        blocks = [b for b in blocks if b.image is None] + [b for b in blocks if b.image is not None]
    if not meta:
        reader.bad(
            "file",
            "imsmanifest.xml 中没有本题的 qb:item（科目、工种、等级、难度、知识点），请按 "
            "docs/question-bank.md 补上 (the manifest has no qb:item for this item: subject, "
            "trade, levels, difficulty, knowledge point)",
        )
    raw: dict[str, Any] = {
        "id": item_id,
        "type": meta.get("type") or ("判断" if tf else "多选" if multiple else "单选"),
        "subject": meta.get("subject", ""),
        "trade": meta.get("trade", ""),
        "levels": meta.get("levels", ""),
        "options": [] if tf else options,
        "key": "".join(key) if tf else key,
        "points": points or "",
        "difficulty": meta.get("difficulty", ""),
        "knowledge_point": meta.get("knowledgePoint", ""),
        "shuffle": shuffle,
        "fixed": fixed,
        "scoring": scoring,
    }
    return RawRow(
        where,
        None,
        raw,
        body=blocks,
        after=after,
        issues=[_issue(where, item_id, f, m) for f, m in reader.problems],
        notices=[_issue(where, item_id, f, m) for f, m in notices],
    )


def read_qti(path: Path) -> list[RawRow]:
    """Rows of a QTI content package (zip or directory) or of one item file. A file that
    cannot be read at all raises :class:`ItemValidationError`; an item with problems is a
    row carrying them, so that every problem of every item is reported together."""
    source = _Source(path)
    manifest = (
        source.read("imsmanifest.xml") if (path.is_dir() or path.suffix.lower() == ".zip") else None
    )
    entries: list[tuple[str, dict[str, str], str]] = []  # href, qb:item, resource id
    rows: list[RawRow] = []
    if manifest is not None:
        where = f"{path}:imsmanifest.xml"
        try:
            root = ET.fromstring(manifest)
        except ET.ParseError as e:
            raise ItemValidationError(
                [_issue(where, None, "file", f"XML 格式错误：{e} (malformed XML)")]
            ) from None
        for res in root.iter(_cp("resource")):
            kind = res.get("type", "")
            if kind.startswith("imsqti_item_xmlv2p"):
                meta_el = res.find(f"{_cp('metadata')}/{{{QB_NS}}}item")
                href, why = _package_path(res.get("href", ""), "")
                if href is None:
                    rows.append(_unreadable(where, None, "file", f"试题文件{why}"))
                    continue
                entries.append(
                    (
                        href,
                        dict(meta_el.attrib) if meta_el is not None else {},
                        res.get("identifier", ""),
                    )
                )
            elif kind.startswith("imsqti") and not kind.startswith("imsqti_test_xmlv2p"):
                rows.append(
                    _unreadable(
                        where,
                        res.get("identifier"),
                        "file",
                        f"资源 {res.get('href')} 的类型为 {kind}，不是 QTI 2.x 试题，本系统无法读取 "
                        f"(resource of type {kind} is not a QTI 2.x item)",
                    )
                )
        if not entries and not rows:
            raise ItemValidationError(
                [
                    _issue(
                        where,
                        None,
                        "file",
                        "清单中没有 QTI 2.x 试题（type=imsqti_item_xmlv2p1 的资源） "
                        "(no QTI 2.x item resource in the manifest)",
                    )
                ]
            )
    elif path.is_file() and path.suffix.lower() == ".xml":
        entries.append((path.name, {}, ""))
    else:
        raise ItemValidationError(
            [
                ItemIssue(
                    str(path),
                    None,
                    None,
                    "file",
                    "找不到 imsmanifest.xml：请提供 QTI 内容包 (.zip) 或单个 .xml 试题 "
                    "(no imsmanifest.xml: give a QTI content package or one item .xml)",
                )
            ]
        )
    for href, meta, resource in entries:
        size = source.size(href)
        data = source.read(href) if size is not None and size <= MAX_ITEM_BYTES else None
        if size is None or data is None:
            listed = f"（清单中的资源 {resource}）" if resource else ""
            listed_en = f" by manifest resource {resource}" if resource else ""
            rows.append(
                _unreadable(
                    f"{path}:{href}",
                    None,
                    "file",
                    f"清单中列出的试题文件不存在或无法读取{listed} "
                    f"(the item file listed{listed_en} is missing or unreadable)"
                    if size is None or size <= MAX_ITEM_BYTES
                    else f"试题文件超过 {MAX_ITEM_BYTES // (1024 * 1024)} MB{listed} "
                    f"(the item file listed{listed_en} is too large)",
                )
            )
            continue
        rows.append(_parse_item(data, href, meta, source))
    return rows
