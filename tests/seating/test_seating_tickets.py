"""Numbers central makes itself: the Damm check digit catches every single-digit error and
every swap of neighbouring digits (checked exhaustively over many numbers)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from stdnum import damm

from seating.tickets import TicketError, is_valid_ticket, make_ticket, parse_ticket, validate_ticket

DOC = Path(__file__).resolve().parents[2] / "docs" / "ticket-numbers.md"


def tickets(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        make_ticket(
            rng.randrange(2000, 2100),
            f"{rng.randrange(10000):04d}",
            rng.randrange(1, 1000),
            rng.randrange(1, 100),
        )
        for _ in range(n)
    ]


def test_layout_and_parse() -> None:
    tk = make_ticket(2026, "0101", "7", 5)
    assert re.fullmatch(r"\d{12}", tk)
    assert tk[:11] == "26" + "0101" + "007" + "05"
    p = parse_ticket(tk)
    assert (p.year, p.centre, p.room, p.seat) == (26, "0101", "007", 5)
    assert damm.checksum(tk) == 0


def test_every_single_digit_error_is_caught() -> None:
    for tk in tickets(400):
        assert is_valid_ticket(tk)
        for pos in range(12):
            for d in "0123456789":
                if d != tk[pos]:
                    wrong = tk[:pos] + d + tk[pos + 1 :]
                    assert not is_valid_ticket(wrong), (tk, wrong)


def test_every_adjacent_swap_is_caught() -> None:
    for tk in tickets(2000, seed=1):
        for pos in range(11):
            if tk[pos] != tk[pos + 1]:
                swapped = tk[:pos] + tk[pos + 1] + tk[pos] + tk[pos + 2 :]
                assert not is_valid_ticket(swapped), (tk, swapped)


def test_all_check_digits_exhaustively_for_one_room() -> None:
    """For every seat of a room, exactly one of the ten last digits is valid."""
    for seat in range(1, 100):
        body = make_ticket(2026, "4101", 12, seat)[:11]
        assert sum(is_valid_ticket(body + d) for d in "0123456789") == 1


@pytest.mark.parametrize(
    "bad, code, words",
    [
        ("26010100105", "length", "12 位"),
        ("2601010010533", "length", "12 位"),
        ("26010100105a", "chars", "第 12 位"),
        ("２60101001053", "chars", "第 1 位"),
        (" 260101001053", "chars", "第 1 位"),
    ],
)
def test_errors_name_what_is_wrong(bad: str, code: str, words: str) -> None:
    with pytest.raises(TicketError) as e:
        validate_ticket(bad)
    assert e.value.code == code
    assert words in str(e.value)


def test_check_digit_error_message() -> None:
    tk = make_ticket(2026, "0101", 1, 5)
    wrong = tk[:-1] + str((int(tk[-1]) + 1) % 10)
    with pytest.raises(TicketError) as e:
        validate_ticket(wrong)
    assert e.value.code == "check"
    assert "校验" in e.value.zh and "check character" in e.value.en


def test_room_and_seat_zero_are_refused() -> None:
    body = "260101000" + "05"
    with pytest.raises(TicketError) as e:
        validate_ticket(body + damm.calc_check_digit(body))
    assert e.value.code == "room"
    body = "260101001" + "00"
    with pytest.raises(TicketError) as e:
        validate_ticket(body + damm.calc_check_digit(body))
    assert e.value.code == "seat"
    with pytest.raises(TicketError):
        make_ticket(2026, "0101", 1, 100)
    with pytest.raises(TicketError):
        make_ticket(2026, "101", 1, 1)


def test_documented_examples_are_valid() -> None:
    """The numbers docs/ticket-numbers.md shows as valid are valid."""
    text = DOC.read_text("utf-8")
    examples = re.findall(r"`(\d{12})` is valid", text)
    assert examples
    for ex in examples:
        assert is_valid_ticket(ex)
