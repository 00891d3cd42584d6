"""POST /me/recovery-codes and the recovery-code count of GET /me, over HTTP."""

from __future__ import annotations

import pyotp
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from tests.support import PASSWORD, SettableClock, inbox
from tests.web.api.test_mfa_totp import API, enrol, error, signed_in


def codes_left(client: TestClient, headers: dict[str, str]) -> int:
    return int(client.get(f"{API}/me", headers=headers).json()["mfa"]["recovery_codes_left"])


def test_new_codes_replace_the_old_set_and_the_owner_is_told(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    headers = signed_in(client, services)
    assert codes_left(client, headers) == 0
    enrol(client, headers, clock)
    assert codes_left(client, headers) == 10

    answer = client.post(f"{API}/me/recovery-codes", json={"password": PASSWORD}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    assert len(set(answer.json()["recovery_codes"])) == 10
    assert codes_left(client, headers) == 10
    mail = inbox(services, "ada@example.com")[-1]
    assert mail["subject"] == "New recovery codes were created for your account"
    assert "The codes you had before no longer work" in mail["body"]


def test_a_wrong_password_is_refused_and_counted(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    headers = signed_in(client, services)
    enrol(client, headers, clock)
    wrong = client.post(
        f"{API}/me/recovery-codes", json={"password": "surely not the password"}, headers=headers
    )
    assert wrong.status_code == 401
    assert error(wrong)["code"] == "invalid_credentials"
    missing = client.post(f"{API}/me/recovery-codes", json={}, headers=headers)
    assert missing.status_code == 422


def test_without_a_second_factor_there_are_no_codes_to_make(
    client: TestClient, services: Services
) -> None:
    headers = signed_in(client, services)
    answer = client.post(f"{API}/me/recovery-codes", json={"password": PASSWORD}, headers=headers)
    assert answer.status_code == 409
    assert error(answer)["code"] == "second_factor_required"


def test_removing_the_app_leaves_no_codes(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    headers = signed_in(client, services)
    secret = enrol(client, headers, clock)
    clock.advance(seconds=30)
    removed = client.request(
        "DELETE",
        f"{API}/me/mfa/totp",
        json={"password": PASSWORD, "code": pyotp.TOTP(secret).at(clock.now())},
        headers=headers,
    )
    assert removed.status_code == 204, removed.text
    assert codes_left(client, headers) == 0


def test_anonymous_callers_get_no_codes(client: TestClient) -> None:
    answer = client.post(f"{API}/me/recovery-codes", json={"password": PASSWORD})
    assert answer.status_code == 401
    assert error(answer)["code"] == "not_authenticated"
