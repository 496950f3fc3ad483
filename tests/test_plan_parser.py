"""The plan-document parser: both seed plans end to end, and a labelled set of time expressions
and unit assignments written beyond the seeds, with precision and recall printed."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import docx
import pypdf
import pytest
from django.utils import translation

from phaseout.plans.documents import UnreadableDocument, read_text
from phaseout.plans.parser import NotAPlan, ParsedPlan, Task, parse, times_in, units_in
from tests.conftest import SEEDS

D = dt.date


def _seed(name: str) -> ParsedPlan:
    return parse((SEEDS / name).read_text(encoding="utf-8"))


def _roles(task: Task) -> set[tuple[str, str]]:
    return {(u.name, u.role) for u in task.units}


def _dated(plan: ParsedPlan) -> list[Task]:
    return [t for t in plan.tasks if t.deadline]


DEPTS_JM = {"市发展改革局", "市生态环境局", "市市场监管局", "市应急管理局"}
DEPTS_HY = {"市发展和改革局", "市生态环境局", "市市场监管局", "市应急管理局"}


def test_jiangmen_plan_end_to_end() -> None:
    plan = _seed("jiangmen-2021-plan.txt")
    assert (plan.doc_number, plan.issuer, plan.year) == ("江工信发〔2021〕30号", "江门市工业和信息化局", 2021)
    assert plan.title == "江门市2021年度推动落后产能退出工作计划"
    assert plan.issue_date == D(2021, 5, 19)
    assert plan.recipients[0] == "各市(区)人民政府" and plan.recipients[-1] == "江门供电局"
    assert len(plan.recipients) == 15
    stages = {s.stage: (s.period_start, s.period_end) for s in plan.sections if s.stage}
    assert stages == {
        "deployment": (D(2021, 4, 1), D(2021, 5, 31)),
        "enforcement": (D(2021, 1, 1), D(2021, 12, 31)),
        "summary": (D(2021, 6, 1), D(2022, 1, 31)),
    }
    dated = _dated(plan)
    assert [(t.number, t.deadline) for t in dated] == [
        ("三(一)", D(2021, 4, 30)),
        ("三(一)", D(2021, 5, 31)),
        ("三(三)", D(2021, 6, 15)),
        ("三(三)", D(2021, 12, 15)),
        ("三(三)", D(2022, 1, 5)),
    ]
    assert _roles(dated[0]) == {
        ("市工业和信息化局", "lead"),
        ("各市(区)政府", "supporting"),
        *((d, "supporting") for d in DEPTS_JM),
        ("市政府", "receiver"),
    }
    assert _roles(dated[1]) == {
        ("各市(区)政府", "responsible"),
        ("市工业和信息化局", "receiver"),
        *((d, "receiver") for d in DEPTS_JM),
    }
    assert _roles(dated[2]) == {*((d, "responsible") for d in DEPTS_JM), ("市工业和信息化局", "receiver")}
    assert _roles(dated[3]) == {
        *((d, "responsible") for d in DEPTS_JM),
        ("各市(区)政府", "responsible"),
        ("市工业和信息化局", "receiver"),
    }
    assert _roles(dated[4]) == {
        ("市工业和信息化局", "responsible"),
        ("市政府", "receiver"),
        ("省工业和信息化厅", "receiver"),
    }
    flagged = [(t.text, t.kind) for t in plan.times if t.needs_review]
    assert flagged == [("定期", "vague"), ("不定期", "vague")]
    assert all(t.date or t.needs_review or t.kind == "relative" for t in plan.times)


def test_heyuan_plan_end_to_end() -> None:
    plan = _seed("heyuan-2021-plan.txt")
    assert (plan.doc_number, plan.issuer, plan.year) == (
        "河工信函〔2021〕152号",
        "河源市工业和信息化局",
        2021,
    )
    assert plan.issue_date is None and "no issue date found in the document" in plan.problems
    assert plan.valid_until == D(2021, 12, 31) and plan.valid_from == "issue_date"
    assert plan.recipients == ["各县(区)人民政府(管委会)", "市有关部门"]
    stages = {s.stage: (s.period_start, s.period_end) for s in plan.sections if s.stage}
    assert stages == {
        "deployment": (D(2021, 7, 1), D(2021, 9, 30)),
        "enforcement": (D(2021, 1, 1), D(2021, 12, 31)),
        "summary": (D(2021, 12, 1), D(2021, 12, 31)),
    }
    # Bracketed assignments give every numbered task under the heading its units.
    by_number = {t.number: t for t in plan.tasks}
    districts = ("各县(区)政府(管委会)", "responsible")
    assert _roles(by_number["二(一)1"]) == {("市生态环境局", "responsible"), districts}
    assert _roles(by_number["二(二)2"]) == {
        ("市发展和改革局", "responsible"),
        ("市工业和信息化局", "responsible"),
        districts,
    }
    assert len(_roles(by_number["二(三)3"])) == 7
    assert _roles(by_number["二(四)3"]) == {("市市场监管局", "responsible"), districts}
    assert _roles(by_number["二(五)2"]) == {("市应急管理局", "responsible"), districts}
    assert [n for n in by_number if n.startswith("二(")] == [
        "二(一)1", "二(一)2", "二(二)1", "二(二)2", "二(三)1", "二(三)2", "二(三)3",
        "二(四)1", "二(四)2", "二(四)3", "二(五)1", "二(五)2",
    ]  # fmt: skip
    dated = _dated(plan)
    assert [(t.number, t.deadline, t.inherited_deadline) for t in dated] == [
        ("四(一)", D(2021, 9, 30), False),
        ("四(三)", D(2021, 12, 21), False),
        ("四(三)", D(2021, 12, 21), True),  # "同时，…": the same date as the sentence before
        ("四(三)", D(2021, 12, 31), False),
    ]
    assert _roles(dated[0]) == {*((d, "responsible") for d in DEPTS_HY), ("市工业和信息化局", "responsible")}
    assert _roles(dated[1]) == {*((d, "responsible") for d in DEPTS_HY), ("市工业和信息化局", "receiver")}
    assert _roles(dated[2]) == {districts, ("市工业和信息化局", "receiver")}
    assert _roles(dated[3]) == {
        ("市工业和信息化局", "responsible"),
        ("市人民政府", "receiver"),
        ("省工业和信息化厅", "receiver"),
    }
    enforcement = [t for t in plan.tasks if t.number == "四(二)"]
    assert [(t.period_start, t.period_end) for t in enforcement] == [(D(2021, 1, 1), D(2021, 12, 31))]
    relative = [(t.text, t.months) for t in plan.times if t.kind == "relative"]
    assert relative == [("6个月内", 6), ("不超过3个月", 3)]
    flagged = sorted(t.text for t in plan.times if t.needs_review)
    assert flagged == sorted(["规定期限内", "限时", "定期", "限期", "定期", "印发之日"])


# --- a labelled set beyond the seeds: other cities, provinces and years -----------------------------

LABELLED: list[tuple[int | None, str, list[tuple[str, str | None]], list[tuple[str, str]]]] = [
    (
        2022,
        "各地于2022年3月31日前将排查结果报省工业和信息化厅。",
        [("2022年3月31日前", "2022-03-31")],
        [("省工业和信息化厅", "receiver")],
    ),
    (
        2023,
        "6月底前,市发展改革委会同市工业和信息化局完成年度目标分解。",
        [("6月底前", "2023-06-30")],
        [("市发展改革委", "responsible"), ("市工业和信息化局", "supporting")],
    ),
    (
        2022,
        "每年12月底前,各县(区)人民政府向市工业和信息化局报送本年度淘汰落后产能完成情况。",
        [("每年12月底前", "2022-12-31")],
        [("各县(区)人民政府", "responsible"), ("市工业和信息化局", "receiver")],
    ),
    (
        2021,
        "次年1月底前,市工业和信息化局汇总全市情况报市人民政府。",
        [("次年1月底前", "2022-01-31")],
        [("市工业和信息化局", "responsible"), ("市人民政府", "receiver")],
    ),
    (
        2022,
        "第四季度,市生态环境局组织开展专项执法检查。",
        [("第四季度", "2022-12-31")],
        [("市生态环境局", "responsible")],
    ),
    (
        2023,
        "10月中旬前,区发展和改革局完成节能监察。",
        [("10月中旬前", "2023-10-20")],
        [("区发展和改革局", "responsible")],
    ),
    (
        2022,
        "对达不到标准的产能,应在6个月内整改;确需延长的,延期不超过3个月。",
        [("6个月内", None), ("不超过3个月", None)],
        [],
    ),
    (2025, "本方案自印发之日起施行,有效期至2025年12月31日。", [("有效期至2025年12月31日", "2025-12-31")], []),
    (
        2024,
        "上半年,市应急管理局牵头开展安全生产执法检查。",
        [("上半年", "2024-06-30")],
        [("市应急管理局", "lead")],
    ),
    (
        2022,
        "年底前,市市场监督管理局完成重点产品质量抽查。",
        [("年底前", "2022-12-31")],
        [("市市场监督管理局", "responsible")],
    ),
    (
        2024,
        "2024年9月30日前,市工业和信息化局、市生态环境局联合制定整治方案并报市政府审定。",
        [("2024年9月30日前", "2024-09-30")],
        [("市工业和信息化局", "responsible"), ("市生态环境局", "responsible"), ("市政府", "receiver")],
    ),
    (
        2022,
        "各区人民政府要在规定期限内完成整改任务。",
        [("规定期限内", None)],
        [("各区人民政府", "responsible")],
    ),
    (
        2022,
        "11月30日前,县自然资源局将用地处置情况报送县工业和信息化局。",
        [("11月30日前", "2022-11-30")],
        [("县自然资源局", "responsible"), ("县工业和信息化局", "receiver")],
    ),
    (2023, "7月份,市能源局牵头开展电力专项执法。", [("7月份", "2023-07-31")], [("市能源局", "lead")]),
    (
        2023,
        "2023年第二季度末前,各县(市、区)政府完成落后产能排查。",
        [("2023年第二季度末前", "2023-06-30")],
        [("各县(市、区)政府", "responsible")],
    ),
    (
        2022,
        "请于5月15日前将报名表函告市工业和信息化局。",
        [("5月15日前", "2022-05-15")],
        [("市工业和信息化局", "receiver")],
    ),
    (
        2022,
        "市发展改革局每季度末将进展情况报市淘汰落后产能工作协调小组办公室。",
        [("每季度末", None)],
        [("市发展改革局", "responsible"), ("市淘汰落后产能工作协调小组办公室", "receiver")],
    ),
    (
        2022,
        "9月至11月,市工业和信息化局组织开展“回头看”。",
        [("9月至11月", "2022-11-30")],
        [("市工业和信息化局", "responsible")],
    ),
    (
        2020,
        "12月20日前,省发展改革委汇总上报国家发展改革委。",
        [("12月20日前", "2020-12-20")],
        [("省发展改革委", "responsible"), ("国家发展改革委", "receiver")],
    ),
    (2022, "按照《产业结构调整指导目录(2019年本)》和国发〔2010〕7号文件要求,依法淘汰落后产能。", [], []),
    (2022, "市生态环境局要定期公布超标排放企业名单。", [("定期", None)], [("市生态环境局", "responsible")]),
    (2022, "对排查发现的问题,限时整改到位。", [("限时", None)], []),
    (
        2023,
        "全年,各县(区)政府持续开展执法检查。",
        [("全年", "2023-12-31")],
        [("各县(区)政府", "responsible")],
    ),
    (
        2021,
        "8月下旬,市商务局配合市工业和信息化局开展调研。",
        [("8月下旬", "2021-08-31")],
        [("市商务局", "responsible"), ("市工业和信息化局", "counterpart")],
    ),
    (
        2022,
        "市财政局、市税务局按职责分工落实资金和税收政策,于10月31日前报送落实情况。",
        [("10月31日前", "2022-10-31")],
        [("市财政局", "responsible"), ("市税务局", "responsible")],
    ),
    (
        None,
        "5月底前,市工业和信息化局印发年度计划。",
        [("5月底前", None)],
        [("市工业和信息化局", "responsible")],
    ),
    (
        2022,
        "经市人民政府同意,由市自然资源局负责盘活退出企业的存量土地。",
        [],
        [("市人民政府", "receiver"), ("市自然资源局", "responsible")],
    ),
]


def _expected(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [i for i in items if i[1] != "counterpart"]


def test_labelled_time_expressions_and_units_precision_recall() -> None:
    time_expected: set[tuple[int, str, str | None]] = set()
    time_found: set[tuple[int, str, str | None]] = set()
    unit_expected: set[tuple[int, str, str]] = set()
    unit_found: set[tuple[int, str, str]] = set()
    for index, (year, sentence, times, units) in enumerate(LABELLED):
        time_expected |= {(index, text, date) for text, date in times}
        time_found |= {
            (index, t.text, t.date.isoformat() if t.date else None) for t in times_in(sentence, year)
        }
        unit_expected |= {(index, name, role) for name, role in _expected(units)}
        unit_found |= {(index, u.name, u.role) for u in units_in(sentence)}
    report = []
    for label, expected, found in (("time", time_expected, time_found), ("units", unit_expected, unit_found)):
        hits = len(expected & found)
        precision = hits / len(found) if found else 1.0
        recall = hits / len(expected) if expected else 1.0
        report.append((label, precision, recall))
        print(
            f"{label}: precision {precision:.3f}, recall {recall:.3f} "
            f"({hits}/{len(expected)} expected, {len(found)} found)"
        )
        for miss in sorted(expected - found, key=str):
            print("  missed", miss, LABELLED[miss[0]][1])
        for extra in sorted(found - expected, key=str):
            print("  extra ", extra, LABELLED[extra[0]][1])
    for _label, precision, recall in report:
        assert precision >= 0.95 and recall >= 0.95


def test_unresolvable_expressions_are_flagged_not_guessed() -> None:
    [no_year] = times_in("5月底前完成。", None)
    assert no_year.date is None and no_year.needs_review and "year" in no_year.reason
    [impossible] = times_in("2月30日前完成。", 2022)
    assert impossible.date is None and impossible.needs_review
    [xun] = times_in("3月上旬前完成。", 2022)
    assert xun.date == D(2022, 3, 10) and xun.needs_review


def test_a_plan_of_another_year_and_place() -> None:
    text = """
