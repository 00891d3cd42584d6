"""GET /me's `recovery_request` and POST /me/recovery-request/cancel: the signed-in owner sees
an open or approved lost-device case on the account, and can stop it, whoever asked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.domain.model import Account
from tests.domain.recovery_support import (
    API,
    OWNER,
    audit_kinds,
    case_id,
    cases,
    owner_with_factors,
    request_recovery,
    session_for,
    staff,
)
from tests.support import SettableClock, inbox

CANCEL = f"{API}/me/recovery-request/cancel"
WAIT = timedelta(hours=48)


def me(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    answer = client.get(f"{API}/me", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def error_code(answer: httpx.Response) -> str:
    return str(answer.json()["error"]["code"])


def approve(client: TestClient, services: Services, reference: str) -> None:
    headers = staff(services)
    ident = case_id(services, reference)
    answer = client.post(
        f"{API}/admin/recovery/requests/{ident}/approve",
        json={"note": "ID checked"},
        headers=headers,
    )
    assert answer.status_code == 204, answer.text


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_me_says_null_when_no_recovery_request_is_active(
    client: TestClient, services: Services
) -> None:
    owner = owner_with_factors(services)
    assert me(client, session_for(services, owner))["recovery_request"] is None


def test_the_owner_sees_an_open_request_on_the_account(
    client: TestClient, services: Services
) -> None:
    # The owner whose password someone else knows must learn of it from the account too,
    # not only from an email that may sit unread.
    owner = owner_with_factors(services)
    reference = request_recovery(client)
    seen = me(client, session_for(services, owner))["recovery_request"]
    assert seen["reference"] == reference
    assert seen["state"] == "open"
    assert at(seen["opened_at"]) == services.clock.now()
    assert seen["takes_effect_at"] is None
    assert seen["ip"] == "testclient"
    assert seen["user_agent"] == "testclient"  # the requester's, for the owner to recognise
    assert seen["cancellable"] is True


def test_an_approved_request_says_when_it_takes_effect(
    client: TestClient, services: Services
) -> None:
    owner = owner_with_factors(services)
    reference = request_recovery(client)
    approve(client, services, reference)
    seen = me(client, session_for(services, owner))["recovery_request"]
    assert seen["state"] == "approved"
    assert at(seen["takes_effect_at"]) == services.clock.now() + WAIT
    assert seen["cancellable"] is True


def test_another_accounts_request_is_not_shown(client: TestClient, services: Services) -> None:
    owner_with_factors(services)
    request_recovery(client)
    other = owner_with_factors(services, "bob@example.com")
    assert me(client, session_for(services, other))["recovery_request"] is None
    assert error_code(client.post(CANCEL, headers=session_for(services, other))) == (
        "no_recovery_request"
    )
    assert [case["status"] for case in cases(services)] == ["open"]


def test_the_owner_cancels_the_request_and_hears_of_it(
    client: TestClient, services: Services
) -> None:
    owner = owner_with_factors(services)
    reference = request_recovery(client)
    headers = session_for(services, owner)
    answer = client.post(CANCEL, headers=headers)
    assert answer.status_code == 204
    assert [case["status"] for case in cases(services)] == ["cancelled"]
    assert me(client, headers)["recovery_request"] is None
    notice = inbox(services, OWNER)[-1]
    assert "cancelled" in notice["subject"]
    assert reference in notice["body"]
    assert "signed in to your account" in notice["body"]
    assert audit_kinds(services, owner.id)[-1] == ("recovery_cancelled", "success")


def test_an_approved_request_can_be_cancelled_before_it_takes_effect(
    client: TestClient, services: Services
) -> None:
    owner = owner_with_factors(services)
    approve(client, services, request_recovery(client))
    assert client.post(CANCEL, headers=session_for(services, owner)).status_code == 204
    assert [case["status"] for case in cases(services)] == ["cancelled"]


def test_cancelling_with_nothing_to_cancel_answers_from_the_catalogue(
    client: TestClient, services: Services
) -> None:
    owner = owner_with_factors(services)
    headers = session_for(services, owner)
    answer = client.post(CANCEL, headers=headers)
    assert answer.status_code == 409
    assert error_code(answer) == "no_recovery_request"
    request_recovery(client)
    assert client.post(CANCEL, headers=headers).status_code == 204
    assert error_code(client.post(CANCEL, headers=headers)) == "no_recovery_request"  # twice


def test_a_request_past_its_waiting_period_is_shown_but_no_longer_cancellable(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    # Approved and due, in the minute before the worker carries it out: cancelling now would
    # race the removal, so it is refused and the page says it is being carried out.
    owner: Account = owner_with_factors(services)
    approve(client, services, request_recovery(client))
    clock.advance(hours=48)
    headers = session_for(services, owner)
    seen = me(client, headers)["recovery_request"]
    assert (seen["state"], seen["cancellable"]) == ("approved", False)
    assert error_code(client.post(CANCEL, headers=headers)) == "no_recovery_request"
    assert [case["status"] for case in cases(services)] == ["approved"]


def test_cancelling_needs_a_session(client: TestClient, services: Services) -> None:
    owner_with_factors(services)
    request_recovery(client)
    assert error_code(client.post(CANCEL)) == "not_authenticated"
    assert [case["status"] for case in cases(services)] == ["open"]
