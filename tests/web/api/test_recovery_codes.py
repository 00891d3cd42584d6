"""POST /me/recovery-codes and the recovery-code count of GET /me, over HTTP; the app's code
when the session never proved the app (signed in by text message)."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from tests.support import PASSWORD, SettableClock, inbox
from tests.web.api.test_login_second_step import APP, login, second_step, with_authenticator
from tests.web.api.test_mfa_sms import PHONE, last_code
from tests.web.api.test_mfa_sms import enrol as add_phone
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


def sign_in_by(client: TestClient, method: str, code: Callable[[], str]) -> dict[str, str]:
    """A new session of ada's, its second step done by `method` with the code `code` gives."""
    first = login(client).json()
    assert method in first["methods"], first
    if method == "sms":
        sent = client.post(
            f"{API}/login/mfa/sms", json={"mfa_token": first["mfa_token"]}, headers=APP
        )
        assert sent.status_code == 202, sent.text
    done = second_step(client, first["mfa_token"], method, code())
    assert done.status_code == 200, done.text
    return {"Authorization": f"Bearer {done.json()['session']['token']}"}


def signed_in_by_text_beside_an_app(
    client: TestClient, services: Services, clock: SettableClock
) -> tuple[pyotp.TOTP, dict[str, str]]:
    """An owner with an app and a phone, and a session that proved only the phone."""
    app, _ = with_authenticator(client, services, clock)
    owner = sign_in_by(client, "totp", lambda: app.at(clock.now()))
    add_phone(client, services, owner)
    clock.advance(seconds=30)
    return app, sign_in_by(client, "sms", lambda: last_code(services, PHONE))


def test_a_session_signed_in_by_text_needs_the_apps_code_for_new_codes(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    # The SIM swap: with the password and the number, new codes on the password alone would
    # remove the authenticator app (and lock its owner out).
    app, texted = signed_in_by_text_beside_an_app(client, services, clock)

    missing = client.post(f"{API}/me/recovery-codes", json={"password": PASSWORD}, headers=texted)
    assert missing.status_code == 422
    assert error(missing)["code"] == "validation_error"
    assert [f["field"] for f in error(missing)["fields"]] == ["body.code"]  # type: ignore[attr-defined]
    wrong = client.post(
        f"{API}/me/recovery-codes", json={"password": PASSWORD, "code": "000000"}, headers=texted
    )
    assert wrong.status_code == 401
    assert error(wrong)["code"] == "invalid_mfa_code"
    assert error(wrong)["attempts_left"] == services.rules.lockout_threshold - 1
    assert not [m for m in inbox(services, "ada@example.com") if "New recovery" in m["subject"]]

    made = client.post(
        f"{API}/me/recovery-codes",
        json={"password": PASSWORD, "code": app.at(clock.now())},
        headers=texted,
    )
    assert made.status_code == 200, made.text
    assert len(made.json()["recovery_codes"]) == 10


def test_a_session_signed_in_with_the_app_makes_codes_with_the_password(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    app, _ = with_authenticator(client, services, clock)
    headers = sign_in_by(client, "totp", lambda: app.at(clock.now()))
    answer = client.post(f"{API}/me/recovery-codes", json={"password": PASSWORD}, headers=headers)
    assert answer.status_code == 200, answer.text


def test_an_empty_code_is_answered_as_a_missing_one(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    # A client that always sends the field, empty when it has no code, hears what is wanted
    # and why, in the catalogue's words, not the schema's "at least 1 character".
    _, texted = signed_in_by_text_beside_an_app(client, services, clock)

    def refusal(body: dict[str, str]) -> dict[str, object]:
        answer = client.post(f"{API}/me/recovery-codes", json=body, headers=texted)
        assert answer.status_code == 422, answer.text
        return {key: value for key, value in error(answer).items() if key != "reference"}

    missing = refusal({"password": PASSWORD})
    assert missing["code"] == "validation_error"
    assert missing["fields"] == [
        {"field": "body.code", "message": "needed while an authenticator app is set up"}
    ]
    for blank in ("", "   "):
        assert refusal({"password": PASSWORD, "code": blank}) == missing
    wrong = client.post(
        f"{API}/me/recovery-codes", json={"password": PASSWORD, "code": "000000"}, headers=texted
    )
    assert error(wrong)["attempts_left"] == services.rules.lockout_threshold - 1  # none counted


def test_an_empty_code_is_no_code_where_none_is_needed(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    app, _ = with_authenticator(client, services, clock)
    headers = sign_in_by(client, "totp", lambda: app.at(clock.now()))
    answer = client.post(
        f"{API}/me/recovery-codes", json={"password": PASSWORD, "code": ""}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["recovery_codes"]) == 10
