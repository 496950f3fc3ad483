"""The formal documents decisions produce, and the case file (卷宗) as one PDF.

A decision's document is composed once, when it is taken, from the record (the enterprise, the finding,
the step's legal basis, the dates) and kept with the decision as issued; .docx and PDF are rendered
from that in the GB/T 9704 layout (phaseout/officialdoc.py), with the issuer's seal area.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any
from xml.sax.saxutils import escape

from django.db.models.functions import Coalesce, TruncDate
from docx.enum.text import WD_ALIGN_PARAGRAPH
from PIL import Image as PILImage
from pypdf import PdfReader, PdfWriter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Image, PageBreak, Paragraph, Spacer, Table, TableStyle

from phaseout.cases.models import Case, Decision, DocumentKind, Evidence, MeasureKind
from phaseout.officialdoc import (
    HEADING,
    TITLE,
    new_document,
    paragraph,
    pdf_font,
    pdf_page_number,
    pdf_template,
)

TITLES = {
    DocumentKind.RECTIFICATION_NOTICE: "责令限期整改通知书",
    DocumentKind.EXTENSION_REPLY: "关于延期整改申请的批复",
    DocumentKind.RESTRICTION_DECISION: "责令限制生产决定书",
    DocumentKind.SUSPENSION_DECISION: "责令停产整治决定书",
    DocumentKind.SAFETY_SUSPENSION_DECISION: "责令停产停业整顿决定书",
    DocumentKind.CLOSURE_PROPOSAL: "关于提请责令停业整顿或者关闭的请示",
    DocumentKind.CLOSURE_DECISION: "关停（关闭）决定书",
    DocumentKind.REVOCATION_NOTICE: "吊销营业执照决定书",
    DocumentKind.ACCEPTANCE_OPINION: "落后产能退出验收意见书",
    DocumentKind.ANNOUNCEMENT: "落后产能退出公告",
}

RIGHTS = (
    "如不服本决定，可以在收到本决定书之日起六十日内依法申请行政复议，或者在六个月内依法向人民法院提起行政诉讼。"
    "申请行政复议或者提起行政诉讼期间，本决定不停止执行（《中华人民共和国行政处罚法》第七十三条）。"
)


def chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# Statutes as a formal document names them; the path table cites them in shorthand.
STATUTES = {
    "节约能源法": "《中华人民共和国节约能源法》",
    "环境保护法": "《中华人民共和国环境保护法》",
    "大气污染防治法": "《中华人民共和国大气污染防治法》",
    "水污染防治法": "《中华人民共和国水污染防治法》",
    "安全生产法": "《中华人民共和国安全生产法》",
    "产品质量法": "《中华人民共和国产品质量法》",
    "行政强制法": "《中华人民共和国行政强制法》",
    "行政处罚法": "《中华人民共和国行政处罚法》",
    "环境保护部令第30号": "《环境保护主管部门实施限制生产、停产整治办法》（环境保护部令第30号）",
    "工业产品生产许可证管理条例": "《中华人民共和国工业产品生产许可证管理条例》",
}
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def formal(text: str) -> str:
    """Shorthand statute names in full, ISO dates as a document writes them (2026年9月2日)."""
    for short, full in STATUTES.items():
        text = re.sub(rf"(?<!《){re.escape(short)}(?!》)", full, text)
    return ISO_DATE.sub(lambda m: f"{int(m[1])}年{int(m[2])}月{int(m[3])}日", text)


def _facts(case: Case) -> str:
    enterprise = case.enterprise
    text = f"你单位（统一社会信用代码：{enterprise.uscc}"
    if getattr(enterprise, "address", ""):
        text += f"，地址：{enterprise.address}"
    text += "）"
    finding = case.finding
    if finding is not None:
        inspection = finding.inspection
        text += f"：经{chinese_date(inspection.inspected_on)}检查，"
        if case.line is not None:
            text += f"你单位{case.line.name}"
        text += f"不符合“{finding.rule_title}”"
        if finding.measured_value is not None and finding.limit_value is not None:
            measured = f"{finding.measured_value.normalize():f}{finding.unit}"
            text += f"（实测{measured}，限值{finding.limit_value.normalize():f}{finding.unit}）"
        text += f"，依据：{finding.rule_source}。"
    return text


def compose(
    *,
    kind: str,
    case: Case,
    number: str,
    issuer: str,
    issued_on: dt.date,
    basis: str,
    order: list[str],
    reason: str = "",
    recipient: str = "",
    rights: bool = True,
) -> dict[str, Any]:
    """A document's content as issued: title, number, recipient, paragraphs, issuer and date."""
    paragraphs = [_facts(case)]
    if reason.strip():
        paragraphs.append(reason.strip())
    paragraphs.append(formal(f"依据{basis}，" + "；".join(order) + "。" if order else f"依据：{basis}。"))
    if rights:
        paragraphs.append(RIGHTS)
    return {
        "title": TITLES[DocumentKind(kind)],
        "number": number,
        "recipient": recipient or case.enterprise.name,
        "paragraphs": paragraphs,
        "issuer": issuer,
        "date": issued_on.isoformat(),
        "case": case.number,
    }


