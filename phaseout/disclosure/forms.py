"""The office's forms for publishing: the irreversible steps ask for confirmation, saying what follows."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from phaseout.web.forms import confirmation


class PublishForm(forms.Form):
    confirm = confirmation(
        _(
            "I confirm: once published, the list is public on the portal at once; it can only be "
            "corrected by withdrawing it, with the reason."
        )
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason for withdrawing"), max_length=500, required=False)
    confirm = confirmation(
        _(
            "I confirm: the list is withdrawn from the portal at once; the public sees that it was "
            "withdrawn and why, and the withdrawal cannot be undone — a corrected list is published anew."
        )
    )


class EntryDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            ("approve", _("Approve the ticked entries")),
            ("exclude", _("Exclude the ticked entries")),
            ("approve_undecided", _("Approve every entry still undecided")),
        ],
    )
    reason = forms.CharField(label=_("Reason for excluding"), max_length=500, required=False)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("decision") == "exclude" and not str(data.get("reason", "")).strip():
            self.add_error("reason", _("Please give the reason for excluding the entries."))
        return data


class EntryWithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason for withdrawing the entry"), max_length=500)
    confirm = confirmation(
        _(
            "I confirm: the entry is taken off the portal at once and stays in the list's record as "
            "withdrawn, with the reason."
        )
    )
