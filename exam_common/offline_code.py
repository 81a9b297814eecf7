"""Offline key codes (离线密钥码): a release secret read out over the phone.

When a centre cannot reach central at start time, central reads the sitting's 16-byte
release secret to the chief examiner as a short code, for example::

    0F3K-9ZQ2-M1XA-7B4C-JD8E-P6RT-W5VN

Format: the secret as a 128-bit number followed by a 10-bit check value ``c``, written in
Crockford base32 (digits and letters without I, L, O, U): 28 characters in seven groups
of four. ``c`` is chosen so that the whole 140-bit number is divisible by the prime 1021.
Because 1021 is prime and larger than 31, changing any single character, or swapping any
two neighbouring characters, changes the number by a non-multiple of 1021, so every such
mistake is caught. Decoding accepts lower case, spaces, and the usual look-alikes
(O for 0, I and L for 1) and ignores hyphens.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUES = {c: i for i, c in enumerate(ALPHABET)}
_VALUES.update({"O": 0, "I": 1, "L": 1})
PRIME = 1021
SECRET_BYTES = 16
DATA_CHARS = 26  # ceil(128 / 5)
CODE_CHARS = DATA_CHARS + 2
GROUP = 4


class OfflineCodeError(ValueError):
    """A code that cannot be right; the message says what to check (Chinese first)."""


def encode(secret: bytes) -> str:
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"a release secret is {SECRET_BYTES} bytes, not {len(secret)}")
    value = int.from_bytes(secret, "big")
    check = (-(value << 10)) % PRIME
    number = (value << 10) | check
    chars = []
    for _ in range(CODE_CHARS):
        chars.append(ALPHABET[number & 31])
        number >>= 5
    text = "".join(reversed(chars))
    return "-".join(text[i : i + GROUP] for i in range(0, CODE_CHARS, GROUP))


def decode(code: str) -> bytes:
    """The release secret from a code as typed; refuses any code with a typing mistake."""
    cleaned = "".join(ch for ch in code.upper() if ch not in " -\t\n")
    for pos, ch in enumerate(cleaned, start=1):
        if ch not in _VALUES:
            raise OfflineCodeError(
                f"离线密钥码第 {pos} 个字符“{ch}”无效：只会出现数字 0-9 和字母（不含 I、L、O、U）。"
                f"请核对后重新输入 (invalid character at position {pos})"
            )
    if len(cleaned) != CODE_CHARS:
        raise OfflineCodeError(
            f"离线密钥码应为 {CODE_CHARS} 个字符（7 组，每组 4 个），现在是 {len(cleaned)} 个。"
            f"请核对是否漏输或多输 (expected {CODE_CHARS} characters, got {len(cleaned)})"
        )
    number = 0
    for ch in cleaned:
        number = (number << 5) | _VALUES[ch]
    if number % PRIME != 0 or number >> 10 >= 1 << (8 * SECRET_BYTES):
        raise OfflineCodeError(
            "离线密钥码校验不通过：有字符输错或相邻两个字符顺序颠倒。请对方逐组重读，"
            "核对后重新输入 (check failed: a character is mistyped or two are swapped)"
        )
    return (number >> 10).to_bytes(SECRET_BYTES, "big")
