"""Importing documents that are not work plans, over HTTP as the office: a notice that names dated duties
becomes a draft (said to be a notice, not a plan), one that names none is refused with what it is, and
text that is no document at all is refused as such. Nothing is created by a refusal."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from phaseout.audit.models import AuditEvent
from phaseout.orgs.models import Person
from phaseout.plans.models import Plan
from phaseout.plans.parser import kind_of
from tests.conftest import client_for
from tests.parser_scorer import CORPUS

BULLETIN = """江门市工业和信息化局

江工信函〔2022〕18号

江门市工业和信息化局关于2021年度推动落后产能退出工作情况的通报

各市（区）人民政府，市有关单位：

2021年，全市共关停退出落后产能企业9家，圆满完成省下达的年度目标任务。其中，鹤山市、开平市工作成效明显，予以通报表扬。

江门市工业和信息化局
2022年2月14日
"""


def _upload(office: Person, name: str) -> tuple[int, str]:
    client = client_for(office.user)
    data = BULLETIN.encode() if name == "bulletin.txt" else (CORPUS / name).read_bytes()
    response = client.post("/plans/upload/", {"document": SimpleUploadedFile(name, data)}, follow=True)
    return response.status_code, response.content.decode()


def test_a_bulletin_without_duties_is_refused_with_what_it_is(office: Person) -> None:
    status, page = _upload(office, "bulletin.txt")
    assert status == 400
    assert (
        "该文件是通知类公文（江工信函〔2022〕18号 "
        "江门市工业和信息化局关于2021年度推动落后产能退出工作情况的通报），不是工作计划，其中没有写明责任单位或时限的任务，未导入。"
    ) in page
    assert not Plan.objects.exists() and not AuditEvent.objects.filter(action="plan.import").exists()


def test_a_publicity_notice_is_refused_with_what_it_is(office: Person) -> None:
    status, page = _upload(office, "20-shantou-2020-subsidy-publicity.txt")
    assert status == 400
    assert (
        "该文件是公示（汕头市工业和信息化局关于2020年淘汰落后产能奖补资金拟安排项目的公示），不是工作计划，"
        "其中没有写明责任单位或时限的任务，未导入。"
    ) in page
    assert not Plan.objects.exists()


def test_a_notice_with_dated_duties_becomes_a_draft_said_to_be_a_notice(office: Person) -> None:
    status, page = _upload(office, "15-jiangmen-2023-meeting.txt")
    assert status == 200
    plan = Plan.objects.get()
    assert (plan.doc_number, plan.status, kind_of(plan.problems)) == (
        "江工信函〔2023〕214号",
        "draft",
        "notice",
    )
    assert "该文件是通知类公文，不是工作计划：其中写明责任单位或时限的事项已读为任务，请逐项核对。" in page
    assert plan.tasks.count() == 2
    event = AuditEvent.objects.get(action="plan.import", object_id=str(plan.pk))
    assert (event.data["kind"], event.data["tasks"], event.actor) == ("notice", 2, office.user)
