"""Turn the text of an official document into a draft plan (pure Python, no Django).

A work plan, or a notice, publicity notice (公示) or announcement (公告) that may name dated duties: the
document is read in the zones of GB/T 9704 (版头, 发文字号, 标题, 主送机关, 正文, 附件说明, 发文机关署名,
成文日期, 版记), its kind told from its title, and its text read with or without numbered headings. Only
text that is not a document at all is refused (NotAPlan). ADR 0021.

What it finds:
- the document's own number (in the 版头, not one it cites), the issuer (the title's, the signature's or
  the 版头's), the full title over lines, year, issue date, recipients and validity;
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
    source: str = "body"  # body, table (a row of the 任务分工表 only) or body+table

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
            "source": self.source,
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
    kind: str = "plan"  # plan, notice, publicity (公示), announcement (公告): see KINDS

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
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
TITLE_END = re.compile(r"(方案|计划|要点|意见|办法|通知|规定|细则|公告|公示|通报|的函)$")
RED_HEADER = re.compile(r"^[\u4e00-\u9fa5]{2,20}文件$")


_CN_DIGIT = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"零": "0", "○": "0", "O": "0"}
_CN_DATE = re.compile(
    r"([〇○零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,2})月([一二三四五六七八九十]{1,3})日"
)


def _arabic_date(m: re.Match[str]) -> str:
    """二〇一二年六月八日 → 2012年6月8日 (older documents date their signature in Chinese numerals)."""
    year = "".join(_CN_DIGIT[c] for c in m.group(1))
    return f"{year}年{cn_number(m.group(2))}月{cn_number(m.group(3))}日"


# Lines of the document that are never part of its text: contacts, attachments, the imprint (版记).
_NOTE_STARTS = (
    "抄送", "公开方式", "附件", "(联系人", "联系人", "联系电话", "(联系电话", "电话:", "通讯地址", "电子邮箱",
    "邮箱", "传真", "(此件", "此件", "特此公告", "特此通知", "特此公示", "特此通报",
)  # fmt: skip
IMPRINT = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日印发$")


def clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u3000", " ")
    text = _NON_ASCII_SPACE.sub("", text).strip()
    return _CN_DATE.sub(_arabic_date, text)


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
            or bool(re.fullmatch(r"\d{4}年第\d{1,4}号", line))
            or (len(line) <= 40 and bool(TITLE_END.search(line)) and "。" not in line)
            or line.startswith(_NOTE_STARTS)
            or bool(IMPRINT.search(line))
            or ("关于" in line and len(line) <= 120 and bool(TITLE_END.search(line)) and "。" not in line)
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
        wrapped = (
            len(line) > 22
            and not line.endswith((")", "]", "】", "。", ":"))
            and bool(re.search(r"要|将|于|在|\d+月", line))
        )
        if standalone or (
            heading and len(line) <= 40 and "。" not in line and not line.endswith(",") and not wrapped
        ):
            found.append(current)
            current = ""
    if current:
        found.append(current)
    return found


def sentences(paragraph: str) -> list[str]:
    """Sentences of a paragraph. A bracket after the full stop ("…退出。(市经济和信息化局牵头…)") belongs to
    the sentence before it."""
    found: list[str] = []
    for piece in re.split(r"(?<=。)", paragraph):
        if not piece.strip("。 "):
            continue
        if found and re.fullmatch(r"\((?:[^()]|\([^()]*\))*\)。?", piece.strip()):
            found[-1] += piece
        else:
            found.append(piece)
    return found


def clauses(sentence: str, year: int | None) -> list[str]:
    """A sentence that holds two duties of two units, each with its date, is two tasks:
    "…于12月5日前报送市工业和信息化局,市工业和信息化局于12月20日前汇总报市人民政府。"."""
    return [text for text, _ in subject_clauses(sentence, year)]


_SAME_SUBJECT = re.compile(r"(?:要|应|须|需)?(?:于|在)")


def subject_clauses(sentence: str, year: int | None) -> list[tuple[str, bool]]:
    """`clauses`, and beside each whether it goes on with the subject of the clause before it: two
    duties of one unit, each with its date — "请各地级以上市…于7月10日前报送上半年工作进展情况,于12月10日前
    报送全年工作总结。" — are two tasks, the second owed by the unit the first names."""
    masked = _mask(sentence)
    for m in re.finditer(r"[,;]", masked):
        head, tail = sentence[: m.start() + 1], sentence[m.end() :]
        unit = _UNIT.match(_mask(tail))
        if unit is not None and re.match(r"(?:要|应)?(?:于|在)", tail[unit.end() :]):
            same = False
        elif unit is None and _SAME_SUBJECT.match(tail) and _deadline_first(tail, year):
            same = True
            if not any(u.role != "receiver" for u in units_in(head)):
                continue  # no subject to go on with
        else:
            continue
        if not any(t.date for t in times_in(tail, year)) or not any(t.date for t in times_in(head, year)):
            continue
        rest = subject_clauses(tail, year)
        return [(head, False), (rest[0][0], same or rest[0][1]), *rest[1:]]
    return [(sentence, False)]


