from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from phaseout.cases.models import EXIT_PLAN_CHOICES, CaseState
from phaseout.orgs.models import Dimension, Territory
from phaseout.registry.models import Industry, ProductionLine
from phaseout.rules import deadlines, rulebook
from phaseout.web.forms import confirmation as confirmation  # shared; still importable from here
from phaseout.widgets import DatePicker


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class VersionedForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)


DATE = DatePicker()


class InspectionForm(forms.Form):
    dimension = forms.ChoiceField(label=_("Dimension"), choices=Dimension.choices)
    line = forms.ModelChoiceField(
        label=_("Production line"), queryset=ProductionLine.objects.none(), required=False
    )
    inspected_on = forms.DateField(label=_("Inspection date"), widget=DATE)
    inspectors = forms.CharField(label=_("Inspectors"), max_length=120)
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    attachments = MultipleFileField(label=_("Evidence (photos or PDF)"))

    def __init__(self, *args: Any, enterprise: Any, dimensions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["line"]).queryset = enterprise.lines.all()
        cast(forms.ChoiceField, self.fields["dimension"]).choices = [
            c for c in Dimension.choices if c[0] in dimensions
        ]


class FindingForm(forms.Form):
    rule = forms.ChoiceField(label=_("Rule"))
    line = forms.ModelChoiceField(
        label=_("Production line"), queryset=ProductionLine.objects.none(), required=False
    )
    measured_value = forms.DecimalField(
        label=_("Measured value"), required=False, max_digits=14, decimal_places=4
    )

    def __init__(self, *args: Any, inspection: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["line"]).queryset = inspection.enterprise.lines.all()
        self.fields["line"].initial = inspection.line_id
        cast(forms.ChoiceField, self.fields["rule"]).choices = [
            (r.id, rule_label(r))
            for r in rulebook.library().in_force(inspection.inspected_on)
            if r.dimension == inspection.dimension
        ]


def rule_label(rule: rulebook.Rule) -> str:
    """A rule as offered in a form: title, enforced limit and version, and its verification mark."""
    if rule.comparison is rulebook.Comparison.ELIMINATED:
        limit = rule.size.describe() if rule.size else ""
    elif rule.bands:
        limit = str(_("by size"))
    else:
        limit = f"{rule.limits[rule.grade - 1]} {rule.unit}"
    mark = {
        rulebook.Verification.UNCONFIRMED: str(_("unconfirmed")),
        rulebook.Verification.SECONDARY: str(_("secondary source")),
    }.get(rule.verification, "")
    return f"{rule.title}（{limit}；{rule.version}）" + (f"［{mark}］" if mark else "")


