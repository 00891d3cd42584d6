"""The /me/mfa/totp endpoints over HTTP, and the error envelopes of the TOTP codes."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pyotp
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from tests.support import PASSWORD, SettableClock, inbox, make_account

API = "/api/v1"


def signed_in(client: TestClient, services: Services) -> dict[str, str]:
    make_account(services)
    answer = client.post(f"{API}/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['session']['token']}"}


def enrol(client: TestClient, headers: dict[str, str], clock: SettableClock) -> str:
    started = client.post(f"{API}/me/mfa/totp", headers=headers)
    assert started.status_code == 200, started.text
    secret = str(started.json()["secret"])
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert client.get(f"{API}/me", headers=headers).json()["mfa"]["totp"] is False
    code = pyotp.TOTP(secret).at(clock.now())
    confirmed = client.post(f"{API}/me/mfa/totp/confirm", json={"code": code}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() == {"recovery_codes": []}
    return secret


def error(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"}
    err: dict[str, object] = body["error"]
    assert err["help_url"] == f"/help/{err['code']}"
    return err


def test_enable_then_remove(client: TestClient, services: Services, clock: SettableClock) -> None:
    headers = signed_in(client, services)
    secret = enrol(client, headers, clock)
    assert client.get(f"{API}/me", headers=headers).json()["mfa"]["totp"] is True
    assert "An authenticator app was added" in inbox(services, "ada@example.com")[-1]["body"]

    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock.now())
    removed = client.request(
        "DELETE", f"{API}/me/mfa/totp", json={"password": PASSWORD, "code": code}, headers=headers
    )
    assert removed.status_code == 204, removed.text
    me = client.get(f"{API}/me", headers=headers).json()
    assert me["mfa"]["totp"] is False
    assert me["security_hold_until"] is not None
    assert "authenticator app was removed" in inbox(services, "ada@example.com")[-1]["body"]


def test_error_envelopes_of_the_totp_codes(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    headers = signed_in(client, services)
    secret = enrol(client, headers, clock)
    totp = pyotp.TOTP(secret)

    def remove(code: str) -> httpx.Response:
        return client.request(
            "DELETE",
            f"{API}/me/mfa/totp",
            json={"password": PASSWORD, "code": code},
            headers=headers,
        )

    reused = remove(totp.at(clock.now()))  # the confirming code
    assert reused.status_code == 401
    assert error(reused)["code"] == "mfa_code_reused"

    drifted = remove(totp.at(clock.now() + timedelta(minutes=5)))
    assert drifted.status_code == 401
    assert error(drifted)["code"] == "totp_clock_drift"
    assert error(drifted)["drift_seconds"] == 300

    wrong = remove("12345")
    assert wrong.status_code == 401
    assert error(wrong)["code"] == "invalid_mfa_code"
    assert error(wrong)["attempts_left"] == services.rules.lockout_threshold - 1
    assert client.get(f"{API}/me", headers=headers).json()["mfa"]["totp"] is True


def test_a_second_enrolment_while_active_is_refused(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    headers = signed_in(client, services)
    enrol(client, headers, clock)
    again = client.post(f"{API}/me/mfa/totp", headers=headers)
    assert again.status_code == 403
    assert error(again)["code"] == "forbidden"


def test_confirm_without_enrolment_and_anonymous_calls(
    client: TestClient, services: Services
) -> None:
    headers = signed_in(client, services)
    missing = client.post(f"{API}/me/mfa/totp/confirm", json={"code": "123456"}, headers=headers)
    assert missing.status_code == 404
    assert error(missing)["code"] == "not_found"
    client.cookies.clear()
    anonymous = client.post(f"{API}/me/mfa/totp")
    assert anonymous.status_code == 401
    assert error(anonymous)["code"] == "not_authenticated"


def test_a_wrong_method_lists_both_methods_of_the_path(client: TestClient) -> None:
    answer = client.put(f"{API}/me/mfa/totp")
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) == {"POST", "DELETE"}
    assert error(answer)["code"] == "method_not_allowed"
