"""The official document layout (GB/T 9704-2012), in .docx and PDF, shared by every document the
platform writes (stage reports, decisions, the case file).

Layout: A4; margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm; the title in 2号 (22 pt) 小标宋,
the body in 3号 (16 pt) 仿宋 with a fixed line height of 28 pt and a two-character first-line indent,
first-level headings in 3号 黑体, page numbers "— N —" in 4号 (14 pt) at the foot. In .docx the fonts
are named as the standard names them; the receiving office's installed faces render them. In PDF the
face is AR PL UMing (Debian's fonts-arphic-uming), embedded, so the file reads the same everywhere;
without it PDF output is refused with a clear message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import SimpleDocTemplate

BODY, TITLE, HEADING, NUMBER = "仿宋", "方正小标宋简体", "黑体", "宋体"


def run_font(run: object, name: str, size: float, bold: bool = False) -> None:
    run.font.size = Pt(size)  # type: ignore[attr-defined]
    run.font.bold = bold  # type: ignore[attr-defined]
    run.font.name = name  # type: ignore[attr-defined]
    properties = run._element.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = properties.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        properties.append(fonts)
    for attribute in ("w:eastAsia", "w:ascii", "w:hAnsi"):
        fonts.set(qn(attribute), name)


def paragraph(document: object, text: str, *, font: str = BODY, size: float = 16, bold: bool = False,
              align: int | None = None, indent: bool = False) -> object:  # fmt: skip
    added = document.add_paragraph()  # type: ignore[attr-defined]
    fmt = added.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(28)
    fmt.space_before = fmt.space_after = Pt(0)
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    if align is not None:
        added.alignment = align
    run_font(added.add_run(text), font, size, bold)
    return added


def page_numbers(section: object) -> None:
    footer = section.footer  # type: ignore[attr-defined]
    line = footer.paragraphs[0]
    line.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run_font(line.add_run("— "), NUMBER, 14)
    run = line.add_run()
    run_font(run, NUMBER, 14)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        run._element.append(element)
    run_font(line.add_run(" —"), NUMBER, 14)


def new_document() -> Any:
    """An empty A4 document with the standard's margins and page numbers."""
    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Mm(297), Mm(210)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.start_type = WD_SECTION.NEW_PAGE
    page_numbers(section)
    return document


FONT_PATHS = (
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
    Path("/usr/share/fonts/truetype/arphic-uming/uming.ttc"),
)
FONT = "PhaseoutMing"


class FontMissing(RuntimeError):
    pass


def pdf_font() -> str:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT
    for path in FONT_PATHS:
        if path.exists():
            pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))
            return FONT
    raise FontMissing("the font for PDF output (Debian package fonts-arphic-uming) is not installed")


def pdf_page_number(canvas: object, document: object) -> None:
    canvas.saveState()  # type: ignore[attr-defined]
    canvas.setFont(pdf_font(), 14)  # type: ignore[attr-defined]
    canvas.drawCentredString(A4[0] / 2, 20 * mm, f"— {canvas.getPageNumber()} —")  # type: ignore[attr-defined]
    canvas.restoreState()  # type: ignore[attr-defined]


def pdf_template(buffer: object, title: str) -> SimpleDocTemplate:
    return SimpleDocTemplate(
        buffer,
        pagesize=A4,
        topMargin=37 * mm,
        bottomMargin=35 * mm,
        leftMargin=28 * mm,
        rightMargin=26 * mm,
        title=title,
    )
