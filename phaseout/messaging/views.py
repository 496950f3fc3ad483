from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages as flash
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from phaseout.messaging import actions, scope
from phaseout.messaging.models import Delivery, Kind
from phaseout.orgs.access import allow
from phaseout.orgs.models import ADMINISTRATOR_ROLES, Role
from phaseout.web import current_person, form_errors, paginate

# Every business role; not the three administrators (等保 least privilege: they see no business record,
# and nothing is addressed to them).
EVERYONE = tuple(r for r in Role if r not in ADMINISTRATOR_ROLES)


def _with_deliveries(qs: Any) -> Any:
    return qs.prefetch_related(Prefetch("deliveries", queryset=Delivery.objects.order_by("channel")))


@allow(*EVERYONE)
def message_list(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    show = request.GET.get("show", "")
    kind = request.GET.get("kind", "")
    qs = scope.messages(person)
    if show == "unread":
        qs = qs.filter(read_at__isnull=True)
    if kind in Kind.values:
        qs = qs.filter(kind=kind)
    context = paginate(request, _with_deliveries(qs.order_by("-created_at", "-id")))
    context.update({"show": show, "kind": kind, "kinds": Kind.choices})
    return render(request, "messaging/list.html", context)


@allow(*EVERYONE)
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Opening a message marks it read; the page links to its record and shows how it went out."""
    person = current_person(request)
    message = get_object_or_404(_with_deliveries(scope.messages(person)), pk=pk)
    actions.mark_read(message=message, person=person)
    return render(request, "messaging/detail.html", {"message": message})


@require_POST
@allow(*EVERYONE)
def message_read_all(request: HttpRequest) -> HttpResponse:
    try:
        count = actions.mark_all_read(person=current_person(request))
        flash.success(request, _("%(count)d messages marked as read.") % {"count": count})
    except actions.MessageError as exc:
        flash.error(request, str(exc))
    return redirect("message-list")


class PreferenceForm(forms.Form):
    mail = forms.BooleanField(label=gettext_lazy("By mail"), required=False)
    sms = forms.BooleanField(label=gettext_lazy("By SMS"), required=False)
    phone = forms.CharField(label=gettext_lazy("Mobile phone for SMS"), max_length=20, required=False)
    muted_kinds = forms.MultipleChoiceField(
        label=gettext_lazy("Kept in the message centre only"),
        choices=Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


@allow(*EVERYONE)
def preferences(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    preference = actions.preference_of(person)
    initial = {
        "mail": preference.mail,
        "sms": preference.sms,
        "phone": preference.phone,
        "muted_kinds": preference.muted_kinds,
    }
    form = PreferenceForm(request.POST or None, initial=initial)
    context = {"form": form, "email": person.user.email}
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.set_preferences(person=person, **form.cleaned_data)
            except actions.MessageError as exc:
                flash.error(request, str(exc))
                return render(request, "messaging/preferences.html", context, status=400)
            flash.success(request, _("Your message preferences are saved."))
            return redirect("message-preferences")
        form_errors(request, form)
        return render(request, "messaging/preferences.html", context, status=400)
    return render(request, "messaging/preferences.html", context)


@allow(Role.OFFICE)
def outbox(request: HttpRequest) -> HttpResponse:
    """The office's view of the outbox: what went out, what failed and is retried, what was given up."""
    status = request.GET.get("status", "")
    qs = Delivery.objects.select_related("message__recipient").order_by("-id")
    if status in Delivery.Status.values:
        qs = qs.filter(status=status)
    context = paginate(request, qs)
    context.update({"status": status, "statuses": Delivery.Status.choices})
    return render(request, "messaging/outbox.html", context)
