"""The left menu, grouped by job as officials' back offices are (工作台, 企业与设备, 执法与案件, …).

Which role sees an item is not stated here: it is read from the view the item links to (its
`@allow(...)` declaration, phaseout.orgs.access), so the menu shows exactly the pages a person may open
and a new rule for a page changes its menu entry with it. The current page is the item whose address is
the longest prefix of the request's path; the breadcrumbs are its group and the item.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, resolve, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from phaseout.orgs.access import ACCESS_ATTR, PUBLIC, SIGNED_IN, person_of
from phaseout.orgs.models import Role


@dataclass(frozen=True)
class Item:
    label: str | Promise
    url_name: str
    # For a page of one's own record (the enterprise's "my enterprise"): the Person attribute giving its pk.
    own: str = ""
    # A page a department opens only when it enforces this dimension (online monitoring: environment).
    dimension: str = ""


@dataclass(frozen=True)
class Group:
    label: str | Promise
    items: tuple[Item, ...]


MENU = (
    Group(
        _("Workbench"),
        (
            Item(_("My work"), "home"),
            Item(_("Messages"), "message-list"),
            Item(_("Dashboard"), "dashboard"),
            Item(_("Outbox"), "message-outbox"),
        ),
    ),
    Group(
        _("Enterprises and equipment"),
        (
            Item(_("My enterprise"), "enterprise-detail", own="enterprise_id"),
            Item(_("Registry"), "enterprise-list"),
            Item(_("Production lines"), "line-list"),
            Item(_("Standards"), "rulebooks"),
            Item(_("Evaluation runs"), "evaluation-runs"),
        ),
    ),
    Group(
        _("Online monitoring"),
        (
            Item(_("Key discharge units"), "monitoring-units", dimension="environment"),
            Item(_("Monitoring points"), "monitoring-points", dimension="environment"),
        ),
    ),
    Group(
        _("Enforcement and cases"),
        (
            Item(_("Cases"), "case-list"),
            Item(_("Proposals"), "case-proposals"),
            Item(_("Inspections"), "inspection-list"),
            Item(_("Inspection programmes"), "programme-list"),
            Item(_("Legal paths"), "case-paths"),
        ),
    ),
    Group(
        _("Power use and furnaces"),
        (
            Item(_("Signals for re-inspection"), "signal-list"),
            Item(_("Induction furnaces"), "furnace-list"),
            Item(_("Electricity accounts"), "power-accounts"),
            Item(_("Import power-use data"), "power-import"),
        ),
    ),
    Group(_("The province"), (Item(_("Cities' progress"), "province-progress"),)),
    Group(
        _("Plans and submissions"),
        (
            Item(_("Plans"), "plan-list"),
            Item(_("Submissions"), "my-submissions"),
            Item(_("Duties under the provincial plan"), "provincial-duties"),
            Item(_("Year summaries"), "summary-list"),
        ),
    ),
    Group(
        _("Publication and tip-offs"),
        (
            Item(_("Published lists"), "lists-admin"),
            Item(_("List error reports"), "error-reports"),
            Item(_("Tip-offs"), "tipoff-list"),
        ),
    ),
    Group(
        _("Credit and prices"),
        (Item(_("Credit sanctions"), "referrals"), Item(_("Price measures"), "price-measures")),
    ),
    Group(
        _("Statistics and reports"),
        (
            Item(_("Exit ledger"), "exit-ledger"),
            Item(_("Aggregates"), "aggregates"),
            Item(_("Stage report"), "stage-report"),
            Item(_("Charts"), "charts"),
            Item(_("Year summary"), "year-summary"),
        ),
    ),
    Group(
        _("System management"),
        (
            Item(_("Accounts"), "people"),
            Item(_("Departments and their dimensions"), "departments"),
            Item(_("Sign-in limits"), "sign-in-limits"),
            Item(_("Audit trail"), "audit-log"),
            Item(_("Reference data"), "admin:index"),
        ),
    ),
)


@cache
def roles_of(url_name: str) -> frozenset[str]:
    """The roles the linked view admits, from its declaration (the admin: the system administrator)."""
    if url_name.startswith("admin:"):
        return frozenset({Role.SYSTEM_ADMIN.value})
    path = reverse(url_name, args=[0]) if url_name == "enterprise-detail" else reverse(url_name)
    view = resolve(path).func
    declared = getattr(view, ACCESS_ATTR, None) or getattr(
        getattr(view, "view_class", None), ACCESS_ATTR, None
    )
    if declared in (PUBLIC, SIGNED_IN):
        return frozenset(r.value for r in Role)
    return frozenset(str(r) for r in declared or ())


def _url(item: Item, person: Any) -> str | None:
    if item.own:
        pk = getattr(person, item.own, None)
        return reverse(item.url_name, args=[pk]) if pk else None
    try:
        return reverse(item.url_name)
    except NoReverseMatch:
        return None


def _admits(item: Item, person: Any) -> bool:
    if person.role not in roles_of(item.url_name):
        return False
    return not (item.dimension and person.role == Role.DEPARTMENT and item.dimension not in person.dimensions)


def menu(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the person's menu, with the current item marked, and the breadcrumbs."""
    person = person_of(request)
    if person is None:
        return {}
    groups: list[dict[str, Any]] = []
    for group in MENU:
        entries: list[dict[str, Any]] = []
        for item in group.items:
            url = _url(item, person) if _admits(item, person) else None
            if url is not None:
                entries.append({"label": item.label, "url": url})
        if entries:
            groups.append({"label": group.label, "items": entries})
    path = request.path
    matches = [
        (len(entry["url"]), shown, entry)
        for shown in groups
        for entry in shown["items"]
        if path == entry["url"] or (entry["url"] != "/" and path.startswith(entry["url"]))
    ]
    crumbs: list[dict[str, Any]] = []
    if matches:
        _length, shown, entry = max(matches, key=lambda found: found[0])
        entry["current"] = shown["current"] = True
        # The item links back to its page from the pages below it; on its own page it is plain text.
        crumbs = [
            {"label": shown["label"]},
            {"label": entry["label"], "url": "" if path == entry["url"] else entry["url"]},
        ]
    return {"menu": groups, "breadcrumbs": crumbs}
