"""Turn the text of an official work plan into a draft plan (pure Python, no Django).

What it finds:
- the document number (〔2021〕30号 style), the issuer, the plan's title, year, issue date,
  recipients and validity;
- the heading hierarchy (一、 / （一） / 1.), the units a heading assigns in brackets
  ("[市生态环境局等部门、各县(区)政府按职责分工负责]"), and the tasks under each heading;
- the units named in each task sentence, with their role: lead (牵头), supporting (会同), responsible
  (the subject), or receiver (报 / 报送 / 函告 / 抄送 … a report goes to them);
- every time expression, resolved against the plan's year ("4月底前", "2021年6月15日前", "第三季度",
  "次年1月底前", "每年12月底前", "全年", "有效期至…"), relative periods ("6个月内", "不超过3个月"),
  and the vague ones ("限时", "定期", "规定期限内"), which are flagged for review, never guessed.

The parser is not tuned to particular documents: it works on the general conventions of Chinese
official documents (GB/T 9704 numbering and headings). Names are returned as written; matching them
to the organisation is the caller's job.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def cn_number(text: str) -> int:
    """一 … 九十九, or ASCII digits."""
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (CN_DIGITS.get(ones, 0) if ones else 0)
    return CN_DIGITS[text]


def month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


# --- data -------------------------------------------------------------------------------------------


@dataclass
class TimeExpression:
    text: str
    sentence: str
    kind: str  # deadline, period, relative, recurring, validity, vague
    date: dt.date | None = None  # the deadline, or the end of a period
    start: dt.date | None = None  # the start of a period
    months: int | None = None  # a relative period in months
    days: int | None = None  # a relative period in days
    recurring: str = ""  # "yearly" for 每年…
    reason: str = ""  # why it is not resolved, or what was assumed
    needs_review: bool = False

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("date", "start"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


@dataclass
class UnitMention:
    name: str
    role: str  # lead, supporting, responsible, receiver
    source: str  # bracket or sentence


@dataclass
class Task:
    number: str  # the heading path, e.g. 二(一)1
    heading: str
    text: str
    units: list[UnitMention] = field(default_factory=list)
    times: list[TimeExpression] = field(default_factory=list)
    deadline: dt.date | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    inherited_deadline: bool = False

    @property
    def responsible(self) -> list[UnitMention]:
        return [u for u in self.units if u.role != "receiver"]

    @property
    def receivers(self) -> list[UnitMention]:
        return [u for u in self.units if u.role == "receiver"]

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "heading": self.heading,
            "text": self.text,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "period": [self.period_start.isoformat(), self.period_end.isoformat()]
            if self.period_start and self.period_end
            else None,
            "inherited_deadline": self.inherited_deadline,
            "units": [asdict(u) for u in self.units],
            "times": [t.as_json() for t in self.times],
        }


@dataclass
class Section:
    number: str  # 一 / (一) / 1
    path: str
    level: int
    title: str
    units: list[UnitMention] = field(default_factory=list)
    stage: str = ""  # deployment, enforcement, summary (for stage headings)
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    period_text: str = ""
    text: list[str] = field(default_factory=list)  # sentences that are not tasks

    def as_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "path": self.path,
            "level": self.level,
            "title": self.title,
            "units": [asdict(u) for u in self.units],
            "stage": self.stage,
            "period": [self.period_start.isoformat(), self.period_end.isoformat()]
            if self.period_start and self.period_end
            else None,
            "period_text": self.period_text,
        }


@dataclass
class ParsedPlan:
    doc_number: str = ""
    issuer: str = ""
    notice_title: str = ""
    title: str = ""
    year: int | None = None
    issue_date: dt.date | None = None
    recipients: list[str] = field(default_factory=list)
    valid_from: str = ""
    valid_until: dt.date | None = None
    sections: list[Section] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    times: list[TimeExpression] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "doc_number": self.doc_number,
            "issuer": self.issuer,
            "notice_title": self.notice_title,
            "title": self.title,
            "year": self.year,
            "issue_date": self.issue_date.isoformat() if self.issue_date else None,
            "recipients": self.recipients,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "sections": [s.as_json() for s in self.sections],
            "tasks": [t.as_json() for t in self.tasks],
            "time_expressions": [t.as_json() for t in self.times],
            "problems": self.problems,
        }


class NotAPlan(ValueError):
    """The text is empty or does not read as a work plan; `code` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- text clean-up ----------------------------------------------------------------------------------

