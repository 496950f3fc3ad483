from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from phaseout.orgs.models import Department
from phaseout.plans.models import Plan, Submission, Supervision, TaskUnit
from phaseout.registry.models import Industry
from phaseout.widgets import DatePicker


class PlanUploadForm(forms.Form):
    document = forms.FileField(label=_("Plan document (.txt, .docx or .pdf with text)"))
    year = forms.IntegerField(
        label=_("Year"),
        required=False,
        min_value=2000,
        max_value=2100,
        help_text=_("Only needed when the document does not say."),
    )

    def clean_document(self) -> Any:
        upload = self.cleaned_data["document"]
        if upload.size > settings.PLAN_DOCUMENT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s.")
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

    def __init__(self, *args: Any, plan: Plan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queryset = (
            Department.objects.filter(territory=plan.territory)
            if plan.territory
            else Department.objects.all()
        )
        self.fields["department"].queryset = queryset  # type: ignore[attr-defined]


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
    document = forms.FileField(label=_("Document"))
    enterprises = forms.IntegerField(label=_("Enterprises closed"), min_value=0, required=False)
    lines = forms.IntegerField(label=_("Lines and main equipment closed"), min_value=0, required=False)
    capacity = forms.CharField(
        label=_("Capacity closed"),
        required=False,
        max_length=200,
        help_text=_("One figure per unit, e.g. 钢铁 60万吨/年；水泥熟料 2500 t/d."),
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_document(self) -> Any:
        upload = self.cleaned_data["document"]
        if upload.size > settings.PLAN_DOCUMENT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s.")
                % {"limit": filesizeformat(settings.PLAN_DOCUMENT_MAX_BYTES)}
            )
        return upload

    def numbers(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {k: data[k] for k in ("enterprises", "lines", "capacity") if data.get(k) not in (None, "")}


class SupervisionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Supervision.Kind.choices)
    issued_on = forms.DateField(label=_("Issued on"), widget=DatePicker())
    text = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 3}))
    submissions = forms.ModelMultipleChoiceField(
        label=_("Items failed"), queryset=Submission.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, plan: Plan, failed: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["submissions"].queryset = Submission.objects.filter(  # type: ignore[attr-defined]
            plan=plan, pk__in=failed
        ).select_related("department", "territory")


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
