"""The platform's own Chinese error pages: 403, 404 (also with DEBUG on, as in the demo, instead of Django's
technical page listing every address) and 500."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

from phaseout.cases import actions as case_actions
from phaseout.orgs.access import public
from phaseout.orgs.models import Person
from tests.conftest import PNG, client_for, upload
from tests.factories import CaseFactory


@public
def _broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a defect in a view")


# This module is also a URLconf: the platform's addresses and one view that fails.
urlpatterns = [path("broken/", _broken), path("", include("phaseout.urls"))]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "demo"])
def test_an_unknown_address_gets_the_chinese_404_page(db: None, settings, debug: bool) -> None:
    settings.DEBUG = debug
    response = Client().get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "未找到" in page and "不在您的职责范围内" in page
    assert "URLconf" not in page and "cases/<int:pk>/" not in page


def test_a_record_outside_scope_gets_the_chinese_404_page_in_the_demo(district: Person, settings) -> None:
    settings.DEBUG = True
    response = client_for(district.user).get("/cases/999999/")
    page = response.content.decode()
    assert response.status_code == 404 and "未找到" in page and "Traceback" not in page
    assert 'class="side"' in page  # the person keeps their menu


def test_json_answers_are_left_alone(db: None, settings) -> None:
    settings.DEBUG = True
    response = Client().post("/api/tipoffs/", data="{}", content_type="application/json")
    assert response["Content-Type"].startswith("application/json")


def test_a_refused_page_is_the_chinese_403(district: Person) -> None:
    response = client_for(district.user).get("/lists/")
    assert response.status_code == 403 and "无权访问" in response.content.decode()


def test_the_500_page_is_chinese_and_standalone(db: None, settings) -> None:
    from django.test import RequestFactory
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "服务器错误" in page and "本次操作未保存任何内容" in page


@pytest.mark.parametrize("debug", [False, True], ids=["production", "demo"])
def test_a_view_that_fails_gets_the_chinese_500_page_and_the_log_gets_the_traceback(
    db: None, settings, caplog: pytest.LogCaptureFixture, debug: bool
) -> None:
    settings.DEBUG = debug
    settings.ROOT_URLCONF = __name__
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = Client(raise_request_exception=False).get("/broken/")
    page = response.content.decode()
    assert response.status_code == 500
    assert "服务器错误" in page and "本次操作未保存任何内容" in page
    assert "Traceback" not in page and "RuntimeError" not in page
    assert any(r.exc_info and "a defect in a view" in str(r.exc_info[1]) for r in caplog.records)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "demo"])
@pytest.mark.parametrize("fault", ["altered", "missing"])
def test_a_stored_file_that_cannot_be_served_says_why(
    energy_dept: Person, settings, debug: bool, fault: str
) -> None:
    settings.DEBUG = debug
    case = CaseFactory()
    [evidence] = case_actions.add_case_evidence(
        case=case, files=[upload("现场.png", PNG, "image/png")], by=energy_dept.user
    )
    stored = Path(evidence.file.path)
    if fault == "altered":
        sealed = stored.read_bytes()
        stored.write_bytes(sealed[:-1] + bytes([sealed[-1] ^ 1]))
    else:
        stored.unlink()
    response = client_for(energy_dept.user).get(f"/evidence/{evidence.pk}/")
    page = response.content.decode()
    assert response.status_code == 404
    reason = {"altered": "该文件在存储中已被改动，无法打开。", "missing": "该文件在存储中缺失，无法打开。"}[
        fault
    ]
    assert reason in page and "该页面或记录不存在" not in page and "Traceback" not in page
