"""Shared pieces of the printed documents: fonts, photos, text fitting, tables, progress."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, UnidentifiedImageError
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

from seating.documents.fonts import cjk_font
from seating.i18n import check_lang, t
from seating.model import Candidate, SeatPlan

#: ``progress(done, total)``, called after each unit of work (a candidate, a room).
Progress = Callable[[int, int], None]

PAGE_W, PAGE_H = A4
MARGIN = 14 * mm
GRID = colors.HexColor("#444444")
SHADE = colors.HexColor("#EEF1F5")
PHOTO_RATIO = 4 / 3  #: height / width of a registration photo (e.g. 295 x 413 px is ~1.4)


def new_canvas(
    buf: io.BytesIO, title: str, lang: str, pagesize: tuple[float, float] = A4
) -> Canvas:
    check_lang(lang)
    c = Canvas(buf, pagesize=pagesize, pageCompression=1, lang="zh-CN" if lang == "zh_CN" else "en")
    c.setTitle(title)
    c.setAuthor("seating")
    c.setSubject(title)
    return c


def plan_title(plan: SeatPlan, lang: str) -> str:
    if plan.title and lang != "en":
        return plan.title
    return (
        t("default_title", lang, year=plan.year) if lang == "en" or not plan.title else plan.title
    )


# --- photos ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def placeholder_photo_png() -> bytes:
    """A neutral head-and-shoulders silhouette for a candidate without a photo."""
    w, h = 300, 400
    img = Image.new("RGB", (w, h), (226, 232, 240))
    d = ImageDraw.Draw(img)
    fg = (148, 160, 178)
    d.ellipse((w * 0.08, h * 0.62, w * 0.92, h * 1.25), fill=fg)  # shoulders
    d.rectangle((w * 0.41, h * 0.50, w * 0.59, h * 0.66), fill=fg)  # neck
    d.ellipse((w * 0.29, h * 0.16, w * 0.71, h * 0.58), fill=fg)  # head
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


@lru_cache(maxsize=1)
def _placeholder_jpeg() -> bytes:
    img = Image.open(io.BytesIO(placeholder_photo_png())).convert("RGB")
    img.thumbnail((240, 320))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def print_jpeg(photo: bytes | None) -> bytes:
    """The photo as a JPEG fit to print: a small RGB/grey JPEG passes through untouched
    (reportlab embeds JPEG data as it is, without decoding); anything else is decoded,
    scaled down and re-encoded. A photo that does not decode gives the placeholder: a
    batch should not stop for one bad file, and the CLI names bad files when it reads
    them."""
    if not photo:
        return _placeholder_jpeg()
    try:
        img = Image.open(io.BytesIO(photo))
        if (
            img.format == "JPEG"
            and img.mode in ("RGB", "L")
            and img.width <= 600
            and img.height <= 800
        ):
            return photo
        img.load()
    except (UnidentifiedImageError, OSError, ValueError):
        return _placeholder_jpeg()
    rgb = img.convert("RGB")
    rgb.thumbnail((240, 320))
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=85)
    return out.getvalue()


class PhotoFiles:
    """Candidates' photos as JPEG files in a temporary folder while one document is built.

    reportlab names an image by a digest: of the decoded pixels for an in-memory image
    (decoded again at every draw), of the path for a file. Files keep a batch of thousands
    of photos fast and small in memory, and each photo is embedded once per PDF.
    """

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="seating-photos-")
        self._paths: dict[str, str] = {}

    def __enter__(self) -> PhotoFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()

    def path(self, candidate: Candidate) -> str:
        key = candidate.id_number if candidate.photo else "placeholder"
        p = self._paths.get(key)
        if p is None:
            p = os.path.join(self._dir.name, f"{key}.jpg")
            # a photo in a temporary folder, while a PDF renders
            with open(p, "wb") as f:  # not-durable: a temporary file for reportlab
                f.write(print_jpeg(candidate.photo))
            self._paths[key] = p
        return p


def draw_photo(c: Canvas, img: str, x: float, y: float, w: float, h: float) -> None:
    c.drawImage(img, x, y, w, h, preserveAspectRatio=True, anchor="c")
    c.setStrokeColor(GRID)
    c.setLineWidth(0.5)
    c.rect(x, y, w, h)


# --- text ------------------------------------------------------------------------------


def fit_size(text: str, width: float, size: float, min_size: float = 5.0) -> float:
    """The largest font size up to ``size`` at which ``text`` fits ``width``."""
    font = cjk_font()
    w = stringWidth(text, font, size)
    if w <= width:
        return size
    return max(min_size, size * width / w)


def draw_fit(
    c: Canvas, x: float, y: float, text: str, width: float, size: float, align: str = "left"
) -> None:
    """Draw one line, shrunk to fit ``width``."""
    s = fit_size(text, width, size)
    c.setFont(cjk_font(), s)
    if align == "center":
        c.drawCentredString(x + width / 2, y, text)
    elif align == "right":
        c.drawRightString(x + width, y, text)
    else:
        c.drawString(x, y, text)


def wrap(text: str, width: float, size: float) -> list[str]:
    """Break text into lines of at most ``width``: anywhere between Chinese characters,
    at spaces between Latin words."""
    font = cjk_font()
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for token in _tokens(para):
            trial = line + token
            if line and stringWidth(trial, font, size) > width:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line = trial
        lines.append(line.rstrip())
    return lines


def _tokens(s: str) -> list[str]:
    out: list[str] = []
    word = ""
    for ch in s:
        if ch.isascii() and not ch.isspace():
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        out.append(ch)
    if word:
        out.append(word)
    return out


def styles() -> dict[str, ParagraphStyle]:
    font = cjk_font()
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=10.5),
        "title": ParagraphStyle(
            "title", parent=base, fontSize=18, leading=24, alignment=1, spaceAfter=4
        ),
        "subtitle": ParagraphStyle(
            "subtitle", parent=base, fontSize=11, leading=15, alignment=1, spaceAfter=4
        ),
        "h2": ParagraphStyle(
            "h2", parent=base, fontSize=11, leading=15, spaceBefore=8, spaceAfter=3
        ),
        "info": ParagraphStyle("info", parent=base, fontSize=10, leading=14),
    }


def grid_table(
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    header_rows: int = 1,
    font_size: float = 8.5,
    row_heights: Sequence[float] | float | None = None,
    align_center_cols: Sequence[int] = (),
) -> Table:
    """A ruled table whose header repeats on every page it runs onto."""
    tbl = Table(
        [list(r) for r in rows],
        colWidths=list(widths),
        rowHeights=row_heights,
        repeatRows=header_rows,
    )
    cmds: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), cjk_font(), font_size),
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header_rows:
        cmds += [
            ("BACKGROUND", (0, 0), (-1, header_rows - 1), SHADE),
            ("ALIGN", (0, 0), (-1, header_rows - 1), "CENTER"),
        ]
    for col in align_center_cols:
        cmds.append(("ALIGN", (col, 0), (col, -1), "CENTER"))
    tbl.setStyle(TableStyle(cmds))
    return tbl


class PhotoCell(Flowable):
    """A small photo inside a table cell (drawn from a shared ImageReader)."""

    def __init__(self, img: str, width: float, height: float) -> None:
        super().__init__()
        self.img = img
        self.width = width
        self.height = height

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        self.canv.drawImage(
            self.img, 0, 0, self.width, self.height, preserveAspectRatio=True, anchor="c"
        )


class SectionMark(Flowable):
    """An invisible marker: the page footer names the section (room, sitting) it is in."""

    def __init__(self, state: dict[str, str], text: str) -> None:
        super().__init__()
        self.state = state
        self.text = text
        self.width = self.height = 0

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.state["section"] = self.text


def footer(state: dict[str, str], lang: str) -> Callable[[Canvas, Any], None]:
    """A page callback printing the current section and the page number."""

    def on_page(c: Canvas, doc: Any) -> None:
        c.saveState()
        c.setFont(cjk_font(), 7.5)
        c.setFillColor(colors.HexColor("#555555"))
        text = state.get("section", "")
        c.drawString(MARGIN, 8 * mm, text)
        c.drawRightString(PAGE_W - MARGIN, 8 * mm, t("page", lang, n=c.getPageNumber()))
        c.restoreState()

    return on_page


def build_doc(
    buf: io.BytesIO,
    story: list[Flowable],
    *,
    title: str,
    lang: str,
    state: dict[str, str],
    pagesize: tuple[float, float] = A4,
) -> None:
    """Lay a story out on A4 with a footer naming the section and the page."""
    check_lang(lang)
    w, h = pagesize
    doc = BaseDocTemplate(
        buf,
        pagesize=pagesize,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=title,
        author="seating",
        lang="zh-CN" if lang == "zh_CN" else "en",
    )
    frame = Frame(MARGIN, 14 * mm, w - 2 * MARGIN, h - 26 * mm, id="body", showBoundary=0)
    doc.addPageTemplates([PageTemplate("page", [frame], onPageEnd=footer(state, lang))])
    doc.build(story)


Cell = tuple[str, float, bool]  #: (text, width, shaded label cell)


def draw_cells(
    c: Canvas, x: float, top: float, rows: Sequence[Sequence[Cell]], row_h: float, size: float
) -> float:
    """Draw a ruled grid row by row; each row lists its cells. Returns the bottom y."""
    font = cjk_font()
    y = top
    c.setLineWidth(0.6)
    c.setStrokeColor(GRID)
    for row in rows:
        y -= row_h
        cx = x
        for text, w, shaded in row:
            if shaded:
                c.setFillColor(SHADE)
                c.rect(cx, y, w, row_h, stroke=0, fill=1)
            c.setFillColor(colors.black)
            c.rect(cx, y, w, row_h, stroke=1, fill=0)
            if text:
                s = fit_size(text, w - 4, size)
                c.setFont(font, s)
                ty = y + (row_h - s * 0.72) / 2
                if shaded:
                    c.drawCentredString(cx + w / 2, ty, text)
                else:
                    c.drawString(cx + 2.2, ty, text)
            cx += w
    return y


def para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def tick(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)
