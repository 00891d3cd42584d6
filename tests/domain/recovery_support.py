"""Helpers for the recovery tests: accounts with second factors, staff sessions, cases.

Second factors are written as rows (the enrolment flows are tested elsewhere), so that the
tests can check that completion removes every kind of them.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.domain.model import Account, AuditEvent, ClientInfo
from accessguard.domain.tokens import digest
from accessguard.storage.sql.tables import (
    audit_events,
    mfa_challenges,
    recovery_codes,
    recovery_requests,
    sms_codes,
    sms_credentials,
    totp_burnt_steps,
    totp_credentials,
)
from tests.support import PASSWORD

API = "/api/v1"
OWNER = "ada@example.com"
STAFF = "sam@example.com"
FACTOR_TABLES = (
    totp_credentials,
    totp_burnt_steps,
    sms_credentials,
    sms_codes,
    recovery_codes,
    mfa_challenges,
)


def owner_with_factors(services: Services, email: str = OWNER, role: str = "customer") -> Account:
    """A verified account with an authenticator app, a phone, recovery codes, and a sign-in
    half-way through its second step."""
    account = services.accounts.register(
        email, PASSWORD, ClientInfo("127.0.0.9", "factory"), verified=True, role=role
    )
    assert account is not None
    now = services.clock.now()
    rows = [
        (totp_credentials, {"sealed_secret": "sealed", "confirmed_at": now, "created_at": now}),
        (totp_burnt_steps, {"step": 1, "burnt_at": now}),
        (sms_credentials, {"phone": "+15551234567", "confirmed_at": now, "created_at": now}),
        (
            sms_codes,
            {
                "owner": f"sign_in:{account.id}",
                "phone": "+15551234567",
                "code_digest": digest("123456"),
                "created_at": now,
                "expires_at": now + timedelta(minutes=5),
            },
        ),
        (
            recovery_codes,
            {"code_digest": digest("code-1"), "salt": "s", "created_at": now},
        ),
        (
            mfa_challenges,
            {
                "token_digest": digest(account.id),
                "subject": "email:x",
                "binding_digest": digest("binding"),
                "created_at": now,
                "expires_at": now + timedelta(minutes=5),
            },
        ),
    ]
    with services.engine.begin() as conn:
        for table, values in rows:
            conn.execute(table.insert().values(account_id=account.id, **values))
    return account


def factor_rows(services: Services, account_id: str) -> dict[str, int]:
    with services.engine.connect() as conn:
        return {
            table.name: conn.execute(
                sa.select(sa.func.count()).where(table.c.account_id == account_id)
            ).scalar_one()
            for table in FACTOR_TABLES
        }


def session_for(
    services: Services, account: Account, second_factor: str | None = "totp"
) -> dict[str, str]:
    """Bearer headers of a session started directly, as the two-step sign-in would."""
    with services.uow() as uow:
        token, _ = services.sessions.start(
            uow,
            account.id,
            ClientInfo("198.51.100.7", "staff browser"),
            services.clock.now(),
            second_factor=second_factor,
        )
    return {"Authorization": f"Bearer {token}"}


def staff(
    services: Services,
    email: str = STAFF,
    *,
    role: str = "support",
    second_factor: str | None = "totp",
) -> dict[str, str]:
    account = services.accounts.register(
        email, PASSWORD, ClientInfo("127.0.0.9", "factory"), verified=True, role=role
    )
    assert account is not None
    return session_for(services, account, second_factor)


def request_recovery(
    client: TestClient,
    email: str = OWNER,
    password: str = PASSWORD,
    details: str = "Phone stolen yesterday, no recovery codes.",
    **headers: str,
) -> str:
    answer = client.post(
        f"{API}/recovery/requests",
        json={"email": email, "password": password, "details": details},
        headers=headers,
    )
    assert answer.status_code == 202, answer.text
    reference = answer.json()["reference"]
    assert isinstance(reference, str)
    return reference


def case_id(services: Services, reference: str) -> str:
    with services.engine.connect() as conn:
        found = conn.execute(
            sa.select(recovery_requests.c.id).where(recovery_requests.c.reference == reference)
        ).scalar_one()
    return str(found)


def cases(services: Services) -> list[dict[str, object]]:
    with services.engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.select(recovery_requests)).mappings()]


def audit_kinds(services: Services, account_id: str) -> list[tuple[str, str]]:
    """(kind, outcome) of the account's recovery events, oldest first."""
    a = audit_events.c
    with services.engine.connect() as conn:
        rows = conn.execute(
            sa.select(a.kind, a.outcome)
            .where(a.account_id == account_id, a.kind.startswith("recovery_", autoescape=True))
            .order_by(a.id)
        )
        return [(row.kind, row.outcome) for row in rows]


def sign_in_seen(services: Services, account_id: str, ip: str, days_ago: int) -> None:
    """A successful sign-in in the audit trail, as the sign-in flow records it."""
    at = services.clock.now() - timedelta(days=days_ago)
    with services.uow() as uow:
        uow.audit.record(AuditEvent(at, "sign_in", "success", account_id, ip, "browser"))


def account(services: Services, account_id: str) -> Account:
    with services.uow(read_only=True) as uow:
        found = uow.accounts.get(account_id)
    assert found is not None
    return found