def signature_line(decision: Decision) -> str:
    """The document's electronic signature as printed on it: the key and the SM3 digest it signs."""
    return f"电子签名：SM2（密钥 {decision.signing_key}），签名内容摘要（SM3）：{decision.digest}"


def docx_bytes(decision: Decision) -> bytes:
    content = decision.content
    document = new_document()
    paragraph(document, content["number"], align=WD_ALIGN_PARAGRAPH.CENTER)
    paragraph(document, content["title"], font=TITLE, size=22, align=WD_ALIGN_PARAGRAPH.CENTER)
    paragraph(document, "")
    paragraph(document, f"{content['recipient']}：")
    for text in content["paragraphs"]:
        paragraph(document, text, indent=True)
    paragraph(document, "")
    paragraph(document, "（印章）", font=HEADING, align=WD_ALIGN_PARAGRAPH.RIGHT)
    paragraph(document, content["issuer"], align=WD_ALIGN_PARAGRAPH.RIGHT)
    paragraph(document, chinese_date(dt.date.fromisoformat(content["date"])), align=WD_ALIGN_PARAGRAPH.RIGHT)
    if decision.served_on:
        paragraph(document, f"送达日期：{chinese_date(decision.served_on)}", size=14)
    if decision.signature:
        paragraph(document, signature_line(decision), size=9)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _styles() -> dict[str, ParagraphStyle]:
    font = pdf_font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=22, leading=32, alignment=1),
        "number": ParagraphStyle("number", fontName=font, fontSize=16, leading=28, alignment=1),
        "body": ParagraphStyle("body", fontName=font, fontSize=16, leading=28, firstLineIndent=32),
        "plain": ParagraphStyle("plain", fontName=font, fontSize=16, leading=28),
        "right": ParagraphStyle("right", fontName=font, fontSize=16, leading=28, alignment=2),
        "small": ParagraphStyle("small", fontName=font, fontSize=12, leading=18),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=11, leading=16),
    }


def _decision_story(decision: Decision, styles: dict[str, ParagraphStyle]) -> list[object]:
    content = decision.content
    story: list[object] = [
        Paragraph(escape(content["number"]), styles["number"]),
        Paragraph(escape(content["title"]), styles["title"]),
        Spacer(1, 12),
        Paragraph(escape(f"{content['recipient']}："), styles["plain"]),
    ]
    story += [Paragraph(escape(text), styles["body"]) for text in content["paragraphs"]]
    story += [
        Spacer(1, 24),
        Paragraph("（印章）", styles["right"]),
        Paragraph(escape(content["issuer"]), styles["right"]),
        Paragraph(chinese_date(dt.date.fromisoformat(content["date"])), styles["right"]),
    ]
    if decision.served_on:
        story.append(Paragraph(f"送达日期：{chinese_date(decision.served_on)}", styles["small"]))
    if decision.signature:
        story.append(Paragraph(escape(signature_line(decision)), styles["small"]))
    return story


def pdf_bytes(decision: Decision) -> bytes:
    buffer = io.BytesIO()
    pdf_template(buffer, decision.content["title"]).build(
        _decision_story(decision, _styles()), onFirstPage=pdf_page_number, onLaterPages=pdf_page_number
    )
    return buffer.getvalue()


# The history in the order of the record's dates (a decision entered late stands where it was taken).
HISTORY_ORDER = (Coalesce("dated", TruncDate("at")), "at", "id")


def _filed_on(case: Case) -> dt.date:
    """The day the case was filed: its finding's inspection, else the day it was opened."""
    return case.finding.inspection.inspected_on if case.finding is not None else case.opened_at.date()


def case_evidence(case: Case) -> list[tuple[str, Evidence]]:
    """Every piece of evidence of a case, with the folder it belongs in, in the order it was added."""
    docs: list[tuple[str, Evidence]] = []
    if case.finding is not None:
        docs += [("检查", e) for e in case.finding.inspection.evidence.all()]
    for e in Evidence.objects.filter(measure__case=case).select_related("measure"):
        docs.append((f"措施-{e.measure.get_kind_display() if e.measure else ''}", e))
    docs += [("案件材料", e) for e in case.evidence.all()]
    return sorted(docs, key=lambda d: (d[1].uploaded_at, d[1].pk))


