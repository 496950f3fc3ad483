"""The auditor's filters over the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from phaseout.audit.models import AuditEvent, Outcome


class AuditFilterForm(forms.Form):
    person = forms.CharField(label=_("User name"), max_length=150, required=False)
    action = forms.CharField(
        label=_("Event"),
        max_length=60,
        required=False,
        help_text=_("An event such as case.dismiss, or its first part ending with a full stop (case.)."),
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=[("", _("Any")), *Outcome.choices], required=False
    )
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
        if data.get("since"):
            qs = qs.filter(at__gte=_start_of(data["since"]))
        if data.get("until"):
            qs = qs.filter(at__lt=_start_of(data["until"] + dt.timedelta(days=1)))
        return qs


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# The outcome counts look at the newest this many selected entries at most, so that the page costs the same
# over a million entries as over a thousand; beyond it the page says "at least".
COUNT_CAP = 10_000


def outcome_counts(qs: QuerySet[AuditEvent]) -> tuple[list[tuple[str, int]], int | None]:
    """How many of the (newest COUNT_CAP) selected entries had each outcome, grouped and counted in the
    database; and the cap when it was reached (None when every selected entry was counted)."""
    newest = qs.order_by("-seq").values("pk")[: COUNT_CAP + 1]
    counted = dict(
        AuditEvent.objects.filter(pk__in=newest)
        .order_by()
        .values_list("outcome")
        .annotate(n=Count("id"))
        .values_list("outcome", "n")
    )
    capped = COUNT_CAP if sum(counted.values()) > COUNT_CAP else None
    if capped:  # COUNT_CAP + 1 were fetched to know: count the newest COUNT_CAP exactly
        counted = dict(
            AuditEvent.objects.filter(pk__in=qs.order_by("-seq").values("pk")[:COUNT_CAP])
            .order_by()
            .values_list("outcome")
            .annotate(n=Count("id"))
            .values_list("outcome", "n")
        )
    return [(str(label), counted.get(value, 0)) for value, label in Outcome.choices], capped
