"""Seat allocation, admission ticket numbers and the printed documents of an exam day (pure).

The server and central call:

* :func:`allocate` -> :class:`SeatPlan` (seats, tickets, variants, problem report);
* :func:`make_ticket`, :func:`validate_ticket`, :func:`is_valid_ticket`, :func:`parse_ticket`;
* :mod:`seating.documents` for the PDFs, :mod:`seating.exports` for the xlsx files;
* :mod:`seating.planfile` to store a plan as JSON, :mod:`seating.records` for the typed
  room-log entries and score reports.

See ``docs/seating.md``.
"""

from seating.allocation import allocate, spare_seats_for
from seating.model import (
    Assignment,
    Candidate,
    Centre,
    Gender,
    Problem,
    ProblemKind,
    Room,
    SeatingError,
    SeatPlan,
    Sitting,
    room_key,
)
from seating.tickets import TicketError, is_valid_ticket, make_ticket, parse_ticket, validate_ticket

__all__ = [
    "Assignment",
    "Candidate",
    "Centre",
    "Gender",
    "Problem",
    "ProblemKind",
    "Room",
    "SeatPlan",
    "SeatingError",
    "Sitting",
    "TicketError",
    "allocate",
    "is_valid_ticket",
    "make_ticket",
    "parse_ticket",
    "room_key",
    "spare_seats_for",
    "validate_ticket",
]