def _deadline_first(tail: str, year: int | None) -> bool:
    """The clause opens with its own date ("于12月10日前…"), as a second duty does."""
    m = _SAME_SUBJECT.match(tail)
    assert m is not None
    return any(t.date and tail.find(t.text) == m.end() for t in times_in(tail, year))


# --- units ------------------------------------------------------------------------------------------

# Collective names: the units concerned, every county government, the cities concerned. They are units
# (or roles) as much as a named bureau is: 各地级以上市工业和信息化主管部门, 省有关单位, 各县(区)人民政府 …
_COLLECTIVE_SUFFIX = (
    r"(?:人民政府|政府|办事处|管委会|主管部门|部门|成员单位|单位|委员会|局|委|厅)(?:\([^()]{1,8}\))*"
)
_COLLECTIVE = (
    r"各(?!级)(?:[^\s,.;:，。；：()要将于在报送会同负责等的对为按请并和与及、]"
    r"(?:[^\s,.;:，。；：要将于在报送同负责等的对为按请并]|\([^()]{1,8}\)){0,18}?)?"
    + _COLLECTIVE_SUFFIX
    # every place of a level, however the level is named: 各设区市, 各地市, 各区县, 各县市区, 各乡镇,
    # 各县(市、区), 各镇(街道) — a run of place words, not a word that merely starts with one (各市场)
    + r"|各(?:设区的?市|地级?以上市|地[区市州]?"
    r"|[县市区镇乡旗州盟]{1,4}(?!场)(?:\([县市区镇乡街道、]{1,8}\))?)"
    r"|(?:省|市|县|区)(?:直|府直属)?各?有关(?:单位|部门)"
    r"|有关(?:地级以上)?市(?:人民政府|政府|经济和信息化主管部门|工业和信息化主管部门|经济和信息化局"
    r"|工业和信息化局)?"
    # the governments of the places concerned, of any level: 有关镇人民政府, 有关县(市、区)政府
    r"|有关[县区镇乡](?:\([县市区、]{1,5}\))?(?:人民)?政府"
    r"|本级(?:人民)?政府"
    r"|(?<![\u4e00-\u9fa5])[\u4e00-\u9fa5]{0,6}区管委会"
    r"|街道办事处"
    r"|(?:省|市|县|区)(?:\([县市区、]{1,5}\))?(?:人民)?政府\(管委会\)"
    # "县(市、区)人民政府", also as "所在县(市、区)…" / "当地县(区)…": the place where the duty falls
    r"|(?:(?<![\u4e00-\u9fa5])|(?<=所在)|(?<=当地)|(?<=属地))(?:县|区)\([县市区、]{1,5}\)(?:人民)?政府"
    r"(?:\(管委会\))?"
)
_UNIT = re.compile(
    _COLLECTIVE + r"|各[县市区](?:\([县市区、]{1,5}\))?(?:人民)?政府(?:\(管委会\))?"
    r"|(?:(?<![\u4e00-\u9fa5])[\u4e00-\u9fa5]{2,3}[省市])?(?:省|市|县|区)(?:人民)?政府(?!网)(?:办公室)?"
    r"|(?:人行|国家|(?<![\u4e00-\u9fa5])[\u4e00-\u9fa5]{2,3}[省市]|省|市|县|区)[\u4e00-\u9fa5]{1,16}?"
    r"(?:中心支行|分局|委员会|管委会|协调小组办公室|协调小组|办公室|局|厅|委)(?![\u4e00-\u9fa5]{0,1}网)"
    r"(?:[\u4e00-\u9fa5]{2,3}分局)?"
)
_LIST = {"、", "和", "及", ",", "以及", "、和", "等"}
# A report goes to (or an approval comes from) the unit after these.
_TO_RECEIVER = (
    "报送", "送至", "报至", "发送至", "提交", "函告", "抄送", "抄报", "反馈", "上报", "报经", "报请", "径向",
    "报", "向", "送", "经",
)  # fmt: skip
# "A会同B": B supports A. "A配合B": A supports B's work, so B is a counterpart, not A's supporter.
_TO_SUPPORTING = ("会同", "协同")
_COUNTERPART = ("与", "配合", "按照", "根据", "依据", "依照")
# A unit after these is the object of the verb ("发挥市有关部门职能", "督促各县…"), not its subject.
_OBJECT = ("发挥", "督促", "指导", "要求", "支持", "对", "协调", "组织", "通报", "约谈", "到", "在")
# "A牵头，B、C配合" / "(B配合)": the units just before 配合 (closing their clause) support.
_SUPPORTS_AFTER = re.compile(r"^(?:配合|协助|参与)(?:[,;)。]|$)")
_QUOTED = re.compile(r"《[^》]*》|“[^”]*”|\"[^\"]*\"|\([^()]*号\)")
_GENERIC = re.compile(
    r"^(?:市|县|区|省)?各?(?:有关|相关)(?!单位|部门|(?:地级以上)?市|[县区镇乡](?:\([^()]*\))?(?:人民)?政府)"
)


