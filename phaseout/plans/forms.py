from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from phaseout.orgs.models import Department, Territory
from phaseout.plans.models import Plan, Submission, Supervision, Task, TaskUnit
from phaseout.registry.models import Enterprise, Industry
from phaseout.web.forms import confirmation
from phaseout.widgets import DatePicker, DateTimePicker


class PlanUploadForm(forms.Form):
    document = forms.FileField(label=_("Plan document (.txt, .docx or .pdf with text)"))
    year = forms.IntegerField(
        label=_("Year"),
        required=False,
        min_value=2000,
        max_value=2100,
        help_text=_("Only needed when the document does not say."),
    )

    table = forms.FileField(
        label=_("Task assignment table (任务分工表), optional: .docx or .xlsx"),
        required=False,
        help_text=_(
            "A table with the columns 任务, 牵头单位, 配合单位 and 完成时限: its rows become tasks, "
            "merged with "
            "the plan's own."
        ),
    )

    def clean_document(self) -> Any:
        upload = self.cleaned_data["document"]
        if upload.size > settings.PLAN_DOCUMENT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s.")
                % {"limit": filesizeformat(settings.PLAN_DOCUMENT_MAX_BYTES)}
            )
        return upload

    def clean_table(self) -> Any:
        upload = self.cleaned_data.get("table")
        if upload and upload.size > settings.PLAN_DOCUMENT_MAX_BYTES:
            raise forms.ValidationError(
                _("The task table is larger than %(limit)s.")
                % {"limit": filesizeformat(settings.PLAN_DOCUMENT_MAX_BYTES)}
            )
        return upload


