"""The province's ticket rule: length or range, character set, a check character by
python-stdnum or none; refusals say what is wrong; the generated layout is one rule."""

from __future__ import annotations

import random

import pytest
from pydantic import ValidationError
from stdnum import luhn
from stdnum.iso7064 import mod_11_2, mod_97_10

from exam_common.tickets import GENERATED, TicketError, TicketRule
from seating.tickets import make_ticket

HENAN = TicketRule(name="河南工考报名系统", length=12, charset="digits")


def test_the_manuals_number_follows_henans_rule_and_not_ours() -> None:
    """003_*.txt prints 250800610001; it has no Damm check digit, and the province's rule
    (12 digits, no check character) takes it as issued."""
    HENAN.verify("250800610001")
    with pytest.raises(TicketError) as e:
        GENERATED.verify("250800610001")
    assert e.value.code == "check"


@pytest.mark.parametrize(
    "rule, bad, code, words",
    [
        (HENAN, "25080061000", "length", "应为 12 位，输入了 11 位"),
        (HENAN, "2508006100012", "length", "输入了 13 位"),
        (HENAN, "25080061000A", "chars", "第 12 位"),
        (HENAN, "", "empty", "为空"),
        (TicketRule(length=(8, 10), charset="alnum"), "AB12-456", "chars", "第 5 位"),
        (TicketRule(length=(8, 10), charset="alnum"), "AB12345", "length", "8 至 10 位"),
    ],
)
def test_refusals_name_what_is_wrong(rule: TicketRule, bad: str, code: str, words: str) -> None:
    with pytest.raises(TicketError) as e:
        rule.verify(bad)
    assert e.value.code == code
    assert words in e.value.zh, e.value.zh
    assert e.value.en


@pytest.mark.parametrize(
    "check, make",
    [
        ("luhn", lambda body: body + luhn.calc_check_digit(body)),
        ("iso7064_mod_97_10", lambda body: body + mod_97_10.calc_check_digits(body)),
        ("iso7064_mod_11_2", lambda body: body + mod_11_2.calc_check_digit(body)),
    ],
)
def test_check_characters_by_stdnum_catch_single_errors(check: str, make: object) -> None:
    rule = TicketRule(length=(10, 14), charset="digits", check=check)  # type: ignore[arg-type]
    rng = random.Random(check)
    for _ in range(60):
        body = "".join(rng.choice("0123456789") for _ in range(10))
        good = make(body)  # type: ignore[operator]
        rule.verify(good)
        pos = rng.randrange(len(body))
        wrong = body[:pos] + str((int(body[pos]) + 1) % 10) + body[pos + 1 :] + good[len(body) :]
        with pytest.raises(TicketError) as e:
            rule.verify(wrong)
        assert e.value.code == "check"


def test_mod_11_2_allows_x_only_as_the_check_character() -> None:
    rule = TicketRule(length=8, charset="digits", check="iso7064_mod_11_2")
    body = next(
        b for b in (f"{n:07d}" for n in range(1000, 9999)) if mod_11_2.calc_check_digit(b) == "X"
    )
    rule.verify(body + "X")
    assert rule.normalise(f" {body} x ") == body + "X"
    with pytest.raises(TicketError) as e:
        rule.verify("X" + body)
    assert e.value.code == "chars"


def test_generated_layout_is_one_rule() -> None:
    tk = make_ticket(2026, "0101", "001", 5)
    GENERATED.verify(tk)
    assert GENERATED.public()["check"] == "damm"
    assert GENERATED.describe() == "12 位数字，末位为 damm 校验位"
    assert HENAN.describe() == "12 位数字，无校验位"
    assert HENAN.describe("en") == "12 digits, no check character"


@pytest.mark.parametrize(
    "doc, words",
    [
        ({"length": 0, "charset": "digits"}, "长度应在 1 至 32"),
        ({"length": [12, 10], "charset": "digits"}, "最短不大于最长"),
        ({"length": 40, "charset": "digits"}, "长度应在 1 至 32"),
        ({"length": 12, "charset": "alnum", "check": "damm"}, "只适用于纯数字"),
        ({"length": 12, "charset": "digits", "check": "sha1"}, "check"),
        ({"length": 10, "charset": "digits", "layout": "generated"}, "layout generated"),
        ({"length": 12, "charset": "letters"}, "charset"),
    ],
)
def test_bad_rules_are_refused(doc: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError) as e:
        TicketRule.model_validate(doc)
    assert words in str(e.value)
