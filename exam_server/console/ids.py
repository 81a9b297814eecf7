"""Database ids in the console's URLs and events: positive, and never past what the
database's integer takes."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

#: largest id a URL may carry: a bigger number is "no such thing" (404), never an
#: overflow in the database driver (a 20-digit attempt id used to be a 500)
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<id:name>``: a positive database id of at most :data:`MAX_ID`."""

    def __init__(self, map: Any) -> None:  # noqa: A002 - werkzeug's name
        super().__init__(map, min=1, max=MAX_ID)
