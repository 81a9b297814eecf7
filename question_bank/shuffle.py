"""Per-candidate shuffles of question order and option order.

Every candidate sees the questions of each section in an order of their own and the
options of each choice item in an order of their own. The shuffle is a pure function of
the paper's ``shuffle_seed`` and the candidate's ticket number (准考证号), so the terminal,
the server and central all compute the same one, and a candidate who moves to a spare
seat sees the same paper again.

Labels: the candidate sees options labelled ``A``, ``B``, ... in displayed order; the
terminal maps what the candidate ticks back to **canonical** labels (the paper's own
``A``..) before sending, so the server and central score with
:func:`question_bank.scoring.score_paper` and the paper's key directly. True/false items
keep ``T``/``F`` (正确 before 错误) and are never reordered.

Options are shuffled only where the item allows it (``PaperQuestion.shuffle``, QTI's
``shuffle`` on the interaction), and an option the item fixes (``PaperQuestion.fixed``,
QTI's ``fixed="true"``, e.g. "以上都不对" last) keeps its place: the other options are
shuffled among the remaining places.

Algorithm (portable, specified here so that any implementation agrees): a byte stream
``SHA-256(seed || ":" || ticket || ":" || counter)`` for counter = 0, 1, ... (counter as
8-byte big-endian), read 4 bytes at a time as unsigned big-endian integers; a uniform
integer below ``n`` is drawn by rejection (discard values >= 2^32 - 2^32 mod n). A
Fisher-Yates shuffle (for i from len-1 down to 1, swap i with uniform(i+1)) is applied
first to each section's questions in section order, then to each choice item's options
in the paper's canonical question order: to the list of its options that are not fixed
(in canonical order), whose result fills the places that are not fixed, in order. An item
that may not be shuffled (and a true/false item) draws nothing from the stream. With no
fixed option this is the Fisher-Yates shuffle of all the options, as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from question_bank.items import CHOICE_LABELS, Option
from question_bank.paper import Paper
from question_bank.scoring import ItemType, KeyedItem

T = TypeVar("T")


class ShuffleError(ValueError):
    """A displayed label that the item does not have."""


class _Stream:
    def __init__(self, seed: str, ticket: str) -> None:
        self._prefix = f"{seed}:{ticket}:".encode()
        self._counter = 0
        self._buf = b""

    def _u32(self) -> int:
        if len(self._buf) < 4:
            self._buf += hashlib.sha256(self._prefix + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        v, self._buf = int.from_bytes(self._buf[:4], "big"), self._buf[4:]
        return v

    def below(self, n: int) -> int:
        limit = 2**32 - (2**32 % n)
        while True:
            v = self._u32()
            if v < limit:
                return v % n

    def shuffle(self, seq: Sequence[T]) -> list[T]:
        out = list(seq)
        for i in range(len(out) - 1, 0, -1):
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out


@dataclass(frozen=True)
class CandidateShuffle:
    """One candidate's view of one paper."""

    paper_id: str
    ticket: str
    order: tuple[str, ...]  #: wire item ids in displayed order
    #: wire item id -> canonical labels in displayed order (displayed label i shows option[i])
    options: Mapping[str, tuple[str, ...]]
    types: Mapping[str, ItemType]

    def displayed_labels(self, item_id: str) -> tuple[str, ...]:
        if self.types[item_id] is ItemType.TRUE_FALSE:
            return self.options[item_id]
        return tuple(CHOICE_LABELS[: len(self.options[item_id])])

    def to_canonical(self, item_id: str, displayed: Iterable[str]) -> frozenset[str]:
        """Labels the candidate ticked (as displayed) -> the paper's canonical labels."""
        table = dict(zip(self.displayed_labels(item_id), self.options[item_id], strict=True))
        try:
            return frozenset(table[x] for x in displayed)
        except KeyError as e:
            raise ShuffleError(f"{item_id}: no displayed option {e.args[0]}") from None

    def to_display(self, item_id: str, canonical: Iterable[str]) -> frozenset[str]:
        """Canonical labels -> what the candidate sees (to show saved answers on resume)."""
        table = dict(zip(self.options[item_id], self.displayed_labels(item_id), strict=True))
        try:
            return frozenset(table[x] for x in canonical)
        except KeyError as e:
            raise ShuffleError(f"{item_id}: no canonical option {e.args[0]}") from None


def shuffle_for(
    paper: Paper, ticket: str, *, questions: bool = True, options: bool = True
) -> CandidateShuffle:
    """The shuffle of ``paper`` for the candidate with admission ticket ``ticket``."""
    stream = _Stream(paper.shuffle_seed, ticket)
    order: list[str] = []
    for si in range(len(paper.sections)):
        ids = [q.item_id for q in paper.questions if q.section == si]
        order.extend(stream.shuffle(ids) if questions else ids)
    # questions whose section index is out of range still appear, in canonical order
    order.extend(q.item_id for q in paper.questions if not 0 <= q.section < len(paper.sections))
    opts: dict[str, tuple[str, ...]] = {}
    for q in paper.questions:
        labels = [o.label for o in q.options]
        if q.type is not ItemType.TRUE_FALSE and options and q.shuffle:
            moved = iter(stream.shuffle([lbl for lbl in labels if lbl not in q.fixed]))
            labels = [lbl if lbl in q.fixed else next(moved) for lbl in labels]
        opts[q.item_id] = tuple(labels)
    return CandidateShuffle(
        paper.paper_id, ticket, tuple(order), opts, {q.item_id: q.type for q in paper.questions}
    )


def displayed_paper(paper: Paper, shuffle: CandidateShuffle) -> Paper:
    """The paper as this candidate sees it: questions reordered, options relabelled."""
    by_id = {q.item_id: q for q in paper.questions}
    questions = []
    for item_id in shuffle.order:
        q = by_id[item_id]
        text = {o.label: o.text for o in q.options}
        shown = tuple(
            Option(lbl, text[c])
            for lbl, c in zip(
                shuffle.displayed_labels(item_id), shuffle.options[item_id], strict=True
            )
        )
        questions.append(replace(q, options=shown))
    return replace(paper, questions=tuple(questions))


def to_canonical_responses(
    shuffle: CandidateShuffle, displayed: Mapping[str, Iterable[str]]
) -> dict[str, frozenset[str]]:
    """Map a whole set of displayed responses to canonical labels (what goes on the wire)."""
    return {item_id: shuffle.to_canonical(item_id, r) for item_id, r in displayed.items()}


def displayed_key(key: Sequence[KeyedItem], shuffle: CandidateShuffle) -> list[KeyedItem]:
    """The key expressed in this candidate's displayed labels and order (for checking a
    shuffled paper; the server and central never need it)."""
    by_id = {k.item_id: k for k in key}
    return [
        replace(by_id[i], key=shuffle.to_display(i, by_id[i].key))
        for i in shuffle.order
        if i in by_id
    ]
