"""The province's admission ticket numbers (准考证号): one rule, applied everywhere.

The province's registration system issues the 准考证 and its number, in its own format
(Henan's manual shows ``250800610001``). The exam plan carries that format as a
:class:`TicketRule` (length or a range of lengths, character set, optional check
character); central's registration import, the centre server's login and the terminal's
keyboard check all apply the one rule they were given. Numbers central makes itself
(when a registration comes without one) follow :data:`GENERATED`: today's
``YY CCCC RRR SS K`` layout with a Damm check digit (``seating.tickets``).

Check characters are computed by python-stdnum (Damm, Luhn, Verhoeff and the ISO 7064
variants), never by code of our own. A number that breaks the rule raises
:class:`TicketError`, whose ``zh``/``en`` say what is wrong and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from stdnum import damm, luhn, verhoeff
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.iso7064 import mod_11_2, mod_11_10, mod_37_2, mod_37_36, mod_97_10

#: The longest ticket number any rule may allow (the databases' column width).
MAX_TICKET_LENGTH = 32

DIGITS = "0123456789"
UPPER_ALNUM = DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: character sets a rule may name: the word the rule uses -> (characters, Chinese name)
CHARSETS: dict[str, tuple[str, str, str]] = {
    "digits": (DIGITS, "数字", "digits"),
    "alnum": (UPPER_ALNUM, "数字和大写字母", "digits and capital letters"),
}

CheckName = Literal[
    "damm",
    "luhn",
    "verhoeff",
    "iso7064_mod_11_2",
    "iso7064_mod_11_10",
    "iso7064_mod_37_2",
    "iso7064_mod_37_36",
    "iso7064_mod_97_10",
]


def _validator(module: Any) -> Callable[[str], object]:
    validate: Callable[[str], object] = module.validate
    return validate


#: check algorithm -> (stdnum validator, extra characters its check character may use,
#: how many check characters it appends)
CHECKS: dict[str, tuple[Callable[[str], object], str, int]] = {
    "damm": (_validator(damm), "", 1),
    "luhn": (_validator(luhn), "", 1),
    "verhoeff": (_validator(verhoeff), "", 1),
    "iso7064_mod_11_2": (_validator(mod_11_2), "X", 1),
    "iso7064_mod_11_10": (_validator(mod_11_10), "", 1),
    "iso7064_mod_37_2": (_validator(mod_37_2), "*", 1),
    "iso7064_mod_37_36": (_validator(mod_37_36), "", 1),
    "iso7064_mod_97_10": (_validator(mod_97_10), "", 2),
}
#: algorithms that work on digits only
DIGIT_CHECKS = frozenset({"damm", "luhn", "verhoeff", "iso7064_mod_11_10", "iso7064_mod_97_10"})


class TicketError(ValueError):
    """A ticket number that breaks the rule. ``code`` is machine-readable (``chars``,
    ``length``, ``check``, ...); ``str()`` says in Chinese, then English, what is wrong."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(f"{zh}（{en}）")
        self.code = code
        self.zh = zh
        self.en = en