def _mask(text: str) -> str:
    """Titles and quotations are not actors: blank them out, keeping positions."""
    return _QUOTED.sub(lambda m: "　" * len(m.group(0)), text)


_RUN_ON = re.compile(r"政府|同意|报|送|函告|会同|牵头|负责|要|将")
# A government named without its place ("市人民政府", "区政府") whose place may stand just before it.
_PLACE_GOVERNMENT = re.compile(r"^[市县区](?:人民)?政府$")
# What may stand before a named place's government that is the subject of a sentence: the start of the
# text, a number or a bracket of an item, a stop, or a word that hands the duty to it.
_SUBJECT_BEFORE = (
    ")", "）", "。", "；", ";", "，", ",", "、", "：", ":", "由", "请", "督促", "要求", "指导",
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ".", "．",
)  # fmt: skip
_PLACE = re.compile(r"^([\u4e00-\u9fa5]{2,3})[省市]")
# Characters that do not occur in a place name but do in the verbs before a unit (报送, 函告, 会同 …).
_VERB_CHARS = set("报送告馈经请同头向与由并将及和挥为对在从按据")


def units_in(sentence: str, source: str = "sentence") -> list[UnitMention]:
    masked = _mask(sentence)
    found: list[UnitMention] = []
    group: list[UnitMention] = []  # the units of the current list ("A、B和C")
    previous_end = 0
    previous_role = ""
    position = 0
    while match := _UNIT.search(masked, position):
        position = match.start() + 1
        start, name = match.start(), match.group(0)
        collective = (
            name.startswith(("各", "有关", "本级")) or "有关" in name[:4] or name.endswith("区管委会")
        )
        place = _PLACE.match(name)
        if place and set(place.group(1)) & _VERB_CHARS and not collective:
            # "报送市工业和信息化局": the verb is not part of the name.
            start += len(place.group(1))
            name = name[len(place.group(1)) :]
        government = bool(_PLACE_GOVERNMENT.match(name))
        if (name.startswith(("市", "省")) or government) and not collective:
            # "报送江门市…局", "向汕头市…局": the place is part of the name, the verb before it is not;
            # "(一)江门市人民政府于…", "由蓬江区人民政府负责": one named place's government, the subject
            for k in (3, 2):
                candidate = masked[max(0, start - k) : start]
                before = masked[: start - k].rstrip()
                if (
                    len(candidate) == k
                    and re.fullmatch(r"[\u4e00-\u9fa5]+", candidate)
                    and not set(candidate) & set("报送向经由同会与和及对在到请将并")
                    and (
                        before.endswith(_TO_RECEIVER + _TO_SUPPORTING)
                        or (government and (not before or before.endswith(_SUBJECT_BEFORE)))
                    )
                ):
                    start -= k
                    name = candidate + name
                    break
        if (
            not collective
            and not re.search(r"政府(?:\(管委会\)|办公室)?$", name)
            and _RUN_ON.search(name[:-1])
        ):
            continue  # "市人民政府同意后上报省…厅" is two units and a verb: try from the next character
        position = match.end()
        if _GENERIC.match(name):
            continue
        gap = masked[previous_end:start].strip()
        listed = bool(previous_role) and gap in _LIST
        if listed:
            role = previous_role
        elif gap.endswith(_TO_SUPPORTING):
            role = "supporting"
        elif gap.endswith(_TO_RECEIVER) and not gap.endswith(("由", "负责")):
            role = "receiver"
        elif gap.endswith(_COUNTERPART) or (gap.endswith(_OBJECT) and not gap.endswith("所在")):
            role = "counterpart"
        else:
            role = "responsible"
        if not listed:
            group = []
        after = masked[match.end() :]
        if after[:2] == "牵头":
            role = "lead"
        elif _SUPPORTS_AFTER.match(after) and role in ("responsible", "counterpart", "supporting"):
            role = "supporting"
            for unit in group:  # "B、C配合": the whole list supports
                if unit.role == "responsible":
                    unit.role = "supporting"
        previous_end, previous_role = match.end(), role
        if role == "counterpart":
            continue
        mention = next((u for u in found if u.name == name and u.role == role), None)
        if mention is None:
            mention = UnitMention(name=name, role=role, source=source)
            found.append(mention)
        group.append(mention)
    # The same unit may have become supporting through its list: keep one mention per name and role.
    unique: list[UnitMention] = []
    for unit in found:
        if not any(u.name == unit.name and u.role == unit.role for u in unique):
            unique.append(unit)
    return unique


