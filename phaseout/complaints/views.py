from __future__ import annotations

import hmac
import json
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from phaseout.audit.exports import audited_export
from phaseout.cases import scope as case_scope
from phaseout.complaints import actions
from phaseout.complaints.models import TipOff
from phaseout.complaints.scope import tipoffs
from phaseout.orgs import scope as org_scope
from phaseout.orgs.access import allow, public
from phaseout.orgs.labels import Label, may_read
from phaseout.orgs.models import Department, Person, Role, Territory
from phaseout.web import current_person, current_user, posted_id, throttled
from phaseout.web.lists import Column, ListSpec, list_response
from phaseout.web.middleware import CONTROL_CHARACTERS, has_control


class TipOffForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("What are you reporting?"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    enterprise_name = forms.CharField(
        label=gettext_lazy("Enterprise (if known)"), max_length=120, required=False
    )
    territory = forms.ModelChoiceField(
        label=gettext_lazy("Where"), queryset=Territory.objects.all(), required=False
    )
    reporter_name = forms.CharField(
        label=gettext_lazy("Your name (optional, kept confidential)"), max_length=60, required=False
    )
    reporter_phone = forms.CharField(
        label=gettext_lazy("Your phone (optional, kept confidential)"), max_length=30, required=False
    )
    website = forms.CharField(required=False, widget=forms.HiddenInput)  # people leave it empty; bots fill it


@csrf_exempt  # anonymous public form: no session to protect; throttled per address, with a honeypot
@public
def tipoff_form(request: HttpRequest) -> HttpResponse:
    form = TipOffForm(request.POST or None)
    if request.method == "POST":
        if throttled(request, "tipoff"):
            return HttpResponse(_("Too many reports from your address; please try again later."), status=429)
        if form.is_valid() and not form.cleaned_data["website"]:
            data = form.cleaned_data
            try:
                tipoff, _new = actions.receive(
                    source=TipOff.Source.WEB,
                    text=data["text"],
                    enterprise_name=data["enterprise_name"],
                    territory=data["territory"],
                    reporter_name=data["reporter_name"],
                    reporter_phone=data["reporter_phone"],
                )
            except actions.TipOffError as exc:
                form.add_error("text", str(exc))
            else:
                return render(request, "complaints/received.html", {"tipoff": tipoff}, status=201)
        return render(request, "complaints/form.html", {"form": form}, status=400)
    return render(request, "complaints/form.html", {"form": form})


@public
def tipoff_track(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("code", "").strip().upper()[:16]
    tipoff = TipOff.objects.filter(tracking_code=code).first() if code else None
    return render(request, "complaints/track.html", {"code": code, "tipoff": tipoff, "searched": bool(code)})


# --- the hotline API ----------------------------------------------------------------------------------

# Every field of a work order: (minimum length after trimming, maximum length, may span lines). The
# maxima are the columns' (a longer work-order number was once cut on insert and then looked up whole,
# which lost the tip-off); the OpenAPI schema below states the same bounds.
API_FIELDS: dict[str, tuple[int, int, bool]] = {
    "external_id": (1, TipOff._meta.get_field("external_id").max_length or 64, False),
    "text": (5, 5000, True),
    "enterprise_name": (0, 120, False),
    "territory_code": (0, 6, False),
    "reporter_name": (0, 60, False),
    "reporter_phone": (0, 30, False),
}


def _api_error(message: str, *, field: str | None = None, status: int = 400) -> JsonResponse:
    """A refused work order: a message in Chinese and, when one field is at fault, its name."""
    body = {"error": message, **({"field": field} if field else {})}
    return JsonResponse(body, status=status)


def _api_source(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    # Compared as bytes: hmac.compare_digest refuses str with non-ASCII characters (a TypeError, a 500),
    # and a header's value arrives as Latin-1 whatever the client sent.
    token = header.removeprefix("Bearer ").strip().encode("utf-8", "replace")
    for source, expected in settings.TIPOFF_API_TOKENS.items():
        if token and hmac.compare_digest(token, expected.encode("utf-8", "replace")):
            return source
    return None


@csrf_exempt  # token-authenticated machine-to-machine endpoint
@require_POST
@public
def tipoff_api(request: HttpRequest) -> HttpResponse:
    source = _api_source(request)
    if source is None:
        return JsonResponse({"error": "unauthorised"}, status=401)
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (
        ValueError,
        RecursionError,
    ):  # bad UTF-8 or JSON, an integer past Python's digit limit, deep nesting
        return _api_error(_("The body must be a JSON object."))
    if not isinstance(data, dict):
        return _api_error(_("The body must be a JSON object."))
    unknown = sorted(set(data) - set(API_FIELDS))
    if unknown:
        return _api_error(_("Unknown field."), field=str(unknown[0])[:64])
    for name, (minimum, maximum, multiline) in API_FIELDS.items():
        value = data.get(name, "")
        if not isinstance(value, str):
            return _api_error(_("This field must be a string."), field=name)
        if has_control(value):
            return _api_error(_("This field contains a control character (such as NUL)."), field=name)
        if not multiline and ("\n" in value or "\r" in value or "\t" in value):
            return _api_error(_("This field must be on one line."), field=name)
        if len(value) > maximum:
            return _api_error(
                _("This field is longer than %(limit)s characters.") % {"limit": maximum}, field=name
            )
        if minimum and len(value.strip()) < minimum:
            return _api_error(
                _("This field is required, at least %(limit)s characters.") % {"limit": minimum},
                field=name,
            )
    territory = None
    if data.get("territory_code"):
        territory = Territory.objects.filter(code=data["territory_code"]).first()
        if territory is None:
            return _api_error(_("Unknown division code."), field="territory_code")
    try:
        tipoff, new = actions.receive(
            source=source,
            external_id=data["external_id"],
            text=data.get("text", ""),
            enterprise_name=data.get("enterprise_name", ""),
            territory=territory,
            reporter_name=data.get("reporter_name", ""),
            reporter_phone=data.get("reporter_phone", ""),
        )
    except actions.WorkOrderNumberError as exc:
        return _api_error(str(exc), field="external_id")
    except actions.TipOffError as exc:
        return _api_error(str(exc), field="text")
    body = {
        "tracking_code": tipoff.tracking_code,
        "status": tipoff.status,
        "dimension": tipoff.dimension,
        "department": tipoff.department.name if tipoff.department else None,
        "handover_due": tipoff.handover_due.isoformat(),
        "feedback_due": tipoff.feedback_due.isoformat(),
        "duplicate_of": tipoff.duplicate_of.tracking_code if tipoff.duplicate_of else None,
    }
    return JsonResponse(body, status=201 if new else 200)


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "what is wrong, in Chinese"},
        "field": {"type": "string", "description": "the field at fault, when there is one"},
    },
}


