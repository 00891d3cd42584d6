"""The /me/mfa/totp endpoints over HTTP: the QR code, the recovery codes of a confirm, its
guessing limit, and the error envelopes of the TOTP codes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from xml.etree import ElementTree

import httpx
import pyotp
import segno
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from tests.domain.test_mfa_totp import not_a_code_of
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
    assert len(confirmed.json()["recovery_codes"]) == 10
    assert confirmed.headers["Cache-Control"] == "no-store"
    return secret


def app_with_codes(
    client: TestClient, headers: dict[str, str], clock: SettableClock
) -> tuple[pyotp.TOTP, list[str]]:
    """An authenticator app set up for the signed-in account: its codes, and the recovery
    codes that came with it."""
    started = client.post(f"{API}/me/mfa/totp", json={"password": PASSWORD}, headers=headers)
    app = pyotp.TOTP(started.json()["secret"])
    confirmed = client.post(
        f"{API}/me/mfa/totp/confirm", json={"code": app.at(clock.now())}, headers=headers
    )
    return app, list(confirmed.json()["recovery_codes"])


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
    removed_mail = inbox(services, "ada@example.com")[-1]["body"]
    assert "authenticator app was removed" in removed_mail
    assert "withdrawals are on hold until " in removed_mail


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

    typo = remove("12345")  # a digit short: not a code at all, and no try spent on it
    assert typo.status_code == 422
    assert error(typo)["code"] == "validation_error"
    assert error(typo)["fields"][0]["field"] == "body.code"

    wrong = remove(not_a_code_of(secret, clock.now()))
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
    assert again.status_code == 409
    assert error(again)["code"] == "totp_already_enabled"
    confirm = client.post(f"{API}/me/mfa/totp/confirm", json={"code": "123456"}, headers=headers)
    assert confirm.status_code == 409
    assert error(confirm)["code"] == "totp_already_enabled"


def test_confirm_without_enrolment_and_anonymous_calls(
    client: TestClient, services: Services
) -> None:
    headers = signed_in(client, services)
    missing = client.post(f"{API}/me/mfa/totp/confirm", json={"code": "123456"}, headers=headers)
    assert missing.status_code == 409
    assert error(missing)["code"] == "totp_not_set_up"
    removal = client.request(
        "DELETE",
        f"{API}/me/mfa/totp",
        json={"password": PASSWORD, "code": "123456"},
        headers=headers,
    )
    assert removal.status_code == 409
    assert error(removal)["code"] == "totp_not_set_up"
    client.cookies.clear()
    anonymous = client.post(f"{API}/me/mfa/totp")
    assert anonymous.status_code == 401
    assert error(anonymous)["code"] == "not_authenticated"


def test_a_wrong_method_lists_both_methods_of_the_path(client: TestClient) -> None:
    answer = client.put(f"{API}/me/mfa/totp")
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].split(", ")) == {"POST", "DELETE"}
    assert error(answer)["code"] == "method_not_allowed"


SVG = "{http://www.w3.org/2000/svg}"


def dark_modules(svg: str) -> set[tuple[int, int]]:
    """The (row, column) of every dark module drawn by segno's single stroked path."""
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own output, parsed to check it
    (path,) = [p for p in root.iter(f"{SVG}path") if p.get("stroke")]
    x = y = 0.0
    dark = set()
    for command, dx, dy in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.get("d", "")):
        if command == "M":
            x, y = float(dx), float(dy)
        elif command == "m":
            x, y = x + float(dx), y + float(dy)
        else:
            dark |= {(int(y), int(x) + i) for i in range(int(float(dx)))}
            x += float(dx)
    return dark


def test_enrolment_returns_a_qr_code_of_the_uri_safe_to_inline(
    client: TestClient, services: Services
) -> None:
    headers = signed_in(client, services)
    started = client.post(f"{API}/me/mfa/totp", headers=headers).json()
    svg, uri = started["qr_svg"], started["otpauth_uri"]

    root = ElementTree.fromstring(svg)  # noqa: S314 - well-formed XML is what is tested
    assert root.tag == f"{SVG}svg"
    assert {element.tag.removeprefix(SVG) for element in root.iter()} <= {
        "svg",
        "title",
        "g",
        "path",
    }
    assert "<script" not in svg.lower()
    assert "href" not in svg.lower()  # no links, no external resources
    assert "url(" not in svg.lower()
    assert started["secret"] not in svg  # the seed is in the picture only

    border = 4  # segno's quiet zone, in modules
    matrix = segno.make_qr(uri).matrix
    expected = {
        (row + border, col + border)
        for row, line in enumerate(matrix)
        for col, module in enumerate(line)
        if module
    }
    assert dark_modules(svg) == expected