_DUTY = re.compile(r"负责|牵头|配合|协助|参与|落实|承担|按职责|分工")


def bracket_units(text: str) -> list[UnitMention]:
    """The units a bracket assigns: "[A等部门、B按职责分工负责]", "(A牵头,B、C配合)", "(A负责)".
    Clause by clause: the units of a clause with 牵头 lead, those of a clause with 配合 support, others
    are responsible."""
    found: list[UnitMention] = []
    for clause in re.split(r"[,;]", text):
        if re.search(r"牵头", clause):
            role = "lead"
        elif re.search(r"配合|协助|参与", clause):
            role = "supporting"
        else:
            role = "responsible"
        for unit in units_in(clause, "bracket"):
            if unit.role == "receiver":
                continue
            if not any(u.name == unit.name for u in found):
                found.append(UnitMention(name=unit.name, role=role, source="bracket"))
    return found


_TRAILING_BRACKET = re.compile(r"\(((?:[^()]|\([^()]*\))*)\)\s*。?$")


def trailing_bracket(sentence: str) -> tuple[str, list[UnitMention]]:
    """A task that ends with its units in round brackets: "…依法处置(市发展改革局负责)。". Returns the
    sentence with the bracket blanked (so its units are not read as the sentence's own) and the units;
    a bracket that only says where an office sits ("(设在市工业和信息化局)") is blanked and gives none."""
    m = _TRAILING_BRACKET.search(sentence)
    if not m:
        return sentence, []
    content = m.group(1)
    if "设在" in content or "代章" in content:
        return sentence[: m.start()] + "　" * (m.end() - m.start()), []
    if not _DUTY.search(content):
        return sentence, []
    units = bracket_units(content)
    if not units:
        return sentence, []
    return sentence[: m.start()] + "　" * (m.end() - m.start()), units


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
    ("whole_year", re.compile(r"全年(?![\u4e00-\u9fa5])")),  # "(全年)", not "全年工作总结"
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