class _PageMark(Flowable):
    """Takes no room; notes the page of the body it lands on, for the table of contents."""

    def __init__(self, pages: dict[int, int], key: int) -> None:
        super().__init__()
        self.pages, self.key = pages, key
        self.width = self.height = 0

    def draw(self) -> None:
        self.pages[self.key] = self.canv.getPageNumber()


def _responsible(user: Any) -> str:
    """Who an item of the file is from (责任者): the person's department, else their territory."""
    person = getattr(user, "person", None)
    if person is None:
        return ""
    if person.department is not None:
        return str(person.department.name)
    if person.territory is not None:
        return str(person.territory.name)
    return str(person.display_name)


def _archive_date(day: dt.date) -> str:
    """A date as a 卷内目录 writes it: eight digits (DA/T 22)."""
    return day.strftime("%Y%m%d")


# One row of the contents: 文号, 责任者, 题名, 日期.
ContentsRow = tuple[str, str, str, str]


def case_file_pdf(case: Case, labels: dict[str, Any]) -> bytes:
    """The case file (卷宗): a cover, the contents (卷内目录: 序号, 文号, 责任者, 题名, 日期, 页号), the
    history, every document and every piece of evidence in the order of the record. A PDF piece of
    evidence follows its own heading page, page by page; images are placed on a page. Every page is
    numbered, the original PDFs' pages included.

    The body is built, the page each item lands on noted, the original PDFs' pages counted in, and the
    body built again with those numbers in the contents, until the numbers are the pages they name (the
    second pass, in practice: numbers take the room of the blanks they replace)."""
    decisions = list(case.decisions.order_by("issued_on", "id"))
    evidence = [e for _, e in case_evidence(case)]
    scans: dict[int, PdfReader] = {}
    for item in evidence:
        if item.content_type == "application/pdf":
            with item.file.open("rb") as fh:
                scans[item.pk] = PdfReader(io.BytesIO(fh.read()))
    rows: list[ContentsRow] = [("", "", "案件经过", _archive_date(_filed_on(case)))]
    rows += [
        (
            d.number,
            str(d.content.get("issuer") or d.issuer),
            str(d.content["title"]),
            _archive_date(d.issued_on),
        )
        for d in decisions
    ]
    rows += [
        ("", _responsible(e.uploaded_by), f"证据：{e.original_name}", _archive_date(e.uploaded_at.date()))
        for e in evidence
    ]
    # The original pages of the PDF evidence at row index → how many.
    extra = {
        len(rows) - len(evidence) + i: len(scans[e.pk].pages) for i, e in enumerate(evidence) if e.pk in scans
    }
    numbers: list[int] | None = None
    for _attempt in range(5):
        marks: dict[int, int] = {}
        body = _case_file_body(case, labels, rows, decisions, evidence, scans, marks, numbers)
        found = _final_pages(marks, extra)
        if found == numbers:
            break
        numbers = found
    else:  # pragma: no cover - the numbers take no more room than the blanks
        raise RuntimeError("the case file's page numbers do not settle")
    return _assemble(body, marks, extra, evidence, scans, f"卷宗 {case.number}")


def _final_pages(marks: dict[int, int], extra: dict[int, int]) -> list[int]:
    """The page each item starts on once the original PDFs' pages follow their headings."""
    starts = []
    for key in sorted(marks):
        before = sum(n for k, n in extra.items() if k < key)
        starts.append(marks[key] + before)
    return starts


def _assemble(
    body: bytes,
    marks: dict[int, int],
    extra: dict[int, int],
    evidence: list[Evidence],
    scans: dict[int, PdfReader],
    title: str,
) -> bytes:
    reader = PdfReader(io.BytesIO(body))
    keys = sorted(marks)
    # The original pages of a PDF go after the last body page of their item (before the next item).
    after: dict[int, PdfReader] = {}
    first_evidence = len(keys) - len(evidence)
    for key in extra:
        following = [marks[k] for k in keys if k > key]
        last = (min(following) - 1) if following else len(reader.pages)
        after[last] = scans[evidence[key - first_evidence].pk]
    writer = PdfWriter()
    for number, page in enumerate(reader.pages, start=1):
        writer.add_page(page)
        if number in after:
            for scanned in after[number].pages:
                writer.add_page(scanned)
    _stamp_page_numbers(writer)
    writer.add_metadata({"/Title": title})
    merged = io.BytesIO()
    writer.write(merged)
    return merged.getvalue()


