"""Papers (试卷) as terminals see them, and their public item lists.

A :class:`Paper` is one variant of one sitting: the questions with their body (stem text
and pictures with alt text, in the order written), options, type, points and option order
(may they be shuffled, which stay in place), in canonical order and with canonical labels,
and **no keys and no scoring rules**. It is what a package carries encrypted and what a
terminal decrypts at start.

Format ``exam-paper/2`` adds to ``exam-paper/1`` what a question may now carry (a body,
alt text, no shuffle, fixed options); ``exam-paper/3`` adds ``after`` (what the author wrote
after the options, shown after them). A paper is written in the lowest format that says
everything it carries, so that older terminals read it, and one they cannot show is refused
by them instead of being shown wrong. All three are read.

A :class:`PublicItem` list (id, type, points) is what the centre server may know before
start: enough to validate saves and count progress, nothing to answer with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from question_bank.catalogue import Subject
from question_bank.items import CHOICE_LABELS, TRUE_FALSE_OPTIONS, Block, Image, Option
from question_bank.scoring import ItemType

PAPER_FORMAT = "exam-paper/1"
PAPER_FORMAT_V2 = "exam-paper/2"
PAPER_FORMAT_V3 = "exam-paper/3"
PAPER_FORMATS = (PAPER_FORMAT, PAPER_FORMAT_V2, PAPER_FORMAT_V3)


class PaperFormatError(ValueError):
    """Decrypted bytes that are not a paper of this format."""


@dataclass(frozen=True, slots=True)
class PublicItem:
    """An item of a paper as the server may know it before start (no stem, no key)."""

    item_id: str  #: wire id, e.g. ``ZYDD-0001.v2``
    type: ItemType
    points: Decimal

    def to_json(self) -> dict[str, str]:
        """Same shape as ``exam_common.protocol.ItemRef``."""
        return {"item_id": self.item_id, "type": self.type.value, "points": str(self.points)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PublicItem:
        return cls(str(d["item_id"]), ItemType(d["type"]), Decimal(str(d["points"])))


@dataclass(frozen=True, slots=True)
class PaperQuestion:
    item_id: str  #: wire id
    type: ItemType
    stem: str
    options: tuple[Option, ...]  #: canonical labels A.. (T/F for true/false)
    points: Decimal
    section: int  #: index into Paper.sections
    image: Image | None = None
    image_alt: str = ""
    #: the body in the order written when it is not the stem then at most one picture
    body: tuple[Block, ...] = ()
    shuffle: bool = True  #: the options may be shuffled per candidate
    fixed: frozenset[str] = frozenset()  #: labels of options that keep their place
    #: what the author wrote after the options (text and pictures), shown after them
    after: tuple[Block, ...] = ()

    @property
    def needs_v2(self) -> bool:
        """Whether this question uses what ``exam-paper/1`` cannot say."""
        return bool(self.image_alt or self.body or not self.shuffle or self.fixed)

    def blocks(self) -> tuple[Block, ...]:
        """The body in the order written: text and pictures with their alt text."""
        if self.body:
            return self.body
        head = (Block(text=self.stem),)
        return head + ((Block(image=self.image, alt=self.image_alt),) if self.image else ())

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "item_id": self.item_id,
            "type": self.type.value,
            "stem": self.stem,
            "options": [{"label": o.label, "text": o.text} for o in self.options],
            "points": str(self.points),
            "section": self.section,
        }
        if self.image is not None:
            d["image"] = self.image.to_json()
        if self.image_alt:
            d["image_alt"] = self.image_alt
        if self.body:
            d["body"] = [b.to_json() for b in self.body]
        if not self.shuffle:
            d["shuffle"] = False
        if self.fixed:
            d["fixed"] = sorted(self.fixed)
        if self.after:
            d["after"] = [b.to_json() for b in self.after]
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PaperQuestion:
        t = ItemType(d["type"])
        options = tuple(Option(str(o["label"]), str(o["text"])) for o in d["options"])
        allowed = (
            [x for x, _ in TRUE_FALSE_OPTIONS] if t is ItemType.TRUE_FALSE else list(CHOICE_LABELS)
        )
        if [o.label for o in options] != allowed[: len(options)] or not options:
            raise PaperFormatError(
                f"{d.get('item_id')}: option labels {[o.label for o in options]}"
            )
        fixed = frozenset(str(x) for x in d.get("fixed") or ())
        if not fixed <= {o.label for o in options}:
            raise PaperFormatError(f"{d.get('item_id')}: fixed options {sorted(fixed)}")
        shuffle = d.get("shuffle", True)
        if not isinstance(shuffle, bool):
            raise PaperFormatError(f"{d.get('item_id')}: shuffle {shuffle!r}")
        return cls(
            item_id=str(d["item_id"]),
            type=t,
            stem=str(d["stem"]),
            options=options,
            points=Decimal(str(d["points"])),
            section=int(d["section"]),
            image=Image.from_json(d["image"]) if d.get("image") else None,
            image_alt=str(d.get("image_alt") or ""),
            body=tuple(Block.from_json(b) for b in d.get("body") or ()),
            shuffle=shuffle,
            fixed=fixed,
            after=tuple(Block.from_json(b) for b in d.get("after") or ()),
        )


@dataclass(frozen=True, slots=True)
class PaperSection:
    """A heading of the paper, e.g. 一、单项选择题（每题 4 分，共 10 题）."""

    type: ItemType
    title: str
    count: int
    points: Decimal  #: per item


@dataclass(frozen=True)
class Paper:
    paper_id: str
    sitting_code: str
    variant: int  #: 1-based
    shuffle_seed: str  #: hex; with the ticket number it fixes a candidate's shuffle
    subject: Subject
    level: int
    trade: str | None
    title: str
    sections: tuple[PaperSection, ...]
    questions: tuple[PaperQuestion, ...]

    @property
    def total_points(self) -> Decimal:
        return sum((q.points for q in self.questions), Decimal(0))

    def public_items(self) -> tuple[PublicItem, ...]:
        return tuple(PublicItem(q.item_id, q.type, q.points) for q in self.questions)

    def question(self, item_id: str) -> PaperQuestion:
        for q in self.questions:
            if q.item_id == item_id:
                return q
        raise KeyError(item_id)

    def to_json(self) -> dict[str, Any]:
        if any(q.after for q in self.questions):
            fmt = PAPER_FORMAT_V3
        elif any(q.needs_v2 for q in self.questions):
            fmt = PAPER_FORMAT_V2
        else:
            fmt = PAPER_FORMAT
        return {
            "format": fmt,
            "paper_id": self.paper_id,
            "sitting_code": self.sitting_code,
            "variant": self.variant,
            "shuffle_seed": self.shuffle_seed,
            "subject": self.subject.value,
            "level": self.level,
            "trade": self.trade,
            "title": self.title,
            "sections": [
                {"type": s.type.value, "title": s.title, "count": s.count, "points": str(s.points)}
                for s in self.sections
            ],
            "items": [q.to_json() for q in self.questions],
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Paper:
        if d.get("format") not in PAPER_FORMATS:
            raise PaperFormatError(
                f"not an {' or '.join(PAPER_FORMATS)} document: {d.get('format')!r}"
            )
        try:
            return cls(
                paper_id=str(d["paper_id"]),
                sitting_code=str(d["sitting_code"]),
                variant=int(d["variant"]),
                shuffle_seed=str(d["shuffle_seed"]),
                subject=Subject(d["subject"]),
                level=int(d["level"]),
                trade=d.get("trade"),
                title=str(d["title"]),
                sections=tuple(
                    PaperSection(
                        ItemType(s["type"]),
                        str(s["title"]),
                        int(s["count"]),
                        Decimal(str(s["points"])),
                    )
                    for s in d["sections"]
                ),
                questions=tuple(PaperQuestion.from_json(q) for q in d["items"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise PaperFormatError(f"malformed paper: {e!r}") from None

    @classmethod
    def from_bytes(cls, data: bytes) -> Paper:
        try:
            d = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise PaperFormatError(f"paper is not JSON: {e}") from None
        if not isinstance(d, dict):
            raise PaperFormatError("paper is not a JSON object")
        return cls.from_json(d)