# What a document is, from its title: a work plan (or the notice that issues one), a publicity notice
# (公示), an announcement (公告), or another notice, letter or bulletin (通知, 函, 通报 …).
KINDS = ("plan", "notice", "publicity", "announcement")
_TITLE = re.compile(r"^(.{0,60}?)关于(?:印发|转发)?《(.+?)》的通知$")
_ISSUES_PLAN = re.compile(r"^(.{0,60}?)关于印发《?(.+?(?:方案|计划|要点|规划|办法|细则|意见))》?的通知$")
_DOC_TITLE = re.compile(
    r"^(.{0,60}?)关于.{2,}(?:通知|公告|公示|通报|的函|意见|决定|报告|请示|批复|方案|计划|要点)$"
)
_PLAN_TITLE = re.compile(r"(?:方案|计划|要点|规划)$")
_BARE_TITLE = re.compile(r"^(?:公告|通告|公示|通报|通知)$")
_PLAN_YEAR = re.compile(r"(20\d{2})\s*年")
_OWN_NUMBER = re.compile(
    r"(?:[\u4e00-\u9fa5]{1,12}[〔\[]\d{4}[〕\]]\d{1,4}号|\d{4}年第\d{1,4}号)(?:签发人.*)?"
)
_UNIT_NAME = re.compile(
    r"(?:政府|办事处|管委会|部门|单位|委员会|局|委|厅|办公室|小组|中心支行|分局|处|室|中心|公司)(?:\([^()]{1,12}\))*$"
)
_PUBLICITY_PERIOD = re.compile(r"^(?:公示期|公示时间|公告期)")
_SEAL = re.compile(r"^\([^()]*代章\)$")
_DOWNLOAD = re.compile(r"下载")


def _unit_like(text: str) -> bool:
    return bool(text) and len(text) <= 80 and "。" not in text and bool(_UNIT_NAME.search(text))


def _recipients(line: str) -> list[str]:
    """主送机关 as written: split at commas and at 、 outside brackets; a piece that is not a unit's name
    on its own ("各区、县级市经济和信息化局", "广州、韶关…市人民政府") is joined to the next."""
    pieces: list[str] = []
    for part in re.split(r",", line):
        depth, current = 0, ""
        for char in part:
            depth += char == "("
            depth -= char == ")"
            if char == "、" and depth == 0:
                pieces.append(current)
                current = ""
            else:
                current += char
        pieces.append(current)
        pieces.append(",")
    names: list[str] = []
    pending = ""
    for piece in pieces:
        if piece == ",":
            if pending:
                names.append(pending)
                pending = ""
            continue
        pending = f"{pending}、{piece}" if pending else piece
        if _UNIT_NAME.search(pending):
            names.append(pending)
            pending = ""
    if pending:
        names.append(pending)
    return [n.strip() for n in names if n.strip()]


def _note(para: str) -> bool:
    """A line that is not the document's text: contact, attachment, imprint, download note, closing."""
    return (
        para.startswith(_NOTE_STARTS)
        or bool(IMPRINT.search(para))
        or (bool(_DOWNLOAD.search(para)) and len(para) <= 80)
    )


NOT_A_PLAN_PROBLEM = "the document is a {kind}, not a work plan; the duties it names were read as tasks"
_NOT_A_PLAN_KIND = re.compile(r"^the document is a (\w+), not a work plan")


def kind_of(problems: list[str]) -> str:
    """The kind of document a stored plan was read from, from the problems its import noted."""
    for problem in problems:
        if m := _NOT_A_PLAN_KIND.match(problem):
            return m.group(1)
    return "plan"


