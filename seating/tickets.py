"""Ticket numbers central makes itself (准考证号): 12 digits, ``YY CCCC RRR SS K``.

This is one :class:`exam_common.tickets.TicketRule`, :data:`~exam_common.tickets.GENERATED`,
used when a registration comes without the province's own number; a province that issues
its own numbers sets its rule in the plan and they are kept as issued.

======  ======  ==============================================================
digits  field   meaning
======  ======  ==============================================================
1-2     YY      exam year, last two digits (2026 -> ``26``)
3-6     CCCC    centre code (考点代码), 4 digits assigned by the province
7-9     RRR     room number (考场号) at the centre, ``001``-``999``
10-11   SS      seat number (座号) in the room, ``01``-``99``
12      K       Damm check digit over digits 1-11
======  ======  ==============================================================

The Damm check digit (from :mod:`stdnum.damm`) catches every single mistyped digit and
every swap of two neighbouring digits. ``docs/ticket-numbers.md`` describes the algorithm.

One ticket per candidate per plan: the ticket names the candidate's planned seat, which is
the same for all the plan's sittings. A seat change on the day (a dead terminal) does not
change the ticket; the room record notes the change.
"""

from __future__ import annotations

from dataclasses import dataclass

from stdnum import damm

from exam_common.tickets import GENERATED, TicketError

TICKET_LENGTH = 12

__all__ = [
    "GENERATED",
    "TICKET_LENGTH",
    "TicketError",
    "TicketParts",
    "check_digit",
    "is_valid_ticket",
    "make_ticket",
    "parse_ticket",
    "validate_ticket",
]


@dataclass(frozen=True)
class TicketParts:
    year: int  #: two digits, 0-99
    centre: str  #: 4 digits
    room: str  #: 3 digits
    seat: int  #: 1-99


def check_digit(body: str) -> str:
    """The Damm check digit of the first 11 digits."""
    return damm.calc_check_digit(body)


def make_ticket(year: int, centre: str, room: str | int, seat: int) -> str:
    """Build a ticket number. ``year`` is the full year (2026) or its last two digits."""
    room_s = str(room).zfill(3) if isinstance(room, int) else room.zfill(3)
    if not (centre.isdigit() and len(centre) == 4):
        raise TicketError("centre", f"考点代码“{centre}”应为 4 位数字", "centre code: 4 digits")
    if not (room_s.isdigit() and len(room_s) == 3 and int(room_s) > 0):
        raise TicketError("room", f"考场号“{room}”应为 1-999", "room number: 1-999")
    if not 1 <= seat <= 99:
        raise TicketError("seat", f"座号 {seat} 应为 1-99", "seat number: 1-99")
    if year < 0:
        raise TicketError("year", f"年份 {year} 无效", "year must not be negative")
    body = f"{year % 100:02d}{centre}{room_s}{seat:02d}"
    return body + check_digit(body)


def validate_ticket(ticket: str) -> None:
    """Raise :class:`TicketError` naming what is wrong with a number of this layout
    (:data:`~exam_common.tickets.GENERATED`); return if valid.

    Surrounding spaces are not accepted here: the caller strips input before checking.
    """
    if not isinstance(ticket, str):
        raise TicketError("type", "准考证号应为文本", "the ticket number must be a string")
    GENERATED.verify(ticket)


def is_valid_ticket(ticket: str) -> bool:
    try:
        validate_ticket(ticket)
    except TicketError:
        return False
    return True


def parse_ticket(ticket: str) -> TicketParts:
    """Split a valid ticket into its fields (raises :class:`TicketError` if invalid)."""
    validate_ticket(ticket)
    return TicketParts(
        year=int(ticket[0:2]), centre=ticket[2:6], room=ticket[6:9], seat=int(ticket[9:11])
    )