_NON_ASCII_SPACE = re.compile(r"\s+(?=[^\x00-\x7f])|(?<=[^\x00-\x7f])\s+")
H1 = re.compile(r"^([一二三四五六七八九十]{1,3})、\s*(.*)$")
H2 = re.compile(r"^\(([一二三四五六七八九十]{1,3})\)\s*(.*)$")
H3 = re.compile(r"^(\d{1,2})[.．、]\s*(?!\d)(.*)$")
DOC_NUMBER = re.compile(r"[\u4e00-\u9fa5]{1,12}[〔\[](\d{4})[〕\]]\d{1,4}号")
FULL_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
TERMINAL = ("。", ":", ";", "!", "?", "]")
TITLE_END = re.compile(r"(方案|计划|要点|意见|办法|通知|规定|细则)$")
RED_HEADER = re.compile(r"^[\u4e00-\u9fa5]{2,20}文件$")


def clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u3000", " ")
    return _NON_ASCII_SPACE.sub("", text).strip()


def paragraphs(raw: str) -> list[str]:
    """Lines re-joined into paragraphs: official documents wrap lines in the middle of sentences."""
    found: list[str] = []
    current = ""
    for line in raw.splitlines():
        line = clean(line)
        if not line or RED_HEADER.match(line):
            continue
        heading = bool(H1.match(line) or H2.match(line) or H3.match(line))
        standalone = (
            bool(FULL_DATE.fullmatch(line))
            or bool(DOC_NUMBER.fullmatch(line))
            or (len(line) <= 40 and bool(TITLE_END.search(line)) and "。" not in line)
            or line.startswith(("抄送", "公开方式", "附件", "(联系人", "联系人"))
        )
        if standalone and current and "关于" in current and not current.endswith(TERMINAL):
            standalone = False  # the end of a title that wraps over lines: "…关于印发《…》" + "的通知"
            heading = False
            current += line
            if TITLE_END.search(line):
                found.append(current)
                current = ""
            continue
        if current and (heading or standalone or current.endswith(TERMINAL)):
            found.append(current)
            current = ""
        current += line
        if standalone or (heading and len(line) <= 40 and "。" not in line and not line.endswith(",")):
            found.append(current)
            current = ""
    if current:
        found.append(current)
    return found


def sentences(paragraph: str) -> list[str]:
    return [s for s in re.split(r"(?<=。)", paragraph) if s.strip("。 ")]


# --- units ------------------------------------------------------------------------------------------

_UNIT = re.compile(
    r"各[县市区](?:\([县市区、]{1,5}\))?(?:人民)?政府(?:\(管委会\))?"
    r"|(?:(?<![\u4e00-\u9fa5])[\u4e00-\u9fa5]{2,3}[省市])?(?:省|市|县|区)(?:人民)?政府(?!网)(?:办公室)?"
    r"|(?:人行|国家|(?<![\u4e00-\u9fa5])[\u4e00-\u9fa5]{2,3}[省市]|省|市|县|区)[\u4e00-\u9fa5]{1,16}?"
    r"(?:中心支行|分局|委员会|管委会|协调小组办公室|协调小组|办公室|局|厅|委)(?![\u4e00-\u9fa5]{0,1}网)"
)
_LIST = {"、", "和", "及", ",", "以及", "、和", "等"}
# A report goes to (or an approval comes from) the unit after these.
_TO_RECEIVER = ("报送", "函告", "抄送", "反馈", "上报", "报经", "报请", "径向", "报", "向", "送", "经")
# "A会同B": B supports A. "A配合B": A supports B's work, so B is a counterpart, not A's supporter.
_TO_SUPPORTING = ("会同", "协同")
_COUNTERPART = ("与", "配合", "按照", "根据", "依据", "依照")
_QUOTED = re.compile(r"《[^》]*》|“[^”]*”|\"[^\"]*\"|\([^()]*号\)")
_GENERIC = re.compile(r"^(?:市|县|区|省)?各?(?:有关|相关)")


