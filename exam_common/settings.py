"""One typed settings class per process, read by pydantic-settings.

The centre server (:class:`exam_server.config.Config`, ``EXAM_*``), its console
(:class:`exam_server.console.settings.ConsoleSettings`, ``EXAM_CONSOLE_*``) and central
(:class:`central.config.CentralConfig`, ``EXAM_CENTRAL_*``) each declare their settings
as typed fields with a docstring under each; the README's tables are checked against
them (``tests/server/test_settings_documented.py``). This module holds what the three
share: the order of the sources (the caller's options, then the environment, then a
file where the process has one, then the default), fields that are state rather than
settings (never read from the environment), and refusals that name the variable or the
file and what it must be, in one line, Chinese first.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class ConfigError(ValueError):
    """A setting that cannot be read: says which, where it came from, and what it must be."""


#: what a refused value must be, by pydantic's error type
_MUST_BE = {
    "int_parsing": ("整数", "an integer"),
    "int_from_float": ("整数", "an integer"),
    "float_parsing": ("数字", "a number"),
    "bool_parsing": ("0 或 1", "0 or 1 (or true/false)"),
    "string_type": ("文字", "text"),
    "greater_than_equal": ("不小于下限的数", "at or above its lower bound"),
}


class _Source(PydanticBaseSettingsSource):
    """A source whose values a function gives (already named by field)."""

    def __init__(self, settings_cls: type[BaseSettings], read: Callable[[], dict[str, Any]]):
        super().__init__(settings_cls)
        self._read = read

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._read()


class Settings(BaseSettings):
    """The shared base. A subclass sets ``model_config`` (its ``env_prefix``) and may
    name :attr:`STATE` fields, which the code sets and the environment never does."""

    model_config = SettingsConfigDict(
        case_sensitive=True,
        extra="forbid",
        use_attribute_docstrings=True,
        validate_default=False,
        env_ignore_empty=True,
    )

    #: fields the code sets (not settings): never read from the environment or a file
    STATE: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise self._refusal(exc, values) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        def environment() -> dict[str, Any]:
            return {k: v for k, v in env_settings().items() if k not in cls.STATE}

        files = (_Source(settings_cls, read) for read in cls.file_sources())
        return (init_settings, _Source(settings_cls, environment), *files)

    @classmethod
    def file_sources(cls) -> tuple[Callable[[], dict[str, Any]], ...]:
        """Sources below the environment (a process's own file); none by default."""
        return ()

    @classmethod
    def env_name(cls, name: str) -> str:
        return f"{cls.model_config.get('env_prefix', '')}{name}"

    @classmethod
    def names(cls) -> set[str]:
        return set(cls.model_fields)

    @classmethod
    def from_mapping(cls, overrides: dict[str, Any] | None) -> Any:
        """The settings with the caller's ``overrides`` (field names) over every source;
        an unknown name is refused, naming the known ones."""
        return cls(**cls.known(overrides))

    @classmethod
    def known(cls, overrides: dict[str, Any] | None) -> dict[str, Any]:
        """``overrides`` as a new dict, every name one of this class's settings; an unknown
        name is refused, naming the known ones."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - cls.names())
        if unknown:
            raise KeyError(
                f"unknown setting {unknown[0]!r} for {cls.__name__}; "
                f"known: {', '.join(sorted(cls.names()))}"
            )
        return overrides

    @classmethod
    def _refusal(cls, exc: ValidationError, given: dict[str, Any]) -> ConfigError:
        """The first bad value as one line: the variable (or the caller's option) and
        what it must be."""
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "?"
        zh, en = _MUST_BE.get(error["type"], ("合法的值", "a valid value"))
        var = cls.env_name(name)
        if name not in given and var in os.environ:
            raw = os.environ[var]
            return ConfigError(f"环境变量 {var}={raw!r} 不是{zh}，请改正 ({var} must be {en})")
        return ConfigError(
            f"设置 {name}={error.get('input')!r} 不是{zh}，请改正 ({name} must be {en}: "
            f"{error['msg']})"
        )
