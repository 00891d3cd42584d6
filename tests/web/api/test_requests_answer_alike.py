"""Registration, forgot-password and resend-confirmation do the same work for a known and an
unknown address while the client waits: the same SQL statements, in the same order. What
differs (a new link, or a note to the owner) is carried out by the outbox worker afterwards."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.domain.deferred import Asked
from accessguard.domain.model import ClientInfo
from accessguard.storage.sql.tables import audit_events
from tests.support import SettableClock, inbox, make_account, token_from

# The same length, so that even the sealed payloads are the same size.
KNOWN, UNKNOWN, UNCONFIRMED = "ada@example.com", "bob@example.com", "cyd@example.com"


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def sql_of(client: TestClient, services: Services, path: str, email: str) -> list[str]:
    body = {"email": email, "password": "a long enough passphrase for all"}
    with statements(services.engine) as seen:
        assert client.post(path, json=body).status_code == 202
    return seen


@pytest.mark.parametrize(
    "path",
    ["/api/v1/accounts", "/api/v1/password/forgot", "/api/v1/accounts/verify-email/resend"],
)
def test_known_and_unknown_addresses_run_the_same_statements_before_the_answer(
    client: TestClient, services: Services, path: str
) -> None:
    make_account(services, KNOWN)
    make_account(services, UNCONFIRMED, verified=False)
    known = sql_of(client, services, path, KNOWN)
    unknown = sql_of(client, services, path, UNKNOWN)
    unconfirmed = sql_of(client, services, path, UNCONFIRMED)
    assert known == unknown == unconfirmed
    assert not any("FROM accounts" in statement for statement in known)  # nothing looked up


def test_the_worker_then_sends_the_link_or_the_note(client: TestClient, services: Services) -> None:
    make_account(services, KNOWN)
    client.post("/api/v1/password/forgot", json={"email": KNOWN})
    client.post("/api/v1/password/forgot", json={"email": UNKNOWN})
    [link] = inbox(services, KNOWN)
    assert token_from(link["body"], "/reset-password")
    [note] = inbox(services, UNKNOWN)
    assert "/reset-password?token=" not in note["body"]


def test_a_request_whose_handler_fails_is_carried_out_at_a_later_attempt(
    services: Services, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    make_account(services, KNOWN)
    services.dispatcher.run_once()  # the registration's own request
    failures = [RuntimeError("database went away")]

    def flaky(request: Asked) -> None:
        if failures:
            raise failures.pop()
        services.passwords.send_reset_link(request)

    services.dispatcher.carry_out("forgot_password", flaky)
    services.passwords.forgot(KNOWN, ClientInfo("203.0.113.7", "phone"))
    report = services.dispatcher.run_once()
    assert (report.sent, report.retried) == (0, 1)
    assert inbox(services, KNOWN) == []  # waiting out its back-off
    clock.advance(seconds=11)
    with caplog.at_level(logging.INFO, logger="accessguard.notify.outbox"):
        [link] = inbox(services, KNOWN)
    assert token_from(link["body"], "/reset-password")
    assert "(forgot_password) carried out at attempt 2" in caplog.text


def test_the_audit_row_keeps_who_asked_and_when(services: Services, clock: SettableClock) -> None:
    account = make_account(services, KNOWN)
    asked_at = clock.now()
    services.passwords.forgot(KNOWN, ClientInfo("203.0.113.7", "phone"))
    clock.advance(seconds=5)  # carried out a little later
    inbox(services, KNOWN)
    query = sa.select(audit_events).where(audit_events.c.kind == "password_reset_requested")
    with services.engine.connect() as conn:
        [event] = conn.execute(query).mappings().all()
    assert event["account_id"] == account.id
    assert (event["at"], event["ip"], event["user_agent"]) == (asked_at, "203.0.113.7", "phone")
