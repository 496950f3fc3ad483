"""Stage reports as PDF, with the same content and numbers as the .docx.

The face is AR PL UMing (明体, a free Song/Ming face close to the standard's 宋体/仿宋), from Debian's
fonts-arphic-uming, which `.ci/run` installs and the README names; it is embedded in the PDF, so the
file reads the same everywhere. Without the font, PDF output is refused with a clear message.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from phaseout.officialdoc import pdf_font, pdf_page_number, pdf_template
from phaseout.reports.documents import COLUMNS, StageReport, _totals, _values, case_heading, case_table


def pdf_bytes(report: StageReport) -> bytes:
    font = pdf_font()
    title = ParagraphStyle("title", fontName=font, fontSize=22, leading=32, alignment=1)
    number = ParagraphStyle("number", fontName=font, fontSize=16, leading=28, alignment=1)
    body = ParagraphStyle("body", fontName=font, fontSize=16, leading=28, firstLineIndent=32)
    plain = ParagraphStyle("plain", fontName=font, fontSize=16, leading=28)
    right = ParagraphStyle("right", fontName=font, fontSize=16, leading=28, alignment=2)
    cell = ParagraphStyle("cell", fontName=font, fontSize=9, leading=12)
    story: list[object] = []
    if report.doc_number:
        story.append(Paragraph(escape(report.doc_number), number))
    story += [Paragraph(escape(report.title), title), Spacer(1, 12)]
    if report.recipient:
        story.append(Paragraph(escape(f"{report.recipient}："), plain))
    for text in [t.strip() for t in report.narrative.splitlines() if t.strip()]:
        story.append(Paragraph(escape(text), body))
    totals = _totals(report.rows)
    enterprises = len({r.enterprise_id for r in report.rows})
    story.append(Paragraph("一、落后产能退出情况", body))
    summary = "；".join(
        f"{t['label']}{t['capacity']}{t['unit_label']}（{t['lines']}条生产线/台设备）" for t in totals
    )
    story.append(
        Paragraph(
            escape(f"共关停退出企业{enterprises}家、生产线（设备）{len(report.rows)}条（台）")
            + (escape(f"，其中{summary}") if summary else "")
            + "。",
            body,
        )
    )
    data = [[Paragraph(c, cell) for c in COLUMNS]] + [
        [Paragraph(escape(str(v)), cell) for v in _values(i, row)]
        for i, row in enumerate(report.rows, start=1)
    ]
    table = Table(data, repeatRows=1)
    table.setStyle(
        TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black"), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    )
    story += [table, Spacer(1, 12), Paragraph("二、分行业退出产能（按计量单位分别合计）", body)]
    sums = [[Paragraph(c, cell) for c in ("行业", "生产线（设备）", "产能", "单位")]] + [
        [Paragraph(escape(str(v)), cell) for v in (t["label"], t["lines"], t["capacity"], t["unit_label"])]
        for t in totals
    ]
    sums_table = Table(sums)
    sums_table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black")]))
    story.append(sums_table)
    if report.cases is not None:
        grid = [[Paragraph(escape(text), cell) for text in line] for line in case_table(report)]
        cases_table = Table(grid, repeatRows=1)
        cases_table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black")]))
        story += [Spacer(1, 12), Paragraph(escape(case_heading(report)), body), cases_table]
    story += [Spacer(1, 24), Paragraph(escape(report.issuer), right)]
    day = report.issued_on
    story.append(Paragraph(f"{day.year}年{day.month}月{day.day}日", right))

    buffer = io.BytesIO()
    pdf_template(buffer, report.title).build(story, onFirstPage=pdf_page_number, onLaterPages=pdf_page_number)
    return buffer.getvalue()
