"""Fixtures for seating: a small plan, and the tools PDF tests need (font, pdftotext).

The font and poppler tests skip outside CI with what to install; under CI=true they fail
instead, so a machine without them cannot pass silently.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from seating import sample
from seating.allocation import allocate
from seating.model import SeatPlan

CI = os.environ.get("CI") == "true"
HOW = "apt-get install -y fonts-wqy-microhei poppler-utils"


def _need(ok: bool, what: str) -> None:
    if ok:
        return
    if CI:
        pytest.fail(f"CI=true requires {what}: {HOW}")
    pytest.skip(f"{what} not available: {HOW}")


@pytest.fixture(scope="session")
def pdf_tools() -> None:
    """The Chinese font and poppler's pdftotext/pdffonts/pdfinfo."""
    from seating.documents.fonts import FontNotFoundError, find_cjk_font

    try:
        find_cjk_font()
        font = True
    except FontNotFoundError:
        font = False
    _need(font, "a Chinese TrueType font (fonts-wqy-microhei)")
    _need(all(shutil.which(t) for t in ("pdftotext", "pdffonts", "pdfinfo")), "poppler-utils")


def pdf_text(pdf: bytes, *, layout: bool = False) -> str:
    args = ["pdftotext", "-enc", "UTF-8"] + (["-layout"] if layout else []) + ["-", "-"]
    return subprocess.run(args, input=pdf, capture_output=True, check=True).stdout.decode()


def pdf_pages(pdf: bytes) -> list[str]:
    """Text of each page (pdftotext separates pages with form feeds)."""
    return pdf_text(pdf).split("\f")[:-1]


def pdf_info(pdf: bytes, tmp: Path) -> dict[str, str]:
    p = tmp / "x.pdf"
    p.write_bytes(pdf)
    out = subprocess.run(["pdfinfo", str(p)], capture_output=True, check=True, text=True).stdout
    return {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in out.splitlines())}


def pdf_fonts(pdf: bytes, tmp: Path) -> str:
    p = tmp / "f.pdf"
    p.write_bytes(pdf)
    return subprocess.run(["pdffonts", str(p)], capture_output=True, check=True, text=True).stdout


def photo_bytes(seed: int) -> bytes:
    """A small made-up portrait (a coloured figure), distinct per seed."""
    img = Image.new("RGB", (150, 200), ((seed * 53) % 256, 180, 200))
    d = ImageDraw.Draw(img)
    d.ellipse((45, 30, 105, 100), fill=(240, 210, 180))
    d.rectangle((30, 120, 120, 200), fill=((seed * 97) % 256, 60, 90))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.fixture(scope="session")
def small_plan() -> SeatPlan:
    """80 candidates of levels 1-5 in a centre of 4 rooms of 6 x 6, half with photos."""
    import dataclasses

    cands = [
        dataclasses.replace(c, photo=photo_bytes(i) if i % 2 == 0 else None)
        for i, c in enumerate(sample.candidates(80, seed=11))
    ]
    return allocate(cands, [sample.centre(rooms=4)], sample.sittings(), year=2026, seed=5)
