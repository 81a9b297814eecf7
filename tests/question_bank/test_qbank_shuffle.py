"""Per-candidate shuffles: deterministic, invertible, and scoring-neutral."""

from __future__ import annotations

from decimal import Decimal
from itertools import permutations
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from question_bank.assembly import BankIndex, assemble
from question_bank.blueprint import Blueprint
from question_bank.catalogue import Subject
from question_bank.items import CHOICE_LABELS, Option
from question_bank.paper import Paper, PaperQuestion, PaperSection
from question_bank.scoring import ItemType, KeyedItem, MultiplePolicy, score_paper
from question_bank.shuffle import (
    displayed_key,
    displayed_paper,
    shuffle_for,
    to_canonical_responses,
)
from tests.question_bank import qti_authored as qa

tickets = st.from_regex(r"\d{12}", fullmatch=True)


@st.composite
def papers_with_keys(draw: st.DrawFn) -> tuple[Paper, list[KeyedItem]]:
    sections = []
    questions = []
    keys = []
    n = 0
    for si, t in enumerate(
        draw(st.lists(st.sampled_from(list(ItemType)), min_size=1, max_size=3, unique=True))
    ):
        count = draw(st.integers(1, 6))
        points = Decimal(draw(st.sampled_from(["1", "2", "2.5", "4"])))
        sections.append(PaperSection(t, f"第{si}部分", count, points))
        for _ in range(count):
            n += 1
            item_id = f"Q-{n}.v1"
            shuffle, fixed = True, frozenset[str]()
            if t is ItemType.TRUE_FALSE:
                options = (Option("T", "正确"), Option("F", "错误"))
                key = frozenset({draw(st.sampled_from("TF"))})
            else:
                k = draw(st.integers(3 if t is ItemType.MULTIPLE else 2, 8))
                options = tuple(Option(CHOICE_LABELS[i], f"选项{i}") for i in range(k))
                labels = [o.label for o in options]
                if t is ItemType.MULTIPLE:
                    key = frozenset(
                        draw(st.lists(st.sampled_from(labels), min_size=2, unique=True))
                    )
                else:
                    key = frozenset({draw(st.sampled_from(labels))})
                shuffle = draw(st.booleans()) or draw(st.booleans())
                fixed = frozenset(draw(st.lists(st.sampled_from(labels), unique=True)))
            questions.append(
                PaperQuestion(
                    item_id, t, f"题{n}", options, points, si, shuffle=shuffle, fixed=fixed
                )
            )
            keys.append(KeyedItem(item_id, t, key, points))
    seed = draw(st.binary(min_size=16, max_size=16)).hex()
    paper = Paper(
        "P-1", "S-1", 1, seed, Subject("职业道德"), 5, None, "t", tuple(sections), tuple(questions)
    )
    return paper, keys


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    pk=papers_with_keys(),
    ticket=tickets,
    policy=st.sampled_from(list(MultiplePolicy)),
)
def test_shuffled_paper_scores_like_the_unshuffled_one(
    data: st.DataObject, pk: tuple[Paper, list[KeyedItem]], ticket: str, policy: MultiplePolicy
) -> None:
    paper, key = pk
    sh = shuffle_for(paper, ticket)
    shown = displayed_paper(paper, sh)
    # the candidate answers what they see, in displayed labels
    displayed: dict[str, list[str]] = {}
    for q in shown.questions:
        labels = [o.label for o in q.options]
        if data.draw(st.booleans()):
            size = (1, 1) if q.type is not ItemType.MULTIPLE else (0, len(labels))
            displayed[q.item_id] = data.draw(
                st.lists(st.sampled_from(labels), min_size=size[0], max_size=size[1], unique=True)
            )
    on_shuffled = score_paper(displayed_key(key, sh), displayed, policy)
    mapped = to_canonical_responses(sh, displayed)  # what the terminal sends
    on_canonical = score_paper(key, mapped, policy)
    assert on_shuffled.total == on_canonical.total
    assert {s.item_id: s.awarded for s in on_shuffled.items} == {
        s.item_id: s.awarded for s in on_canonical.items
    }
    # and the option the candidate ticked is the text the paper has under the mapped label
    canon = {q.item_id: {o.label: o.text for o in q.options} for q in paper.questions}
    for q in shown.questions:
        for o in q.options:
            (c,) = sh.to_canonical(q.item_id, [o.label])
            assert canon[q.item_id][c] == o.text


@settings(max_examples=80, deadline=None)
@given(pk=papers_with_keys(), ticket=tickets)
def test_shuffle_is_a_deterministic_permutation_within_sections(
    pk: tuple[Paper, list[KeyedItem]], ticket: str
) -> None:
    paper, _ = pk
    a = shuffle_for(paper, ticket)
    assert a == shuffle_for(paper, ticket)
    assert sorted(a.order) == sorted(q.item_id for q in paper.questions)
    section = {q.item_id: q.section for q in paper.questions}
    assert [section[i] for i in a.order] == sorted(section[i] for i in a.order)
    for q in paper.questions:
        canonical = [o.label for o in q.options]
        assert sorted(a.options[q.item_id]) == sorted(canonical)
        if q.type is ItemType.TRUE_FALSE or not q.shuffle:
            assert a.options[q.item_id] == tuple(canonical)
        for place, label in enumerate(canonical):
            if label in q.fixed:  # a fixed option is shown in its own place
                assert a.options[q.item_id][place] == label
        for lbl in canonical:
            assert a.to_display(q.item_id, a.to_canonical(q.item_id, [lbl])) == {lbl}


