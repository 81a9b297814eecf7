"""The console API's request bodies, typed (pydantic): every field is checked at the edge.

A body that does not fit (a number where text is expected, a list, a 20-digit number,
an unknown field) is refused with 400, ``code: bad_field`` and the field named, before
any service runs; never a 500. The services still apply the rules (a reason is required,
extra time within bounds): these models only make sure each value is of its kind.
JSON bodies and HTML forms are read the same way (forms carry strings, which pydantic
reads as numbers or booleans where the field is one).
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: longest text a field may carry (the services apply their own, shorter limits)
TEXT = 2000


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoBody(Body):
    pass


class ReasonBody(Body):
    reason: str = Field(default="", max_length=TEXT)


class RequiredReasonBody(Body):
    """An action the rules ask a reason for, checked here (empty or blank: refused)."""

    reason: str = Field(min_length=1, max_length=TEXT)


class CheckInBody(Body):
    photo_matches: bool = False
    note: str = Field(default="", max_length=TEXT)


class ExtraBody(Body):
    minutes: int = Field(ge=-10000, le=10000)
    reason: str = Field(default="", max_length=TEXT)


class AcceptGapBody(Body):
    minutes: int | None = Field(default=None, ge=-10000, le=10000)


class BroadcastBody(Body):
    text: str = Field(default="", max_length=TEXT)


class RevokeBody(Body):
    reason: str = Field(default="", max_length=TEXT)


B = TypeVar("B", bound=Body)


#: fields whose refusal has its own, older code (the page's messages know it)
FIELD_CODES = {"minutes": "bad_extra_time"}


class BadField(Exception):
    """A body that does not fit its model: which field, and what is wrong with it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem
        self.code = FIELD_CODES.get(field, "bad_field")


def raw_body() -> dict[str, Any]:
    """The request's JSON object, or its form fields; anything else is refused."""
    if request.is_json:
        data = request.get_json(silent=True)
        if data is None and request.get_data():
            raise BadField("body", "not valid JSON")
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise BadField("body", f"a JSON object is expected, not {type(data).__name__}")
        return data
    form = request.form.to_dict()
    form.pop("csrf_token", None)
    return form


def parse(model: type[B], data: dict[str, Any] | None = None) -> B:
    """``data`` (default: the request's body) as ``model``, or :class:`BadField`."""
    data = raw_body() if data is None else data
    # An empty form field means "not given" (an optional number left blank).
    data = {k: v for k, v in data.items() if not (isinstance(v, str) and v == "")}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadField(where, first["msg"]) from None
