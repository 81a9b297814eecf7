"""Every document a centre prints, as PDF bytes (A4, Chinese by default, ``lang="en"``).

Each function takes the data (a :class:`~seating.model.SeatPlan` and, where needed, the
records), never a database, and returns the PDF. Batches call ``progress(done, total)``.
The Chinese font is found by :func:`~seating.documents.fonts.cjk_font` and embedded.
"""

from seating.documents.admission import admission_tickets
from seating.documents.chart import seating_charts
from seating.documents.common import placeholder_photo_png
from seating.documents.door import door_lists
from seating.documents.fonts import FontNotFoundError, cjk_font, find_cjk_font
from seating.documents.labels import seat_labels
from seating.documents.record import room_records
from seating.documents.scores import score_reports
from seating.documents.signin import sign_in_sheets

__all__ = [
    "FontNotFoundError",
    "admission_tickets",
    "cjk_font",
    "door_lists",
    "find_cjk_font",
    "placeholder_photo_png",
    "room_records",
    "score_reports",
    "seat_labels",
    "seating_charts",
    "sign_in_sheets",
]
