"""The exit ledger, aggregates per unit, and stage reports as .docx and .xlsx: every number in them is a
count or a sum over the records."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from decimal import Decimal

import docx
import pytest
import time_machine
from docx.shared import Pt
from openpyxl import load_workbook

from phaseout.cases import actions as case_actions
from phaseout.cases.models import Case
from phaseout.orgs.models import Person, Territory
from phaseout.registry.models import LineStatus, ProductionLine
from phaseout.reports.ledger import aggregate, ledger
from tests.conftest import PDF, client_for, order_elimination_exit, upload
from tests.factories import EnterpriseFactory, LineFactory

ON = dt.date(2026, 3, 2)


def _exit(office: Person, line: ProductionLine, rule: str) -> Case:
    inspection = case_actions.record_inspection(
        department=office.department, enterprise=line.enterprise, line=line, dimension="technology",
        inspected_on=ON, inspectors="李明", files=[], by=office.user, today=ON,
    )  # fmt: skip
    finding = case_actions.record_finding(
        inspection=inspection, rule_id=rule, line=line, measured_value=None, by=office.user
    )
    case = order_elimination_exit(Case.objects.get(finding=finding), office.user, ON)
    for measure in case.measures.exclude(kind="dismantling"):
        case_actions.complete_measure(
            notice="书面通知，提前24小时",
            measure=measure,
            by=office.user,
            done_on=ON,
            note="",
            files=[upload("m.pdf", PDF)],
            today=ON,
        )
    return case_actions.confirm_exit(
        case=Case.objects.get(pk=case.pk), by=office.user, today=ON, reason="已退出"
    )


def _exited(office: Person) -> None:
    for i, size in enumerate(("380", "300")):
        furnace = LineFactory(size_value=Decimal(size), capacity=Decimal(45 + i), enterprise__name=f"钢{i}")
        _exit(office, furnace, "technology.steel.blast-furnace-400")
    mill = LineFactory(
        enterprise=EnterpriseFactory(industry_id="cement", name="水泥厂"),
        equipment_type="cement_mill",
        size_value=Decimal("2.6"),
        size_unit="m",
        capacity=Decimal("30"),
        capacity_unit="10kt/a",
    )
    _exit(office, mill, "technology.cement.small-mill")
    kiln = LineFactory(
        enterprise=EnterpriseFactory(industry_id="cement", name="立窑厂"),
        equipment_type="clinker_line",
        size_value=Decimal("600"),
        size_unit="t/d",
        capacity=Decimal("600"),
        capacity_unit="t/d",
        process="vertical_kiln",
    )
    _exit(office, kiln, "technology.cement.vertical-kiln")


def test_ledger_and_aggregates_equal_the_records(office: Person) -> None:
    _exited(office)
    rows = ledger()
    assert len(rows) == ProductionLine.objects.filter(status=LineStatus.EXITED).count() == 4
    assert all(r.case_number and r.method and r.measures for r in rows)
    for r in rows:  # each measure with the day it was done; dismantling is the one not yet done
        measures = dict(r.measures)
        assert measures.pop("拆除") is None and set(measures.values()) == {ON}, r.measures_text
        assert r.measures_text.endswith("拆除 未完成") or "拆除 未完成；" in r.measures_text
    by_industry = {(t["label"], t["unit"]): (t["lines"], t["capacity"]) for t in aggregate(rows, "industry")}
    # Cement's two units stay apart: 10,000 t/year and t/d are never added together.
    assert by_industry == {
        ("钢铁", "10kt/a"): (2, Decimal("91")),
        ("水泥", "10kt/a"): (1, Decimal("30")),
        ("水泥", "t/d"): (1, Decimal("600")),
    }
    client = client_for(office.user)
    page = client.get("/reports/aggregates/", {"group": "industry"}).content.decode()
    assert "industry=cement&amp;unit=t%2Fd" in page
    linked = client.get("/reports/ledger/", {"industry": "cement", "unit": "t/d"}).content.decode()
    assert "立窑厂" in linked and "水泥厂" not in linked


def test_stage_report_docx_and_xlsx_carry_the_same_numbers(office: Person) -> None:
    _exited(office)
    client = client_for(office.user)
    form = {
        "doc_number": "江工信〔2026〕12号",
        "title": "关于2026年上半年推动落后产能退出工作情况的报告",
        "recipient": "市人民政府",
        "start": "2026-01-01",
        "end": "2026-06-30",
        "narrative": "今年以来，我局按照工作计划推进落后产能退出。\n下一步将继续加强执法检查。",
        "issuer": "江门市工业和信息化局",
        "fmt": "docx",
    }
    response = client.post("/reports/stage/", form)
    assert response.status_code == 200
    document = docx.Document(io.BytesIO(response.content))
    section = document.sections[0]
    margins = (section.top_margin, section.bottom_margin, section.left_margin, section.right_margin)
    assert [round(m.mm) for m in margins] == [37, 35, 28, 26]  # stored in twips: compare in whole mm
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "江工信〔2026〕12号"
    title = next(p for p in document.paragraphs if p.text == form["title"])
    assert title.runs[0].font.size == Pt(22)
    assert "共关停退出企业4家、生产线（设备）4条（台）" in "".join(texts)
    assert "今年以来，我局按照工作计划推进落后产能退出。" in texts
    detail, totals, cases = document.tables  # the office's report also carries the year's cases
    assert len(detail.rows) == 1 + 4
    assert {row.cells[1].text for row in detail.rows[1:]} == {"钢0", "钢1", "水泥厂", "立窑厂"}
    figures = {(row.cells[0].text, row.cells[3].text): row.cells[2].text for row in totals.rows[1:]}
    assert figures == {("钢铁", "万吨/年"): "91", ("水泥", "万吨/年"): "30", ("水泥", "t/d"): "600"}
    assert "PAGE" in document.sections[0].footer._element.xml
    total = [c.text for c in cases.rows[-1].cells]
    year = Case.objects.filter(opened_at__year=2026)
    assert total[:2] == ["合计", str(year.count())] and total[4] == str(year.filter(state="exited").count())
    # The .xlsx of the same period round-trips with the same rows.
    book = load_workbook(io.BytesIO(client.post("/reports/stage/", {**form, "fmt": "xlsx"}).content))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + 4 and rows[0][0] == "序号"
    assert sum(Decimal(str(r[6])) for r in rows[1:] if r[7] == "万吨/年") == Decimal("121")
    # Outside the period: nothing.
    empty = client.post("/reports/stage/", {**form, "start": "2025-01-01", "end": "2025-12-31"})
    assert len(docx.Document(io.BytesIO(empty.content)).tables[0].rows) == 1
    refused = client.post("/reports/stage/", {**form, "start": "2026-07-01"})
    assert refused.status_code == 200 and refused["Content-Type"].startswith("text/html")


def test_a_district_reports_only_its_territory(office: Person, district: Person) -> None:
    _exited(office)
    LineFactory(
        enterprise=EnterpriseFactory(territory_id="440703", name="蓬江厂"), status="exited", exited_on=ON
    )
    page = client_for(district.user).get("/reports/ledger/").content.decode()
    assert "蓬江厂" in page
    names = {r.enterprise for r in ledger(ProductionLine.objects.filter(enterprise__territory_id="440703"))}
    assert all(name in page for name in names)
    assert ("钢0" in page) == ("钢0" in names)


def test_charts_are_svg_from_the_records(office: Person) -> None:
    _exited(office)
    with time_machine.travel(dt.datetime(ON.year, ON.month, ON.day, 10, tzinfo=dt.UTC), tick=False):
        page = client_for(office.user).get("/reports/charts/").content.decode()  # the year of the exits
    assert page.count("<svg") == 8 + 1  # eight charts, and the map of the office's own city
    svgs = page[page.index("<svg") : page.rindex("</svg>")]
    assert "<script" not in svgs  # drawn on the server: no script in the charts
    industry = page[page.index('id="chart-industry"') :]
    industry = industry[: industry.index("</svg>")]
    assert "钢铁：2 条" in industry and "水泥：2 条" in industry  # the bars' figures are the ledger's counts


def test_counties_are_charted_in_gbt_2260_order(office: Person) -> None:
    """恩平 (440785), 台山 (440781), 蓬江 (440703) exit: the chart lists them by code, not by name."""
    for code in ("440785", "440781", "440703"):
        furnace = LineFactory(size_value=Decimal("300"), enterprise__territory_id=code)
        _exit(office, furnace, "technology.steel.blast-furnace-400")
    with time_machine.travel(dt.datetime(ON.year, ON.month, ON.day, 10, tzinfo=dt.UTC), tick=False):
        page = client_for(office.user).get("/reports/charts/").content.decode()
    chart = page[page.index('id="chart-territory"') :]
    chart = chart[: chart.index("</svg>")]
    places = [chart.index(name) for name in ("蓬江区", "台山市", "恩平市")]
    assert places == sorted(places)


def test_chart_labels_are_escaped() -> None:
    from phaseout.reports.charts import bars

    svg = str(bars("<b>x</b>", [("<script>alert(1)</script>", 3)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_year_summary_counts_equal_the_records(office: Person) -> None:
    from phaseout.reports.summary import year_summary

    _exited(office)
    Case.objects.update(opened_at=dt.datetime(ON.year, ON.month, ON.day, 9, tzinfo=dt.UTC))
    summary = year_summary(ON.year)
    assert summary["exited_lines"] == ProductionLine.objects.filter(status="exited").count() == 4
    assert summary["exited_enterprises"] == 4
    assert sum(r["found"] for r in summary["by_territory"]) == Case.objects.count()
    assert (
        sum(r["exited"] for r in summary["by_industry"]) == Case.objects.filter(state="exited").count() == 4
    )
    capacity = {
        (r["enterprise__industry__name"], r["capacity_unit"]): r["total"] for r in summary["capacity"]
    }
    assert capacity == {("水泥", "10kt/a"): 30, ("水泥", "t/d"): 600, ("钢铁", "10kt/a"): 91}
    page = client_for(office.user).get("/reports/summary/", {"year": ON.year}).content.decode()
    assert "4 家企业、4 条生产线（台设备）已退出" in page


def test_every_figure_of_the_year_summary_is_a_count_over_the_cases(office: Person) -> None:
    """Cases in many states, territories, industries and dimensions: each row of each breakdown
    equals the cases counted for it directly, and last year's cases count nowhere."""
    from phaseout.reports.summary import year_summary
    from phaseout.rules.case_flow import State
    from tests.factories import CaseFactory
    from tests.test_case_matrix import STATE_FIELDS

    places = [("440703", "steel"), ("440781", "cement"), ("441602", "flat_glass"), ("440703", "cement")]
    for i, state in enumerate([*State, *State]):
        territory, industry = places[i % len(places)]
        CaseFactory(
            enterprise=EnterpriseFactory(territory_id=territory, industry_id=industry),
            dimension=["energy", "environment", "technology"][i % 3],
            state=state.value,
            **STATE_FIELDS[state],
        )
    Case.objects.update(opened_at=dt.datetime(ON.year, ON.month, ON.day, 9, tzinfo=dt.UTC))
    old = CaseFactory(state="closed", **STATE_FIELDS[State.CLOSED])
    Case.objects.filter(pk=old.pk).update(opened_at=dt.datetime(ON.year - 1, 6, 1, 9, tzinfo=dt.UTC))
    summary = year_summary(ON.year)
    year = Case.objects.filter(opened_at__year=ON.year)
    columns = {
        "found": {},
        "rectifying": {"state__in": ["rectifying", "overdue"]},
        "ordered": {"state__in": ["exit_ordered", "exited", "accepted", "archived"]},
        "exited": {"state__in": ["exited", "accepted", "archived"]},
        "closed": {"state": "closed"},
    }
    for breakdown, key in (
        ("by_territory", "territory__name"),
        ("by_industry", "industry__name"),
        ("by_dimension", "dimension"),
    ):
        if key == "territory__name":  # counties in GB/T 2260 order, not by their names
            codes = sorted(set(year.values_list("territory__code", flat=True)))
            expected = [Territory.objects.get(code=c).name for c in codes]
        else:
            expected = sorted(set(year.values_list(key, flat=True)))
        assert [row[key] for row in summary[breakdown]] == expected
        for row in summary[breakdown]:
            for column, condition in columns.items():
                assert row[column] == year.filter(**{key: row[key]}, **condition).count(), (
                    breakdown,
                    row,
                    column,
                )
    assert summary["by_state"] == {s.value: 2 for s in State}


