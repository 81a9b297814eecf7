"""Offline key codes catch every single typo and every swap of neighbours."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exam_common.offline_code import ALPHABET, CODE_CHARS, OfflineCodeError, decode, encode

secrets16 = st.binary(min_size=16, max_size=16)


@settings(max_examples=200, deadline=None)
@given(secrets16)
def test_round_trip_and_format(secret: bytes) -> None:
    code = encode(secret)
    groups = code.split("-")
    assert len(groups) == 7 and all(len(g) == 4 for g in groups)
    assert all(c in ALPHABET for c in code.replace("-", ""))
    assert decode(code) == secret
    assert decode(code.lower().replace("-", " ")) == secret
    assert decode(code.replace("0", "O").replace("1", "I")) == secret


@settings(max_examples=25, deadline=None)
@given(secrets16)
def test_every_single_substitution_and_neighbour_swap_is_caught(secret: bytes) -> None:
    raw = encode(secret).replace("-", "")
    for i in range(CODE_CHARS):
        for ch in ALPHABET:
            if ch != raw[i]:
                with pytest.raises(OfflineCodeError, match="校验不通过"):
                    decode(raw[:i] + ch + raw[i + 1 :])
        if i + 1 < CODE_CHARS and raw[i] != raw[i + 1]:
            with pytest.raises(OfflineCodeError):
                decode(raw[:i] + raw[i + 1] + raw[i] + raw[i + 2 :])


def test_clear_errors() -> None:
    code = encode(bytes(range(16)))
    with pytest.raises(OfflineCodeError, match="第 3 个字符“U”无效"):
        decode("12U" + code[3:])
    with pytest.raises(OfflineCodeError, match="应为 28 个字符.*27"):
        decode(code[:-1])
    with pytest.raises(ValueError):
        encode(b"short")