def _mask(text: str) -> str:
    """Titles and quotations are not actors: blank them out, keeping positions."""
    return _QUOTED.sub(lambda m: "　" * len(m.group(0)), text)


_RUN_ON = re.compile(r"政府|同意|报|送|函告|会同|牵头|负责|要|将")
_PLACE = re.compile(r"^([\u4e00-\u9fa5]{2,3})[省市]")
# Characters that do not occur in a place name but do in the verbs before a unit (报送, 函告, 会同 …).
_VERB_CHARS = set("报送告馈经请同头向与由并将及和挥为对在从按据")


def units_in(sentence: str, source: str = "sentence") -> list[UnitMention]:
    masked = _mask(sentence)
    found: list[UnitMention] = []
    previous_end = 0
    previous_role = ""
    position = 0
    while match := _UNIT.search(masked, position):
        position = match.start() + 1
        start, name = match.start(), match.group(0)
        place = _PLACE.match(name)
        if place and set(place.group(1)) & _VERB_CHARS:
            # "报送市工业和信息化局": the verb is not part of the name.
            start += len(place.group(1))
            name = name[len(place.group(1)) :]
        if not re.search(r"政府(?:\(管委会\)|办公室)?$", name) and _RUN_ON.search(name[:-1]):
            continue  # "市人民政府同意后上报省…厅" is two units and a verb: try from the next character
        position = match.end()
        if _GENERIC.match(name):
            continue
        gap = masked[previous_end:start].strip()
        if previous_role and gap in _LIST:
            role = previous_role
        elif gap.endswith(_TO_SUPPORTING):
            role = "supporting"
        elif gap.endswith(_COUNTERPART):
            role = "counterpart"
        elif gap.endswith(_TO_RECEIVER):
            role = "receiver"
        else:
            role = "responsible"
        if masked[match.end() : match.end() + 2] == "牵头":
            role = "lead"
        previous_end, previous_role = match.end(), role
        if role == "counterpart":
            continue
        if not any(u.name == name and u.role == role for u in found):
            found.append(UnitMention(name=name, role=role, source=source))
    return found


def bracket_units(text: str) -> list[UnitMention]:
    return [UnitMention(name=u.name, role="responsible", source="bracket") for u in units_in(text, "bracket")]


