"""/recover and /recover/cancel: the request form without JavaScript, a confirmation with the
reference, and a cancel link that opening (or a mail scanner) does not spend."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from httpx import Response

from accessguard.bootstrap import Services
from tests.domain.recovery_support import OWNER, cases, owner_with_factors, staff
from tests.support import PASSWORD, SettableClock, inbox, token_from
from tests.web.pages.test_signin_page import HTML, csrf


def submit(client: TestClient, page: str, action: str, **fields: str) -> Response:
    token = csrf(client.get(page, headers=HTML).text)
    response: Response = client.post(
        action, data={"csrf_token": token, **fields}, headers=HTML, follow_redirects=False
    )
    return response


def request_form(client: TestClient, **fields: str) -> Response:
    values = {"email": OWNER, "password": PASSWORD, "details": "Phone fell in the sea"}
    return submit(client, "/recover", "/recover", **{**values, **fields})


def decide(client: TestClient, services: Services, decision: str) -> int:
    """Support's decision on the one case, through the API."""
    case_id = cases(services)[0]["id"]
    return client.post(
        f"/api/v1/admin/recovery/requests/{case_id}/{decision}",
        json={"note": "checked"},
        headers=staff(services),
    ).status_code


def sent_page(client: TestClient, **fields: str) -> Response:
    """The request form sent, and the page it leads to."""
    answer = request_form(client, **fields)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/recover/sent"
    page: Response = client.get("/recover/sent", headers=HTML)
    return page


def assert_catalogue_error(page: str, code: str) -> None:
    assert f"<code>{code}</code>" in page
    assert f'href="/help/{code}"' in page


def test_the_form_works_without_javascript(client: TestClient) -> None:
    page = client.get("/recover", headers=HTML)
    assert page.status_code == 200
    for name in ("email", "password", "details", "csrf_token"):
        assert f'name="{name}"' in page.text
    assert 'action="/recover"' in page.text


def test_a_request_shows_its_reference_and_emails_the_owner(
    client: TestClient, services: Services
) -> None:
    owner_with_factors(services)
    answer = sent_page(client)
    assert answer.status_code == 200
    match = re.search(r"Your reference is <strong>(R-[A-Z0-9-]+)</strong>", answer.text)
    assert match
    [case] = cases(services)
    assert case["reference"] == match.group(1)
    [mail] = inbox(services, OWNER)
    assert "/recover/cancel?token=" in mail["body"]
    assert PASSWORD not in answer.text
    assert OWNER in answer.text
    # Reloading the answer shows it again, and sends nothing again.
    again = client.get("/recover/sent", headers=HTML)
    assert f"Your reference is <strong>{match.group(1)}</strong>" in again.text
    assert len(cases(services)) == 1
    assert len(inbox(services, OWNER)) == 1


