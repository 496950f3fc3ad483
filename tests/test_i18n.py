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
