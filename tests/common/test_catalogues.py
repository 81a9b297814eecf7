"""One catalogue per language (exam_common/translations): every text the code marks with
``N_`` is in both, translated, with the same placeholders; nothing stale is left in them;
and the code reads them, compiled or not."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from exam_common import i18n
from exam_common.i18n import KEYWORDS, LANGS, N_, TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("exam_server", "exam_client", "exam_common", "seating", "central", "question_bank")
FIELD = re.compile(r"\{(\w*)[^{}]*\}")


def marked() -> set[tuple[str, str]]:
    """(context, text) of every N_ in the packages, as ``make translations`` extracts them."""
    found = set()
    for package in PACKAGES:
        for _, _, message, _, context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            assert context, f"{package}: N_ without a context for {message!r}"
            found.add((context, message))
    return found


def catalogue(lang: str) -> dict[tuple[str, str], str]:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {(m.context, m.id): m.string for m in read_po(f) if m.id}


@pytest.mark.parametrize("lang", LANGS)
def test_every_marked_text_is_in_each_catalogue_translated(lang: str) -> None:
    code, po = marked(), catalogue(lang)
    assert len(code) > 300
    assert sorted(code - set(po)) == [], f"marked but not in {lang}: run make translations"
    assert sorted(set(po) - code) == [], f"in {lang} but marked nowhere: run make translations"
    untranslated = sorted(key for key, text in po.items() if not text.strip())
    assert untranslated == [], f"no {lang} text yet: fill in msgstr"
    for (context, msgid), text in po.items():
        assert sorted(FIELD.findall(text)) == sorted(FIELD.findall(msgid)), (
            f"{lang} {context}: the placeholders differ: {msgid!r} / {text!r}"
        )


#: the English texts that are Chinese on purpose: the switch to the other language
OTHER_LANGUAGE = {("console", "English"), ("terminal", "English")}


def test_english_is_english_and_chinese_is_chinese() -> None:
    han = re.compile(r"[\u4e00-\u9fff]")
    for key, text in catalogue("en").items():
        if key not in OTHER_LANGUAGE:
            assert not han.search(FIELD.sub("", text)), f"Chinese in the English for {key}"
    for (context, msgid), text in catalogue("zh_CN").items():
        assert han.search(text) or not han.search(msgid), f"{context} {msgid!r}: {text!r}"


def test_a_text_is_said_in_the_readers_language() -> None:
    login = N_("console", "登录")
    assert login.in_("zh_CN") == "登录" and str(login) == "登录"
    assert login.in_("en") == "Log in"
    assert login.in_("fr") == "登录"  # a language we do not have reads as Chinese
    refused = N_("refusal", "操作被拒绝（{code}）。")
    assert refused.in_("en", code="x") == "Refused (x)."
    assert refused.both(code="x") == "操作被拒绝（x）。 (Refused (x).)"


def test_an_uncompiled_catalogue_is_read_from_its_po(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy, ignore=shutil.ignore_patterns("*.mo"))
    po = copy / "en" / "LC_MESSAGES" / "messages.po"
    po.write_text(po.read_text().replace('msgstr "Log in"', 'msgstr "Sign in"'))
    monkeypatch.setattr(i18n, "TRANSLATIONS", copy)
    i18n.catalogue.cache_clear()
    try:
        assert N_("console", "登录").in_("en") == "Sign in"
    finally:
        i18n.catalogue.cache_clear()


def test_the_candidates_page_gets_both_languages_from_the_catalogues() -> None:
    """The terminal's page reads its words from ``/i18n.js`` (exam_client/texts.py), the
    same catalogues: both languages, every key in each, every refusal code worded."""
    import json

    from exam_client.texts import CODES, page_script, page_texts

    script = page_script()
    prefix = '"use strict";\nconst I18N = '
    assert script.startswith(prefix) and script.rstrip().endswith(";")
    both = json.loads(script[len(prefix) :].rstrip().rstrip(";"))
    assert both["zh"] == page_texts("zh_CN") and both["en"] == page_texts("en")
    assert set(both["zh"]) == set(both["en"]) and set(both["en"]["codes"]) == set(CODES)
    assert both["zh"]["login"] == "登录" and both["en"]["login"] == "Log in"
