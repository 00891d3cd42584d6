"""Support's decision on a lost-device case, as the use case holds it whoever calls it."""

from __future__ import annotations

import pytest

from accessguard.bootstrap import Services
from accessguard.domain.errors import ValidationFailed
from accessguard.domain.model import ClientInfo
from tests.domain.recovery_support import OWNER, cases, owner_with_factors, staff
from tests.support import PASSWORD, inbox

CLIENT = ClientInfo("198.51.100.7", "staff browser")


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_without_a_note_is_refused_and_changes_nothing(
    services: Services, decision: str
) -> None:
    owner_with_factors(services)
    services.recovery.open(OWNER, PASSWORD, "Phone lost", None, CLIENT)
    [opened] = cases(services)
    reviewer = staff(services)["Authorization"].removeprefix("Bearer ")
    auth = services.sessions.authenticate(reviewer)
    decide = getattr(services.recovery_review, decision)
    for note in ("", " \n\t "):
        with pytest.raises(ValidationFailed) as refused:
            decide(auth, str(opened["id"]), note, CLIENT)
        assert refused.value.facts["fields"] == [{"field": "note", "message": "is required"}]
    assert (cases(services)[0]["status"], cases(services)[0]["note"]) == ("open", None)
    assert len(inbox(services, OWNER)) == 1  # the request's own email, no decision's