def _stamp_page_numbers(writer: PdfWriter) -> None:
    """ "— n —" at the foot of every page, as the decisions' own pages carry it (GB/T 9704)."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    for number, page in enumerate(writer.pages, start=1):
        box = page.mediabox
        width, height = float(box.width), float(box.height)
        canvas.setPageSize((width, height))
        canvas.setFont(pdf_font(), 14)
        canvas.drawCentredString(float(box.left) + width / 2, float(box.bottom) + 20 * mm, f"— {number} —")
        canvas.showPage()
    canvas.save()
    overlay = PdfReader(io.BytesIO(buffer.getvalue()))
    for page, stamp in zip(writer.pages, overlay.pages, strict=True):
        page.merge_page(stamp)


def _case_file_body(
    case: Case,
    labels: dict[str, Any],
    rows: list[ContentsRow],
    decisions: list[Decision],
    evidence: list[Evidence],
    scans: dict[int, PdfReader],
    marks: dict[int, int],
    numbers: list[int] | None,
) -> bytes:
    """The cover, the contents, the history, the decisions and the evidence headings, without page
    numbers (stamped on the assembled file); `marks` receives the body page each row's item starts on."""
    styles = _styles()
    keys = iter(range(len(rows)))
    cover: list[object] = [
        Spacer(1, 60),
        Paragraph("推动落后产能退出案件卷宗", styles["title"]),
        Spacer(1, 30),
        Paragraph(escape(f"案件编号：{case.number}"), styles["plain"]),
        Paragraph(escape(f"企业：{case.enterprise.name}（{case.enterprise.uscc}）"), styles["plain"]),
        Paragraph(escape(f"所在地：{case.territory.name}"), styles["plain"]),
        Paragraph(escape(f"维度：{case.get_dimension_display()}"), styles["plain"]),
        Paragraph(escape(f"状态：{case.get_state_display()}"), styles["plain"]),
        Paragraph(escape(f"立案：{chinese_date(_filed_on(case))}"), styles["plain"]),
        PageBreak(),
        Paragraph("卷内目录", styles["title"]),
        Spacer(1, 12),
    ]
    cell = styles["cell"]
    table = Table(
        [
            [Paragraph(h, cell) for h in ("序号", "文号", "责任者", "题名", "日期", "页号")],
            *[
                [
                    Paragraph(str(i + 1), cell),
                    Paragraph(escape(number), cell),
                    Paragraph(escape(author), cell),
                    Paragraph(escape(title), cell),
                    Paragraph(day, cell),
                    Paragraph(str(numbers[i]) if numbers else "", cell),
                ]
                for i, (number, author, title, day) in enumerate(rows)
            ],
        ],
        colWidths=[36, 96, 80, 138, 58, 34],
        repeatRows=1,
    )
    table.setStyle(
        TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black"), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    )
    story: list[object] = [
        *cover,
        table,
        PageBreak(),
        _PageMark(marks, next(keys)),
        Paragraph("案件经过", styles["title"]),
        Spacer(1, 12),
    ]
    for event in case.events.select_related("actor__person").order_by(*HISTORY_ORDER):
        who = event.actor.person.display_name if event.actor and hasattr(event.actor, "person") else "系统"
        day = (event.dated or event.at.date()).isoformat()
        label = str(labels.get(event.action, event.action))
        if event.data.get("measure"):
            label += f"（{MeasureKind(event.data['measure']).label}）"
        if event.data.get("number"):
            label += f" {event.data['number']}"
        line = f"{day} {label} — {who}"
        if event.reason:
            line += f"：{event.reason}"
        story.append(Paragraph(escape(line), styles["small"]))
    for decision in decisions:
        story += [PageBreak(), _PageMark(marks, next(keys)), *_decision_story(decision, styles)]
    for item in evidence:
        key = next(keys)
        story += [
            PageBreak(),
            _PageMark(marks, key),
            Paragraph(escape(f"证据：{item.original_name} {item.description}"), styles["plain"]),
        ]
        if item.content_type.startswith("image/"):
            with item.file.open("rb") as fh:
                data = fh.read()
            try:  # a damaged photo must not stop the whole case file: it is noted, the .zip keeps it
                PILImage.open(io.BytesIO(data)).load()
            except (OSError, SyntaxError, ValueError):
                story.append(Paragraph("（图片无法显示，原件见案件卷宗 .zip）", styles["small"]))
                continue
            image = Image(io.BytesIO(data))
            scale = min(1.0, 400 / max(image.imageWidth, 1), 560 / max(image.imageHeight, 1))
            image.drawWidth, image.drawHeight = image.imageWidth * scale, image.imageHeight * scale
            story.append(image)
        elif item.pk in scans:
            count = len(scans[item.pk].pages)
            where = f"第{numbers[key] + 1}页至第{numbers[key] + count}页" if numbers else "第页至第页"
            story.append(Paragraph(f"（原件PDF共{count}页，附后：{where}）", styles["small"]))
    buffer = io.BytesIO()
    pdf_template(buffer, f"卷宗 {case.number}").build(story)
    return buffer.getvalue()
