"""No password, session token, emailed token or second-factor secret ever reaches a log
line, and the stored records hold digests (or sealed seeds) only."""

from __future__ import annotations

import logging

import pyotp
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.storage.sql.tables import metadata, outbox
from tests.support import PASSWORD, SettableClock, inbox, make_account, token_from

NEW = "the replacement passphrase for ada"


def test_secrets_stay_out_of_logs_and_tables(
    client: TestClient, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    make_account(services)
    session = client.post(
        "/api/v1/login", json={"email": "ada@example.com", "password": PASSWORD}
    ).json()
    client.post("/api/v1/login", json={"email": "ada@example.com", "password": "wrong one x" * 2})
    client.post("/api/v1/password/forgot", json={"email": "ada@example.com"})
    reset_token = token_from(inbox(services, "ada@example.com")[-1]["body"], "/reset-password")
    client.post("/api/v1/password/reset", json={"token": reset_token, "new_password": NEW})
    secrets = [
        PASSWORD,
        NEW,
        session["session"]["token"],
        session["device_token"],
        reset_token,
        session["device_token"].rsplit(".", 1)[0],
    ]
    logged = "\n".join(record.getMessage() + str(record.args) for record in caplog.records)
    assert "request_id=" in logged
    for secret in secrets:
        assert secret not in logged
    with services.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "dev_mailbox":
                continue  # the development mailbox is the delivered email itself
            dump = str(conn.execute(sa.select(table)).all())
            for secret in secrets:
                assert secret not in dump, table.name


def test_second_factor_secrets_stay_out_of_logs_and_tables(
    client: TestClient, services: Services, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    make_account(services)
    first = client.post("/api/v1/login", json={"email": "ada@example.com", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {first.json()['session']['token']}"}
    secret = client.post("/api/v1/me/mfa/totp", headers=bearer).json()["secret"]
    codes = client.post(
        "/api/v1/me/mfa/totp/confirm",
        json={"code": pyotp.TOTP(secret).at(clock.now())},
        headers=bearer,
    ).json()["recovery_codes"]
    due = client.post("/api/v1/login", json={"email": "ada@example.com", "password": PASSWORD})
    mfa_token = due.json()["mfa_token"]
    done = client.post(
        "/api/v1/login/mfa",
        json={"mfa_token": mfa_token, "method": "recovery_code", "code": codes[0]},
    )
    assert done.status_code == 200, done.text
    secrets = [secret, mfa_token, done.json()["session"]["token"], *codes]
    secrets += [code.replace("-", "") for code in codes]
    logged = "\n".join(record.getMessage() + str(record.args) for record in caplog.records)
    for value in secrets:
        assert value not in logged
    with services.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "dev_mailbox":
                continue
            dump = str(conn.execute(sa.select(table)).all())
            for value in secrets:
                assert value not in dump, table.name


def test_a_queued_reset_link_is_sealed_at_rest_until_sent(
    client: TestClient, services: Services
) -> None:
    # Read before the sender runs, as during a mail-server outage: the table must not hold
    # a usable token, yet the mail that goes out carries it.
    make_account(services)
    services.dispatcher.run_once()  # the registration's follow-up
    client.post("/api/v1/password/forgot", json={"email": "ada@example.com"})
    services.dispatcher.run_once(limit=1)  # the request carried out: the mail is queued
    queued_mail = sa.select(outbox.c.payload).where(
        outbox.c.channel == "email", outbox.c.status == "queued"
    )
    with services.engine.connect() as conn:
        [queued] = conn.execute(queued_mail).scalars().all()
    assert set(queued) == {"sealed"}
    assert "reset-password" not in str(queued)
    token = token_from(inbox(services, "ada@example.com")[-1]["body"], "/reset-password")
    assert token not in str(queued)
