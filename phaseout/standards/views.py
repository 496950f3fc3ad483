from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from phaseout.orgs.access import ALL_STAFF_ROLES, allow
from phaseout.orgs.models import Role
from phaseout.rules.engine import FactsError, Status, evaluate
from phaseout.rules.rulebook import Rule, library
from phaseout.standards import actions, tasks
from phaseout.standards.forms import EvaluationForm, WhatIfForm
from phaseout.standards.models import EvaluationResult, EvaluationRun
from phaseout.web import current_person, current_user, paginate

READERS = ALL_STAFF_ROLES


@allow(*READERS)
def rulebooks(request: HttpRequest) -> HttpResponse:
    lib = library()
    books = [
        {
            "book": book,
            "rules": len({r.id for r in book.rules}),
            "versions": len(book.rules),
            "unconfirmed": sum(r.uses_unconfirmed for r in book.rules),
        }
        for book in lib.rulebooks
    ]
    return render(request, "standards/rulebooks.html", {"books": books})


def _names() -> dict[str, Any]:
    """Chinese names for the codes the rulebooks use."""
    from phaseout.registry.models import EquipmentType, Industry

    vocabulary = library().vocabulary
    return {
        "industry": dict(Industry.objects.values_list("code", "name")),
        "equipment": {code: str(label) for code, label in EquipmentType.choices},
        "process": dict(vocabulary.processes),
        "product": dict(vocabulary.products),
        "categories": {code: dict(a.categories) for code, a in vocabulary.attributes.items()},
    }


@allow(*READERS)
def rulebook_detail(request: HttpRequest, book_id: str) -> HttpResponse:
    lib = library()
    try:
        book = lib.rulebook(book_id)
    except KeyError:
        raise Http404 from None
    grouped: dict[str, list[Rule]] = defaultdict(list)
    for rule in book.rules:
        grouped[rule.id].append(rule)
    rules = [sorted(versions, key=lambda r: r.effective_from, reverse=True) for versions in grouped.values()]
    return render(
        request,
        "standards/rulebook_detail.html",
        {
            "book": book,
            "rules": rules,
            "departments": lib.vocabulary.departments,
            "names": _names(),
        },
    )


@allow(*READERS)
def what_if(request: HttpRequest) -> HttpResponse:
    form = WhatIfForm(request.GET or None)
    outcomes = None
    if request.GET and form.is_valid():
        try:
            outcomes = evaluate(library(), form.facts(), form.cleaned_data["on"])
        except FactsError as exc:
            form.add_error(None, str(exc))
    breaches = [o for o in outcomes or [] if o.status is Status.BREACH]
    others = [o for o in outcomes or [] if o.status is not Status.BREACH]
    return render(
        request,
        "standards/what_if.html",
        {"form": form, "outcomes": outcomes, "breaches": breaches, "others": others},
    )


def _runs(request: HttpRequest) -> QuerySet[EvaluationRun]:
    return EvaluationRun.objects.select_related("territory", "started_by__person")


@allow(*READERS)
def runs(request: HttpRequest) -> HttpResponse:
    person = current_person(request)
    form = EvaluationForm()
    context: dict[str, Any] = {"form": form, "may_start": person.role == Role.OFFICE}
    context.update(paginate(request, _runs(request)))
    # While a run on the page is queued or running, the page polls its table (HTMX) to show progress.
    context["polling"] = any(run.active for run in context["rows"])
    return render(request, "standards/runs.html", context)


@require_POST
@allow(Role.OFFICE)
def run_start(request: HttpRequest) -> HttpResponse:
    form = EvaluationForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("evaluation-runs")
    run = actions.start_evaluation(on=form.cleaned_data["on"], by=current_user(request))
    # On the worker in production; in the demo (no broker) in-process, once the request has committed.
    transaction.on_commit(lambda: tasks.carry_out.delay(run.pk))
    messages.success(request, _("The evaluation has started; its progress and results appear below."))
    return redirect("evaluation-runs")


def _results(request: HttpRequest, run: EvaluationRun) -> QuerySet[EvaluationResult]:
    person = current_person(request)
    qs = run.results.select_related("enterprise", "line", "territory", "finding__case")
    if person.role == Role.DISTRICT:
        assert person.territory is not None
        qs = qs.filter(territory__in=person.territory.subtree_codes())
    elif person.role == Role.DEPARTMENT:
        qs = qs.filter(dimension__in=person.dimensions)
    return qs


@allow(*READERS)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(_runs(request), pk=pk)
    qs = _results(request, run)
    consequence = request.GET.get("consequence", "")
    if consequence:
        qs = qs.filter(consequence=consequence)
    context: dict[str, Any] = {"run": run, "consequence": consequence, **paginate(request, qs)}
    context["query"] = f"consequence={consequence}" if consequence else ""
    return render(request, "standards/run_detail.html", context)
