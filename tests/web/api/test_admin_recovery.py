"""/admin/recovery/requests: who may review, what a reviewer sees, and what a decision does
after the waiting period (and never, once the owner cancelled)."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.domain.model import AuditEvent, ClientInfo
from tests.domain.recovery_support import (
    API,
    OWNER,
    STAFF,
    account,
    audit_kinds,
    case_id,
    cases,
    factor_rows,
    owner_with_factors,
    request_recovery,
    session_for,
    sign_in_seen,
    staff,
)
from tests.support import PASSWORD, SettableClock, inbox, mailbox, token_from

CASES = f"{API}/admin/recovery/requests"
WAIT_HOURS = 48


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def decide(
    client: TestClient,
    headers: dict[str, str],
    ident: str,
    decision: str,
    note: str = "Called back on the number on file",
) -> httpx.Response:
    response: httpx.Response = client.post(
        f"{CASES}/{ident}/{decision}", json={"note": note}, headers=headers
    )
    return response


@pytest.fixture
def opened(client: TestClient, services: Services) -> str:
    """The id of an open case of the owner, who has every kind of second factor."""
    owner_with_factors(services)
    return case_id(services, request_recovery(client))


def test_not_signed_in_is_not_authenticated(client: TestClient, opened: str) -> None:
    assert error_code(client.get(CASES)) == "not_authenticated"
    assert error_code(decide(client, {}, opened, "approve")) == "not_authenticated"


def test_a_customer_is_forbidden(client: TestClient, services: Services, opened: str) -> None:
    headers = staff(services, "eve@example.com", role="customer")
    listing = client.get(CASES, headers=headers)
    assert (listing.status_code, error_code(listing)) == (403, "forbidden")
    assert error_code(decide(client, headers, opened, "approve")) == "forbidden"


def test_support_without_a_second_factor_session_is_refused(
    client: TestClient, services: Services, opened: str
) -> None:
    headers = staff(services, second_factor=None)
    listing = client.get(CASES, headers=headers)
    assert (listing.status_code, error_code(listing)) == (403, "mfa_session_required")
    assert error_code(decide(client, headers, opened, "approve")) == "mfa_session_required"
    assert cases(services)[0]["status"] == "open"


def test_support_may_not_decide_a_case_on_their_own_account(
    client: TestClient, services: Services
) -> None:
    own = owner_with_factors(services, STAFF, role="support")
    ident = case_id(services, request_recovery(client, email=STAFF))
    headers = session_for(services, own)
    for decision in ("approve", "reject"):
        answer = decide(client, headers, ident, decision)
        assert (answer.status_code, error_code(answer)) == (403, "forbidden")
    assert cases(services)[0]["status"] == "open"


def test_the_list_shows_each_case_with_its_signals(
    client: TestClient, services: Services, clock: SettableClock
) -> None:
    owner = owner_with_factors(services)
    sign_in_seen(services, owner.id, "81.2.69.160", days_ago=30)  # GB
    sign_in_seen(services, owner.id, "8.8.8.8", days_ago=2)  # US
    with services.uow() as uow:
        event = AuditEvent(clock.now(), "totp_removed", "success", owner.id, "8.8.4.4", "x")
        uow.audit.record(event)
        # A new number is what a SIM swap needs: support must see it beside the request.
        moved = AuditEvent(clock.now(), "phone_changed", "success", owner.id, "8.8.4.4", "x")
        uow.audit.record(moved)
        refused = AuditEvent(clock.now(), "password_change", "invalid_credentials", owner.id)
        uow.audit.record(refused)
    earlier = request_recovery(client)
    cancel_token = token_from(inbox(services, OWNER)[-1]["body"], "/recover/cancel")
    assert (
        client.post(f"{API}/recovery/requests/cancel", json={"token": cancel_token}).status_code
        == 204
    )
    clock.advance(hours=1)
    reference = request_recovery(client, details="<script>alert(1)</script> stolen")

    listing = client.get(CASES, headers=staff(services))
    assert listing.status_code == 200
    assert listing.headers["cache-control"] == "no-store"
    newest, older = listing.json()
    assert (newest["reference"], older["reference"]) == (reference, earlier)
    assert newest["status"] == "open"
    assert (newest["decided_by"], newest["decided_by_email"]) == (None, None)
    assert newest["email"] == OWNER
    assert newest["details"] == "<script>alert(1)</script> stolen"  # stored as text
    signals = newest["signals"]
    assert signals["known_device"] is False
    assert signals["country"] is None
    assert signals["usual_country"] is None  # nothing to compare an unknown country with
    assert signals["usual_countries"] == ["GB", "US"]
    assert signals["last_sign_in"]["ip"] == "8.8.8.8"
    assert signals["last_sign_in"]["country"] == "US"
    assert [c["kind"] for c in signals["recent_security_changes"]] == [
        "phone_changed",  # newest first
        "totp_removed",
    ]
    assert [(c["reference"], c["status"]) for c in signals["earlier_cases"]] == [
        (earlier, "cancelled")
    ]
    only_open = client.get(
        CASES, params={"status": "open"}, headers=staff(services, "kim@example.com")
    )
    assert [c["reference"] for c in only_open.json()] == [reference]


def test_usual_country_compares_the_request_with_earlier_sign_ins(
    client: TestClient, services: Services
) -> None:
    owner = owner_with_factors(services)
    sign_in_seen(services, owner.id, "81.2.69.160", days_ago=10)  # GB
    services.recovery.open(OWNER, PASSWORD, "lost", None, ClientInfo("8.8.8.8", "ua"))
    [case] = client.get(CASES, headers=staff(services)).json()
    assert case["signals"]["country"] == "US"
    assert case["signals"]["usual_country"] is False


def test_approve_completes_only_after_the_waiting_period(
    client: TestClient, services: Services, clock: SettableClock, opened: str
) -> None:
    [account_id] = [str(c["account_id"]) for c in cases(services)]
    answer = decide(client, staff(services), opened, "approve", note="ID checked by phone")
    assert answer.status_code == 204, answer.text

    [case] = cases(services)
    assert case["status"] == "approved"
    assert case["note"] == "ID checked by phone"
    assert case["effective_at"] == clock.now() + timedelta(hours=WAIT_HOURS)
    approved_mail = inbox(services, OWNER)[-1]  # at once, not when it takes effect
    assert "will be removed" in approved_mail["subject"]
    assert "/recover/cancel?token=" in approved_mail["body"]
    assert "4 March 2036 at 09:30 UTC" in approved_mail["body"]

    clock.advance(minutes=WAIT_HOURS * 60 - 30)
    assert services.recovery_completion.run_due() == 0
    assert all(factor_rows(services, account_id).values())
    owner_session = session_for(services, account(services, account_id))
    assert client.get(f"{API}/me", headers=owner_session).status_code == 200

    clock.advance(minutes=30)
    assert services.recovery_completion.run_due() == 1
    assert services.recovery_completion.run_due() == 0  # idempotent
    assert set(factor_rows(services, account_id).values()) == {0}
    assert error_code(client.get(f"{API}/me", headers=owner_session)) == "session_expired"
    hold = timedelta(seconds=services.rules.security_hold_seconds)
    assert account(services, account_id).security_hold_until == clock.now() + hold
    [case] = cases(services)
    assert case["status"] == "completed"
    assert "was removed" in inbox(services, OWNER)[-1]["subject"]
    assert audit_kinds(services, account_id) == [
        ("recovery_requested", "success"),
        ("recovery_approved", "success"),
        ("recovery_completed", "success"),
    ]


def test_owner_cancel_during_the_wait_means_it_never_completes(
    client: TestClient, services: Services, clock: SettableClock, opened: str
) -> None:
    assert decide(client, staff(services), opened, "approve").status_code == 204
    token = token_from(inbox(services, OWNER)[-1]["body"], "/recover/cancel")
    clock.advance(hours=47)
    assert client.post(f"{API}/recovery/requests/cancel", json={"token": token}).status_code == 204
    clock.advance(hours=48)
    assert services.recovery_completion.run_due() == 0
    [case] = cases(services)
    assert case["status"] == "cancelled"
    assert all(factor_rows(services, str(case["account_id"])).values())


def test_the_first_emails_link_still_cancels_after_approval(
    client: TestClient, services: Services, opened: str
) -> None:
    first = token_from(inbox(services, OWNER)[0]["body"], "/recover/cancel")
    assert decide(client, staff(services), opened, "approve").status_code == 204
    assert client.post(f"{API}/recovery/requests/cancel", json={"token": first}).status_code == 204


def test_no_cancel_once_the_wait_is_over(
    client: TestClient, services: Services, clock: SettableClock, opened: str
) -> None:
    assert decide(client, staff(services), opened, "approve").status_code == 204
    token = token_from(inbox(services, OWNER)[-1]["body"], "/recover/cancel")
    clock.advance(hours=WAIT_HOURS)
    answer = client.post(f"{API}/recovery/requests/cancel", json={"token": token})
    assert (answer.status_code, error_code(answer)) == (400, "recovery_token_invalid")
    assert services.recovery_completion.run_due() == 1


def test_reject_closes_the_case_and_tells_the_owner(
    client: TestClient, services: Services, clock: SettableClock, opened: str
) -> None:
    headers = staff(services)
    assert (
        decide(client, headers, opened, "reject", note="Caller could not confirm").status_code
        == 204
    )
    [case] = cases(services)
    assert (case["status"], case["note"]) == ("rejected", "Caller could not confirm")
    assert "not approved" in inbox(services, OWNER)[-1]["subject"]
    [listed] = client.get(CASES, headers=headers).json()
    # Who decided, by the address colleagues know them by, beside the account id.
    assert listed["decided_by"] == case["decided_by"] is not None
    assert listed["decided_by_email"] == STAFF
    answer = decide(client, headers, opened, "approve")
    assert (answer.status_code, error_code(answer)) == (409, "recovery_case_closed")
    clock.advance(hours=WAIT_HOURS * 2)
    assert services.recovery_completion.run_due() == 0
    assert all(factor_rows(services, str(case["account_id"])).values())


def test_unknown_case_is_not_found(client: TestClient, services: Services) -> None:
    answer = decide(client, staff(services), "no-such-case", "approve")
    assert (answer.status_code, error_code(answer)) == (404, "not_found")


def test_hostile_note_is_a_validation_error(
    client: TestClient, services: Services, opened: str
) -> None:
    for note in ("x" * 5000, "bell \x07", "\u202eevil"):
        answer = decide(
            client, staff(services, f"s{len(note)}@example.com"), opened, "approve", note=note
        )
        assert (answer.status_code, error_code(answer)) == (422, "validation_error")
    assert cases(services)[0]["status"] == "open"


@pytest.mark.parametrize("decision", ["approve", "reject"])
@pytest.mark.parametrize("body", [{"note": ""}, {"note": " \n\t "}, {}])
def test_a_decision_without_a_note_is_refused_and_changes_nothing(
    client: TestClient, services: Services, opened: str, decision: str, body: dict[str, str]
) -> None:
    # Approval removes the owner's second factors later: the case must say what support checked.
    answer = client.post(f"{CASES}/{opened}/{decision}", json=body, headers=staff(services))
    assert (answer.status_code, error_code(answer)) == (422, "validation_error")
    assert [f["field"] for f in answer.json()["error"]["fields"]] == ["body.note"]
    [case] = cases(services)
    assert (case["status"], case["note"], case["decided_by"]) == ("open", None, None)
    assert len(inbox(services, OWNER)) == 1  # the request's own email, no decision's
    assert audit_kinds(services, str(case["account_id"])) == [("recovery_requested", "success")]


def test_parallel_completion_runs_complete_once(
    client: TestClient, services: Services, clock: SettableClock, opened: str
) -> None:
    assert decide(client, staff(services), opened, "approve").status_code == 204
    clock.advance(hours=WAIT_HOURS)
    workers = 8
    barrier = threading.Barrier(workers)
    done: list[int] = []
    failures: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            done.append(services.recovery_completion.run_due())
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sum(done) == 1
    account_id = str(cases(services)[0]["account_id"])
    assert audit_kinds(services, account_id).count(("recovery_completed", "success")) == 1
    assert len([m for m in inbox(services, OWNER) if "was removed" in m["subject"]]) == 1


def test_the_service_s_periodic_pass_completes_due_cases_and_sends_the_email(
    client: TestClient, services: Services, clock: SettableClock, opened: str
) -> None:
    from accessguard.web.app import _WithHousekeeping

    assert decide(client, staff(services), opened, "approve").status_code == 204
    clock.advance(hours=WAIT_HOURS)
    _WithHousekeeping(services).run_once()
    assert cases(services)[0]["status"] == "completed"
    assert "was removed" in mailbox(services.engine, OWNER)[-1]["subject"]  # same pass