class MapUnitForm(forms.Form):
    name = forms.CharField(widget=forms.HiddenInput)
    match = forms.ChoiceField(
        label=_("This name is"),
        choices=[(v, label) for v, label in TaskUnit.Match.choices if v != TaskUnit.Match.UNMAPPED],
    )
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Department.objects.none(), required=False
    )
    territory = forms.ModelChoiceField(
        label=_("District or city"), queryset=Territory.objects.none(), required=False
    )

    def __init__(self, *args: Any, plan: Plan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queryset = (
            Department.objects.filter(territory=plan.territory)
            if plan.territory
            else Department.objects.all()
        )
        self.fields["department"].queryset = queryset  # type: ignore[attr-defined]
        # A city plan's districts, a provincial plan's cities.
        self.fields["territory"].queryset = Territory.objects.filter(  # type: ignore[attr-defined]
            parent=plan.territory_id
        ).order_by("code")


class ReviewTimeForm(forms.Form):
    date = forms.DateField(
        label=_("Date"),
        required=False,
        widget=DatePicker(),
        help_text=_("Leave empty to accept that the text gives no date."),
    )


class TaskForm(forms.Form):
    text = forms.CharField(label=_("Task"), widget=forms.Textarea(attrs={"rows": 4}))
    deadline = forms.DateField(label=_("Deadline"), required=False, widget=DatePicker())
    add = forms.ModelChoiceField(
        label=_("Add a responsible department"), queryset=Department.objects.none(), required=False
    )
    remove = forms.ModelMultipleChoiceField(
        label=_("Remove units"),
        queryset=TaskUnit.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    reason = forms.CharField(label=_("Reason for the change"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, task: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plan = task.plan
        departments = (
            Department.objects.filter(territory=plan.territory)
            if plan.territory
            else Department.objects.all()
        )
        self.fields["add"].queryset = departments  # type: ignore[attr-defined]
        self.fields["remove"].queryset = task.units.all()  # type: ignore[attr-defined]
        self.fields["remove"].label_from_instance = lambda u: f"{u.name}（{u.get_role_display()}）"  # type: ignore[attr-defined]


class SubmitForm(forms.Form):
    """Its file is checked by its content in the action (phaseout.plans.handin), for the kind owed."""

    document = forms.FileField(
        label=_("Document"),
        help_text=_("PDF, Word (.docx), workbook (.xlsx) or OFD; a list of closed capacity: .xlsx or PDF."),
    )
    enterprises = forms.IntegerField(label=_("Enterprises closed"), min_value=0, required=False)
    lines = forms.IntegerField(label=_("Lines and main equipment closed"), min_value=0, required=False)
    capacity = forms.CharField(
        label=_("Capacity closed"),
        required=False,
        max_length=200,
        help_text=_("One figure per unit, e.g. 钢铁 60万吨/年；水泥熟料 2500 t/d."),
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def numbers(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {k: data[k] for k in ("enterprises", "lines", "capacity") if data.get(k) not in (None, "")}


class AcceptSubmissionForm(forms.Form):
    """The office accepts the version it read (its number is posted with the form)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    confirm = confirmation(
        _(
            "I confirm: this version is accepted as the submission; it counts as handed in on the day it "
            "was handed in (on time or late by that day), the unit is told, and it can no longer be "
            "returned or handed in again."
        )
    )


class ReturnSubmissionForm(forms.Form):
    """The office returns the version it read to the unit, saying what to change."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    # Required, and said so by the action (one message, whichever way the return is made).
    comments = forms.CharField(
        required=False,
        label=_("Comments for the unit"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required: what the unit is to change before handing it in again."),
    )


class _UnitsField(forms.MultipleChoiceField):
    """Several units; an empty value (an older form's "none") is no unit, not an invalid one."""

    def to_python(self, value: Any) -> list[str]:
        return [v for v in super().to_python(value) if v]


class SupervisionForm(forms.Form):
    """A notice or summons names its target: units responsible for a failed task (one record each, issued
    together), or an enterprise."""

    kind = forms.ChoiceField(label=_("Kind"), choices=Supervision.Kind.choices)
    issued_on = forms.DateField(label=_("Issued on"), widget=DatePicker())
    task = forms.ModelChoiceField(
        label=_("Task failed"),
        queryset=Task.objects.none(),
        required=False,
        help_text=_("Needed when the notice names a unit; it must be a unit responsible for the task."),
    )
    unit = _UnitsField(
        label=_("Units named"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("One or several: each unit named gets its own notice or summons, issued together."),
    )
    enterprise = forms.CharField(
        label=_("Or the enterprise named (its unified social credit code)"),
        max_length=18,
        min_length=18,
        required=False,
    )
    text = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 3}))
    talk_at = forms.DateTimeField(label=_("Time of the talk"), required=False, widget=DateTimePicker())
    talk_place = forms.CharField(label=_("Place of the talk"), required=False)

    def __init__(self, *args: Any, plan: Plan, failed: list[Task], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["task"].queryset = Task.objects.filter(  # type: ignore[attr-defined]
            pk__in=[t.pk for t in failed]
        )
        self.fields["task"].label_from_instance = lambda t: f"{t.number} {t.text[:40]}"  # type: ignore[attr-defined]
        departments = Department.objects.filter(
            pk__in=TaskUnit.objects.filter(task__plan=plan, department__isnull=False).values("department")
        )
        districts = Territory.objects.filter(parent=plan.territory_id) if plan.territory_id else []
        self.fields["unit"].choices = (  # type: ignore[attr-defined]
            [(f"department:{d.pk}", d.name) for d in departments]
            + [(f"territory:{t.pk}", t.name) for t in districts]
        )
        # The enterprise is named by its code, looked up in the plan's city (a list of every enterprise
        # of a city would be a page of hundreds of thousands of options).
        self.enterprises = Enterprise.objects.all()
        if plan.territory_id:
            self.enterprises = self.enterprises.filter(
                territory__in=Territory.objects.get(pk=plan.territory_id).subtree_codes()
            )

    def clean_enterprise(self) -> Enterprise | None:
        code = (self.cleaned_data.get("enterprise") or "").strip().upper()
        if not code:
            return None
        found = self.enterprises.filter(uscc=code).first()
        if found is None:
            raise forms.ValidationError(_("No enterprise of the plan's city has this code."))
        return found

    def clean_unit(self) -> list[Department | Territory]:
        units: list[Department | Territory] = []
        for value in self.cleaned_data.get("unit") or []:
            kind, _sep, key = value.partition(":")
            found = (
                Department.objects.filter(pk=key).first()
                if kind == "department"
                else Territory.objects.filter(pk=key).first()
                if kind == "territory"
                else None
            )
            if found is not None:
                units.append(found)
        return units


class TaskFailedForm(forms.Form):
    task = forms.ModelChoiceField(label=_("Task"), queryset=Task.objects.none())
    failed_on = forms.DateField(label=_("Failed on"), widget=DatePicker())
    reason = forms.CharField(label=_("Why it failed"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, plan: Plan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["task"].queryset = plan.tasks.filter(failed_on__isnull=True)  # type: ignore[attr-defined]
        self.fields["task"].label_from_instance = lambda t: f"{t.number} {t.text[:40]}"  # type: ignore[attr-defined]


class ConfirmPlanForm(forms.Form):
    confirm = confirmation(
        _(
            "I confirm: once confirmed, the plan's submissions are tracked and reminded by their dates; "
            "the plan can no longer be reviewed as a draft, and every later change is kept in its history "
            "with its reason."
        )
    )


class GovernmentApprovalForm(forms.Form):
    """A people's government's approval as the office records it: body, document, date (plans and the
    year summary alike; each form adds its own confirmation)."""

    body = forms.CharField(label=_("Approving body"), max_length=100)
    doc_number = forms.CharField(label=_("Approval document number"), max_length=60)
    approved_on = forms.DateField(label=_("Date of approval"), widget=DatePicker())


class ProvincialPlanForm(forms.Form):
    """The provincial plan a city's plan implements (the province's confirmed plans to choose from)."""

    provincial = forms.ModelChoiceField(
        label=_("Provincial plan it implements"), queryset=Plan.objects.none()
    )

    def __init__(self, *args: Any, choices: QuerySet[Plan], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provincial"].queryset = choices  # type: ignore[attr-defined]


class ApprovePlanForm(GovernmentApprovalForm):
    """The city government's approval of a confirmed plan, as the office records it."""

    confirm = confirmation(
        _(
            "I confirm: the city government approved this plan by the document above. From now on the plan "
            "is in force, what each unit owes under it is reminded and swept by its dates, and the approval "
            "cannot be undone."
        )
    )

    def __init__(self, *args: Any, provincial: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if provincial:
            self.fields["confirm"].label = _(
                "I confirm: the provincial government approved this plan by the document above. From now on "
                "the plan is in force, the duties the cities owe under it are handed in and swept by their "
                "dates, and the approval cannot be undone."
            )


class ProgrammeForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120)
    dimension = forms.ChoiceField(label=_("Dimension"))
    due_date = forms.DateField(label=_("To be done by"), widget=DatePicker())
    method = forms.ChoiceField(
        label=_("Targets"),
        choices=[("random", _("Drawn at random (双随机)")), ("rule", _("Enterprises a rule applies to"))],
    )
    rule_id = forms.ChoiceField(label=_("Rule"), required=False)
    count = forms.IntegerField(label=_("Enterprises to draw"), min_value=1, max_value=10000, required=False)
    per_target = forms.IntegerField(label=_("Inspectors per enterprise"), min_value=1, max_value=5, initial=2)
    industry = forms.ModelChoiceField(label=_("Industry"), queryset=Industry.objects.all(), required=False)

    def __init__(self, *args: Any, department: Department, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from phaseout.orgs.models import Dimension
        from phaseout.rules.rulebook import library

        labels = dict(Dimension.choices)
        self.fields["dimension"].choices = [  # type: ignore[attr-defined]
            (d, labels[d]) for d in department.dimensions if d in labels
        ]
        latest = {rule.id: rule for rule in library().rules}
        self.fields["rule_id"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (rule_id, f"{rule.title}（{rule.id}）")
            for rule_id, rule in sorted(latest.items())
            if rule.dimension in department.dimensions
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("method") == "rule" and not data.get("rule_id"):
            self.add_error("rule_id", _("Choose the rule whose enterprises are to be inspected."))
        if data.get("method") == "random" and not data.get("count"):
            self.add_error("count", _("Say how many enterprises to draw."))
        return data


class SubmissionFilterForm(forms.Form):
    """The filters of the submissions list, kept in the address."""

    status = forms.ChoiceField(
        label=_("Status"), choices=[("", "—"), *Submission.Status.choices], required=False
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=[("", "—"), *Submission.Kind.choices], required=False)
    plan = forms.ModelChoiceField(label=_("Plan"), queryset=Plan.objects.none(), required=False)
    since = forms.DateField(label=_("Due from"), required=False, widget=DatePicker())
    until = forms.DateField(label=_("Due until"), required=False, widget=DatePicker())
    unit = forms.CharField(label=_("Unit"), max_length=60, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("The first due date is after the last."))
        return data