def test_the_answer_page_opened_alone_leads_to_the_form(client: TestClient) -> None:
    page = client.get("/recover/sent", headers=HTML, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/recover"


def test_an_unknown_email_gets_the_same_confirmation(
    client: TestClient, services: Services
) -> None:
    answer = sent_page(client, email="nobody@example.com")
    assert answer.status_code == 200
    assert "Your reference is" in answer.text
    assert cases(services) == []


def test_control_characters_are_refused_next_to_the_field(
    client: TestClient, services: Services
) -> None:
    owner_with_factors(services)
    answer = request_form(client, details="lost \x1b[2J phone")
    assert answer.status_code == 422
    assert "Remove the invisible control characters from it" in answer.text
    assert_catalogue_error(answer.text, "validation_error")
    assert 'value="ada@example.com"' in answer.text  # what was typed stays, but the password
    assert PASSWORD not in answer.text
    assert cases(services) == []


def test_details_holding_the_password_are_sent_without_it_and_the_customer_is_told(
    client: TestClient, services: Services
) -> None:
    # Nothing to type again: the password is taken out, the rest goes to support.
    owner_with_factors(services)
    answer = sent_page(client, details=f"Phone lost. My password: {PASSWORD}")
    assert answer.status_code == 200
    assert "Request received" in answer.text
    assert "we replaced it with" in answer.text
    assert PASSWORD not in answer.text
    [case] = cases(services)
    assert case["details"] == "Phone lost. My password: [password removed]"


def test_a_refused_form_shows_the_details_back_without_the_password(
    client: TestClient, services: Services
) -> None:
    owner_with_factors(services)
    answer = request_form(client, email="not an address", details=f"Lost it. pw {PASSWORD}")
    assert answer.status_code == 422
    assert "Lost it. pw [password removed]</textarea>" in answer.text
    assert PASSWORD not in answer.text
    assert cases(services) == []


def test_a_form_from_another_site_is_refused(client: TestClient, services: Services) -> None:
    owner_with_factors(services)
    values = {"email": OWNER, "password": PASSWORD, "details": "x", "csrf_token": "forged"}
    answer = client.post("/recover", data=values, headers=HTML)
    assert answer.status_code == 403
    assert_catalogue_error(answer.text, "csrf_failed")
    assert cases(services) == []


def test_opening_the_cancel_link_shows_a_button_and_cancels_nothing(
    client: TestClient, services: Services
) -> None:
    owner_with_factors(services)
    request_form(client)
    token = token_from(inbox(services, OWNER)[-1]["body"], "/recover/cancel")
    for _ in range(2):  # a mail scanner first, then the owner
        page = client.get(f"/recover/cancel?token={token}", headers=HTML)
        assert page.status_code == 200
        assert "Cancel this request" in page.text
    assert cases(services)[0]["status"] == "open"

    done = submit(client, f"/recover/cancel?token={token}", "/recover/cancel", token=token)
    assert done.status_code == 200
    assert "Request cancelled" in done.text
    assert cases(services)[0]["status"] == "cancelled"

    # Sent again (back button, a second click) or opened again from the email: the owner is
    # told calmly that it is cancelled, not that the link failed.
    for again in (
        submit(client, "/recover", "/recover/cancel", token=token),
        client.get(f"/recover/cancel?token={token}", headers=HTML),
    ):
        assert again.status_code == 200
        assert "This request was cancelled at" in again.text
        assert "two-step verification stays on" in again.text
        assert "contact support" not in again.text
        assert "Cancel this request" not in again.text


def test_a_cancel_link_opened_after_support_turned_the_request_down_says_so(
    client: TestClient, services: Services
) -> None:
    owner_with_factors(services)
    request_form(client)
    token = token_from(inbox(services, OWNER)[-1]["body"], "/recover/cancel")
    assert decide(client, services, "reject") == 204
    page = client.get(f"/recover/cancel?token={token}", headers=HTML)
    assert page.status_code == 200
    assert "turned down by support" in page.text
    assert "Nothing was changed on your account" in page.text


def test_a_cancel_link_opened_after_the_request_was_carried_out_says_what_to_do(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    owner_with_factors(services)
    request_form(client)
    assert decide(client, services, "approve") == 204
    # The approval mails a link of its own; the request's first link is void from then on.
    token = token_from(inbox(services, OWNER)[-1]["body"], "/recover/cancel")
    clock.advance(seconds=services.rules.recovery_wait_seconds)
    assert services.recovery_completion.run_due() == 1
    page = client.get(f"/recover/cancel?token={token}", headers=HTML)
    assert page.status_code == 400
    assert_catalogue_error(page.text, "recovery_token_invalid")
    assert "two-step verification was removed from your account" in page.text
    assert "Cancel this request" not in page.text


def test_a_bad_cancel_link_says_so(client: TestClient) -> None:
    page = client.get("/recover/cancel?token=nonsense", headers=HTML)
    assert page.status_code == 400
    assert_catalogue_error(page.text, "recovery_token_invalid")
    assert "Cancel this request" not in page.text


def test_the_help_topic_explains_the_process_and_links_the_form(client: TestClient) -> None:
    page = client.get("/help/topics/account-recovery", headers=HTML)
    assert page.status_code == 200
    assert 'href="/recover"' in page.text
    assert "48 hours" in page.text


def test_the_cancel_link_is_never_sent_on_as_a_referrer(client: TestClient) -> None:
    page = client.get("/recover/cancel?token=abc", headers=HTML)
    assert page.headers["referrer-policy"] == "no-referrer"


def test_coming_from_the_second_step_the_address_is_filled_in(
    client: TestClient, client_factory: Callable[..., TestClient], services: Services
) -> None:
    owner_with_factors(services)
    token = csrf(client.get("/login", headers=HTML).text)
    form = {"email": OWNER, "password": PASSWORD, "csrf_token": token}
    started = client.post("/login", data=form, headers=HTML, follow_redirects=False)
    assert started.headers["location"].startswith("/login/mfa")
    assert f'value="{OWNER}"' in client.get("/recover", headers=HTML).text
    # The half-finished sign-in's cookie is bound to the client that began it.
    other = client_factory(services)
    other.cookies.update(client.cookies)
    page = other.get("/recover", headers={**HTML, "User-Agent": "another browser"})
    assert OWNER not in page.text
    assert 'name="email"' in page.text


def test_a_second_step_left_too_long_says_it_expired(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    """The browser keeps the half-finished sign-in's cookie longer than the sign-in lasts,
    so the page can say "took too long, start again" rather than "cannot be finished"."""
    owner_with_factors(services)
    token = csrf(client.get("/login", headers=HTML).text)
    form = {"email": OWNER, "password": PASSWORD, "csrf_token": token}
    started = client.post("/login", data=form, headers=HTML, follow_redirects=False)
    cookie = next(c for c in started.headers.get_list("set-cookie") if "ag_mfa" in c)
    max_age = int(re.search(r"Max-Age=(\d+)", cookie, re.I).group(1))  # type: ignore[union-attr]
    assert max_age > services.rules.mfa_token_seconds
    page = client.get("/login/mfa", headers=HTML)
    clock.advance(seconds=services.rules.mfa_token_seconds + 1)
    late = client.post(
        "/login/mfa",
        data={"method": "totp", "code": "123456", "csrf_token": csrf(page.text)},
        headers=HTML,
    )
    assert "<code>mfa_token_expired</code>" in late.text
