"""The /me/mfa/sms endpoints over HTTP: adding, changing and removing a number, the error
envelopes of the SMS codes, and that no answer carries a code or the number in full."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from tests.support import PASSWORD, SettableClock, inbox, mailbox, make_account
from tests.web.api.test_mfa_totp import app_with_codes

API = "/api/v1"
PHONE = "+4915123456789"
NEW_PHONE = "+33612345678"


def signed_in(client: TestClient, services: Services) -> dict[str, str]:
    make_account(services)
    answer = client.post(f"{API}/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['session']['token']}"}


def last_code(services: Services, phone: str) -> str:
    texts = [m for m in mailbox(services.engine, phone) if m["channel"] == "sms"]
    match = re.search(r"\b(\d{6})\b", texts[-1]["body"])
    assert match
    return match.group(1)


def error(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"}
    err: dict[str, object] = body["error"]
    assert err["help_url"] == f"/help/{err['code']}"
    return err


def enrol(client: TestClient, services: Services, headers: dict[str, str]) -> None:
    started = client.post(f"{API}/me/mfa/sms", json={"phone": "+49 151 2345-6789"}, headers=headers)
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["status"] == "code_sent"
    assert body["to"].endswith("89")
    assert PHONE not in started.text
    assert body["resend_after"] == services.rules.sms_resend_cooldown_seconds
    code = last_code(services, PHONE)
    assert code not in started.text
    confirmed = client.post(f"{API}/me/mfa/sms/confirm", json={"code": code}, headers=headers)
    assert confirmed.status_code == 204, confirmed.text


def test_add_change_and_remove_a_number(client: TestClient, services: Services) -> None:
    headers = signed_in(client, services)
    assert client.get(f"{API}/me", headers=headers).json()["mfa"]["sms"] is False
    enrol(client, services, headers)
    me = client.get(f"{API}/me", headers=headers).json()
    assert me["mfa"]["sms"] is True
    assert me["security_hold_until"] is None
    assert "ending in 89 was added" in inbox(services, "ada@example.com")[-1]["body"]

    asked = client.post(f"{API}/me/mfa/sms/code", headers=headers)
    assert asked.status_code == 202, asked.text
    old_code = last_code(services, PHONE)
    changed = client.post(
        f"{API}/me/mfa/sms",
        json={"phone": NEW_PHONE, "password": PASSWORD, "code": old_code},
        headers=headers,
    )
    assert changed.status_code == 202, changed.text
    new_code = last_code(services, NEW_PHONE)
    confirmed = client.post(f"{API}/me/mfa/sms/confirm", json={"code": new_code}, headers=headers)
    assert confirmed.status_code == 204, confirmed.text
    assert client.get(f"{API}/me", headers=headers).json()["security_hold_until"] is not None
    changed_mail = inbox(services, "ada@example.com")[-1]["body"]
    assert "changed to a number ending in 78" in changed_mail
    assert "withdrawals are on hold until " in changed_mail

    client.post(f"{API}/me/mfa/sms/code", headers=headers)
    removed = client.request(
        "DELETE",
        f"{API}/me/mfa/sms",
        json={"password": PASSWORD, "code": last_code(services, NEW_PHONE)},
        headers=headers,
    )
    assert removed.status_code == 204, removed.text
    assert client.get(f"{API}/me", headers=headers).json()["mfa"]["sms"] is False
    assert "was removed" in inbox(services, "ada@example.com")[-1]["body"]


def test_a_number_already_removed_says_so_as_the_app_does(
    client: TestClient, services: Services
) -> None:
    # A second tab's removal, or a retry after the first went through: the customer hears
    # that there is no number, not that the address does not exist.
    headers = signed_in(client, services)
    enrol(client, services, headers)
    client.post(f"{API}/me/mfa/sms/code", headers=headers)
    proof = {"password": PASSWORD, "code": last_code(services, PHONE)}
    removed = client.request("DELETE", f"{API}/me/mfa/sms", json=proof, headers=headers)
    assert removed.status_code == 204, removed.text

    again = client.request("DELETE", f"{API}/me/mfa/sms", json=proof, headers=headers)
    asked = client.post(f"{API}/me/mfa/sms/code", headers=headers)
    for answer in (again, asked):
        assert answer.status_code == 409, answer.text
        assert error(answer)["code"] == "sms_not_set_up"


def test_an_invalid_number_names_the_field(client: TestClient, services: Services) -> None:
    headers = signed_in(client, services)
    for phone in ("+1 800 FLOWERS", "0151 23456789", "+44 20 7946 0018", "+1 555"):
        answer = client.post(f"{API}/me/mfa/sms", json={"phone": phone}, headers=headers)
        assert answer.status_code == 422, phone
        err = error(answer)
        assert err["code"] == "phone_number_invalid"
        assert err["fields"] == [{"field": "body.phone", "message": err["fields"][0]["message"]}]  # type: ignore[index]


def test_error_envelopes_of_the_sms_codes(client: TestClient, services: Services) -> None:
    headers = signed_in(client, services)
    first = client.post(f"{API}/me/mfa/sms", json={"phone": PHONE}, headers=headers)
    assert first.status_code == 202

    again = client.post(f"{API}/me/mfa/sms", json={"phone": PHONE}, headers=headers)
    assert again.status_code == 429
    assert error(again)["code"] == "sms_resend_too_soon"
    assert error(again)["retry_after"] == services.rules.sms_resend_cooldown_seconds
    assert again.headers["Retry-After"] == str(services.rules.sms_resend_cooldown_seconds)

    code = last_code(services, PHONE)
    wrong_code = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = [
        client.post(f"{API}/me/mfa/sms/confirm", json={"code": wrong_code}, headers=headers)
        for _ in range(6)
    ]
    assert [a.status_code for a in answers] == [401] * 6
    assert [error(a)["code"] for a in answers] == ["invalid_mfa_code"] * 5 + ["sms_code_expired"]
    assert [error(a).get("attempts_left") for a in answers[:5]] == [4, 3, 2, 1, 0]
    for answer in [first, again, *answers]:
        assert code not in answer.text


def test_changing_an_active_number_needs_the_password_and_a_code(
    client: TestClient, services: Services
) -> None:
    headers = signed_in(client, services)
    enrol(client, services, headers)
    bare = client.post(f"{API}/me/mfa/sms", json={"phone": NEW_PHONE}, headers=headers)
    assert bare.status_code == 422
    assert error(bare)["code"] == "validation_error"

    client.post(f"{API}/me/mfa/sms/code", headers=headers)
    code = last_code(services, PHONE)
    wrong = client.post(
        f"{API}/me/mfa/sms",
        json={"phone": NEW_PHONE, "password": PASSWORD, "code": f"{(int(code) + 1) % 10**6:06d}"},
        headers=headers,
    )
    assert wrong.status_code == 401
    assert error(wrong)["code"] == "invalid_mfa_code"
    assert error(wrong)["attempts_left"] == services.rules.lockout_threshold - 1
    assert mailbox(services.engine, NEW_PHONE) == []

    removal = client.request(
        "DELETE",
        f"{API}/me/mfa/sms",
        json={"password": "guessing " * 3, "code": code},
        headers=headers,
    )
    assert removal.status_code == 401
    assert error(removal)["code"] == "invalid_credentials"
    assert client.get(f"{API}/me", headers=headers).json()["mfa"]["sms"] is True


def test_an_empty_code_or_password_to_change_the_number_is_answered_as_a_missing_one(
    client: TestClient, services: Services
) -> None:
    # A client that always sends the fields, empty when it has nothing to put there, hears
    # what is wanted and why in the use case's words, not the schema's "at least 1 character".
    headers = signed_in(client, services)
    enrol(client, services, headers)

    def refused_fields(**body: str) -> object:
        answer = client.post(
            f"{API}/me/mfa/sms", json={"phone": NEW_PHONE, **body}, headers=headers
        )
        assert answer.status_code == 422, answer.text
        assert error(answer)["code"] == "validation_error"
        return error(answer)["fields"]

    missing = refused_fields(password=PASSWORD)
    assert missing == [{"field": "body.code", "message": "needed while a number is active"}]
    for blank in ("", "   "):
        assert refused_fields(password=PASSWORD, code=blank) == missing
    assert refused_fields(password="", code="") == refused_fields()
    assert refused_fields() == [
        {"field": f"body.{name}", "message": "needed while a number is active"}
        for name in ("password", "code")
    ]

    client.post(f"{API}/me/mfa/sms/code", headers=headers)
    code = last_code(services, PHONE)
    wrong = client.post(
        f"{API}/me/mfa/sms",
        json={"phone": NEW_PHONE, "password": PASSWORD, "code": f"{(int(code) + 1) % 10**6:06d}"},
        headers=headers,
    )
    assert error(wrong)["attempts_left"] == services.rules.lockout_threshold - 1  # none counted
    assert mailbox(services.engine, NEW_PHONE) == []


def test_an_empty_password_to_add_a_first_number_is_no_password(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    headers = signed_in(client, services)
    clock.advance(seconds=services.rules.reauth_seconds + 1)
    body = {"phone": PHONE, "password": "", "code": ""}
    refused = client.post(f"{API}/me/mfa/sms", json=body, headers=headers)
    assert refused.status_code == 403, refused.text
    assert error(refused)["code"] == "reauthentication_required"
    body["password"] = PASSWORD
    assert client.post(f"{API}/me/mfa/sms", json=body, headers=headers).status_code == 202


def test_anonymous_and_out_of_order_calls(client: TestClient, services: Services) -> None:
    assert error(client.post(f"{API}/me/mfa/sms", json={"phone": PHONE}))["code"] == (
        "not_authenticated"
    )
    headers = signed_in(client, services)
    nothing = client.post(f"{API}/me/mfa/sms/code", headers=headers)
    assert nothing.status_code == 409
    assert error(nothing)["code"] == "sms_not_set_up"
    unsent = client.post(f"{API}/me/mfa/sms/confirm", json={"code": "123456"}, headers=headers)
    assert unsent.status_code == 401
    assert error(unsent)["code"] == "sms_code_expired"


def test_a_code_to_the_phone_of_an_account_with_only_an_app_says_there_is_no_phone(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    # Not 403 forbidden: nothing is refused to this customer, the account has no phone yet.
    headers = signed_in(client, services)
    app_with_codes(client, headers, clock)
    asked = client.post(f"{API}/me/mfa/sms/code", headers=headers)
    assert asked.status_code == 409, asked.text
    err = error(asked)
    assert err["code"] == "sms_not_set_up"
    assert "add your mobile number" in str(err["remedy"])
    assert mailbox(services.engine, PHONE) == []


def test_a_code_to_the_phone_of_an_account_with_an_app_points_to_the_apps_code(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    # Not 403 forbidden ("no permission"): the customer proves the change another way.
    headers = signed_in(client, services)
    enrol(client, services, headers)
    app_with_codes(client, headers, clock)
    sent_before = len(mailbox(services.engine, PHONE))

    asked = client.post(f"{API}/me/mfa/sms/code", headers=headers)

    assert asked.status_code == 409, asked.text
    err = error(asked)
    assert err["code"] == "app_code_required"
    assert "authenticator app" in str(err["remedy"])
    assert len(mailbox(services.engine, PHONE)) == sent_before  # no text went out


def test_a_wrong_method_lists_both_methods_of_the_path(client: TestClient) -> None:
    answer = client.put(f"{API}/me/mfa/sms")
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) == {"POST", "DELETE"}
    assert error(answer)["code"] == "method_not_allowed"


def test_a_lost_phone_holding_both_factors_is_removed_with_a_recovery_code(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    headers = signed_in(client, services)
    enrol(client, services, headers)
    _, codes = app_with_codes(client, headers, clock)
    removal = client.request(
        "DELETE",
        f"{API}/me/mfa/sms",
        json={"password": PASSWORD, "code": codes[0]},
        headers=headers,
    )
    assert removal.status_code == 204, removal.text
    assert client.get(f"{API}/me", headers=headers).json()["mfa"] == {
        "totp": True,
        "sms": False,
        "recovery_codes_left": 9,
    }
    told = inbox(services, "ada@example.com")
    [used] = [m for m in told if m["subject"] == "A recovery code was used on your account"]
    assert "used to remove the phone number from your account" in used["body"]


def test_a_phone_only_account_removes_its_lost_phone_with_a_recovery_code(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    """The codes outlive the app while a phone remains: they stand in for the phone too,
    without a text to it first, and only for a removal (a change texts the new number, and
    a code spent on one that fails at the gateway would be gone)."""
    headers = signed_in(client, services)
    enrol(client, services, headers)
    app, codes = app_with_codes(client, headers, clock)
    clock.advance(seconds=30)
    body = {"password": PASSWORD, "code": app.at(clock.now())}
    assert client.request("DELETE", f"{API}/me/mfa/totp", json=body, headers=headers).is_success

    change = {"phone": NEW_PHONE, "password": PASSWORD, "code": codes[0]}
    refused = client.post(f"{API}/me/mfa/sms", json=change, headers=headers)
    assert refused.status_code == 422
    assert error(refused)["code"] == "validation_error"  # a change takes no recovery code
    removal = {"password": PASSWORD, "code": codes[0]}  # not spent by the refused change
    removed = client.request("DELETE", f"{API}/me/mfa/sms", json=removal, headers=headers)
    assert removed.status_code == 204, removed.text
    assert client.get(f"{API}/me", headers=headers).json()["mfa"]["sms"] is False


def test_a_number_in_a_country_not_served_is_refused_before_any_text(
    client_factory: Callable[..., TestClient], services_factory: Callable[..., Services]
) -> None:
    services = services_factory(sms_countries="DE")
    client = client_factory(services)
    headers = signed_in(client, services)
    refused = client.post(f"{API}/me/mfa/sms", json={"phone": NEW_PHONE}, headers=headers)
    assert refused.status_code == 422, refused.text
    err = error(refused)
    assert err["code"] == "phone_number_invalid"
    assert err["fields"] == [
        {
            "field": "body.phone",
            "message": "is in a country this service does not send texts to; set up an "
            "authenticator app instead",
        }
    ]
    assert mailbox(services.engine, NEW_PHONE) == []
    enrol(client, services, headers)  # a German number, as served