def test_stage_report_pdf_renders_its_first_page(office: Person) -> None:
    import pypdf
    import pypdfium2

    _exited(office)
    form = {
        "doc_number": "江工信〔2026〕12号",
        "title": "关于2026年上半年推动落后产能退出工作情况的报告",
        "recipient": "市人民政府",
        "start": "2026-01-01",
        "end": "2026-06-30",
        "narrative": "今年以来，我局按照工作计划推进落后产能退出。",
        "issuer": "江门市工业和信息化局",
        "fmt": "pdf",
    }
    response = client_for(office.user).post("/reports/stage/", form)
    assert response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
    flat = "".join(text.split())  # table cells wrap narrow text
    assert "共关停退出企业4家、生产线（设备）4条（台）" in flat
    assert "立窑厂" in flat and "— 1 —" in text
    page = pypdfium2.PdfDocument(response.content)[0]
    width, height = page.get_size()
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    image = page.render(scale=1).to_pil().convert("L")
    # The title sits in the upper third, centred: that band has ink, the margins do not.
    band = image.crop((80, 110, 515, 220))
    assert band.getextrema()[0] < 100
    margin = image.crop((0, 0, 595, 90))
    assert margin.getextrema()[0] > 200


def test_pdf_without_its_font_is_refused_with_a_message(office: Person, monkeypatch: object) -> None:

    from phaseout import officialdoc

    monkeypatch.setattr(officialdoc, "FONT_PATHS", ())  # type: ignore[attr-defined]
    monkeypatch.setattr(officialdoc.pdfmetrics, "getRegisteredFontNames", lambda: [])  # type: ignore[attr-defined]
    response = client_for(office.user).post(
        "/reports/stage/",
        {
            "title": "报告",
            "start": "2026-01-01",
            "end": "2026-06-30",
            "issuer": "江门市工业和信息化局",
            "fmt": "pdf",
        },
    )
    assert response.status_code == 200 and "fonts-arphic-uming" in response.content.decode()