def _bounds(name: str) -> dict[str, Any]:
    """A field's documented bounds, the ones the view enforces; no control character (tab, line feed
    and carriage return aside, the rule of phaseout.web.middleware) in any field, and line breaks only
    in the text."""
    minimum, maximum, multiline = API_FIELDS[name]
    allowed = rf"[^{CONTROL_CHARACTERS}]" if multiline else rf"[^\t\n\r{CONTROL_CHARACTERS}]"
    return {"minLength": minimum, "maxLength": maximum, "pattern": f"^{allowed}*$"}


OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Phaseout tip-off intake", "version": "1.0"},
    "paths": {
        "/api/tipoffs/": {
            "post": {
                "summary": "Submit a work order (12345, 地条钢 hotline, provincial platform)",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["external_id", "text"],
                                "properties": {
                                    "external_id": {
                                        "type": "string",
                                        "description": "work-order number, trimmed, no spaces inside; "
                                        "sent again, it is one tip-off",
                                        **_bounds("external_id"),
                                    },
                                    "text": {"type": "string", **_bounds("text")},
                                    "enterprise_name": {"type": "string", **_bounds("enterprise_name")},
                                    "territory_code": {
                                        "type": "string",
                                        "description": "GB/T 2260 code",
                                        **_bounds("territory_code"),
                                    },
                                    "reporter_name": {
                                        "type": "string",
                                        "description": "encrypted at rest; never shown outside intake",
                                        **_bounds("reporter_name"),
                                    },
                                    "reporter_phone": {
                                        "type": "string",
                                        "description": "encrypted at rest; never shown outside intake",
                                        **_bounds("reporter_phone"),
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {"description": "received"},
                    "200": {"description": "already received (same external_id)"},
                    "400": {
                        "description": "bad input; nothing created",
                        "content": {"application/json": {"schema": ERROR_SCHEMA}},
                    },
                    "401": {"description": "missing or wrong token"},
                },
            }
        }
    },
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
}


@public
def openapi(request: HttpRequest) -> HttpResponse:
    return JsonResponse(OPENAPI)


# --- staff --------------------------------------------------------------------------------------------

STAFF = (Role.OFFICE, Role.DEPARTMENT, Role.DISTRICT, Role.INTAKE)


def _scope(person: Person) -> QuerySet[TipOff]:
    return tipoffs(person, TipOff.objects.select_related("department", "territory", "duplicate_of"))


class TipOffFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), choices=[("", "—"), *TipOff.Status.choices], required=False
    )
    department = forms.ModelChoiceField(
        label=gettext_lazy("Routed to"), queryset=Department.objects.all(), required=False
    )
    since = forms.DateField(
        label=gettext_lazy("Received from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=gettext_lazy("Received until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(label=gettext_lazy("Enterprise or tracking code"), max_length=60, required=False)


def _late(t: TipOff) -> str:
    late = actions.overdue(t, timezone.localdate())
    return {"handover": _("hand-over overdue"), "feedback": _("answer overdue")}.get(late, "")


# The list and its export: no reporter's identity in either (it is decrypted only by intake, on record).
TIPOFFS = ListSpec(
    columns=(
        Column("code", gettext_lazy("Tracking code"), lambda t: t.tracking_code),
        Column("received", gettext_lazy("Received on"), lambda t: t.received_on, sort="received_on"),
        Column("source", gettext_lazy("Source"), lambda t: t.get_source_display()),
        Column("enterprise", gettext_lazy("Enterprise named"), lambda t: t.enterprise_name),
        Column("department", gettext_lazy("Routed to"), lambda t: t.department.name if t.department else ""),
        Column("status", gettext_lazy("Status"), lambda t: t.get_status_display(), sort="status"),
        Column("due", gettext_lazy("Answer due by"), lambda t: t.feedback_due, sort="feedback_due"),
        Column("late", gettext_lazy("Overdue"), _late, on_page=False),
        Column("text", gettext_lazy("What was reported"), lambda t: t.text, on_page=False),
    ),
    default_order=("-received_on", "-id"),
)


@allow(*STAFF)
@audited_export("export.tipoffs")
def tipoff_list(request: HttpRequest) -> HttpResponseBase:
    person = current_person(request)
    form = TipOffFilterForm(request.GET or None)
    cast(forms.ModelChoiceField, form.fields["department"]).queryset = org_scope.departments(person)
    qs = _scope(person)
    if form.is_valid():
        data = form.cleaned_data
        if data["status"]:
            qs = qs.filter(status=data["status"])
        if data["department"]:
            qs = qs.filter(department=data["department"])
        if data["since"]:
            qs = qs.filter(received_on__gte=data["since"])
        if data["until"]:
            qs = qs.filter(received_on__lte=data["until"])
        q = (data["q"] or "").strip()
        if q:
            qs = qs.filter(Q(enterprise_name__contains=q) | Q(tracking_code=q.upper()))
    today = timezone.localdate()
    return list_response(
        request, qs, TIPOFFS, template="complaints/list.html", context={"form": form}, form=form,
        filename="tipoffs.xlsx", title=str(_("Tip-offs")),
        rows=lambda page: [(t, actions.overdue(t, today)) for t in page],
    )  # fmt: skip


@allow(*STAFF)
def tipoff_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = current_person(request)
    tipoff = get_object_or_404(_scope(person), pk=pk)
    context: dict[str, Any] = {
        "tipoff": tipoff,
        "departments": org_scope.departments(person),
        "overdue": actions.overdue(tipoff, timezone.localdate()),
        "may_answer": person.role in (Role.OFFICE, Role.DEPARTMENT, Role.INTAKE),
        "may_reveal": may_read(person, Label.REPORTER_IDENTITY),
        "cases": case_scope.cases(person).filter(enterprise=tipoff.enterprise_id).order_by("-id")[:20]
        if tipoff.enterprise_id
        else [],
    }
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "reveal":
                try:  # the action checks the label (and records a refused attempt too)
                    context["reporter"] = actions.reveal(
                        tipoff=tipoff, by=current_user(request), reason=request.POST.get("reason", "")
                    )
                except actions.IdentityRefused:
                    return HttpResponse(status=403)
                response = render(request, "complaints/detail.html", context)
                # The decrypted identity is in this response only: no browser or proxy keeps it.
                add_never_cache_headers(response)
                patch_cache_control(response, private=True, no_store=True)
                return response
            if action == "hand_over" and person.role in (Role.OFFICE, Role.INTAKE):
                department = get_object_or_404(Department, pk=posted_id(request, "department"))
                actions.hand_over(tipoff=tipoff, department=department, by=current_user(request))
            elif action == "answer" and context["may_answer"]:
                actions.answer(tipoff=tipoff, text=request.POST.get("answer", ""), by=current_user(request))
            elif action == "link_case" and context["may_answer"]:
                case = get_object_or_404(case_scope.cases(person), pk=posted_id(request, "case"))
                actions.link_case(tipoff=tipoff, case=case, by=current_user(request))
            else:
                raise PermissionDenied  # not this role's action (recorded by the access middleware)
        except actions.TipOffError as exc:
            messages.error(request, str(exc))
        return redirect("tipoff-detail", tipoff.pk)
    return render(request, "complaints/detail.html", context)
