"""POST /recovery/requests and /recovery/requests/cancel: one answer for everyone, a case only
for the right password on an account with a second factor, and an owner who can stop it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.domain.emails import email_key
from accessguard.domain.lockout import email_subject
from accessguard.domain.model import Device
from accessguard.domain.tokens import new_token
from tests.domain.recovery_support import (
    API,
    OWNER,
    audit_kinds,
    case_id,
    cases,
    owner_with_factors,
    request_recovery,
)
from tests.support import PASSWORD, inbox, make_account, token_from

REFERENCE = re.compile(r"R-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}")


def recovery_post(client: TestClient, **body: object) -> tuple[int, dict[str, object]]:
    values: dict[str, object] = {"email": OWNER, "password": PASSWORD, "details": "lost it"}
    answer = client.post(f"{API}/recovery/requests", json={**values, **body})
    return answer.status_code, answer.json()


def cancel(client: TestClient, token: str) -> tuple[int, str]:
    answer = client.post(f"{API}/recovery/requests/cancel", json={"token": token})
    code = answer.json()["error"]["code"] if answer.status_code != 204 else ""
    return answer.status_code, code


def test_unknown_email_wrong_password_and_right_password_get_the_same_answer(
    client: TestClient, services: Services
) -> None:
    owner_with_factors(services)
    answers = [
        recovery_post(client, email="nobody@example.com"),
        recovery_post(client, password="not the password at all"),
        recovery_post(client),
    ]
    for status, body in answers:
        assert status == 202
        assert set(body) == {"reference"}
        assert REFERENCE.fullmatch(str(body["reference"]))
    stored = cases(services)
    assert [case["reference"] for case in stored] == [answers[2][1]["reference"]]
    assert inbox(services, "nobody@example.com") == []


def test_owner_is_emailed_at_once_with_a_one_click_cancel_link(
    client: TestClient, services: Services
) -> None:
    account = owner_with_factors(services)
    reference = request_recovery(client)
    [mail] = inbox(services, OWNER)
    assert "remove two-step verification" in mail["subject"]
    assert reference in mail["body"]
    token = token_from(mail["body"], "https://accounts.example.test/recover/cancel")
    [case] = cases(services)
    assert case["status"] == "open"
    assert case["account_id"] == account.id
    assert token not in str(case)  # only its digest is stored
    assert audit_kinds(services, account.id) == [("recovery_requested", "success")]


def test_cancel_from_the_email_link_works_once(client: TestClient, services: Services) -> None:
    account = owner_with_factors(services)
    request_recovery(client)
    token = token_from(inbox(services, OWNER)[-1]["body"], "/recover/cancel")
    assert cancel(client, token) == (204, "")
    assert cancel(client, token) == (400, "recovery_token_invalid")
    [case] = cases(services)
    assert case["status"] == "cancelled"
    assert "cancelled" in inbox(services, OWNER)[-1]["subject"]
    assert ("recovery_cancelled", "success") in audit_kinds(services, account.id)


def test_a_made_up_cancel_token_is_refused(client: TestClient, services: Services) -> None:
    assert cancel(client, "x" * 43) == (400, "recovery_token_invalid")


def test_one_open_case_per_account_and_asking_again_tells_nothing(
    client: TestClient, services: Services
) -> None:
    # The case's own reference, answered twice, would tell whoever asks that the password is
    # right and a case is open: a second request gets a fresh one, as a wrong password does.
    owner_with_factors(services)
    first = request_recovery(client)
    status, body = recovery_post(client, details="Asking again")
    assert status == 202
    assert set(body) == {"reference"}
    again = str(body["reference"])
    assert again != first
    assert REFERENCE.fullmatch(again)
    assert [case["reference"] for case in cases(services)] == [first]


def test_the_owner_hears_that_someone_asked_again_while_a_case_is_active(
    client: TestClient, services: Services
) -> None:
    # Silence here would let a second attempt go unseen by the owner, who was told once.
    account = owner_with_factors(services)
    first = request_recovery(client)
    request_recovery(client, details="Asking again", **{"User-Agent": "Second asker/1.0"})
    _opened, again = inbox(services, OWNER)
    assert "asked again" in again["subject"]
    assert first in again["body"]  # the case that stays, which the owner already knows
    assert "Second asker/1.0" in again["body"]
    assert "https://accounts.example.test/account" in again["body"]
    assert audit_kinds(services, account.id) == [
        ("recovery_requested", "success"),
        ("recovery_requested", "already_open"),
    ]


def test_asked_again_mails_stay_within_the_inbox_limit(
    client: TestClient, services: Services
) -> None:
    # Whoever has the password must not bury the case's first mail and its cancel link under
    # notices; every asking is still in the audit trail.
    account = owner_with_factors(services)
    limit = services.rules.recipient_email_limit
    first = request_recovery(client)
    for _ in range(limit + 3):
        request_recovery(client, details="Asking again")
    mails = inbox(services, OWNER)
    assert first in mails[0]["body"]
    assert [m for m in mails[1:] if "asked again" in m["subject"]] == mails[1:]
    assert len(mails) == limit  # the request that opened the case counted too
    assert audit_kinds(services, account.id).count(("recovery_requested", "already_open")) == (
        limit + 3
    )


@pytest.mark.parametrize(
    ("details", "stored"),
    [
        (f"my password is {PASSWORD.upper()}, please", "my password is [password removed], please"),
        (f"password: {PASSWORD.replace(' ', '')}!", "password: [password removed]!"),
        (f"it was {PASSWORD[:10]}\n{PASSWORD[10:]} ok", "it was [password removed] ok"),
        ("pw " + "\u200b".join(PASSWORD), "pw [password removed]"),  # zero-width spaces
        (f"{PASSWORD} and {PASSWORD}", "[password removed] and [password removed]"),
    ],
)
def test_the_password_written_in_the_details_is_removed_before_support_reads_them(
    client: TestClient, services: Services, details: str, stored: str
) -> None:
    # The contract answers 202 always; support reads the details, and must never read the
    # password there. The rest of what the customer wrote is kept.
    owner_with_factors(services)
    status, body = recovery_post(client, details=details)
    assert status == 202
    [case] = cases(services)
    assert case["reference"] == body["reference"]
    assert case["details"] == stored


def test_account_without_a_second_factor_gets_no_case_but_a_notice(
    client: TestClient, services: Services
) -> None:
    make_account(services)
    request_recovery(client)
    assert cases(services) == []
    [mail] = inbox(services, OWNER)
    assert "does not use two-step verification" in mail["body"]


def test_wrong_passwords_count_toward_the_email_lockout(
    client_factory: Callable[..., TestClient], services_factory: Callable[..., Services]
) -> None:
    services = services_factory(lockout_threshold=3)
    client = client_factory(services)
    owner_with_factors(services)
    for _ in range(3):
        assert recovery_post(client, password="wrong password guess")[0] == 202
    with services.uow(read_only=True) as uow:
        lock = uow.lockouts.get(email_subject(email_key(OWNER)))
    assert lock.is_locked(services.clock.now())
    # Locked: even the right password opens nothing, and the answer is still the same.
    assert recovery_post(client)[0] == 202
    assert cases(services) == []


def test_requests_are_throttled_per_address(
    client_factory: Callable[..., TestClient], services_factory: Callable[..., Services]
) -> None:
    client = client_factory(services_factory(address_request_limit=2))
    assert recovery_post(client, email="a@example.com")[0] == 202
    assert recovery_post(client, email="b@example.com")[0] == 202
    status, body = recovery_post(client, email="c@example.com")
    assert status == 429
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "too_many_requests"
    assert error["retry_after"] > 0


def test_a_known_device_is_recorded_with_the_case(client: TestClient, services: Services) -> None:
    account = owner_with_factors(services)
    plain, token_digest = new_token()
    now = services.clock.now()
    device = Device(str(uuid.uuid4()), account.id, now, now, now + timedelta(days=30))
    with services.uow() as uow:
        uow.devices.add(device, token_digest)
    assert recovery_post(client, device_token=services.device_signer.sign(plain))[0] == 202
    [case] = cases(services)
    assert case["known_device"] is True


def test_a_new_device_is_recorded_as_such(client: TestClient, services: Services) -> None:
    owner_with_factors(services)
    request_recovery(client)
    [case] = cases(services)
    assert case["known_device"] is False
    assert case["country"] is None  # the test client's address is no public one


@pytest.mark.parametrize(
    ("details", "why"),
    [
        ("x" * 10_000, "2000 characters"),
        ("phone \x07 lost", "control characters"),
        ("\x1b[31mred alert\x1b[0m", "control characters"),
        ("looks innocent \u202egnp.exe", "control characters"),
        ("nul \x00 byte", ""),
        ("   \n\t ", ""),
        ("", ""),
    ],
)
def test_hostile_details_are_a_validation_error(
    client: TestClient, services: Services, details: str, why: str
) -> None:
    owner_with_factors(services)
    status, body = recovery_post(client, details=details)
    assert status == 422
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "validation_error"
    [field] = error["fields"]
    assert field["field"] == "body.details"
    assert why in field["message"]
    assert details not in str(body) or not details.strip()
    assert cases(services) == []


def test_details_keep_line_breaks_and_any_language(client: TestClient, services: Services) -> None:
    owner_with_factors(services)
    text = "Lost my phone\r\n\ton the train 🚆 — téléphone perdu <b>today</b>"
    request_recovery(client, details=text)
    [case] = cases(services)
    assert case["details"] == text.strip()


def test_reference_is_what_the_admin_list_knows(client: TestClient, services: Services) -> None:
    owner_with_factors(services)
    reference = request_recovery(client)
    assert case_id(services, reference)


def test_a_password_reset_cancels_the_open_case(client: TestClient, services: Services) -> None:
    # The case rested on the old password; left running it would strip the second factor
    # from an account whose owner has just shown the inbox and chosen a new password.
    owner_with_factors(services)
    request_recovery(client)
    client.post(f"{API}/password/forgot", json={"email": OWNER})
    token = token_from(inbox(services, OWNER)[-1]["body"], "/reset-password")
    reset = client.post(
        f"{API}/password/reset", json={"token": token, "new_password": "a brand new passphrase"}
    )
    assert reset.status_code == 204
    [case] = cases(services)
    assert case["status"] == "cancelled"


def test_the_owner_hears_that_a_password_reset_cancelled_the_case(
    client: TestClient, services: Services
) -> None:
    # Without a word the owner would wait out the 48 hours for a request that is gone.
    account = owner_with_factors(services)
    reference = request_recovery(client)
    client.post(f"{API}/password/forgot", json={"email": OWNER})
    token = token_from(inbox(services, OWNER)[-1]["body"], "/reset-password")
    client.post(f"{API}/password/reset", json={"token": token, "new_password": "a new passphrase"})
    [notice] = [m for m in inbox(services, OWNER) if "cancelled" in m["subject"]]
    assert reference in notice["body"]
    assert "password of your account was reset" in notice["body"]
    assert "/recover" in notice["body"]
    assert ("recovery_cancelled", "success") in audit_kinds(services, account.id)


def test_a_password_reset_with_no_open_case_sends_no_cancel_notice(
    client: TestClient, services: Services
) -> None:
    owner_with_factors(services)
    client.post(f"{API}/password/forgot", json={"email": OWNER})
    token = token_from(inbox(services, OWNER)[-1]["body"], "/reset-password")
    client.post(f"{API}/password/reset", json={"token": token, "new_password": "a new passphrase"})
    assert not [m for m in inbox(services, OWNER) if "cancelled" in m["subject"]]