@pytest.fixture
def on_the_day() -> Iterator[None]:
    """The map counts the cases opened this year: the test runs at 18:00 Beijing time on ON, not on the
    real day."""
    with time_machine.travel(dt.datetime(ON.year, ON.month, ON.day, 10, tzinfo=dt.UTC), tick=False):
        yield


def _cases_for_the_map() -> dict[str, tuple[int, int]]:
    """Cases of this year in three Jiangmen counties and one at city level; one of last year."""
    from django.utils import timezone

    from phaseout.rules.case_flow import State
    from tests.factories import CaseFactory
    from tests.test_case_matrix import STATE_FIELDS

    plan = {
        "440703": ["exited", "closed", "rectifying", "archived"],
        "440781": ["finding"],
        "440700": ["exited"],
    }
    for code, states in plan.items():
        for state in states:
            fields = STATE_FIELDS[State(state)]
            CaseFactory(enterprise=EnterpriseFactory(territory_id=code), state=state, **fields)
    old = CaseFactory(
        enterprise=EnterpriseFactory(territory_id="440781"), state="exited", **STATE_FIELDS[State.EXITED]
    )
    Case.objects.filter(pk=old.pk).update(opened_at=timezone.now() - dt.timedelta(days=800))
    return {"440703": (4, 3), "440781": (1, 0)}