class TicketRule(BaseModel):
    """How the province writes its ticket numbers (准考证号).

    JSON, as in a plan file::

        {"name": "河南省工考报名系统准考证号", "length": 12, "charset": "digits",
         "check": null}

    ``length`` is one number or ``[shortest, longest]``; ``charset`` is ``digits`` or
    ``alnum`` (digits and capital letters; a terminal upper-cases what is typed);
    ``check`` names a check-character algorithm (``damm``, ``luhn``, ``verhoeff``,
    ``iso7064_mod_11_2``, ``iso7064_mod_11_10``, ``iso7064_mod_37_2``,
    ``iso7064_mod_37_36``, ``iso7064_mod_97_10``) or ``null`` when the number has none.
    ``layout`` is ``generated`` only for the numbers central makes itself.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: what the province calls its numbers, shown in messages (e.g. 河南工考准考证号)
    name: str = Field(default="", max_length=100)
    length: int | tuple[int, int]
    charset: Literal["digits", "alnum"]
    check: CheckName | None = None
    #: ``generated``: the year, centre, room and seat layout of ``seating.tickets``
    layout: Literal["generated"] | None = None

    @field_validator("length")
    @classmethod
    def _length(cls, v: int | tuple[int, int]) -> int | tuple[int, int]:
        lo, hi = (v, v) if isinstance(v, int) else v
        if not 1 <= lo <= hi <= MAX_TICKET_LENGTH:
            raise ValueError(
                f"准考证号长度应在 1 至 {MAX_TICKET_LENGTH} 之间，且最短不大于最长 "
                f"(length must be 1..{MAX_TICKET_LENGTH}, shortest <= longest), got {v}"
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TicketRule:
        if self.check in DIGIT_CHECKS and self.charset != "digits":
            raise ValueError(
                f"校验算法 {self.check} 只适用于纯数字的准考证号 "
                f"(the {self.check} check works on digits only)"
            )
        if self.check is not None and self.min_length <= CHECKS[self.check][2]:
            raise ValueError(
                "有校验位的准考证号至少要比校验位多一位 (a number needs more than its check characters)"
            )
        if self.layout == "generated" and (
            self.length != 12 or self.charset != "digits" or self.check != "damm"
        ):
            raise ValueError(
                "layout generated 是本系统的 12 位数字、Damm 校验位格式，不能改动长度、字符或校验 "
                "(the generated layout is 12 digits with a Damm check digit)"
            )
        return self

    @property
    def min_length(self) -> int:
        return self.length if isinstance(self.length, int) else self.length[0]

    @property
    def max_length(self) -> int:
        return self.length if isinstance(self.length, int) else self.length[1]

    @property
    def alphabet(self) -> str:
        return CHARSETS[self.charset][0]

    def describe(self, lang: str = "zh_CN") -> str:
        """One line for people: ``12 位数字，无校验位`` / ``12 digits, no check character``."""
        _, zh_set, en_set = CHARSETS[self.charset]
        lo, hi = self.min_length, self.max_length
        if lang == "en":
            n = f"{lo}" if lo == hi else f"{lo} to {hi}"
            check = f"a {self.check} check character" if self.check else "no check character"
            return f"{n} {en_set}, {check}"
        n = f"{lo} 位" if lo == hi else f"{lo} 至 {hi} 位"
        check = f"末位为 {self.check} 校验位" if self.check else "无校验位"
        return f"{n}{zh_set}，{check}"

    def normalise(self, ticket: str) -> str:
        """What a person typed, as the rule compares it: spaces removed, and for
        ``alnum`` numbers (or an ISO 7064 ``X`` check character) letters upper-cased."""
        text = "".join(str(ticket).split())
        if self.charset == "alnum" or (self.check and CHECKS[self.check][1]):
            text = text.upper()
        return text

    def verify(self, ticket: str) -> None:
        """Raise :class:`TicketError` naming what is wrong with ``ticket``; return if it
        follows the rule. The caller normalises input first (:meth:`normalise`)."""
        if not isinstance(ticket, str) or not ticket:
            raise TicketError("empty", "准考证号为空", "the ticket number is empty")
        extra = CHECKS[self.check][1] if self.check else ""
        allowed = self.alphabet
        _, zh_set, en_set = CHARSETS[self.charset]
        for i, ch in enumerate(ticket):
            last = i == len(ticket) - 1
            if ch in allowed or (last and ch in extra):
                continue
            raise TicketError(
                "chars",
                f"准考证号只能包含{zh_set}：第 {i + 1} 位是“{ch}”",
                f"{en_set} only: character {i + 1} is {ch!r}",
            )
        lo, hi = self.min_length, self.max_length
        if not lo <= len(ticket) <= hi:
            want_zh = f"{lo} 位" if lo == hi else f"{lo} 至 {hi} 位"
            want_en = f"{lo}" if lo == hi else f"{lo} to {hi}"
            raise TicketError(
                "length",
                f"准考证号应为 {want_zh}，输入了 {len(ticket)} 位",
                f"a ticket number has {want_en} characters, got {len(ticket)}",
            )
        if self.check is not None:
            try:
                CHECKS[self.check][0](ticket)
            except StdnumError:
                raise TicketError(
                    "check",
                    "准考证号校验不通过：可能输错了一位或颠倒了相邻两位，请对照准考证重新输入",
                    "check character does not match: a character is mistyped or two "
                    "neighbours are swapped; type it again from the admission ticket",
                ) from None
        if self.layout == "generated":
            if ticket[6:9] == "000":
                raise TicketError(
                    "room", "准考证号中的考场号为 000", "room number 000 in the ticket"
                )
            if ticket[9:11] == "00":
                raise TicketError("seat", "准考证号中的座号为 00", "seat number 00 in the ticket")

    def is_valid(self, ticket: str) -> bool:
        try:
            self.verify(ticket)
        except TicketError:
            return False
        return True

    def public(self) -> dict[str, Any]:
        """What a terminal's keyboard check needs (also the protocol's ``ticket_rule``)."""
        return {
            "name": self.name,
            "min_length": self.min_length,
            "max_length": self.max_length,
            "charset": self.charset,
            "alphabet": self.alphabet + (CHECKS[self.check][1] if self.check else ""),
            "check": self.check,
        }


#: The numbers central makes itself: 12 digits ``YY CCCC RRR SS K`` with a Damm check
#: digit (``seating.tickets``, ``docs/ticket-numbers.md``).
GENERATED = TicketRule(
    name="本系统编排的准考证号",
    length=12,
    charset="digits",
    check="damm",
    layout="generated",
)

#: A ticket number as any rule could allow it: what a message may carry before the
#: province's rule is applied (the protocol's bound, the databases' width).
AnyTicket = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TICKET_LENGTH,
        pattern=r"^[0-9A-Za-z*]+$",
        description="准考证号 as the province issues it; checked against its TicketRule",
    ),
]