# --- time expressions -------------------------------------------------------------------------------

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("validity", re.compile(r"有效期至(\d{4})年(\d{1,2})月(\d{1,2})日")),
    ("full_date", re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日(?:前|之前|以前)?")),
    ("year_month_range", re.compile(r"(\d{4})年(\d{1,2})[—–\-~至到]{1,2}(\d{1,2})月(?:份)?")),
    ("year_month_end", re.compile(r"(\d{4})年(\d{1,2})月(?:底|末)(?:前|之前|以前)?")),
    ("next_year_month_end", re.compile(r"次年(\d{1,2})月(?:底|末)(?:前|之前|以前)?")),
    ("next_year_date", re.compile(r"次年(\d{1,2})月(\d{1,2})日(?:前|之前|以前)?")),
    ("yearly_month_end", re.compile(r"每年(\d{1,2})月(?:底|末)(?:前|之前|以前)?")),
    ("yearly_date", re.compile(r"每年(\d{1,2})月(\d{1,2})日(?:前|之前|以前)?")),
    ("month_range", re.compile(r"(?<![\d年])(\d{1,2})月(?:份)?[—–\-~至到]{1,2}(\d{1,2})月(?:份)?")),
    ("year_quarter", re.compile(r"(\d{4})年第([一二三四1-4])季度(?:末|底)?(?:前)?")),
    ("every_quarter", re.compile(r"每(?:个)?季度(?:末|底)?(?:前)?")),
    ("every_month", re.compile(r"每(?:个)?月(?:底|末)?(?:前)?")),
    ("month_date", re.compile(r"(?<![\d年])(\d{1,2})月(\d{1,2})日(?:前|之前|以前)?")),
    ("month_xun", re.compile(r"(?<![\d年])(\d{1,2})月(上旬|中旬|下旬)(?:前|之前|以前)?")),
    ("month_end", re.compile(r"(?<![\d年])(\d{1,2})月(?:底|末)(?:前|之前|以前)?")),
    ("quarter", re.compile(r"第([一二三四1-4])季度(?:末|底)?(?:前)?")),
    ("month_only", re.compile(r"(?<![\d年])(\d{1,2})月份")),
    ("half", re.compile(r"(上半年|下半年)")),
    ("year_end", re.compile(r"(?:年底|年末)(?:前|之前|以前)?|年内")),
    ("whole_year", re.compile(r"全年")),
    (
        "relative_months",
        re.compile(r"(?:(不超过|最长)\s*)?(\d{1,2}|[一二三四五六七八九十]{1,2})个月(?:内|以内)?"),
    ),
    ("relative_days", re.compile(r"(\d{1,3})(个工作日|日|天)(?:内|以内)")),
    ("vague", re.compile(r"规定期限内|不定期|定期|限期|限时|尽快|适时")),
]


