"""Every piece of interface text has its Chinese translation, and the compiled catalogue is current."""

from __future__ import annotations

import gettext
from pathlib import Path

import polib

import phaseout

LOCALE = Path(phaseout.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_every_message_is_translated() -> None:
    po = polib.pofile(str(LOCALE / "django.po"))
    untranslated = [e.msgid for e in po if not e.translated() and not e.obsolete]
    assert untranslated == []
    assert not [e.msgid for e in po if "fuzzy" in e.flags]


def test_compiled_catalogue_matches_the_source() -> None:
    po = polib.pofile(str(LOCALE / "django.po"))
    with (LOCALE / "django.mo").open("rb") as fh:
        mo = gettext.GNUTranslations(fh)
    for entry in po:
        if entry.msgid_plural:
            assert mo.ngettext(entry.msgid, entry.msgid_plural, 1) == entry.msgstr_plural[0]
        elif entry.msgid:
            found = mo.pgettext(entry.msgctxt, entry.msgid) if entry.msgctxt else mo.gettext(entry.msgid)
            assert found == entry.msgstr, entry.msgid


def test_pages_speak_chinese(client, reference) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert "登录" in page and "推动落后产能退出工作平台" in page
    assert 'lang="zh-hans"' in page


def test_static_assets_are_served_by_the_application(client) -> None:
    for path in ("/static/django_htmx/htmx-2.min.js", "/static/phaseout/site.css"):
        response = client.get(path)
        assert response.status_code == 200, path
    page = client.get("/accounts/login/").content.decode()
    assert "http://" not in page.replace("http://127.0.0.1", "") and "https://" not in page


def test_date_pickers_carry_iso_dates_in_chinese() -> None:
    """A browser's date picker shows nothing unless its value is ISO 8601; Chinese formats a date
    as 2021/06/16, so every date field of the platform uses the one widget that writes ISO."""
    import datetime as dt

    from django import forms as django_forms

    from phaseout.reports.views import StageReportForm

    form = StageReportForm(initial={"start": dt.date(2021, 6, 16)}, submissions=None)  # type: ignore[arg-type]
    assert 'type="date"' in str(form["start"]) and 'value="2021-06-16"' in str(form["start"])
    date_fields = []
    for module in ("cases", "plans", "standards", "registry", "prices"):
        forms_module = __import__(f"phaseout.{module}.forms", fromlist=["*"])
        for value in vars(forms_module).values():
            if isinstance(value, type) and issubclass(value, django_forms.BaseForm):
                for name, field in value.base_fields.items():
                    if isinstance(field, django_forms.DateField):
                        date_fields.append((value.__name__, name, type(field.widget).__name__))
    assert date_fields and all(widget == "DatePicker" for *_, widget in date_fields), date_fields