def test_wrong_confirming_codes_run_out_with_true_attempts_left(
    client: TestClient, services: Services
) -> None:
    headers = signed_in(client, services)
    client.post(f"{API}/me/mfa/totp", headers=headers)
    threshold = services.rules.lockout_threshold
    for left in range(threshold - 1, -1, -1):
        wrong = client.post(f"{API}/me/mfa/totp/confirm", json={"code": "000000"}, headers=headers)
        assert wrong.status_code == 401
        assert error(wrong)["attempts_left"] == left
    limited = client.post(f"{API}/me/mfa/totp/confirm", json={"code": "000000"}, headers=headers)
    assert limited.status_code == 429
    assert error(limited)["code"] == "too_many_requests"
    assert int(limited.headers["Retry-After"]) > 0


def test_adding_the_app_a_while_after_signing_in_needs_the_password(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    headers = signed_in(client, services)
    clock.advance(seconds=services.rules.reauth_seconds + 1)
    refused = client.post(f"{API}/me/mfa/totp", headers=headers)
    assert refused.status_code == 403
    assert error(refused)["code"] == "reauthentication_required"
    wrong = client.post(f"{API}/me/mfa/totp", json={"password": "nope" * 5}, headers=headers)
    assert error(wrong)["code"] == "invalid_credentials"
    started = client.post(f"{API}/me/mfa/totp", json={"password": PASSWORD}, headers=headers)
    assert started.status_code == 200, started.text


def test_an_empty_password_to_add_the_app_is_answered_as_a_missing_one(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    # A client that always sends the field, empty when the customer typed nothing, hears
    # what is wanted and why in the use case's words, not the schema's "at least 1 character".
    headers = signed_in(client, services)
    clock.advance(seconds=services.rules.reauth_seconds + 1)
    missing = client.post(f"{API}/me/mfa/totp", headers=headers)
    empty = client.post(f"{API}/me/mfa/totp", json={"password": ""}, headers=headers)
    assert empty.status_code == missing.status_code == 403
    assert error(empty)["code"] == error(missing)["code"] == "reauthentication_required"
    assert client.get(f"{API}/me", headers=headers).json()["mfa"]["totp"] is False


def test_an_empty_password_from_a_recent_session_starts_the_app_set_up(
    client: TestClient, services: Services
) -> None:
    headers = signed_in(client, services)
    started = client.post(f"{API}/me/mfa/totp", json={"password": ""}, headers=headers)
    assert started.status_code == 200, started.text
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/")


def test_a_lost_app_is_removed_with_a_recovery_code_and_a_new_one_set_up(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    """The customer whose phone is gone signs in with one recovery code, removes the old app
    with another, and sets up the new phone: no support case, no wait."""
    headers = signed_in(client, services)
    _, codes = app_with_codes(client, headers, clock)

    begun = client.post(f"{API}/login", json={"email": "ada@example.com", "password": PASSWORD})
    finished = client.post(
        f"{API}/login/mfa",
        json={"mfa_token": begun.json()["mfa_token"], "method": "recovery_code", "code": codes[0]},
    )
    assert finished.status_code == 200, finished.text
    phone_lost = {"Authorization": f"Bearer {finished.json()['session']['token']}"}

    def remove(code: str) -> httpx.Response:
        body = {"password": PASSWORD, "code": code}
        return client.request("DELETE", f"{API}/me/mfa/totp", json=body, headers=phone_lost)

    spent = remove(codes[0])
    assert spent.status_code == 401
    assert error(spent)["code"] == "recovery_code_used"
    assert client.get(f"{API}/me", headers=phone_lost).json()["mfa"]["totp"] is True
    assert remove(codes[1].upper().replace("-", " ")).status_code == 204
    me = client.get(f"{API}/me", headers=phone_lost).json()
    assert me["mfa"] == {"totp": False, "sms": False, "recovery_codes_left": 0}
    assert me["security_hold_until"] is not None
    assert "authenticator app was removed" in inbox(services, "ada@example.com")[-1]["body"]
    new_phone = client.post(f"{API}/me/mfa/totp", json={"password": PASSWORD}, headers=phone_lost)
    assert new_phone.status_code == 200, new_phone.text


def test_an_app_no_configured_key_can_read_is_removed_with_a_recovery_code(
    client: TestClient,
    services: Services,
    clock: SettableClock,
    client_factory: Callable[..., TestClient],
) -> None:
    """After a restart without the key the app's secret was sealed under, its codes cannot
    be checked; a recovery code removes it so that it can be set up again."""
    headers = signed_in(client, services)
    _, codes = app_with_codes(client, headers, clock)
    rekeyed = client_factory(secret_keys=["another-signing-key-" + "z" * 32])
    body = {"password": PASSWORD, "code": codes[0]}
    removed = rekeyed.request("DELETE", f"{API}/me/mfa/totp", json=body, headers=headers)
    assert removed.status_code == 204, removed.text
