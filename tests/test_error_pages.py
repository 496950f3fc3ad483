"""The platform's own Chinese error pages: 403, 404 (also with DEBUG on, as in the demo, instead of Django's
technical page listing every address) and 500."""

from __future__ import annotations

import pytest
from django.test import Client

from phaseout.orgs.models import Person
from tests.conftest import client_for


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