def _county(svg: str, code: str) -> str:
    start = svg.index(f'data-territory="{code}"')
    return svg[svg.rindex("<path", 0, start) : svg.index("</path>", start)]


def test_the_map_colours_each_county_by_the_share_of_its_cases_settled(
    on_the_day: None, office: Person
) -> None:
    from phaseout.reports import maps

    expected = _cases_for_the_map()
    page = client_for(office.user).get("/reports/charts/").content.decode()
    jiangmen = page[page.index('id="map-440700"') : page.index("</svg>", page.index('id="map-440700"'))]
    assert jiangmen.count("<path") == 7  # every county of Jiangmen has its outline
    for code, (found, settled) in expected.items():
        county = _county(jiangmen, code)
        assert f'data-found="{found}" data-settled="{settled}"' in county  # counted from the records
    assert 'fill="#31a354"' in _county(jiangmen, "440703")  # 3 of 4 settled: the 60–80 % class
    assert 'fill="#edf8e9"' in _county(jiangmen, "440781")  # 0 of 1 (last year's case not counted)
    jianghai = _county(jiangmen, "440704")
    assert f'fill="{maps.NO_CASES}"' in jianghai and 'data-found="0"' in jianghai
    assert "蓬江区：4 件案件中 3 件已办结（75%）" in jiangmen
    # Each county links to the cases behind its figure, and that list holds exactly them.
    assert f'href="/cases/?territory=440703&amp;year={ON.year}"' in jiangmen
    listed = client_for(office.user).get(f"/cases/?territory=440703&year={ON.year}").content.decode()
    assert listed.count('href="/cases/') - listed.count('href="/cases/?') >= 4
    # The city-level case is not on the map, and the page says so.
    assert "江门市本级立案的案件不在地图上：1 件中 1 件已办结" in page
    assert page.count('id="map-') == 1  # the office's own city only: not Heyuan's
    assert "echarts-china-cities-pypkg 0.0.9 (MIT)" in page


