"""/admin/recovery: only support staff signed in with a second factor; cases with their
signals, customer text escaped, and decisions by form."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from accessguard.bootstrap import Services
from accessguard.domain.model import AuditEvent
from accessguard.domain.recovery_cases import NOTE_MAX
from tests.domain.recovery_support import (
    OWNER,
    STAFF,
    case_id,
    cases,
    owner_with_factors,
    request_recovery,
    session_for,
    staff,
)
from tests.support import inbox
from tests.web.pages.test_signin_page import HTML, csrf

PAGE = "/admin/recovery"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def opened(client: TestClient, services: Services) -> str:
    owner_with_factors(services)
    return case_id(services, request_recovery(client, details=f"Lost it\n{HOSTILE}"))


def decide(
    client: TestClient,
    headers: dict[str, str],
    ident: str,
    decision: str,
    note: str = "Called back on the number on file",
) -> Response:
    token = csrf(client.get("/recover", headers=HTML).text)  # any form: one cookie per browser
    response: Response = client.post(
        f"{PAGE}/{ident}/{decision}",
        data={"csrf_token": token, "note": note},
        headers={**HTML, **headers},
        follow_redirects=False,
    )
    return response


def refused(page: Response, status: int, code: str) -> None:
    assert page.status_code == status
    assert f"<code>{code}</code>" in page.text
    assert f'href="/help/{code}"' in page.text
    assert "Recovery requests" not in page.text


def test_others_get_the_catalogue_error_page(
    client: TestClient, services: Services, opened: str
) -> None:
    anonymous = client.get(PAGE, headers=HTML)
    refused(anonymous, 401, "not_authenticated")
    assert 'href="/login"' in anonymous.text
    customer = staff(services, "eve@example.com", role="customer")
    refused(client.get(PAGE, headers={**HTML, **customer}), 403, "forbidden")
    password_only = staff(services, "pat@example.com", second_factor=None)
    page = client.get(PAGE, headers={**HTML, **password_only})
    refused(page, 403, "mfa_session_required")
    # It says to sign out and in again with the second step: the way out is on the page,
    # where a link to /login would only lead back to the account.
    assert 'action="/logout"' in page.text
    assert csrf(page.text)
    answer = client.post(f"{PAGE}/{opened}/approve", data={"note": ""}, headers=HTML)
    refused(answer, 401, "not_authenticated")
    assert cases(services)[0]["status"] == "open"


def test_support_sees_cases_with_signals_and_escaped_text(
    client: TestClient, services: Services, opened: str
) -> None:
    owner = cases(services)[0]["account_id"]
    with services.uow() as uow:
        for kind in ("sms_code_sent", "phone_changed", "totp_enabled"):
            uow.audit.record(AuditEvent(services.clock.now(), kind, "success", str(owner)))
    page = client.get(PAGE, headers={**HTML, **staff(services)})
    for words in ("Phone number for SMS codes changed", "Authenticator app added"):
        assert words in page.text
    assert "SMS code sent" not in page.text  # sent, not changed: it crowded the changes out
    assert page.status_code == 200
    reference = str(cases(services)[0]["reference"])
    assert reference in page.text
    assert OWNER in page.text
    assert "New device" in page.text
    assert "No history to compare" in page.text
    assert HOSTILE not in page.text
    assert "&lt;script&gt;" in page.text
    assert f'action="{PAGE}/{opened}/approve"' in page.text


def test_approve_by_form_redirects_back_with_a_notice(
    client: TestClient, services: Services, opened: str
) -> None:
    headers = staff(services)
    answer = decide(client, headers, opened, "approve", note="Confirmed on a call")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{PAGE}?done=approved#case-{opened}"
    page = client.get(answer.headers["location"], headers={**HTML, **headers})
    assert "Approved. The customer was emailed" in page.text
    assert "Confirmed on a call" in page.text
    assert f"by {STAFF}: Confirmed on a call" in page.text  # who decided, by their address
    assert cases(services)[0]["status"] == "approved"
    assert "will be removed" in inbox(services, OWNER)[-1]["subject"]


def test_reject_twice_shows_the_closed_error_beside_the_case(
    client: TestClient, services: Services, opened: str
) -> None:
    headers = staff(services)
    assert decide(client, headers, opened, "reject").status_code == 303
    again = decide(client, headers, opened, "reject")
    assert again.status_code == 409
    assert "<code>recovery_case_closed</code>" in again.text
    assert cases(services)[0]["status"] == "rejected"


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_without_a_note_comes_back_with_the_message_beside_the_note(
    client: TestClient, services: Services, opened: str, decision: str
) -> None:
    page = decide(client, staff(services), opened, decision, note=" \r\n ")
    assert page.status_code == 422
    assert "<code>validation_error</code>" in page.text
    note = page.text.index(f'id="note-{opened}"')
    message = page.text.index(f'<p class="field-error" id="note-{opened}-error">Enter a note')
    assert note < message < page.text.index(">Approve</button>")  # beside it, in its form
    assert f'aria-describedby="note-{opened}-hint note-{opened}-error"' in page.text
    assert page.text.count('aria-invalid="true"') == 1
    assert cases(services)[0]["status"] == "open"
    assert len(inbox(services, OWNER)) == 1  # the request's own email, no decision's


def test_a_refused_note_comes_back_as_typed(
    client: TestClient, services: Services, opened: str
) -> None:
    typed = "Checked the passport <b>twice</b> " + "x" * NOTE_MAX
    page = decide(client, staff(services), opened, "approve", note=typed)
    assert page.status_code == 422
    assert f"This is too long: at most {NOTE_MAX} characters." in page.text
    assert "Checked the passport &lt;b&gt;twice&lt;/b&gt; xxx" in page.text
    assert cases(services)[0]["status"] == "open"


def test_own_case_offers_no_decision(client: TestClient, services: Services) -> None:
    own = owner_with_factors(services, "sam@example.com", role="support")
    ident = case_id(services, request_recovery(client, email="sam@example.com"))
    headers = session_for(services, own)
    page = client.get(PAGE, headers={**HTML, **headers})
    assert "your own account" in page.text
    assert f'action="{PAGE}/{ident}/approve"' not in page.text
    answer = decide(client, headers, ident, "approve")
    assert answer.status_code == 403
    assert "<code>forbidden</code>" in answer.text
    assert cases(services)[0]["status"] == "open"


def test_support_staff_find_the_desk_in_the_menu_and_customers_do_not(
    client: TestClient, services: Services
) -> None:
    desk = client.get("/account", headers={**HTML, **staff(services)})
    assert f'<a href="{PAGE}">Support desk</a>' in desk.text
    customer = staff(services, "eve@example.com", role="customer")
    assert PAGE not in client.get("/account", headers={**HTML, **customer}).text
