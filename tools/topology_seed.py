"""Data for the topology and load tests, written through the platform's own actions into the topology's
database (tools/topology.py runs it with the installation's environment before the replica is made).

    python tools/topology_seed.py demo people=N findings=N overdue=N

- `demo`: the demo set (`phaseout demo`: both cities' accounts, a case in every state, the public lists
  published); `accounts`: only the demo's accounts (what the cases below need);
- `people=N`: N more accounts of each role the load test plays — the office, the energy department, a
  county (each its own of Jiangmen's seven in turn) and an enterprise (the demo's enterprises in turn) —
  named `t-office-1`, `t-dept-1`, `t-district-1`, `t-enterprise-1` ..., password PASSWORD, each with its
  own TOTP device whose key is the demo's rule for the username (`phaseout.demo.demo_totp_key`), so a
  client computes the codes (tools/loadclient.py). Each person signs in on their own device: a code is
  accepted once per device;
- `findings=N`: N energy cases waiting for the energy department's decision (state `finding`);
- `overdue=N`: N energy cases ordered to rectify ten months ago, their six months run out: the sweep marks
  them overdue;
- `visible=FILE`: writes to FILE, for each `t-` account, the ids of the cases it may open (the load test's
  people visit those).

Prints one JSON line: the ids of the cases made.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PASSWORD = "Topology-load-2026"  # noqa: S105 (test accounts of a throwaway database)
FIRST_SERIAL = 50000


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "phaseout.settings")
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from phaseout.accounts import create_person
    from phaseout.demo import demo_accounts, demo_totp_key, load_demo
    from phaseout.demo_paths import open_cases
    from phaseout.identity.factors import TotpFactor
    from phaseout.orgs.models import Department, Role, Territory
    from phaseout.registry.models import Enterprise
    from phaseout.rules.case_flow import Action

    today = timezone.localdate()
    out: dict[str, list[int]] = {}
    args = dict(a.split("=", 1) if "=" in a else (a, "1") for a in argv)
    if "demo" in args:
        load_demo(today=today)
    if "accounts" in args:
        demo_accounts()
    serial = FIRST_SERIAL
    if "findings" in args:
        with transaction.atomic():
            out["findings"] = open_cases(count=int(args["findings"]), serial=serial, today=today, days_ago=3)
        serial += len(out["findings"])
    if "overdue" in args:
        with transaction.atomic():
            out["overdue"] = open_cases(
                count=int(args["overdue"]),
                serial=serial,
                today=today,
                days_ago=300,
                route=(Action.ORDER_RECTIFICATION,),
            )
        serial += len(out["overdue"])
    if "people" in args:
        count = int(args["people"])
        hashed = make_password(PASSWORD)
        office = Department.objects.get(territory_id="440700", is_office=True)
        energy = Department.objects.get(code="jm-fgj")
        counties = list(Territory.objects.filter(parent_id="440700").order_by("code"))
        enterprises = list(Enterprise.objects.filter(territory__parent_id="440700").order_by("id")[:20])
        with transaction.atomic():
            for n in range(1, count + 1):
                units = {
                    "office": (Role.OFFICE, {"department": office}),
                    "dept": (Role.DEPARTMENT, {"department": energy}),
                    "district": (Role.DISTRICT, {"territory": counties[n % len(counties)]}),
                    "enterprise": (Role.ENTERPRISE, {"enterprise": enterprises[n % len(enterprises)]}),
                }
                for kind, (role, scope) in units.items():
                    username = f"t-{kind}-{n}"
                    person = create_person(
                        username=username,
                        password=hashed,
                        password_hashed=True,
                        display_name=username,
                        role=role,
                        by=None,
                        must_change_password=False,
                        **scope,
                    )
                    TotpFactor().install(person.user, demo_totp_key(username))
    if "visible" in args:
        # The cases each test account may open, by the one rule that says so (phaseout/cases/scope.py).
        from phaseout.cases import scope
        from phaseout.orgs.models import Person

        visible: dict[str, list[int]] = {}
        for person in Person.objects.filter(user__username__startswith="t-").select_related("user"):
            visible[person.user.username] = list(
                scope.cases(person).order_by("id").values_list("id", flat=True)
            )
        Path(args["visible"]).write_text(json.dumps(visible))
    print(json.dumps(out))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main(sys.argv[1:])