def _resolve(kind: str, m: re.Match[str], year: int | None, sentence: str) -> TimeExpression:
    text = m.group(0)
    expr = TimeExpression(text=text, sentence=sentence, kind="deadline")

    def need_year() -> bool:
        if year is None:
            expr.reason = "the plan's year is not known"
            expr.needs_review = True
            return False
        return True

    try:
        if kind == "validity":
            expr.kind = "validity"
            expr.date = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif kind == "full_date":
            expr.date = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif kind == "year_month_range":
            expr.kind = "period"
            y, first, last = int(m.group(1)), int(m.group(2)), int(m.group(3))
            expr.start, expr.date = dt.date(y, first, 1), month_end(y, last)
        elif kind == "year_month_end":
            expr.date = month_end(int(m.group(1)), int(m.group(2)))
        elif kind in ("next_year_month_end", "next_year_date"):
            if need_year():
                assert year is not None
                month = int(m.group(1))
                expr.date = (
                    month_end(year + 1, month)
                    if kind == "next_year_month_end"
                    else dt.date(year + 1, month, int(m.group(2)))
                )
        elif kind in ("yearly_month_end", "yearly_date"):
            expr.kind = "recurring"
            expr.recurring = "yearly"
            if need_year():
                assert year is not None
                month = int(m.group(1))
                expr.date = (
                    month_end(year, month)
                    if kind == "yearly_month_end"
                    else dt.date(year, month, int(m.group(2)))
                )
                expr.reason = "every year; this year's date given"
        elif kind == "month_range":
            expr.kind = "period"
            if need_year():
                assert year is not None
                expr.start, expr.date = dt.date(year, int(m.group(1)), 1), month_end(year, int(m.group(2)))
        elif kind == "year_quarter":
            expr.kind = "period"
            y, quarter = int(m.group(1)), cn_number(m.group(2))
            expr.start, expr.date = dt.date(y, 3 * quarter - 2, 1), month_end(y, 3 * quarter)
            if text.endswith(("末", "底", "前")):
                expr.kind, expr.start = "deadline", None
        elif kind in ("every_quarter", "every_month"):
            expr.kind = "recurring"
            expr.recurring = "quarterly" if kind == "every_quarter" else "monthly"
            expr.reason = "every quarter" if kind == "every_quarter" else "every month"
        elif kind == "month_only":
            expr.kind = "period"
            if need_year():
                assert year is not None
                month = int(m.group(1))
                expr.start, expr.date = dt.date(year, month, 1), month_end(year, month)
        elif kind == "month_date":
            if need_year():
                assert year is not None
                expr.date = dt.date(year, int(m.group(1)), int(m.group(2)))
        elif kind == "month_xun":
            if need_year():
                assert year is not None
                month = int(m.group(1))
                day = {"上旬": 10, "中旬": 20}.get(m.group(2))
                expr.date = dt.date(year, month, day) if day else month_end(year, month)
                expr.reason = "上旬, 中旬 or 下旬 taken as the 10th, the 20th or the last day of the month"
                expr.needs_review = True
        elif kind == "month_end":
            if need_year():
                assert year is not None
                expr.date = month_end(year, int(m.group(1)))
        elif kind == "quarter":
            expr.kind = "period"
            if need_year():
                assert year is not None
                quarter = cn_number(m.group(1))
                expr.start, expr.date = dt.date(year, 3 * quarter - 2, 1), month_end(year, 3 * quarter)
                if text.endswith(("末", "底", "前")):
                    expr.kind, expr.start = "deadline", None
        elif kind == "half":
            expr.kind = "period"
            if need_year():
                assert year is not None
                first = m.group(1) == "上半年"
                expr.start = dt.date(year, 1 if first else 7, 1)
                expr.date = month_end(year, 6 if first else 12)
        elif kind == "year_end":
            if need_year():
                assert year is not None
                expr.date = dt.date(year, 12, 31)
        elif kind == "whole_year":
            expr.kind = "period"
            if need_year():
                assert year is not None
                expr.start, expr.date = dt.date(year, 1, 1), dt.date(year, 12, 31)
        elif kind == "relative_months":
            expr.kind = "relative"
            expr.months = cn_number(m.group(2))
            expr.reason = "at most" if m.group(1) else "within"
        elif kind == "relative_days":
            expr.kind = "relative"
            expr.days = int(m.group(1))
            expr.reason = "working days" if "工作日" in m.group(2) else "calendar days"
        elif kind == "vague":
            expr.kind = "vague"
            expr.reason = "no date or period is given in the text"
            expr.needs_review = True
    except ValueError:
        expr.date = None
        expr.start = None
        expr.reason = "not a real date"
        expr.needs_review = True
    return expr


def times_in(sentence: str, year: int | None) -> list[TimeExpression]:
    masked = _mask(sentence)
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, TimeExpression]] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(masked):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append((m.start(), _resolve(kind, m, year, sentence)))
    return [expr for _, expr in sorted(found, key=lambda item: item[0])]


_MONTH_TOKEN = re.compile(r"(?:(\d{4})年)?(\d{1,2})月")


def stage_period(text: str, year: int | None) -> tuple[dt.date | None, dt.date | None, str]:
    """The period of a stage heading: (2021年4—5月), (全年), (第三季度), (2021年6月、12月,2022年1月)."""
    inner = re.search(r"\(([^()]*(?:月|季度|全年|年)[^()]*)\)", text)
    if not inner:
        return None, None, ""
    content = inner.group(1)
    exprs = times_in(content, year)
    periods = [e for e in exprs if e.kind == "period" and e.start and e.date]
    if len(periods) == 1 and periods[0].text == content:
        return periods[0].start, periods[0].date, content
    months: list[tuple[int, int]] = []
    current_year = year
    for m in _MONTH_TOKEN.finditer(content):
        if m.group(1):
            current_year = int(m.group(1))
        if current_year is None:
            return None, None, content
        months.append((current_year, int(m.group(2))))
    if periods and not months:
        return periods[0].start, periods[0].date, content
    if months:
        if "—" in content or "-" in content or "至" in content:
            range_ = next((e for e in exprs if e.kind == "period" and e.start and e.date), None)
            if range_:
                return range_.start, range_.date, content
        first, last = min(months), max(months)
        return dt.date(first[0], first[1], 1), month_end(last[0], last[1]), content
    return None, None, content