def test_a_city_office_sees_its_own_city_and_departments_only(
    on_the_day: None, office: Person, heyuan_office: Person
) -> None:
    """Heyuan's office sees Heyuan's map and nothing of Jiangmen's cases; Jiangmen's office the reverse."""
    _cases_for_the_map()
    page = client_for(heyuan_office.user).get("/reports/charts/").content.decode()
    assert page.count('id="map-') == 1 and 'id="map-441600"' in page
    assert 'data-found="0"' in page and 'data-found="4"' not in page  # Jiangmen's cases are not counted
    case_link = re.compile(r'href="/cases/\d+/"')
    listed = client_for(heyuan_office.user).get(f"/cases/?year={ON.year}").content.decode()
    assert not case_link.search(listed)
    own = client_for(office.user).get(f"/cases/?year={ON.year}").content.decode()
    assert len(case_link.findall(own)) >= 5
    case = Case.objects.filter(territory_id="440703").first()
    assert case is not None
    assert client_for(heyuan_office.user).get(f"/cases/{case.pk}/").status_code == 404
    assert client_for(office.user).get(f"/cases/{case.pk}/").status_code == 200
    tipoffs = client_for(heyuan_office.user).get("/tipoffs/").content.decode()
    assert "河源市发展和改革局" in tipoffs and "江门市发展和改革局" not in tipoffs  # the routing filter


def test_a_district_sees_the_other_counties_blank(on_the_day: None, district: Person) -> None:
    _cases_for_the_map()
    page = client_for(district.user).get("/reports/charts/").content.decode()
    assert page.count('id="map-') == 1  # Heyuan is wholly outside the district's scope
    own = _county(page, "440703")
    assert 'data-found="4" data-settled="3"' in own
    other = _county(page, "440781")
    assert "data-found" not in other and "stroke-dasharray" in other and "不在本人数据范围" in other


def test_the_outlines_are_the_shipped_territories() -> None:
    import json

    from phaseout.reports import maps

    shipped = json.loads((maps.OUTLINES.parent / "territories.json").read_text(encoding="utf-8"))
    counties = {t["code"] for t in shipped if t["level"] == "county"}
    assert set(maps.outlines()) == counties
    for code, feature in maps.outlines().items():
        lon = [p[0] for ring in maps._rings(feature) for p in ring]
        lat = [p[1] for ring in maps._rings(feature) for p in ring]
        assert 111.9 < min(lon) < max(lon) < 115.7 and 21.4 < min(lat) < max(lat) < 24.9, code
    assert maps.source()["sha256"] == "11367c5872a05142fd12218770f2fd123cfcc558d4e9d07446e45bc5e1487f36"


