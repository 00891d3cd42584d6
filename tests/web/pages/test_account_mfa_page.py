"""Two-step verification on /account, through the real app on both backends: the authenticator
app set up and removed, a phone added, changed and removed, recovery codes made anew, the
catalogue's refusals beside the forms, and secrets only ever in the page that made them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from accessguard.bootstrap import Services
from accessguard.domain.errors import InvalidMfaCode
from accessguard.domain.model import Account
from accessguard.domain.recovery_codes import SIGN_IN
from accessguard.domain.sms_codes import masked
from tests.support import PASSWORD, SettableClock, mailbox, make_account
from tests.web.api.test_mfa_sms import last_code
from tests.web.pages.test_account_page import account_page, post, sign_in
from tests.web.pages.test_signin_page import HTML, csrf

PHONE = "+4915123456789"
NEW_PHONE = "+33612345678"
KEY = re.compile(r'<code class="mfa-secret" id="totp-key">([A-Z2-7 ]+)</code>')
CODES = re.compile(r"<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>")
ROUTES = (
    "/account/totp",
    "/account/totp/confirm",
    "/account/totp/remove",
    "/account/sms",
    "/account/sms/confirm",
    "/account/sms/current-code",
    "/account/sms/remove",
    "/account/recovery-codes",
)


@pytest.fixture
def account(services: Services) -> Account:
    return make_account(services)


@pytest.fixture
def browser(client: TestClient, account: Account) -> TestClient:
    assert sign_in(client).status_code == 303
    return client


@pytest.fixture
def seen(browser: TestClient) -> list[Response]:
    """Every answer the browser gets, for checks on all of them at the end."""
    answers: list[Response] = []
    browser.event_hooks["response"].append(lambda response: answers.append(response))
    return answers


def key_from(page: str) -> str:
    match = KEY.search(page)
    assert match, "no key on the set-up page"
    return match.group(1).replace(" ", "")


def code_at(secret: str, clock: SettableClock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now() + timedelta(seconds=30 * steps))


def wrong_code(secret: str, clock: SettableClock) -> str:
    """A code matching no step near now, so it cannot count as drift either."""
    near = {code_at(secret, clock, steps) for steps in range(-31, 32)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in near)


def section(page: str, start: str, end: str) -> str:
    """From `start` to the next `end` after it."""
    first = page.index(start)
    return page[first : page.index(end, first)]


def start_app_setup(browser: TestClient, **fields: str) -> Response:
    """Start an authenticator set-up with the form, and follow it to the page with the key."""
    answer = post(browser, "/account/totp", **fields)
    if answer.status_code != 303:
        return answer
    assert answer.headers["location"] == "/account/totp"
    return browser.get("/account/totp", headers=HTML, follow_redirects=False)


def set_up_app(browser: TestClient, clock: SettableClock) -> tuple[str, list[str]]:
    started = start_app_setup(browser)
    assert started.status_code == 200, started.text
    secret = key_from(started.text)
    confirmed = post(browser, "/account/totp/confirm", code=code_at(secret, clock))
    assert confirmed.status_code == 200, confirmed.text
    return secret, CODES.findall(confirmed.text)


def add_phone(browser: TestClient, services: Services) -> None:
    assert post(browser, "/account/sms", phone=PHONE).status_code == 200
    added = post(browser, "/account/sms/confirm", code=last_code(services, PHONE))
    assert added.headers["location"] == "/account?done=sms_added#sms"


# --------------------------------------------------------------------------- access


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    for route in ROUTES:
        response = client.post(route, data={"code": "123456"}, headers=HTML, follow_redirects=False)
        assert response.status_code == 303, route
        assert response.headers["location"] == "/login?next=/account"


def test_forms_without_their_csrf_token_are_refused(
    browser: TestClient, services: Services, account: Account
) -> None:
    account_page(browser)  # the CSRF cookie is set; only the form's token is missing
    fields = {"phone": PHONE, "password": PASSWORD, "code": "123456"}
    for route in ROUTES:
        response = browser.post(route, data=fields, headers=HTML, follow_redirects=False)
        assert response.status_code == 403, route
        assert "<code>csrf_failed</code>" in response.text
    assert not services.totp.enabled(account.id)
    assert not services.sms.enabled(account.id)


def test_a_set_up_address_opened_again_leads_back_to_the_overview(browser: TestClient) -> None:
    response = browser.get("/account/totp/confirm", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/account#two-step"


# --------------------------------------------------------------------------- authenticator app


def test_setting_up_the_app_shows_the_key_then_the_recovery_codes_once(
    browser: TestClient,
    clock: SettableClock,
    seen: list[Response],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    page = account_page(browser).text
    assert "Two-step verification: not set up yet" in page
    status = section(page, 'id="two-step-title"', 'id="totp"')
    assert "Off" in status
    assert "None yet: you get them when you turn on" in status  # not "0 left"
    assert "recovery codes." not in status  # no warning before there is a second factor

    started = start_app_setup(browser)
    assert started.status_code == 200
    assert started.headers["cache-control"] == "no-store"
    secret = key_from(started.text)
    assert len(secret) == 32
    assert re.search(r"<code[^>]*>([A-Z2-7]{4} ){7}[A-Z2-7]{4}</code>", started.text)
    qr = started.text[started.text.index("<svg") : started.text.index("</svg>")]
    assert "<title>QR code for your authenticator app</title>" in qr
    assert "style" not in qr
    assert "<script" not in qr
    assert f'href="otpauth://totp/accessguard:ada%40example.com?secret={secret}' in started.text
    assert 'autocomplete="one-time-code"' in started.text

    confirmed = post(browser, "/account/totp/confirm", code=code_at(secret, clock))
    assert confirmed.status_code == 200
    assert confirmed.headers["cache-control"] == "no-store"
    codes = CODES.findall(confirmed.text)
    assert len(set(codes)) == 10
    assert "only" in confirmed.text
    assert "time we show them" in confirmed.text
    assert 'href="/account#two-step"' in confirmed.text

    page = account_page(browser).text
    assert "Two-step verification: on, with" in page
    status = section(page, 'id="two-step-title"', 'id="totp"')
    assert '<span class="account-badge account-ok">On</span>' in status
    assert "10 recovery codes left" in status
    assert 'action="/account/totp/remove"' in page
    assert 'action="/account/totp"' not in page
    assert "codes-low" not in page
    answers = [*seen, account_page(browser)]
    for answer in answers:
        assert secret not in answer.headers.get("location", "")
        assert not any(code in answer.headers.get("location", "") for code in codes)
    later = [a.text for a in answers if a.request.url.path == "/account"]
    assert not any(secret in text or codes[0] in text for text in later)
    assert secret not in caplog.text
    assert not any(code in caplog.text for code in codes)


def test_the_last_wrong_first_code_says_it_was_the_last_then_the_pause_says_how_long(
    browser: TestClient, clock: SettableClock, services: Services
) -> None:
    secret = key_from(start_app_setup(browser).text)
    for _ in range(services.rules.lockout_threshold):
        refused = post(browser, "/account/totp/confirm", code=wrong_code(secret, clock))
    assert "That was the last attempt allowed for now." in refused.text
    assert "0 attempts" not in refused.text
    paused = post(browser, "/account/totp/confirm", code=code_at(secret, clock))
    assert "<code>too_many_requests</code>" in paused.text
    assert "data-countdown=" in paused.text


def test_the_page_of_codes_reloaded_says_the_app_is_set_up_and_shows_no_codes(
    browser: TestClient, clock: SettableClock
) -> None:
    secret = key_from(start_app_setup(browser).text)
    code = code_at(secret, clock)
    confirmed = post(browser, "/account/totp/confirm", code=code)
    codes = CODES.findall(confirmed.text)
    reloaded = post(browser, "/account/totp/confirm", code=code)  # the browser sends it again
    assert reloaded.status_code == 303
    page = browser.get(reloaded.headers["location"], headers=HTML).text
    assert "Your authenticator app is set up. Recovery codes are shown only once" in page
    assert "<code>not_found</code>" not in page
    assert not any(one in page for one in codes)


def test_a_wrong_first_code_shows_the_attempts_left_and_keeps_the_same_key(
    browser: TestClient, clock: SettableClock, services: Services, account: Account
) -> None:
    secret = key_from(start_app_setup(browser).text)
    refused = post(browser, "/account/totp/confirm", code=wrong_code(secret, clock))
    assert refused.status_code == 401
    assert "The verification code is not correct." in refused.text
    assert "<code>invalid_mfa_code</code>" in refused.text
    assert 'href="/help/invalid_mfa_code"' in refused.text
    assert f"{services.rules.lockout_threshold - 1} attempts left" in refused.text
    assert 'aria-describedby="form-error"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    # No new key was made: the same one is shown again, for an app that has not scanned it.
    assert key_from(refused.text) == secret
    assert "<svg" in refused.text
    assert not services.totp.enabled(account.id)

    empty = post(browser, "/account/totp/confirm", code="")
    assert empty.status_code == 422
    assert "<code>validation_error</code>" in empty.text

    confirmed = post(browser, "/account/totp/confirm", code=code_at(secret, clock))
    assert confirmed.status_code == 200
    assert len(CODES.findall(confirmed.text)) == 10
    assert services.totp.enabled(account.id)


def test_recovery_codes_running_low_are_warned_about(
    browser: TestClient, clock: SettableClock, services: Services, account: Account
) -> None:
    _, codes = set_up_app(browser, clock)
    for code in codes[:6]:
        services.recovery_codes.use(account.id, code, used_for=SIGN_IN)
    assert "codes-low" not in account_page(browser).text

    services.recovery_codes.use(account.id, codes[6], used_for=SIGN_IN)
    page = account_page(browser).text
    assert "3 recovery codes left" in page
    assert "Only 3 recovery codes left." in page
    assert 'href="#recovery"' in page

    for code in codes[7:]:
        services.recovery_codes.use(account.id, code, used_for=SIGN_IN)
    page = account_page(browser).text
    assert "0 recovery codes left" in page
    assert "You have no recovery codes." in page


def test_removing_the_app_needs_the_password_and_a_current_code(
    browser: TestClient, clock: SettableClock, services: Services, account: Account
) -> None:
    secret, _ = set_up_app(browser, clock)
    clock.advance(seconds=30)
    refused = post(
        browser,
        "/account/totp/remove",
        password="not my password at all",
        code=code_at(secret, clock),
    )
    assert refused.status_code == 401
    remove_form = section(refused.text, 'action="/account/totp/remove"', "</form>")
    assert "<code>invalid_credentials</code>" in remove_form
    assert re.search(r'id="totp-remove-password"[^>]*aria-invalid="true"', remove_form)
    assert "Change password" in refused.text  # the rest of the page is there
    assert "invalid_credentials" not in section(refused.text, 'id="password-title"', "</form>")

    wrong = post(browser, "/account/totp/remove", password=PASSWORD, code=wrong_code(secret, clock))
    assert wrong.status_code == 401
    assert "<code>invalid_mfa_code</code>" in wrong.text
    assert "attempts left" in wrong.text
    assert re.search(r'id="totp-remove-code"[^>]*aria-invalid="true"', wrong.text)

    removed = post(browser, "/account/totp/remove", password=PASSWORD, code=code_at(secret, clock))
    assert removed.status_code == 303
    assert removed.headers["location"] == "/account?done=totp_removed#totp"
    page = browser.get(removed.headers["location"], headers=HTML).text
    assert "The authenticator app is removed." in page
    assert "Withdrawals are on hold" in page
    assert "Two-step verification: not set up yet" in page
    assert not services.totp.enabled(account.id)


def test_a_lost_app_is_removed_with_a_recovery_code_typed_as_printed(
    browser: TestClient, clock: SettableClock, services: Services, account: Account
) -> None:
    _, codes = set_up_app(browser, clock)
    page = browser.get("/account", headers=HTML).text
    field = re.search(r'<input id="totp-remove-code"[^>]*>', page)
    assert field
    assert 'maxlength="20"' in field.group(0)  # "xxxxx-xxxxx" fits; a 6-digit box would cut it
    assert 'inputmode="numeric"' not in field.group(0)
    assert "or a recovery code" in page
    removed = post(browser, "/account/totp/remove", password=PASSWORD, code=codes[0])
    assert removed.status_code == 303
    assert not services.totp.enabled(account.id)


# --------------------------------------------------------------------------- phone (SMS)


def test_adding_changing_and_removing_a_phone_number(
    browser: TestClient, clock: SettableClock, services: Services, account: Account
) -> None:
    page = account_page(browser).text
    assert re.search(r'id="sms-phone" name="phone" required type="tel" autocomplete="tel"', page)

    started = post(browser, "/account/sms", phone="+49 151 2345-6789")
    assert started.status_code == 200, started.text
    assert started.headers["cache-control"] == "no-store"
    # In full, as typed: a typo shows at once. Only the international form is added.
    assert f'<span class="mfa-phone">{PHONE}</span>' in started.text
    assert f'data-countdown="{services.rules.sms_resend_cooldown_seconds}"' in started.text
    code = last_code(services, PHONE)
    assert code not in started.text

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = post(browser, "/account/sms/confirm", code=wrong, phone="+49 151 2345-6789")
    assert refused.status_code == 401
    assert "The verification code is not correct." in refused.text
    assert "4 attempts left" in refused.text
    assert PHONE in refused.text

    added = post(browser, "/account/sms/confirm", code=code, phone="+49 151 2345-6789")
    assert added.status_code == 303
    assert added.headers["location"] == "/account?done=sms_added#sms"
    page = browser.get(added.headers["location"], headers=HTML).text
    assert "Your phone number is added." in page
    assert masked(PHONE) in page
    assert PHONE not in page
    assert "6789" not in page
    assert "Two-step verification: on, with" in page
    assert "text messages" in page

    # Without an app, the current number proves itself with a code of its own.
    asked = post(browser, "/account/sms/current-code")
    assert asked.headers["location"] == "/account?done=sms_code#sms"
    page = browser.get(asked.headers["location"], headers=HTML).text
    assert "A code is on its way to your current number." in page
    assert re.search(r'<details class="mfa-details" id="sms-change" open>', page)
    too_soon = post(browser, "/account/sms/current-code")
    assert too_soon.status_code == 429
    assert "<code>sms_resend_too_soon</code>" in too_soon.text
    assert "data-countdown" in too_soon.text

    changing = post(
        browser,
        "/account/sms",
        phone=NEW_PHONE,
        password=PASSWORD,
        code=last_code(services, PHONE),
    )
    assert changing.status_code == 200, changing.text
    assert f'<span class="mfa-phone">{NEW_PHONE}</span>' in changing.text
    assert "start the change again" in changing.text
    changed = post(
        browser, "/account/sms/confirm", code=last_code(services, NEW_PHONE), phone=NEW_PHONE
    )
    assert changed.headers["location"] == "/account?done=sms_changed#sms"
    page = browser.get(changed.headers["location"], headers=HTML).text
    assert "Your phone number is changed." in page
    assert masked(NEW_PHONE) in page
    assert "Withdrawals are on hold" in page

    clock.advance(seconds=services.rules.sms_resend_cooldown_seconds)
    post(browser, "/account/sms/current-code")
    refused = post(browser, "/account/sms/remove", password=PASSWORD, code="")
    assert refused.status_code == 422
    assert re.search(r'id="sms-remove-code"[^>]*aria-invalid="true"', refused.text)
    assert services.sms.enabled(account.id)
    removed = post(
        browser, "/account/sms/remove", password=PASSWORD, code=last_code(services, NEW_PHONE)
    )
    assert removed.headers["location"] == "/account?done=sms_removed#sms"
    page = browser.get(removed.headers["location"], headers=HTML).text
    assert "Your phone number is removed." in page
    assert not services.sms.enabled(account.id)
    # The hold it set explains itself in words that fit a removed phone, not only a reset.
    start = page.index('class="notice account-hold"')
    hold = " ".join(page[start : page.index("</div>", start)].split())
    assert "a second step removed or changed" in hold
    assert "old password" not in hold


def test_an_invalid_number_is_named_beside_the_field_and_kept(browser: TestClient) -> None:
    refused = post(browser, "/account/sms", phone="+1 800 FLOWERS")
    assert refused.status_code == 422
    add_form = section(refused.text, 'action="/account/sms"', "</form>")
    assert "<code>phone_number_invalid</code>" in add_form
    assert 'value="+1 800 FLOWERS"' in add_form
    assert re.search(
        r'id="sms-phone"[^>]*aria-describedby="sms-phone-hint sms-phone-error', add_form
    )
    assert 'id="sms-phone-error"' in add_form


def test_a_number_in_a_country_not_served_says_to_use_an_app_instead(
    client_factory: Callable[..., TestClient], services_factory: Callable[..., Services]
) -> None:
    services = services_factory(sms_countries="DE,AT,CH")
    browser = client_factory(services)
    make_account(services)
    assert sign_in(browser).status_code == 303
    refused = post(browser, "/account/sms", phone="+33 6 12 34 56 78")
    assert refused.status_code == 422
    add_form = " ".join(section(refused.text, 'action="/account/sms"', "</form>").split())
    assert "does not send texts to; set up an authenticator app instead" in add_form
    assert 'value="+33 6 12 34 56 78"' in add_form
    assert mailbox(services.engine, "+33612345678") == []


def test_a_resend_too_soon_stays_on_the_code_page(
    browser: TestClient, services: Services, clock: SettableClock
) -> None:
    post(browser, "/account/sms", phone=PHONE)
    again = post(browser, "/account/sms", phone=PHONE, resend="1")
    assert again.status_code == 429
    assert "<code>sms_resend_too_soon</code>" in again.text
    assert 'action="/account/sms/confirm"' in again.text
    clock.advance(seconds=services.rules.sms_resend_cooldown_seconds)
    resent = post(browser, "/account/sms", phone=PHONE, resend="1")
    assert resent.status_code == 200
    added = post(browser, "/account/sms/confirm", code=last_code(services, PHONE), phone=PHONE)
    assert added.headers["location"] == "/account?done=sms_added#sms"


def test_with_the_app_a_number_changes_with_the_apps_code(
    browser: TestClient, clock: SettableClock, services: Services, account: Account
) -> None:
    secret, _ = set_up_app(browser, clock)
    add_phone(browser, services)
    page = account_page(browser).text
    assert 'action="/account/sms/current-code"' not in page
    assert "Code from your authenticator app" in section(page, 'id="sms-change"', "</details>")

    clock.advance(seconds=30)
    changing = post(
        browser, "/account/sms", phone=NEW_PHONE, password=PASSWORD, code=code_at(secret, clock)
    )
    assert changing.status_code == 200, changing.text
    post(browser, "/account/sms/confirm", code=last_code(services, NEW_PHONE), phone=NEW_PHONE)
    assert masked(NEW_PHONE) in account_page(browser).text


def test_empty_fields_of_the_change_form_are_refused_as_missing_ones(
    browser: TestClient, services: Services
) -> None:
    add_phone(browser, services)

    def field_errors(**fields: str) -> dict[str, str]:
        refused = post(browser, "/account/sms", phone=NEW_PHONE, **fields)
        assert refused.status_code == 422
        form = section(refused.text, 'id="sms-change"', "</details>")
        assert "<code>validation_error</code>" in form
        shown = re.findall(r'<p class="field-error" id="sms-change-(\w+)-error">([^<]*)</p>', form)
        return dict(shown)

    assert field_errors(password="", code="") == {
        "password": "Enter your password: it is needed while a number is active.",
        "code": "Enter the code: it is needed while a number is active.",
    }
    for blank in ("", "   "):
        assert field_errors(password=PASSWORD, code=blank) == {
            "code": "Enter the code: it is needed while a number is active."
        }
    assert mailbox(services.engine, NEW_PHONE) == []


# --------------------------------------------------------------------------- recovery codes


def test_the_form_sent_twice_makes_one_set_and_keeps_the_codes_it_showed(
    browser: TestClient, clock: SettableClock, services: Services, account: Account
) -> None:
    set_up_app(browser, clock)
    form = section(account_page(browser).text, 'action="/account/recovery-codes"', "</form>")
    match = re.search(r'name="replacing" value="([0-9a-f]{16})"', form)
    assert match, form
    made = post(browser, "/account/recovery-codes", password=PASSWORD, replacing=match[1])
    shown = CODES.findall(made.text)
    assert len(shown) == 10

    again = post(browser, "/account/recovery-codes", password=PASSWORD, replacing=match[1])
    assert again.status_code == 409
    recovery_form = section(again.text, 'action="/account/recovery-codes"', "</form>")
    assert "<code>recovery_codes_replaced</code>" in recovery_form
    assert not any(code in again.text for code in shown)
    # The codes shown still work.
    services.recovery_codes.use(account.id, shown[0], used_for=SIGN_IN)


def test_a_refused_recovery_codes_form_shows_its_error_once_beside_itself(
    browser: TestClient, clock: SettableClock
) -> None:
    set_up_app(browser, clock)
    refused = post(browser, "/account/recovery-codes", password="not the password at all")
    assert refused.status_code == 401
    assert refused.text.count('id="form-error"') == 1
    assert 'id="recovery-request"' not in refused.text  # not in the lost-device card
    recovery_form = section(refused.text, 'action="/account/recovery-codes"', "</form>")
    assert "invalid_credentials" in recovery_form


def test_making_new_recovery_codes_voids_the_old_ones(
    browser: TestClient, clock: SettableClock, services: Services, account: Account
) -> None:
    _, old = set_up_app(browser, clock)
    services.recovery_codes.use(account.id, old[0], used_for=SIGN_IN)
    assert "9 recovery codes left" in account_page(browser).text

    refused = post(browser, "/account/recovery-codes", password="not my password at all")
    assert refused.status_code == 401
    recovery_form = section(refused.text, 'action="/account/recovery-codes"', "</form>")
    assert "<code>invalid_credentials</code>" in recovery_form

    made = post(browser, "/account/recovery-codes", password=PASSWORD)
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    assert "location" not in made.headers
    assert "The old ones no longer work." in made.text
    new = CODES.findall(made.text)
    assert len(new) == 10
    assert not set(new) & set(old)
    assert "10 recovery codes left" in account_page(browser).text
    with pytest.raises(InvalidMfaCode):
        services.recovery_codes.use(account.id, old[1], used_for=SIGN_IN)


def sign_in_by_text(browser: TestClient, services: Services) -> None:
    """Sign out, then in again with the password and a code texted to the phone."""
    assert post(browser, "/logout").status_code == 303
    assert sign_in(browser).headers["location"].startswith("/login/mfa")
    step = browser.get("/login/mfa?method=sms", headers=HTML)
    sent = browser.post("/login/mfa/sms", data={"csrf_token": csrf(step.text)}, headers=HTML)
    assert sent.status_code == 200, sent.text
    fields = {"method": "sms", "code": last_code(services, PHONE), "csrf_token": csrf(sent.text)}
    done = browser.post("/login/mfa", data=fields, headers=HTML, follow_redirects=False)
    assert done.headers["location"] == "/account", done.text


def test_signed_in_by_text_the_form_asks_for_the_apps_code_too(
    browser: TestClient, clock: SettableClock, services: Services, account: Account
) -> None:
    # The SIM swap: the password and the number must not make codes that remove the app.
    secret, _ = set_up_app(browser, clock)
    add_phone(browser, services)
    form = section(account_page(browser).text, 'action="/account/recovery-codes"', "</form>")
    assert 'name="code"' not in form  # this session set the app up
    sign_in_by_text(browser, services)
    form = section(account_page(browser).text, 'action="/account/recovery-codes"', "</form>")
    assert '<label for="recovery-code">Code from your authenticator app</label>' in form

    refused = post(browser, "/account/recovery-codes", password=PASSWORD)
    assert refused.status_code == 422
    recovery_form = section(refused.text, 'action="/account/recovery-codes"', "</form>")
    assert 'id="recovery-code-error"' in recovery_form
    assert not CODES.findall(refused.text)

    clock.advance(seconds=30)
    made = post(browser, "/account/recovery-codes", password=PASSWORD, code=code_at(secret, clock))
    assert made.status_code == 200, made.text
    assert len(CODES.findall(made.text)) == 10


def test_signed_in_by_text_the_form_sent_twice_says_the_new_set_was_already_made(
    browser: TestClient, clock: SettableClock, services: Services, account: Account
) -> None:
    # The second sending carries the app code the first one spent: the owner must hear that
    # their codes were made, not that the code was used.
    secret, _ = set_up_app(browser, clock)
    add_phone(browser, services)
    sign_in_by_text(browser, services)
    clock.advance(seconds=30)  # past the step that confirmed the app
    form = section(account_page(browser).text, 'action="/account/recovery-codes"', "</form>")
    replacing = re.search(r'name="replacing" value="([0-9a-f]{16})"', form)
    assert replacing, form
    fields = {"password": PASSWORD, "code": code_at(secret, clock), "replacing": replacing[1]}
    made = post(browser, "/account/recovery-codes", **fields)
    assert made.status_code == 200, made.text
    shown = CODES.findall(made.text)
    assert len(shown) == 10

    again = post(browser, "/account/recovery-codes", **fields)
    assert again.status_code == 409
    recovery_form = section(again.text, 'action="/account/recovery-codes"', "</form>")
    assert "<code>recovery_codes_replaced</code>" in recovery_form
    assert not any(code in again.text for code in shown)
    services.recovery_codes.use(account.id, shown[0], used_for=SIGN_IN)  # they still work


def test_signed_in_by_text_an_empty_code_field_is_refused_as_a_missing_one(
    browser: TestClient, clock: SettableClock, services: Services
) -> None:
    set_up_app(browser, clock)
    add_phone(browser, services)
    sign_in_by_text(browser, services)

    def field_error(**code: str) -> str:
        refused = post(browser, "/account/recovery-codes", password=PASSWORD, **code)
        assert refused.status_code == 422
        form = section(refused.text, 'action="/account/recovery-codes"', "</form>")
        assert "<code>validation_error</code>" in form
        return section(form, 'id="recovery-code-error"', "</p>")

    missing = field_error()
    assert "it is needed while an authenticator app is set up" in missing
    for blank in ("", "   "):
        assert field_error(code=blank) == missing


def test_recovery_codes_need_a_second_factor_first(browser: TestClient) -> None:
    page = account_page(browser).text
    assert 'action="/account/recovery-codes"' not in page
    refused = post(browser, "/account/recovery-codes", password=PASSWORD)
    assert refused.status_code == 409
    assert "<code>second_factor_required</code>" in refused.text


def test_every_form_is_labelled_and_carries_its_token(
    browser: TestClient, clock: SettableClock, services: Services
) -> None:
    set_up_app(browser, clock)
    add_phone(browser, services)
    page = account_page(browser).text
    forms = re.findall(r"<form .*?</form>", page, re.DOTALL)
    assert len(forms) >= 6
    for form in forms:
        assert 'name="csrf_token"' in form
        for input_id in re.findall(r'<input id="([^"]+)"', form):
            assert f'<label for="{input_id}">' in form, input_id
    assert page.count("<h1") == 1
    assert 'autocomplete="current-password"' in page
    assert 'autocomplete="one-time-code"' in page
    assert 'autocomplete="tel"' in page


def test_a_while_after_signing_in_setting_up_asks_for_the_password_again(
    browser: TestClient, services: Services, clock: SettableClock
) -> None:
    assert 'id="totp-start-password"' not in account_page(browser).text
    clock.advance(seconds=services.rules.reauth_seconds + 1)
    page = account_page(browser).text
    assert 'id="totp-start-password"' in page
    assert 'id="sms-add-password"' in page
    refused = post(browser, "/account/totp")
    assert refused.status_code == 403
    assert "/help/reauthentication_required" in refused.text
    started = start_app_setup(browser, password=PASSWORD)
    assert started.status_code == 200
    assert "Set up your authenticator app" in started.text


def test_reloading_the_key_page_shows_the_same_key(
    browser: TestClient, clock: SettableClock, services: Services, account: Account
) -> None:
    # A reload must not make a new key: the one just scanned would stop working.
    secret = key_from(start_app_setup(browser).text)
    again = browser.get("/account/totp", headers=HTML, follow_redirects=False)
    assert again.status_code == 200
    assert again.headers["cache-control"] == "no-store"
    assert key_from(again.text) == secret
    confirmed = post(browser, "/account/totp/confirm", code=code_at(secret, clock))
    assert confirmed.status_code == 200
    assert services.totp.enabled(account.id)
    # Confirmed: nothing pending is shown any more.
    after = browser.get("/account/totp", headers=HTML, follow_redirects=False)
    assert after.headers["location"] == "/account#two-step"


def test_another_session_of_the_account_never_sees_a_pending_key(
    browser: TestClient, client_factory: Callable[..., TestClient], services: Services
) -> None:
    # A stolen session must not read the key its owner is about to confirm.
    secret = key_from(start_app_setup(browser).text)
    other = client_factory(services)
    sign_in(other)
    seen_there = other.get("/account/totp", headers=HTML, follow_redirects=False)
    assert seen_there.status_code == 303
    assert secret not in seen_there.text
    assert secret not in other.get("/account", headers=HTML).text
