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
