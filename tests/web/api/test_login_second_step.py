"""POST /login and /login/mfa over HTTP with the real factors: an authenticator app computed
by pyotp on the test's clock, and the recovery codes issued at enrolment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pyotp
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from tests.support import PASSWORD, SettableClock, inbox, make_account

API = "/api/v1"
APP = {"User-Agent": "TradingApp/5.1 (iOS 18)"}


def login(client: TestClient, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post(
        f"{API}/login",
        json={"email": "ada@example.com", "password": PASSWORD},
        headers=headers or APP,
    )


def second_step(
    client: TestClient, token: str, method: str, code: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return client.post(
        f"{API}/login/mfa",
        json={"mfa_token": token, "method": method, "code": code},
        headers=headers or APP,
    )


def with_authenticator(
    client: TestClient, services: Services, clock: SettableClock
) -> tuple[pyotp.TOTP, list[str]]:
    """An account with an authenticator app; its TOTP and its recovery codes."""
    make_account(services)
    session = login(client).json()["session"]["token"]
    bearer = {**APP, "Authorization": f"Bearer {session}"}
    secret = client.post(f"{API}/me/mfa/totp", headers=bearer).json()["secret"]
    totp = pyotp.TOTP(secret)
    confirmed = client.post(
        f"{API}/me/mfa/totp/confirm", json={"code": totp.at(clock.now())}, headers=bearer
    )
    assert confirmed.status_code == 200, confirmed.text
    client.post(f"{API}/logout", headers=bearer)
    client.cookies.clear()
    clock.advance(seconds=30)  # the confirming code is spent; the next step's is fresh
    return totp, confirmed.json()["recovery_codes"]


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    assert body["help_url"] == f"/help/{body['code']}"
    assert body["reference"] == response.headers["x-request-id"]
    return body


def test_password_then_authenticator_code_signs_in(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    totp, _ = with_authenticator(client, services, clock)
    first = login(client)
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "mfa_required"
    assert set(body) == {"status", "mfa_token", "methods", "expires_at"}
    assert body["methods"] == ["totp", "recovery_code"]
    assert "set-cookie" not in first.headers  # no session, no device, before the second step

    done = second_step(client, body["mfa_token"], "totp", totp.at(clock.now()))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "authenticated"
    token = done.json()["session"]["token"]
    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["mfa"]["totp"] is True


def test_a_recovery_code_works_once_in_place_of_the_app(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    _, codes = with_authenticator(client, services, clock)
    assert len(codes) == 10
    token = login(client).json()["mfa_token"]
    assert second_step(client, token, "recovery_code", codes[0]).status_code == 200
    again = login(client).json()["mfa_token"]
    reused = second_step(client, again, "recovery_code", codes[0])
    assert reused.status_code == 401
    assert error_of(reused)["code"] == "recovery_code_used"


def test_wrong_codes_report_attempts_left_then_lock(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    totp, _ = with_authenticator(client, services, clock)
    token = login(client).json()["mfa_token"]
    wrong = "000000" if totp.at(clock.now()) != "000000" else "111111"
    left = []
    for _ in range(4):
        answer = second_step(client, token, "totp", wrong)
        assert answer.status_code == 401
        left.append(error_of(answer)["attempts_left"])
    assert left == [4, 3, 2, 1]
    locked = second_step(client, token, "totp", wrong)
    assert locked.status_code == 423
    assert error_of(locked)["code"] == "account_locked"
    assert int(locked.headers["retry-after"]) > 0
    after = second_step(client, token, "totp", totp.at(clock.now()))
    assert error_of(after)["code"] == "mfa_token_invalid"
    # The password was right: whoever typed the codes may know it. The owner hears, once.
    login(client)
    alerts = [m for m in inbox(services, "ada@example.com") if "used your password" in m["subject"]]
    assert len(alerts) == 1
    assert "wrong verification codes" in alerts[0]["body"]
    assert "/forgot-password" in alerts[0]["body"]
    assert "/recover" in alerts[0]["body"]  # the way out for an owner who lost the phone


def test_the_token_is_bound_to_the_client_and_used_once(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    totp, _ = with_authenticator(client, services, clock)
    token = login(client).json()["mfa_token"]
    elsewhere = second_step(client, token, "totp", totp.at(clock.now()), {"User-Agent": "x"})
    assert elsewhere.status_code == 401
    assert error_of(elsewhere)["code"] == "mfa_token_invalid"
    assert second_step(client, token, "totp", totp.at(clock.now())).status_code == 200
    clock.advance(seconds=30)
    replay = second_step(client, token, "totp", totp.at(clock.now()))
    assert error_of(replay)["code"] == "mfa_token_invalid"


def test_an_expired_token_says_to_start_again(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    totp, _ = with_authenticator(client, services, clock)
    token = login(client).json()["mfa_token"]
    clock.advance(seconds=services.settings.mfa_token_seconds + 1)
    expired = second_step(client, token, "totp", totp.at(clock.now()))
    assert expired.status_code == 401
    assert error_of(expired)["code"] == "mfa_token_expired"


def test_missing_or_malformed_second_step_bodies_never_advance(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    totp, _ = with_authenticator(client, services, clock)
    token = login(client).json()["mfa_token"]
    code = totp.at(clock.now())
    for body in (
        {},
        {"mfa_token": "", "method": "totp", "code": code},
        {"mfa_token": token, "method": "email", "code": code},
        {"mfa_token": token, "method": "totp"},
        {"mfa_token": [token], "method": "totp", "code": code},
        {"mfa_token": token, "method": "totp", "code": 123456},
    ):
        answer = client.post(f"{API}/login/mfa", json=body, headers=APP)
        assert answer.status_code == 422, body
        assert error_of(answer)["code"] == "validation_error"
    sms = second_step(client, token, "sms", "123456")
    assert sms.status_code == 400
    assert error_of(sms)["code"] == "mfa_method_unavailable"
    assert error_of(sms)["methods"] == ["totp", "recovery_code"]
    assert second_step(client, token, "totp", code).status_code == 200


def test_an_unavailable_method_says_what_to_use_instead(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    with_authenticator(client, services, clock)
    token = login(client).json()["mfa_token"]
    refused = error_of(second_step(client, token, "sms", "123456"))
    assert refused["code"] == "mfa_method_unavailable"
    assert refused["remedy"].startswith("Verify another way instead")
    assert "authenticator app" in refused["remedy"]
    assert "recovery codes" in refused["remedy"]


def test_a_malformed_code_is_a_validation_error_that_spends_no_try(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    totp, codes = with_authenticator(client, services, clock)
    token = login(client).json()["mfa_token"]
    threshold = services.rules.lockout_threshold
    typos = [
        ("totp", "abcdef"),
        ("totp", "12345"),
        ("totp", "1234 5678"),
        ("totp", "      "),
        ("totp", codes[0]),  # a recovery code, typed where the app's code goes
        ("recovery_code", "123456"),
        ("recovery_code", "abcde-fghij-k"),
    ]
    for method, typo in typos * threshold:
        answer = second_step(client, token, method, typo)
        assert answer.status_code == 422, (method, typo)
        err = error_of(answer)
        assert err["code"] == "validation_error"
        assert [f["field"] for f in err["fields"]] == ["body.code"]
    too_long = second_step(client, token, "totp", "1" * 65)  # the schema's own bound
    assert error_of(too_long)["code"] == "validation_error"
    wrong = second_step(client, token, "totp", f"{(int(totp.at(clock.now())) + 1) % 10**6:06d}")
    assert error_of(wrong)["code"] == "invalid_mfa_code"
    assert error_of(wrong)["attempts_left"] == threshold - 1  # well-formed: it counts
    assert second_step(client, token, "totp", totp.at(clock.now())).status_code == 200


def test_a_clock_far_off_is_named_and_does_not_count_as_a_guess(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    totp, _ = with_authenticator(client, services, clock)
    token = login(client).json()["mfa_token"]
    ahead = second_step(client, token, "totp", totp.at(clock.now() + timedelta(minutes=5)))
    assert ahead.status_code == 401
    assert error_of(ahead)["code"] == "totp_clock_drift"
    assert error_of(ahead)["drift_seconds"] == 300
    assert second_step(client, token, "totp", totp.at(clock.now())).status_code == 200


def test_browser_sign_in_goes_through_the_second_step_page(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    from tests.web.pages.test_signin_page import HTML, csrf

    totp, _ = with_authenticator(client, services, clock)
    page = client.get("/login", headers=HTML)
    first = client.post(
        "/login",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": csrf(page.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login/mfa")
    assert "ag_session" not in first.headers["set-cookie"]
    step = client.get(first.headers["location"], headers=HTML)
    assert step.status_code == 200
    assert "Authenticator app" in step.text
    assert "Recovery code" in step.text
    mfa_token = client.cookies.get("__Host-ag_mfa")
    assert mfa_token
    assert mfa_token not in step.text  # the half-finished sign-in is not in the page
    done = client.post(
        "/login/mfa",
        data={"method": "totp", "code": totp.at(clock.now()), "csrf_token": csrf(step.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/account"
    assert "__Host-ag_session" in done.headers["set-cookie"]
    assert client.get("/account", headers=HTML).status_code == 200


def test_a_wrong_code_on_the_page_shows_the_catalogue_words_and_attempts(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    from tests.web.pages.test_signin_page import HTML, csrf

    with_authenticator(client, services, clock)
    page = client.get("/login", headers=HTML)
    client.post(
        "/login",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": csrf(page.text)},
        headers=HTML,
    )
    step = client.get("/login/mfa?method=recovery_code", headers=HTML)
    assert 'name="method" value="recovery_code"' in step.text
    wrong = client.post(
        "/login/mfa",
        data={"method": "recovery_code", "code": "abcde-fghjk", "csrf_token": csrf(step.text)},
        headers=HTML,
    )
    assert wrong.status_code == 401
    assert "/help/invalid_mfa_code" in wrong.text
    assert wrong.headers["x-request-id"] in wrong.text
    assert "4 attempts left" in wrong.text
    for _ in range(4):
        wrong = client.post(
            "/login/mfa",
            data={"method": "totp", "code": "000000", "csrf_token": csrf(wrong.text)},
            headers=HTML,
        )
    assert "<code>account_locked</code>" in wrong.text
    # The sign-in died with the lock, and its address with it: no one-click reset button
    # that would send an empty address (the forgot page, linked below, asks for it).
    assert '<form method="post" action="/forgot-password">' not in wrong.text


def with_phone(client: TestClient, services: Services) -> None:
    from tests.web.api.test_mfa_sms import enrol

    make_account(services)
    session = login(client).json()["session"]["token"]
    bearer = {**APP, "Authorization": f"Bearer {session}"}
    enrol(client, services, bearer)
    client.post(f"{API}/logout", headers=bearer)
    client.cookies.clear()


def test_sign_in_with_a_texted_code(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    from tests.web.api.test_mfa_sms import PHONE, last_code

    with_phone(client, services)
    first = login(client).json()
    assert first["methods"] == ["sms"]
    sent = client.post(f"{API}/login/mfa/sms", json={"mfa_token": first["mfa_token"]}, headers=APP)
    assert sent.status_code == 202, sent.text
    assert sent.json()["resend_after"] == services.rules.sms_resend_cooldown_seconds
    code = last_code(services, PHONE)
    assert code not in sent.text
    again = client.post(f"{API}/login/mfa/sms", json={"mfa_token": first["mfa_token"]}, headers=APP)
    assert again.status_code == 429
    assert error_of(again)["code"] == "sms_resend_too_soon"
    assert 0 < int(again.headers["retry-after"]) <= services.rules.sms_resend_cooldown_seconds
    done = second_step(client, first["mfa_token"], "sms", code)
    assert done.status_code == 200, done.text


def test_a_texted_code_is_said_to_last_no_longer_than_its_sign_in(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    with_phone(client, services)
    started = login(client).json()
    clock.advance(seconds=120)  # the customer took a while to choose the text
    sent = client.post(
        f"{API}/login/mfa/sms", json={"mfa_token": started["mfa_token"]}, headers=APP
    ).json()
    assert sent["expires_at"] == started["expires_at"]


def test_others_with_the_password_cannot_use_up_a_known_devices_texts(
    client_factory: Callable[..., TestClient], services_factory: Callable[..., Services]
) -> None:
    from tests.web.api.test_mfa_sms import PHONE, last_code

    services = services_factory(sms_daily_limit_per_account=1)
    client = client_factory(services)
    with_phone(client, services)  # signed in: counted apart from sign-ins
    owner = login(client).json()["mfa_token"]
    client.post(f"{API}/login/mfa/sms", json={"mfa_token": owner}, headers=APP)  # the one
    device = second_step(client, owner, "sms", last_code(services, PHONE)).json()["device_token"]
    client.cookies.clear()

    stranger = login(client).json()["mfa_token"]  # the password, from a new device
    refused = client.post(f"{API}/login/mfa/sms", json={"mfa_token": stranger}, headers=APP)
    assert error_of(refused)["code"] == "sms_limit_reached"

    body = {"email": "ada@example.com", "password": PASSWORD, "device_token": device}
    again = client.post(f"{API}/login", json=body, headers=APP).json()["mfa_token"]
    sent = client.post(f"{API}/login/mfa/sms", json={"mfa_token": again}, headers=APP)
    assert sent.status_code == 202, sent.text
    assert second_step(client, again, "sms", last_code(services, PHONE)).status_code == 200


def test_sign_ins_up_to_the_sms_cap_leave_a_signed_in_owner_the_texts_to_change_the_number(
    client_factory: Callable[..., TestClient], services_factory: Callable[..., Services]
) -> None:
    from tests.web.api.test_mfa_sms import NEW_PHONE, PHONE, enrol, last_code

    services = services_factory(sms_daily_limit_per_account=3)
    owner = client_factory(services)
    make_account(services)
    bearer = {**APP, "Authorization": f"Bearer {login(owner).json()['session']['token']}"}
    enrol(owner, services, bearer)  # one of the signed-in session's three

    other = client_factory(services)  # sign-ins from elsewhere, with the password
    for _ in range(3):
        token = login(other).json()["mfa_token"]
        sent = other.post(f"{API}/login/mfa/sms", json={"mfa_token": token}, headers=APP)
        assert sent.status_code == 202, sent.text
        # Used, so the next sign-in need not wait (Redis keeps that wait by its own clock).
        assert second_step(other, token, "sms", last_code(services, PHONE)).status_code == 200
        other.cookies.clear()
    token = login(other).json()["mfa_token"]
    refused = error_of(other.post(f"{API}/login/mfa/sms", json={"mfa_token": token}, headers=APP))
    assert refused["code"] == "sms_limit_reached"
    assert 0 < refused["retry_after"] <= 86400  # when to try again, and what else to do:
    assert "authenticator app" in refused["remedy"]
    assert "recovery code" in refused["remedy"]

    proof = owner.post(f"{API}/me/mfa/sms/code", headers=bearer)
    assert proof.status_code == 202, proof.text
    change = {"phone": NEW_PHONE, "password": PASSWORD, "code": last_code(services, PHONE)}
    started = owner.post(f"{API}/me/mfa/sms", json=change, headers=bearer)
    assert started.status_code == 202, started.text
    code = last_code(services, NEW_PHONE)
    done = owner.post(f"{API}/me/mfa/sms/confirm", json={"code": code}, headers=bearer)
    assert done.status_code == 204, done.text
    capped = owner.post(f"{API}/me/mfa/sms/code", headers=bearer)  # the session's fourth
    assert error_of(capped)["code"] == "sms_limit_reached"


def test_a_texted_code_belongs_to_its_own_sign_in(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    from tests.web.api.test_mfa_sms import PHONE, last_code

    with_phone(client, services)
    first = login(client).json()["mfa_token"]
    client.post(f"{API}/login/mfa/sms", json={"mfa_token": first}, headers=APP)
    code = last_code(services, PHONE)
    other = login(client).json()["mfa_token"]
    wrong = second_step(client, other, "sms", code)
    assert wrong.status_code == 401
    assert error_of(wrong)["code"] in {"invalid_mfa_code", "sms_code_expired"}
    assert second_step(client, first, "sms", code).status_code == 200


def test_no_text_is_sent_without_a_valid_half_finished_sign_in(
    client: TestClient, services: Services
) -> None:
    from tests.web.api.test_mfa_sms import PHONE

    with_phone(client, services)
    before = len(mailbox_texts(services, PHONE))
    for token in ("forged", "x" * 43):
        refused = client.post(f"{API}/login/mfa/sms", json={"mfa_token": token}, headers=APP)
        assert error_of(refused)["code"] == "mfa_token_invalid"
    assert len(mailbox_texts(services, PHONE)) == before


def mailbox_texts(services: Services, phone: str) -> list[dict[str, str]]:
    from tests.support import mailbox

    return [m for m in mailbox(services.engine, phone) if m["channel"] == "sms"]


def test_the_page_texts_a_code_and_shows_the_resend_countdown(
    client: TestClient, services: Services
) -> None:
    from tests.web.api.test_mfa_sms import PHONE, last_code
    from tests.web.pages.test_signin_page import HTML, csrf

    with_phone(client, services)
    page = client.get("/login", headers=HTML)
    client.post(
        "/login",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": csrf(page.text)},
        headers=HTML,
    )
    step = client.get("/login/mfa", headers=HTML)
    assert "Text me a code" in step.text
    sent = client.post("/login/mfa/sms", data={"csrf_token": csrf(step.text)}, headers=HTML)
    assert sent.status_code == 200
    assert "A code is on its way" in sent.text
    assert 'data-countdown="60"' in sent.text
    code = last_code(services, PHONE)
    assert code not in sent.text
    too_soon = client.post("/login/mfa/sms", data={"csrf_token": csrf(sent.text)}, headers=HTML)
    assert too_soon.status_code == 429
    assert "/help/sms_resend_too_soon" in too_soon.text
    done = client.post(
        "/login/mfa",
        data={"method": "sms", "code": code, "csrf_token": csrf(too_soon.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/account"


def test_an_app_secret_no_configured_key_opens_is_a_retryable_answer_and_codes_still_work(
    client: TestClient,
    services: Services,
    clock: SettableClock,
    client_factory: Callable[..., TestClient],
) -> None:
    """A restart without the key the secret was sealed under is the operator's to fix; the
    customer hears service_unavailable (never a 500) and can sign in with a recovery code."""
    totp, codes = with_authenticator(client, services, clock)
    rekeyed = client_factory(secret_keys=["another-signing-key-" + "z" * 32])
    token = login(rekeyed).json()["mfa_token"]
    refused = second_step(rekeyed, token, "totp", totp.at(clock.now()))
    assert refused.status_code == 503, refused.text
    assert error_of(refused)["code"] == "service_unavailable"
    signed_in = second_step(rekeyed, token, "recovery_code", codes[0])
    assert signed_in.status_code == 200, signed_in.text


def test_new_sign_ins_cannot_fire_texts_faster_than_the_cooldown(
    client: TestClient, services: Services
) -> None:
    """Each half-finished sign-in has its own code, and the password alone opens another: the
    cooldown holds across them, until the phone's holder uses a code."""
    from tests.web.api.test_mfa_sms import PHONE, last_code

    with_phone(client, services)

    def text_for_a_new_sign_in(body: dict[str, str] | None = None) -> tuple[str, httpx.Response]:
        sent = client.post(f"{API}/login", json=body, headers=APP) if body else login(client)
        token = sent.json()["mfa_token"]
        return token, client.post(f"{API}/login/mfa/sms", json={"mfa_token": token}, headers=APP)

    owner, first = text_for_a_new_sign_in()
    assert first.status_code == 202, first.text
    for _ in range(services.rules.sms_daily_limit_per_account + 1):
        _, flood = text_for_a_new_sign_in()
        assert flood.status_code == 429
        # Refused for waiting, which costs nothing: the day's texts are not used up.
        assert error_of(flood)["code"] == "sms_resend_too_soon"
        assert 0 < error_of(flood)["retry_after"] <= services.rules.sms_resend_cooldown_seconds
    finished = second_step(client, owner, "sms", last_code(services, PHONE))
    assert finished.status_code == 200, finished.text
    # The code was used: whoever holds the phone is there, and the next sign-in texts at once.
    _, next_one = text_for_a_new_sign_in()
    assert next_one.status_code == 202, next_one.text
    # A device that signed in before is not held by strangers' texts.
    known = {"email": "ada@example.com", "password": PASSWORD}
    known["device_token"] = finished.json()["device_token"]
    _, from_known = text_for_a_new_sign_in(known)
    assert from_known.status_code == 202, from_known.text


def test_history_shows_the_password_step_as_a_success_of_that_step(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    # The contract: `outcome` is `success` or an error code. "A second step is due" is
    # neither an error nor in the catalogue, so the step says what succeeded.
    totp, _ = with_authenticator(client, services, clock)
    token = login(client).json()["mfa_token"]
    session = second_step(client, token, "totp", totp.at(clock.now())).json()["session"]["token"]
    history = client.get(
        f"{API}/me/login-history", headers={**APP, "Authorization": f"Bearer {session}"}
    ).json()
    catalogue = {entry["code"] for entry in client.get(f"{API}/errors").json()}
    assert all(h["outcome"] == "success" or h["outcome"] in catalogue for h in history)
    assert [(h["outcome"], h["step"]) for h in history[:2]] == [
        ("success", "second_factor"),
        ("success", "password"),
    ]
