from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "phaseout.cases"
    verbose_name = _("Cases")

    def ready(self) -> None:
        from phaseout import jobs
        from phaseout.cases.sweep import SUMMARY, job

        jobs.register("cases", job, summary=SUMMARY, label=self.verbose_name)

        from phaseout.cases import tally

        # After the sweep, which changes the most cases at once: its tally rows folded in the same run.
        jobs.register("case-tally", tally.job, summary=tally.SUMMARY, label=_("Case tally"))

        from phaseout.cases import exit_tally

        # The exit tally's rows folded the same way (ADR 25): its figures are exact without it.
        jobs.register("exit-tally", exit_tally.job, summary=exit_tally.SUMMARY, label=_("Exit tally"))

        from phaseout.audit import labels
        from phaseout.cases.actions import EVENT_LABELS

        labels.register("case.", EVENT_LABELS)

        from phaseout.cases.evaluation import known_findings, open_finding
        from phaseout.standards.actions import set_finding_opener

        set_finding_opener(open_finding, known_findings)