def test_the_ledger_xlsx_round_trips_with_the_records(office: Person) -> None:
    _exited(office)
    from phaseout.registry.models import Enterprise

    Enterprise.objects.filter(name="水泥厂").update(name='=HYPERLINK("http://x","水泥厂")')
    response = client_for(office.user).get("/reports/ledger/", {"format": "xlsx"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response.streaming  # from a file written a chunk at a time (issue 15)
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book["退出台账"]
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("序号", "企业名称", "统一社会信用代码") and rows[0][-1] == "案件编号"
    records = {r.case_number: r for r in ledger()}
    assert len(rows) - 1 == len(records) == 4
    for values in rows[1:]:
        record = records[values[13]]
        assert Decimal(str(values[6])) == record.capacity and values[7] == record.unit_label
        assert values[9].date() == record.exited_on == ON  # a date cell, not text
        assert values[12].date() == record.announced_on == ON  # the website announcement measure's day
        assert values[2] == record.uscc and values[10].startswith(record.measures[0][0])
    names = {values[1] for values in rows[1:]}
    assert '\'=HYPERLINK("http://x","水泥厂")' in names  # written as text, never as a formula
    totals = {
        (r[0], r[4]): (r[2], Decimal(str(r[3])))
        for r in list(book["分行业合计"].iter_rows(values_only=True))[1:]
    }
    assert totals == {
        ("钢铁", "万吨/年"): (2, Decimal("91")),
        ("水泥", "万吨/年"): (1, Decimal("30")),
        ("水泥", "t/d"): (1, Decimal("600")),
    }


def test_a_stage_report_for_a_plan_submission_is_prefilled_and_handed_in(
    office: Person, district: Person, other_district: Person
) -> None:
    from phaseout.plans.models import Submission
    from phaseout.reports.views import _period, _prefilled
    from phaseout.rules.case_flow import State
    from tests.factories import CaseFactory
    from tests.test_case_matrix import STATE_FIELDS
    from tests.test_plans import _confirm, _import

    plan = _confirm(_import(office), office)
    mine = plan.submissions.get(territory="440703", kind="summary")
    theirs = plan.submissions.get(territory="440781", kind="summary")
    # The stage a submission covers follows the plan, within the plan's year: a report covers the
    # days since the unit's previous report; a year summary covers the year, and the office's
    # summary due on 5 January 2022 reports on 2021 (a sub-plan is not a stage).
    fgj = plan.submissions.filter(department__code="jm-fgj")
    assert _period(fgj.get(kind="report")) == (dt.date(2021, 1, 1), dt.date(2021, 6, 15))
    assert _period(fgj.get(kind="summary")) == (dt.date(2021, 1, 1), dt.date(2021, 12, 15))
    office_summary = plan.submissions.get(department__code="jm-gxj", kind="summary")
    assert _period(office_summary) == (dt.date(2021, 1, 1), dt.date(2021, 12, 31))
    assert _prefilled(office_summary, "")["title"] == "关于2021年推动落后产能退出工作的总结报告"
    report_title = _prefilled(fgj.get(kind="report"), "")["title"]
    assert report_title == "关于2021年1月至6月推动落后产能退出工作情况的报告"
    assert _period(mine) == (dt.date(2021, 1, 1), dt.date(2021, 12, 15))
    for day, territory in ((dt.date(2021, 3, 2), "440703"), (dt.date(2021, 11, 30), "440703")):
        LineFactory(
            enterprise=EnterpriseFactory(territory_id=territory),
            status="exited",
            exited_on=day,
            capacity=Decimal("45"),
            capacity_unit="10kt/a",
        )
    LineFactory(
        enterprise=EnterpriseFactory(territory_id="440703"), status="exited", exited_on=dt.date(2022, 1, 4)
    )
    LineFactory(
        enterprise=EnterpriseFactory(territory_id="440781"), status="exited", exited_on=dt.date(2021, 5, 1)
    )
    opened = dt.datetime(2021, 4, 1, 9, tzinfo=dt.UTC)
    for state in (State.EXITED, State.RECTIFYING, State.CLOSED):
        case = CaseFactory(
            enterprise=EnterpriseFactory(territory_id="440703"), state=state.value, **STATE_FIELDS[state]
        )
        Case.objects.filter(pk=case.pk).update(opened_at=opened)

    client = client_for(district.user)
    form = client.get("/reports/stage/", {"submission": mine.pk}).context["form"]
    assert form.initial["start"] == dt.date(2021, 1, 1) and form.initial["end"] == dt.date(2021, 12, 15)
    assert "2021年" in form.initial["title"] and "总结" in form.initial["title"]
    assert form.initial["issuer"] == "蓬江区"
    # Another district's submission is neither offered nor prefilled.
    other = client.get("/reports/stage/", {"submission": theirs.pk}).context["form"]
    assert "submission" not in other.initial
    assert theirs not in form.fields["submission"].queryset and mine in form.fields["submission"].queryset
    post = {
        "title": form.initial["title"], "recipient": "市推动落后产能退出工作协调小组办公室",
        "start": "2021-01-01", "end": "2021-12-15", "narrative": "全年工作总结。", "issuer": "蓬江区人民政府",
        "fmt": "docx", "submission": mine.pk, "hand_in": "on",
    }  # fmt: skip
    refused = client.post("/reports/stage/", {**post, "submission": theirs.pk})
    assert refused.status_code == 200 and not Submission.objects.get(pk=theirs.pk).submitted_on
    refused = client.post("/reports/stage/", {**post, "fmt": "xlsx"})
    assert "请选择 .docx 或 PDF" in refused.content.decode()
    handed = client.post("/reports/stage/", post)
    assert handed.status_code == 302 and handed["Location"] == "/submissions/"
    mine.refresh_from_db()
    assert mine.submitted_on is not None and mine.submitted_by == district.user
    # The figures handed in are the ledger's: two lines of two enterprises in the period.
    version = mine.versions.get()  # handed in as version 1, awaiting the office's review
    assert (version.number, version.review, mine.state) == (1, "pending", "pending")
    assert version.numbers == {"enterprises": 2, "lines": 2, "capacity": "钢铁 90万吨/年"}
    document = docx.Document(version.document.open("rb"))
    assert len(document.tables[0].rows) == 1 + 2
    texts = [p.text for p in document.paragraphs]
    assert "三、2021年案件办理情况（按县（市、区））" in texts
    cases = [[c.text for c in row.cells] for row in document.tables[2].rows]
    assert cases[0][:2] == ["县（市、区）", "立案"]
    assert cases[1] == ["蓬江区", "3", "1", "1", "1", "1"]  # found, rectifying, ordered, exited, closed
    again = client.post("/reports/stage/", post)
    assert again.status_code == 200 and "已报送" in again.content.decode()


def test_the_ledger_page_shows_a_page_of_rows_and_the_totals_of_all(office: Person) -> None:
    for i in range(53):
        LineFactory(
            enterprise__name=f"分页钢铁{i:02d}",
            status="exited",
            exited_on=dt.date(2026, 1, 1) + dt.timedelta(days=i),
            capacity=Decimal("10"),
            capacity_unit="10kt/a",
        )
    client = client_for(office.user)
    first = client.get("/reports/ledger/", {"year": "2026"}).content.decode()
    assert first.count("分页钢铁") == 50 and "分页钢铁00" in first and "分页钢铁50" not in first
    assert (
        "共退出生产线（设备）53 条（台）" in first and "钢铁：53 / 530 万吨/年" in first
    )  # all rows, not the page
    assert 'href="?year=2026&page=2"' in first
    second = client.get("/reports/ledger/", {"year": "2026", "page": "2"}).content.decode()
    assert second.count("分页钢铁") == 3 and "分页钢铁52" in second and "page=3" not in second
    assert "year=2026&format=xlsx" in second  # the export takes the filter, not the page