def test_candidates_get_different_orders(
    sample_index: BankIndex, sample_blueprints: dict[str, Blueprint]
) -> None:
    paper = assemble(sample_index, sample_blueprints["GWJN-DG-L5"], "s", 1).papers[0].paper()
    orders = {shuffle_for(paper, f"2026112200{n:02d}").order for n in range(20)}
    assert len(orders) == 20
    plain = shuffle_for(paper, "202611220001", questions=False, options=False)
    assert plain.order == tuple(q.item_id for q in paper.questions)
    assert all(
        plain.options[q.item_id] == tuple(o.label for o in q.options) for q in paper.questions
    )


def test_shuffle_stream_is_pinned() -> None:
    """The algorithm is specified (docs): this vector pins it for other implementations."""
    q = tuple(
        PaperQuestion(
            f"Q-{i}.v1", ItemType.SINGLE, "s", tuple(Option(c, c) for c in "ABCD"), Decimal(1), 0
        )
        for i in range(5)
    )
    paper = Paper(
        "P",
        "S",
        1,
        "00" * 16,
        Subject("职业道德"),
        5,
        None,
        "t",
        (PaperSection(ItemType.SINGLE, "x", 5, Decimal(1)),),
        q,
    )
    sh = shuffle_for(paper, "202611220001")
    assert sh.order == PINNED_ORDER
    assert sh.options["Q-0.v1"] == PINNED_OPTIONS


PINNED_ORDER = ("Q-2.v1", "Q-0.v1", "Q-3.v1", "Q-1.v1", "Q-4.v1")
PINNED_OPTIONS = ("A", "D", "C", "B")


def test_fixed_options_keep_their_place_over_many_tickets(tmp_path: Path) -> None:
    """The authored QTI items on a paper: "以上都不对" (fixed) is last on every one of 200
    tickets while the other options take every order; the item whose options may not be
    shuffled is never shuffled; true/false never; questions still change order."""
    paper = qa.authored_assembly(tmp_path).papers[0].paper()
    by_id = {q.item_id.split(".")[0]: q for q in paper.questions}
    texts = {k: [o.text for o in q.options] for k, q in by_id.items()}
    seen: dict[str, set[tuple[str, ...]]] = {k: set() for k in by_id}
    orders = set()
    for n in range(200):
        ticket = f"26410100{n:04d}"
        shown = displayed_paper(paper, shuffle_for(paper, ticket))
        orders.add(tuple(q.item_id for q in shown.questions))
        for q in shown.questions:
            seen[q.item_id.split(".")[0]].add(tuple(o.text for o in q.options))
        for key in ("ZD-MAP-01", "ZD-PART-04"):
            (q,) = [x for x in shown.questions if x.item_id.startswith(key)]
            assert q.options[3] == Option("D", "以上都不对"), ticket
    assert {o[:3] for o in seen["ZD-MAP-01"]} == set(permutations(texts["ZD-MAP-01"][:3]))
    assert {o[:3] for o in seen["ZD-PART-04"]} == set(permutations(texts["ZD-PART-04"][:3]))
    assert seen["ZD-SEQ-03"] == {tuple(texts["ZD-SEQ-03"])}  # shuffle="false"
    assert seen["ZD-TF-05"] == {("正确", "错误")}
    assert len(seen["ZD-ALL-02"]) == 24 and len(seen["ZD-PIC-06"]) == 6
    assert len(orders) > 1


def test_the_stream_is_the_documented_one_across_many_blocks() -> None:
    """The stream written out from its specification: SHA-256 of ``seed:ticket:`` and an
    8-byte big-endian block counter, read as big-endian 32-bit words, each word below the
    largest multiple of n taken mod n (others drawn again). 40 draws span five blocks."""
    import hashlib

    from question_bank.shuffle import _Stream

    def spec(seed: str, ticket: str, n: int, count: int) -> list[int]:
        words = []
        for block in range(count):
            digest = hashlib.sha256(f"{seed}:{ticket}:".encode() + block.to_bytes(8, "big"))
            d = digest.digest()
            words += [int.from_bytes(d[i : i + 4], "big") for i in range(0, 32, 4)]
        limit = 2**32 - 2**32 % n
        return [w % n for w in words if w < limit][:40]

    stream = _Stream("seed", "250800610001")
    assert [stream.below(1000) for _ in range(40)] == spec("seed", "250800610001", 1000, 6)
    assert _Stream("seed", "250800610001").shuffle(list(range(12))) == [
        10, 4, 7, 5, 0, 9, 2, 8, 1, 11, 3, 6
    ]  # fmt: skip


def test_a_shuffle_names_its_paper_and_ticket_and_refuses_labels_it_does_not_show() -> None:
    import pytest

    from question_bank.shuffle import ShuffleError

    options = tuple(Option(c, c) for c in "ABCD")
    questions = (
        PaperQuestion("Q-1.v1", ItemType.SINGLE, "s", options, Decimal(1), 0),
        # a question whose section index is out of range still appears, last
        PaperQuestion("Q-2.v1", ItemType.SINGLE, "s", options, Decimal(1), 1),
    )
    paper = Paper(
        "P-7",
        "S",
        1,
        "00" * 16,
        Subject("职业道德"),
        5,
        None,
        "t",
        (PaperSection(ItemType.SINGLE, "x", 1, Decimal(1)),),
        questions,
    )
    sh = shuffle_for(paper, "250800610001")
    assert (sh.paper_id, sh.ticket) == ("P-7", "250800610001")
    assert sh.order == ("Q-1.v1", "Q-2.v1")
    with pytest.raises(ShuffleError) as caught:
        sh.to_canonical("Q-1.v1", ["E"])
    assert str(caught.value) == "Q-1.v1: no displayed option E"
    with pytest.raises(ShuffleError) as caught:
        sh.to_display("Q-1.v1", ["Z"])
    assert str(caught.value) == "Q-1.v1: no canonical option Z"