def parse(text: str, *, year: int | None = None) -> ParsedPlan:
    """Parse an official document's text: a work plan, or a notice, publicity notice or announcement
    that may carry dated duties. Raises NotAPlan only for text that is empty or not a document."""
    if not text or not text.strip():
        raise NotAPlan("empty", "the document is empty")
    paras = paragraphs(text)
    plan = ParsedPlan()
    skip: set[int] = set()  # paragraphs that are not the document's text
    first_h1 = next((i for i, p in enumerate(paras) if H1.match(p)), None)
    # The title: "…关于…的通知/公告/公示…", else a plan's own title, else "<issuer>" + "公告".
    title_at = next(
        (
            i
            for i, p in enumerate(paras[:12])
            if len(p) <= 120 and "。" not in p and not _note(p) and _DOC_TITLE.match(p)
        ),
        None,
    )
    bare = next((i for i, p in enumerate(paras[:6]) if _BARE_TITLE.match(p)), None)
    if title_at is None and not (bare is not None and bare > 0 and _unit_like(paras[bare - 1])):
        title_at = next(
            (
                i
                for i, p in enumerate(paras[:8])
                if len(p) <= 60 and "。" not in p and ":" not in p and TITLE_END.search(p) and not H1.match(p)
            ),
            None,
        )
    if title_at is None:
        if bare is not None and bare > 0 and _unit_like(paras[bare - 1]):
            plan.title = paras[bare - 1] + paras[bare]
            plan.issuer = paras[bare - 1]
            plan.kind = {"公告": "announcement", "通告": "announcement", "公示": "publicity"}.get(
                paras[bare], "notice"
            )
            skip.update({bare - 1, bare})
            title_at = bare
    elif m := (_TITLE.match(paras[title_at]) or _ISSUES_PLAN.match(paras[title_at])):
        plan.notice_title = paras[title_at]
        plan.title = m.group(2)
        if _unit_like(m.group(1)):
            plan.issuer = m.group(1)
        plan.kind = "plan" if "印发" in paras[title_at] else "notice"
        if "转发" in paras[title_at]:
            plan.title = paras[title_at]
    else:
        title = paras[title_at]
        plan.title = title
        if (m := re.match(r"^(.{2,60}?)关于", title)) and _unit_like(m.group(1)):
            plan.issuer = m.group(1)
        if title.endswith("公示"):
            plan.kind = "publicity"
        elif title.endswith(("公告", "通告")):
            plan.kind = "announcement"
        elif _PLAN_TITLE.search(title):
            plan.kind = "plan"
        else:
            plan.kind = "notice"
    if title_at is not None:
        skip.add(title_at)
    # The document's own number sits in the 版头, before the title, on a line of its own; a number in a
    # sentence or in 《》/() is one it cites.
    before = range(title_at) if title_at is not None else range(min(len(paras), 6))
    for i in before:
        if _OWN_NUMBER.fullmatch(paras[i]):
            plan.doc_number = re.sub(r"签发人.*$", "", paras[i])
            skip.add(i)
            break
    if not plan.doc_number and title_at is not None:
        for i in range(title_at + 1, min(len(paras), title_at + 3)):
            if _OWN_NUMBER.fullmatch(paras[i]):
                plan.doc_number = re.sub(r"签发人.*$", "", paras[i])
                skip.add(i)
                break
    # 主送机关: the line after the title that ends with a colon.
    recipients_at = None
    if title_at is not None:
        for i in range(title_at + 1, min(len(paras), title_at + 3)):
            p = paras[i]
            names = _recipients(p[:-1])
            if (
                p.endswith(":")
                and "。" not in p
                and len(p) <= 400
                and not H1.match(p)
                and not re.search(r"根据|按照|如下|现将|通知", p)
                and all(_UNIT_NAME.search(n) for n in names)
            ):
                plan.recipients = names
                recipients_at = i
                skip.add(i)
                break
    # 成文日期: a date standing alone; the line above it (past a "(…代章)") is the 发文机关署名.
    signature = ""
    for i, p in enumerate(paras):
        if signed := FULL_DATE.fullmatch(p):
            skip.add(i)
            if plan.issue_date is None:
                plan.issue_date = dt.date(*(int(g) for g in signed.groups()))
            j = i - 1
            while j >= 0 and _SEAL.match(paras[j]):
                skip.add(j)
                j -= 1
            signer = re.sub(r"\([^()]*代章\)$", "", paras[j]) if j >= 0 else ""
            if j >= 0 and j != title_at and _unit_like(signer):
                skip.add(j)
                signature = signature or signer
    if plan.issue_date is None:
        for p in paras:
            if "印发" in p and (m := FULL_DATE.search(p)) and IMPRINT.search(p):
                plan.issue_date = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                break
    if not plan.issuer:
        plan.issuer = signature
    if not plan.issuer and title_at is not None:
        header = next((p for p in paras[:title_at] if _unit_like(p)), "")
        plan.issuer = header
    if plan.issue_date is None:
        plan.problems.append("no issue date found in the document")
    # The year: given, else from the title, else the document number, else the issue date.
    plan.year = year
    if plan.year is None and (m := _PLAN_YEAR.search(plan.title)):
        plan.year = int(m.group(1))
    if plan.year is None and plan.doc_number and (m := re.search(r"(\d{4})", plan.doc_number)):
        plan.year = int(m.group(1))
        plan.problems.append("the plan's year was taken from its document number")
    if plan.year is None and plan.issue_date is not None:
        plan.year = plan.issue_date.year
        plan.problems.append("the plan's year was taken from its issue date")
    if title_at is None and not plan.doc_number and first_h1 is None:
        raise NotAPlan("not_a_plan", "no title, document number or numbered heading: this is not a document")
    # The text: a plan issued by a cover notice starts at its first heading; any other document right
    # after its recipients (or its title).
    if plan.notice_title and "印发" in plan.notice_title and first_h1 is not None:
        start = first_h1
    else:
        start = max(i for i in (recipients_at, title_at, -1) if i is not None) + 1
    body: list[str] = []
    in_attachments = False
    for i, p in enumerate(paras[start:], start):
        if i in skip or _note(p):
            in_attachments = in_attachments or p.startswith("附件")
            continue
        if in_attachments and H3.match(p) and "。" not in p:
            continue  # "2.落后产能退出企业清单": the next attachment
        in_attachments = False
        body.append(p)
    _body(plan, body)
    if plan.kind != "plan":
        plan.problems.append(NOT_A_PLAN_PROBLEM.format(kind=plan.kind))
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
            elif (
                (m := _TRAILING_BRACKET.search(title))
                and _DUTY.search(m.group(1))
                and not rest.strip("。 ")
                and not content.endswith("。")
            ):
                # "(一)能耗方面(县发展和改革局、各镇人民政府负责)": round brackets assign like square ones
                units = bracket_units(m.group(1))
                if units:
                    title = title[: m.start()].strip()
            one_sentence = not stage_of(title) and (
                "," in title
                or len(title) > 30
                or any(u.role != "receiver" for u in units_in(title))
                or any(s.units for s in stack)
            )
            if re.fullmatch(r"\((?:[^()]|\([^()]*\))*\)。?", rest.strip()):
                rest = ""  # "(二)11月30日前,完成…。(各县、区人民政府负责)": the bracket is the item's
            if not rest.strip("。 ") and content.endswith(("。", ")")) and one_sentence:
                # "(一)5月31日前,各镇人民政府完成…。": the item is one sentence, a task itself
                rest = content
                if not units and (m := re.search(r"^[^,。]{2,20}?(?=,)", title)):
                    title = m.group(0)
                title = title[:60]
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
        # A paragraph under a heading that assigns units is a task of those units, as a numbered item is.
        item = heading is not None or bool(inherited_units)
        item_title = heading[2].partition("。")[0] if heading is not None and rest != heading[2] else ""
        first = True
        pending: Task | None = None  # "定于6月16日召开…。请各单位…参加。": the date, then who
        split = [c for sentence in sentences(rest) for c in subject_clauses(sentence, plan.year)]
        for sentence, same_subject in split:
            if _note(sentence) or _DOWNLOAD.search(sentence):
                continue
            times = times_in(sentence, plan.year)
            plan.times.extend(times)
            if _PUBLICITY_PERIOD.search(sentence):
                continue  # "公示期为…至…": how long the list is shown, not a duty
            read, bracket = trailing_bracket(sentence)
            units = [*units_in(read), *(u for u in bracket if u.role != "receiver")]
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
            numbered = item and (
                (current is not None and current.level == 3 and heading is not None) or bool(inherited_units)
            )
            dated = any(e.kind != "vague" for e in times)
            if pending is not None and own_units and not dated:
                pending.text += sentence
                pending.units = units
                pending = None
                continue
            pending = None
            if not (own_units or dated or numbered):
                if current is not None:
                    current.text.append(sentence)
                continue
            if (
                numbered
                and not first
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
                text=f"{item_title}。{sentence}" if first and item_title else sentence,
                units=units or [],
                times=times,
            )
            if not own_units and same_subject and previous is not None:
                # the second duty of the unit the clause before names: owed by the same units
                subject = [u for u in previous.units if u.role != "receiver"]
                task.units = [*(UnitMention(u.name, u.role, u.source) for u in subject), *units]
            elif not own_units:
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
            if dated and not own_units and not numbered and heading is None and not same_subject:
                pending = task
            previous = task
            first = False


def _deadline(task: Task, stage: Section | None) -> None:
    deadlines = [t for t in task.times if t.kind in ("deadline", "recurring") and t.date]
    periods = [t for t in task.times if t.kind == "period" and t.date]
    if deadlines:
        task.deadline = deadlines[0].date
    elif periods:
        task.period_start, task.period_end = periods[0].start, periods[0].date
    elif stage is not None and stage.period_start and stage.period_end:
        task.period_start, task.period_end = stage.period_start, stage.period_end


def set_deadline(task: Task) -> None:
    """A task's deadline or period from its time expressions (a task table's row: it has no stage)."""
    _deadline(task, None)
