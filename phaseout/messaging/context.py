from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from phaseout.messaging.scope import unread_count
from phaseout.orgs.access import person_of
from phaseout.orgs.models import ADMINISTRATOR_ROLES


def unread(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the signed-in person's unread messages for the header (one COUNT on an index)."""
    person = person_of(request)
    if person is None or person.role in ADMINISTRATOR_ROLES:
        return {}  # the administrators have no message centre
    return {"message_centre": True, "unread_messages": unread_count(person)}