# --- stages -----------------------------------------------------------------------------------------

STAGE_WORDS = [
    ("deployment", ("部署",)),
    ("enforcement", ("执行", "监管", "执法", "实施阶段")),
    ("summary", ("总结",)),
]


def stage_of(title: str) -> str:
    if "阶段" not in title:
        return ""
    for stage, words in STAGE_WORDS:
        if any(w in title for w in words):
            return stage
    return "other"


# --- the document -----------------------------------------------------------------------------------

_TITLE = re.compile(r"^(.{2,40}?)关于(?:印发|转发)?《(.+?)》的通知$")
_PLAN_YEAR = re.compile(r"(20\d{2})\s*年")


def parse(text: str, *, year: int | None = None) -> ParsedPlan:
    """Parse a plan document's text. Raises NotAPlan for text that is empty or not a plan."""
    if not text or not text.strip():
        raise NotAPlan("empty", "the document is empty")
    paras = paragraphs(text)
    plan = ParsedPlan()
    body_start = next((i for i, p in enumerate(paras) if H1.match(p)), None)
    head = paras[: body_start if body_start is not None else len(paras)]
    for p in head:
        if not plan.doc_number and (m := DOC_NUMBER.search(p)) and len(p) <= 40:
            plan.doc_number = m.group(0)
        if not plan.notice_title and (m := _TITLE.match(p)):
            plan.notice_title = p
            plan.issuer = m.group(1)
            plan.title = m.group(2)
    if not plan.doc_number:
        for p in head[:6]:
            if m := DOC_NUMBER.search(p):
                plan.doc_number = m.group(0)
                break
    if not plan.title:
        titled = [p for p in head if TITLE_END.search(p) and len(p) <= 40]
        if titled:
            plan.title = titled[0]
    # The plan's year: given, else from its title, else from the document number.
    plan.year = year
    if plan.year is None and (m := _PLAN_YEAR.search(plan.title)):
        plan.year = int(m.group(1))
    if plan.year is None and plan.doc_number and (m := DOC_NUMBER.search(plan.doc_number)):
        plan.year = int(m.group(1))
        plan.problems.append("the plan's year was taken from its document number")
    # Recipients: the line after the title that ends with a colon.
    if plan.notice_title:
        index = head.index(plan.notice_title)
        for p in head[index + 1 : index + 3]:
            if p.endswith(":"):
                plan.recipients = [r for r in re.split(r"[,、]", p[:-1]) if r]
                break
    # Issue date: a date standing alone (the signature), else a "…印发" line.
    for p in head:
        m = FULL_DATE.fullmatch(p) or (FULL_DATE.search(p) if "印发" in p else None)
        if m:
            plan.issue_date = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            break
    if plan.issue_date is None:
        plan.problems.append("no issue date found in the document")
    if body_start is None:
        if not plan.title and not plan.doc_number:
            raise NotAPlan(
                "not_a_plan", "no heading, title or document number: this does not read as a work plan"
            )
        raise NotAPlan("no_headings", "no numbered headings (一、…): this does not read as a work plan")
    _body(plan, paras[body_start:])
    if not plan.tasks:
        raise NotAPlan("no_tasks", "no tasks were found: this does not read as a work plan")
    return plan


