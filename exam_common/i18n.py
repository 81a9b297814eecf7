"""Text through gettext catalogues: one catalogue per language, read with Babel.

The code writes each text in Chinese, the product's first language, marked with
:func:`N_` and a context (which part of the product says it: ``refusal``, ``console``,
``seating``...), so one Chinese word can be translated differently in two places. The
catalogues are ``exam_common/translations/<lang>/LC_MESSAGES/messages.po``: ``zh_CN``
holds the Chinese as the product prints it, ``en`` the English. ``make translations``
extracts the marked texts (``pybabel extract``), merges them into both catalogues
(``pybabel update``) and compiles them (``pybabel compile``); ``make test`` checks that
every marked text has both (``tests/common/test_catalogues.py``).

A catalogue that was not compiled (a fresh checkout before ``make``) is read from its
``.po`` instead, so the product never shows a bare message id.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

#: the languages a person can choose; the first is the default
LANGS = ("zh_CN", "en")
DOMAIN = "messages"
TRANSLATIONS = Path(__file__).with_name("translations")

#: for ``pybabel extract -k``: N_(context, text)
KEYWORDS = {"N_": ((1, "c"), 2)}


@dataclass(frozen=True)
class Text:
    """A text to be said in the reader's language: its context and its Chinese (the
    message id). ``str()`` of it is the Chinese."""

    context: str
    msgid: str

    def in_(self, lang: str, **params: object) -> str:
        """The text in ``lang`` (``zh_CN`` or ``en``), with ``params`` filled in."""
        text = str(catalogue(lang).pgettext(self.context, self.msgid))
        return text.format(**params) if params else text

    def both(self, **params: object) -> str:
        """``中文 (English)``, for a line both a Chinese and an English reader read (a
        command line's refusals)."""
        return f"{self.in_('zh_CN', **params)} ({self.in_('en', **params)})"

    def __str__(self) -> str:
        return self.in_("zh_CN")


def N_(context: str, text: str) -> Text:  # noqa: N802 - gettext's own name for a marker
    """Mark ``text`` (Chinese) for the catalogues, in ``context``."""
    return Text(context, text)


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: use zh_CN or en")
    return lang


@functools.cache
def catalogue(lang: str) -> Translations:
    """The compiled catalogue of ``lang``; an unknown language reads as Chinese."""
    lang = lang if lang in LANGS else LANGS[0]
    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as f:
            return Translations(f, domain=DOMAIN)
    with po.open("rb") as f:
        parsed = read_po(f, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, parsed)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def table(texts: dict[str, Text], lang: str) -> dict[str, str]:
    """A keyed table of texts, all in ``lang`` (for a page's scripts)."""
    return {key: text.in_(lang) for key, text in texts.items()}