粤工信规划政策〔2023〕8号

广东省工业和信息化厅关于印发《广东省2023年推动落后产能退出工作方案》的通知

各地级以上市工业和信息化主管部门：

现将方案印发给你们，请认真贯彻执行。

广东省2023年推动落后产能退出工作方案

一、工作任务

（一）强化排查。各地级以上市人民政府于6月底前完成辖区排查，报送省工业和信息化厅。

（二）总结报告。每年12月20日前，省发展改革委、省生态环境厅将年度退出情况函告省工业和信息化厅。

二、实施期限

本方案有效期至2023年12月31日。
"""
    plan = parse(text)
    assert (plan.doc_number, plan.year, plan.issuer) == (
        "粤工信规划政策〔2023〕8号",
        2023,
        "广东省工业和信息化厅",
    )
    assert plan.valid_until == D(2023, 12, 31)
    dated = _dated(plan)
    assert [(t.number, t.deadline) for t in dated] == [
        ("一(一)", D(2023, 6, 30)),
        ("一(二)", D(2023, 12, 20)),
    ]
    assert ("省工业和信息化厅", "receiver") in _roles(dated[0])
    assert _roles(dated[1]) == {
        ("省发展改革委", "responsible"),
        ("省生态环境厅", "responsible"),
        ("省工业和信息化厅", "receiver"),
    }


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   \n  ", "empty"),
        ("今天天气很好，我们去公园散步。", "not_a_plan"),
    ],
)
def test_text_that_is_not_a_plan_is_refused(text: str, code: str) -> None:
    with pytest.raises(NotAPlan) as caught:
        parse(text)
    assert caught.value.code == code


def test_a_notice_without_headings_is_a_document_not_refused() -> None:
    parsed = parse("关于召开会议的通知\n请各单位准时参加。")
    assert (parsed.kind, parsed.title) == ("notice", "关于召开会议的通知")
    assert [(t.text, [(u.name, u.role) for u in t.units]) for t in parsed.tasks] == [
        ("请各单位准时参加。", [("各单位", "responsible")])
    ]


def _docx(paragraphs: list[str]) -> bytes:
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_documents_are_read_from_docx_txt_and_refused_when_unreadable() -> None:
    seed = (SEEDS / "jiangmen-2021-plan.txt").read_text(encoding="utf-8")
    text = read_text("plan.docx", _docx(seed.splitlines()))
    first = _dated(parse(text))[0]
    assert (first.number, first.deadline) == ("三(一)", D(2021, 4, 30))
    assert read_text("plan.txt", seed.encode("gb18030")) == seed
    blank = pypdf.PdfWriter()
    blank.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    blank.write(buffer)
    for name, data, message in [
        ("plan.pdf", buffer.getvalue(), "没有文字层"),
        ("plan.pdf", b"%PDF-1.4 not really", "无法读取该 PDF"),
        ("plan.docx", b"PK\x03\x04 broken", "无法读取该 Word"),
        ("plan.doc", b"\xd0\xcf\x11\xe0", r"\.doc"),
        ("plan.txt", b"", "空"),
        ("plan.xlsx", b"x", "只能读取"),
    ]:
        with translation.override("zh-hans"), pytest.raises(UnreadableDocument, match=message):
            read_text(name, data)


def _plan_parse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phaseout.cli", "plan-parse", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_plan_parse_command_prints_json() -> None:
    done = _plan_parse(str(SEEDS / "heyuan-2021-plan.txt"), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["doc_number"] == "河工信函〔2021〕152号"
    deadlines = {t["deadline"] for t in data["tasks"] if t["deadline"]}
    assert deadlines == {"2021-09-30", "2021-12-21", "2021-12-31"}
    flagged = [t for t in data["time_expressions"] if t["needs_review"]]
    assert all(t["reason"] and t["sentence"] for t in flagged)
    assert any(t["text"] == "第三季度" and t["start"] == "2021-07-01" for t in data["time_expressions"])
    # The year can be given when the document does not say; a bad file is refused with a message.
    done = _plan_parse(str(SEEDS / "jiangmen-2021-plan.txt"), "--year", "2021", "--json")
    assert done.returncode == 0
    empty = Path(__file__).with_name("empty-plan.txt")
    empty.write_text("", encoding="utf-8")
    try:
        done = _plan_parse(str(empty), "--json")
    finally:
        empty.unlink()
    assert done.returncode == 2 and "error" in json.loads(done.stdout)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "（一）江门市人民政府于2026年6月30日前报送钢铁行业落后产能退出情况。",
            [("江门市人民政府", "responsible")],
        ),
        ("蓬江区人民政府于5月31日前完成摸底排查。", [("蓬江区人民政府", "responsible")]),
        ("由台山市政府负责组织实施。", [("台山市政府", "responsible")]),
        # the city's own government, not a place before it; a verb before it is not part of the name
        ("市人民政府负责统筹。", [("市人民政府", "responsible")]),
        ("经市人民政府同意后实施。", [("市人民政府", "receiver")]),
        ("并报市人民政府备案。", [("市人民政府", "receiver")]),
    ],
    ids=[
        "city-named-first",
        "district-named-first",
        "after-you",
        "own-government",
        "after-jing",
        "after-bao",
    ],
)
def test_one_named_places_government_keeps_its_place(sentence: str, expected: list[tuple[str, str]]) -> None:
    assert [(u.name, u.role) for u in units_in(sentence)] == expected
