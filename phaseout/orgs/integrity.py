"""The integrity of the access-control information (密评 访问控制信息完整性, GB/T 39786-2021 level 3).

Who may do what rests on each person's role and unit (`Person`). Each row carries an HMAC-SM3
(phaseout.crypto, its own purpose key) over the user it belongs to, the role and the three unit columns,
written on every save. A row changed in the database behind the application — a role raised in SQL — no
longer matches: the access layer refuses the person and records it, and `phaseout audit verify` lists it.
"""

from __future__ import annotations

import hmac
import json
from types import SimpleNamespace
from typing import Any

from django.utils.translation import gettext as _

from phaseout import crypto

PURPOSE = "orgs.person_acl"


def content(person: Any) -> bytes:
    return json.dumps(
        [person.user_id, person.role, person.department_id, person.territory_id, person.enterprise_id],
        separators=(",", ":"),
    ).encode()


def seal(person: Any) -> str:
    return crypto.hmac_sm3(PURPOSE, content(person)).hex()


def intact(person: Any) -> bool:
    return hmac.compare_digest(person.acl_mac or "", seal(person))


def check_all() -> list[str]:
    """For `phaseout audit verify`: every person whose role and unit no longer match their seal."""
    from phaseout.orgs.models import Person

    fields = ("pk", "user_id", "user__username", "role", "department_id", "territory_id", "enterprise_id")
    broken = []
    for row in Person.objects.values_list(*fields, "acl_mac").order_by("pk").iterator(chunk_size=5000):
        values = dict(zip(fields, row, strict=False))
        person = SimpleNamespace(**values, acl_mac=row[-1])
        if not intact(person):
            broken.append(
                _(
                    "The role and unit of %(username)s (person %(id)d) fail their integrity check: "
                    "changed outside the platform."
                )
                % {"username": values["user__username"], "id": values["pk"]}
            )
    return broken
