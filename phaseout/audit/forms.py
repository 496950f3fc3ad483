"""The auditor's filters over the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.apps import apps
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from phaseout.audit import labels
from phaseout.audit.models import AuditEvent, Outcome


def _event_choices() -> list[tuple[str, str]]:
    return [
        ("", str(_("Any"))),
        *(
            (prefix, str(_("every event: %(kind)s") % {"kind": name}))
            for prefix, name in labels.KINDS.items()
        ),
        *labels.choices(),
    ]


def _record_choices() -> list[tuple[str, str]]:
    found = [
        (f"{m._meta.app_label}.{m._meta.model_name}", str(m._meta.verbose_name)) for m in apps.get_models()
    ]
    return [("", str(_("Any"))), *sorted(found, key=lambda c: c[1])]


class AuditFilterForm(forms.Form):
    person = forms.CharField(label=_("User name"), max_length=150, required=False)
    unit = forms.CharField(
        label=_("Unit"), max_length=120, required=False, help_text=_("The unit's full name, as recorded.")
    )
    action = forms.ChoiceField(label=_("Event"), choices=_event_choices, required=False)
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[("", _("Any")), *Outcome.choices], required=False
    )
    record_type = forms.ChoiceField(label=_("Kind of record"), choices=_record_choices, required=False)
    record_id = forms.IntegerField(label=_("Record number"), min_value=1, max_value=2**62, required=False)
    since = forms.DateField(
        label=pgettext_lazy("date range", "From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = forms.DateField(
        label=pgettext_lazy("date range", "To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("The start date cannot be after the end date."))
        if data.get("record_id") and not data.get("record_type"):
            self.add_error("record_type", _("Choose the kind of record the number belongs to."))
        return data

    def filter(self, qs: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        """The entries the valid filters select (each on an indexed column)."""
        data = self.cleaned_data
        if data.get("person"):
            qs = qs.filter(actor_name=data["person"].strip())
        action = (data.get("action") or "").strip()
        if action.endswith("."):
            qs = qs.filter(action__startswith=action)
        elif action:
            qs = qs.filter(action=action)
        if data.get("outcome"):
            qs = qs.filter(outcome=data["outcome"])
        if data.get("unit"):
            qs = qs.filter(unit=data["unit"].strip())
        if data.get("record_type"):
            qs = qs.filter(object_type=data["record_type"])
            if data.get("record_id"):
                qs = qs.filter(object_id=str(data["record_id"]))
        if data.get("since"):
            qs = qs.filter(at__gte=_start_of(data["since"]))
        if data.get("until"):
            qs = qs.filter(at__lt=_start_of(data["until"] + dt.timedelta(days=1)))
        return qs


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# The outcome counts look at the newest this many selected entries at most, so that the page costs about the
# same over a million entries as over a thousand; beyond it the page says so.
COUNT_CAP = 10_000


def newest_first(qs: QuerySet[AuditEvent], form: AuditFilterForm | None = None) -> QuerySet[AuditEvent]:
    """Newest first. With a date filter, by time (then number): the time index finds the range at once,
    where walking the numbers back from the newest would pass every later entry first. The two orders
    agree: an entry's time is taken under the chain's lock, with its number."""
    dated = (
        form is not None
        and form.is_bound
        and form.is_valid()
        and (form.cleaned_data.get("since") or form.cleaned_data.get("until"))
    )
    return qs.order_by("-at", "-seq") if dated else qs.order_by("-seq")


def outcome_counts(qs: QuerySet[AuditEvent]) -> tuple[list[tuple[str, int]], int | None]:
    """How many of the newest COUNT_CAP selected entries had each outcome, grouped and counted in the
    database (one query over the newest COUNT_CAP + 1); and the cap when it was reached."""
    if qs.query.is_empty():
        return [(str(label), 0) for _value, label in Outcome.choices], None
    newest = qs.values_list("seq", "outcome")[: COUNT_CAP + 1]
    sql, params = newest.query.sql_with_params()
    with connections[qs.db].cursor() as cursor:
        # The sliced query set inside, its parameters bound: the database groups its rows.
        cursor.execute(
            f"SELECT newest.outcome, COUNT(*), MIN(newest.seq) FROM ({sql}) newest GROUP BY newest.outcome",  # noqa: S608
            params,
        )
        rows = cursor.fetchall()
    counted = {outcome: n for outcome, n, _oldest in rows}
    capped = None
    if sum(counted.values()) > COUNT_CAP:  # one too many was fetched to know: leave the oldest out
        capped = COUNT_CAP
        oldest = min(rows, key=lambda row: row[2])
        counted[oldest[0]] -= 1
    return [(str(label), counted.get(value, 0)) for value, label in Outcome.choices], capped


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
