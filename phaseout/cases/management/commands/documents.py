"""`phaseout documents`: the SM2 signatures of decisions and receipts (GB/T 39786-2021 不可否认性).

phaseout documents verify         check every decision's signature and every receipt, in id order;
                                  report the first bad one (exit 1), or how many hold
phaseout documents sign-unsigned  sign the decisions issued before signatures existed, once, with
                                  their issuers' keys as of now (each one audited)
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from phaseout import crypto
from phaseout.audit.models import Outcome
from phaseout.audit.record import record
from phaseout.cases import signatures
from phaseout.cases.models import Decision, DecisionReceipt

BATCH = 500


class Command(BaseCommand):
    help = "Decision documents' SM2 signatures: `verify` (the first bad one, exit 1) or `sign-unsigned`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="task", required=True)
        sub.add_parser("verify", help="check every decision's and receipt's signature")
        sub.add_parser("sign-unsigned", help="sign the decisions issued before signatures existed")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["task"] == "verify":
            self._verify()
        else:
            self._sign_unsigned()

    def _verify(self) -> None:
        decisions = receipts = 0
        problem = None
        last = 0
        while problem is None:  # keyset pages by id: memory stays flat over any number of decisions
            page = list(Decision.objects.select_related("case").filter(pk__gt=last).order_by("pk")[:BATCH])
            if not page:
                break
            for decision in page:
                problem = signatures.check(decision)
                if problem is not None:
                    problem = f"decision {decision.pk}: {problem}"
                    break
                decisions += 1
            last = page[-1].pk
        last = 0
        while problem is None:
            chunk = list(DecisionReceipt.objects.filter(pk__gt=last).order_by("pk")[:BATCH])
            if not chunk:
                break
            for receipt in chunk:
                problem = signatures.check_receipt(receipt)
                if problem is not None:
                    problem = f"receipt {receipt.pk}: {problem}"
                    break
                receipts += 1
            last = chunk[-1].pk
        with transaction.atomic():
            record(
                actor=None,
                action="documents.verify",
                outcome=Outcome.FAILURE if problem else Outcome.SUCCESS,
                reason=problem or "",
                data={"decisions": decisions, "receipts": receipts},
            )
        if problem:
            raise CommandError(problem)
        self.stdout.write(f"{decisions} decisions and {receipts} receipts: every signature holds")

    def _sign_unsigned(self) -> None:
        signed = 0
        for pk in (
            Decision.objects.filter(signature="").order_by("pk").values_list("pk", flat=True).iterator()
        ):
            with transaction.atomic():
                decision = (
                    Decision.objects.select_for_update(of=("self",))
                    .select_related("case", "department")
                    .get(pk=pk)
                )
                if decision.signature:
                    continue
                fields = {
                    "kind": decision.kind,
                    "issuer": decision.issuer,
                    "number": decision.number,
                    "issued_on": decision.issued_on,
                    "content": decision.content,
                    "department": decision.department,
                }
                try:
                    sealed = signatures.signed(fields, case_number=decision.case.number)
                except crypto.SigningError as exc:
                    raise CommandError(str(exc)) from None
                # Decision.save() refuses changes (kept as issued); the signature is added once, here.
                Decision.objects.filter(pk=pk, signature="").update(
                    digest=sealed["digest"], signature=sealed["signature"], signing_key=sealed["signing_key"]
                )
                record(
                    actor=None,
                    action="documents.signed_late",
                    obj=decision,
                    data={
                        "number": decision.number,
                        "signing_key": sealed["signing_key"],
                        "digest": sealed["digest"],
                    },
                )
            signed += 1
        self.stdout.write(f"{signed} decisions signed")