def _body(plan: ParsedPlan, paras: list[str]) -> None:
    stack: list[Section] = []
    previous: Task | None = None
    for para in paras:
        heading = None
        for level, pattern in ((1, H1), (2, H2), (3, H3)):
            if m := pattern.match(para):
                heading = (level, m.group(1), m.group(2))
                break
        rest = para
        if heading:
            level, number, content = heading
            while stack and stack[-1].level >= level:
                stack.pop()
            label = number if level != 2 else f"({number})"
            path = "".join(s.number if s.level != 2 else f"({s.number})" for s in stack) + label
            title, _, rest = content.partition("。")
            units: list[UnitMention] = []
            if m := re.search(r"\[([^\]]+)\]", title):
                units = bracket_units(m.group(1))
                title = (title[: m.start()] + title[m.end() :]).strip()
            section = Section(number=number, path=path, level=level, title=title.strip(), units=units)
            section.stage = stage_of(section.title)
            if section.stage:
                start, end, text = stage_period(section.title, plan.year)
                section.period_start, section.period_end, section.period_text = start, end, text
                if text:
                    found = times_in(f"({text})", plan.year)
                    for expr in found:
                        expr.sentence = para
                        plan.times.append(expr)
                    if start is not None and not any(e.start == start and e.date == end for e in found):
                        plan.times.append(
                            TimeExpression(
                                text=text,
                                sentence=para,
                                kind="period",
                                start=start,
                                date=end,
                                reason="the stage runs over the months named",
                            )
                        )
                    if start is None:
                        plan.times.append(
                            TimeExpression(
                                text=text,
                                sentence=para,
                                kind="period",
                                reason="the stage's period could not be resolved",
                                needs_review=True,
                            )
                        )
            stack.append(section)
            plan.sections.append(section)
            if not rest.strip("。 "):
                continue
        current = stack[-1] if stack else None
        inherited_units = [u for s in stack for u in s.units]
        stage = next((s for s in reversed(stack) if s.stage), None)
        for sentence in sentences(rest):
            times = times_in(sentence, plan.year)
            plan.times.extend(times)
            units = units_in(sentence)
            validity = [t for t in times if t.kind == "validity"]
            if validity:
                plan.valid_until = validity[0].date
                if "印发之日" in sentence:
                    plan.valid_from = "issue_date"
                    if plan.issue_date is None:
                        plan.times.append(
                            TimeExpression(
                                text="印发之日",
                                sentence=sentence,
                                kind="validity",
                                reason="in force from the issue date, which the document does not give",
                                needs_review=True,
                            )
                        )
                continue
            own_units = [u for u in units if u.role != "receiver"]
            numbered = (heading is not None and current is not None and current.level == 3) or (
                heading is not None and bool(inherited_units)
            )
            if not (own_units or any(e.kind != "vague" for e in times) or numbered):
                if current is not None:
                    current.text.append(sentence)
                continue
            if (
                numbered
                and previous is not None
                and previous.number == (current.path if current else "")
                and not own_units
            ):
                # Further sentences of a numbered item belong to it.
                previous.text += sentence
                previous.times.extend(times)
                previous.units.extend(u for u in units if u not in previous.units)
                _deadline(previous, stage)
                continue
            task = Task(
                number=current.path if current else "",
                heading=current.title if current else "",
                text=sentence,
                units=units or [],
                times=times,
            )
            if not own_units:
                task.units = [*inherited_units, *units]
            _deadline(task, stage)
            if (
                task.deadline is None
                and previous is not None
                and sentence.startswith("同时")
                and previous.deadline
            ):
                task.deadline = previous.deadline
                task.inherited_deadline = True
            plan.tasks.append(task)
            previous = task


def _deadline(task: Task, stage: Section | None) -> None:
    deadlines = [t for t in task.times if t.kind in ("deadline", "recurring") and t.date]
    periods = [t for t in task.times if t.kind == "period" and t.date]
    if deadlines:
        task.deadline = deadlines[0].date
    elif periods:
        task.period_start, task.period_end = periods[0].start, periods[0].date
    elif stage is not None and stage.period_start and stage.period_end:
        task.period_start, task.period_end = stage.period_start, stage.period_end
