"""Finding and registering a Chinese font that reportlab can embed.

reportlab embeds TrueType-outline fonts only (DESIGN.md section 9): its built-in CID fonts
(STSong-Light) are not embedded and show as empty boxes on a machine without Chinese fonts,
and CFF-based fonts (Noto Sans CJK) cannot be embedded at all. WenQuanYi Micro Hei (Debian
``fonts-wqy-microhei``) embeds as a subset and renders everywhere.

Look-up order: the ``EXAM_CJK_FONT`` environment variable (a path, optionally with
``#N`` for the N-th font of a .ttc collection), then :data:`FONT_PATHS`.
"""

from __future__ import annotations

import os
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

FONT_ENV = "EXAM_CJK_FONT"
FONT_NAME = "ExamCJK"

#: Usual places of an embeddable (TrueType-outline) Chinese font, best first.
FONT_PATHS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian/Ubuntu fonts-wqy-microhei
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora wqy-microhei-fonts
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",  # Arch wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian fonts-wqy-zenhei
    "/usr/local/share/fonts/wqy-microhei.ttc",
    "C:/Windows/Fonts/simhei.ttf",  # Windows 黑体
    "C:/Windows/Fonts/msyh.ttc",  # Windows 微软雅黑
)

INSTALL_HINT = (
    "未找到可嵌入 PDF 的中文字体。请安装文泉驿微米黑：sudo apt-get install -y fonts-wqy-microhei，"
    f"或设置环境变量 {FONT_ENV}=/字体/路径.ttc（须为 TrueType 字体）。"
    " (No embeddable Chinese font found. Install WenQuanYi Micro Hei: "
    "sudo apt-get install -y fonts-wqy-microhei, or set "
    f"{FONT_ENV}=/path/to/font.ttc to a TrueType-outline font.)"
)


class FontNotFoundError(RuntimeError):
    """No usable Chinese font: the message says how to install one."""


def find_cjk_font() -> tuple[Path, int]:
    """The font file and sub-font index to use; raises :class:`FontNotFoundError`."""
    configured = os.environ.get(FONT_ENV, "").strip()
    if configured:
        path_s, _, index_s = configured.partition("#")
        path = Path(path_s)
        if not path.is_file():
            raise FontNotFoundError(
                f"{FONT_ENV}={configured}：文件不存在 (file not found). {INSTALL_HINT}"
            )
        return path, int(index_s or 0)
    for p in FONT_PATHS:
        if Path(p).is_file():
            return Path(p), 0
    raise FontNotFoundError(INSTALL_HINT)


_registered: str | None = None


def cjk_font() -> str:
    """Register the Chinese font with reportlab (once) and return its name."""
    global _registered
    if _registered is None:
        path, index = find_cjk_font()
        try:
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), subfontIndex=index))
        except TTFError as e:
            raise FontNotFoundError(
                f"{path} 不能嵌入 PDF（{e}）：须为 TrueType 字体，不能是 CFF/OpenType-PS。{INSTALL_HINT}"
            ) from e
        _registered = FONT_NAME
    return _registered
