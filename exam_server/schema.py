"""The centre's declarative base: every model of the centre derives from it. Below the
database module (exam_server.db imports every model to build its mappers; the models
import only this), so no import circle runs through the database."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from exam_common.schema import NAMING, UTCDateTime


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


__all__ = ["Base", "UTCDateTime"]