class DecisionForm(VersionedForm):
    """A decision as it stands on paper: the day it was issued and the day it was served (送达);
    its clock runs from service. Decisions made before they are entered keep their real dates."""

    issued_on = forms.DateField(label=_("Issued on"), widget=DATE)
    served_on = forms.DateField(label=_("Served on"), widget=DATE)
    paper_number = forms.CharField(
        label=_("Document number, if already issued on paper (empty: the next number of your department)"),
        max_length=80,
        required=False,
    )
    reason = forms.CharField(
        label=_("Facts and reasons"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class OrderRectificationForm(DecisionForm):
    pass


class RestrictionForm(DecisionForm):
    months = forms.IntegerField(label=_("Restricted for (months)"), min_value=1, max_value=3, initial=3)


class ExtensionForm(DecisionForm):
    months = forms.IntegerField(
        label=_("Extension (months)"),
        min_value=1,
        max_value=deadlines.MAX_EXTENSION_MONTHS,
        error_messages={"max_value": _("An extension may not exceed 3 months.")},
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))


class VerifyForm(VersionedForm):
    passed = forms.TypedChoiceField(
        label=_("Result"),
        coerce=lambda v: v == "yes",
        choices=[("yes", _("Rectified: meets the standard")), ("no", _("Still fails the standard"))],
    )
    reason = forms.CharField(label=_("Verification record"), widget=forms.Textarea(attrs={"rows": 2}))


class ReasonForm(VersionedForm):
    reason = forms.CharField(label=_("Remarks"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class DismissForm(VersionedForm):
    reason = forms.CharField(
        label=_("Why the proposal is dismissed"), widget=forms.Textarea(attrs={"rows": 2})
    )
    confirm = confirmation(_("I confirm: the proposal is closed without a decision against the enterprise."))


class ArchiveForm(ReasonForm):
    confirm = confirmation(
        _("I confirm: the case is archived; nothing more can be recorded on it but re-inspections.")
    )


class ProposeClosureForm(VersionedForm):
    issued_on = forms.DateField(label=_("Issued on"), widget=DATE)
    paper_number = DecisionForm.base_fields["paper_number"]
    reason = forms.CharField(
        label=_("Why closure is proposed (the serious circumstances)"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ExitOrderForm(DecisionForm):
    plan = forms.ChoiceField(label=_("How the capacity exits"), choices=EXIT_PLAN_CHOICES)
    reason = forms.CharField(
        label=_("Exit order text and legal basis"), widget=forms.Textarea(attrs={"rows": 2})
    )
    confirm = confirmation(
        _("I confirm: the exit is ordered; its measures and their deadlines start from the day of service.")
    )


class RevokeForm(ExitOrderForm):
    confirm = confirmation(
        _("I confirm: the business licence is revoked and the enterprise closes; this cannot be undone here.")
    )


class ClosureDecisionForm(VersionedForm):
    approved = forms.TypedChoiceField(
        label=_("The people's government"),
        coerce=lambda v: v == "yes",
        choices=[("yes", _("approved the closure")), ("no", _("did not approve the closure"))],
    )
    approval_body = forms.CharField(label=_("Approving body"), max_length=100, required=False)
    approval_number = forms.CharField(
        label=_("Document number of the approval"), max_length=80, required=False
    )
    approval_date = forms.DateField(label=_("Date of the approval"), widget=DATE, required=False)
    served_on = forms.DateField(label=_("Served on"), widget=DATE, required=False)
    plan = forms.ChoiceField(label=_("How the capacity exits"), choices=EXIT_PLAN_CHOICES)
    reason = forms.CharField(label=_("Remarks"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    confirm = confirmation(
        _(
            "I confirm: the government's decision is recorded; on approval the exit measures start from "
            "service."
        )
    )


class MeasureDoneForm(VersionedForm):
    done_on = forms.DateField(label=_("Done on"), widget=DATE)
    notice = forms.CharField(
        label=_("Notice given to the enterprise (power and water cuts)"), max_length=300, required=False
    )
    note = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    attachments = MultipleFileField(
        label=_("Evidence (photos before, during and after; certificate; receipt)")
    )


class MeasuresDoneForm(MeasureDoneForm):
    """Several open measures of one case done on one visit, with one set of evidence."""

    measures = forms.TypedMultipleChoiceField(
        label=_("Measures carried out"), coerce=int, widget=forms.CheckboxSelectMultiple, choices=()
    )

    field_order = ["measures", "done_on", "notice", "note", "attachments"]

    def __init__(self, *args: Any, open_measures: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["measures"].choices = [(m.pk, m.get_kind_display()) for m in open_measures]  # type: ignore[attr-defined]


class AcceptanceForm(VersionedForm):
    accepted_on = forms.DateField(label=_("Acceptance date"), widget=DATE)
    team = forms.CharField(label=_("Acceptance team"), max_length=200)
    record_text = forms.CharField(label=_("Acceptance record"), widget=forms.Textarea(attrs={"rows": 3}))


class ReInspectionForm(VersionedForm):
    inspected_on = forms.DateField(label=_("Re-inspection date"), widget=DATE)
    resumed = forms.TypedChoiceField(
        label=_("Result"),
        coerce=lambda v: v == "yes",
        choices=[("no", _("Not resumed and cannot resume")), ("yes", _("Production has resumed"))],
    )
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class EvidenceForm(forms.Form):
    attachments = MultipleFileField(label=_("Files (photos or PDF)"))
    description = forms.CharField(label=_("Description"), max_length=200, required=False)


class CaseFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), choices=[("", "—"), *CaseState.choices], required=False)
    dimension = forms.ChoiceField(
        label=_("Dimension"), choices=[("", "—"), *Dimension.choices], required=False
    )
    territory = forms.ModelChoiceField(label=_("Territory"), queryset=Territory.objects.all(), required=False)
    industry = forms.ModelChoiceField(label=_("Industry"), queryset=Industry.objects.all(), required=False)
    year = forms.IntegerField(label=_("Year opened"), min_value=2000, max_value=2100, required=False)
    q = forms.CharField(label=_("Enterprise"), required=False)


class ExtensionRequestForm(VersionedForm):
    months = forms.IntegerField(
        label=_("Extension (months)"),
        min_value=1,
        max_value=deadlines.MAX_EXTENSION_MONTHS,
        error_messages={"max_value": _("An extension may not exceed 3 months.")},
    )
    reason = forms.CharField(
        label=_("Why the rectification needs more time"), widget=forms.Textarea(attrs={"rows": 3})
    )


class ExtensionDecisionForm(forms.Form):
    issued_on = forms.DateField(label=_("Issued on"), widget=DATE)
    served_on = forms.DateField(label=_("Served on"), widget=DATE)
    grant = forms.TypedChoiceField(
        label=_("Decision"),
        coerce=lambda v: v == "yes",
        choices=[("yes", _("Grant the extension")), ("no", _("Refuse the extension"))],
    )
    note = forms.CharField(label=_("Remarks"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
