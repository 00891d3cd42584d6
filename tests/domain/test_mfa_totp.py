"""Authenticator apps: the ±1 step window, drift, replay (also in parallel), enrolment, removal."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.errors import (
    AccessError,
    InvalidCredentials,
    InvalidMfaCode,
    MfaCodeReused,
    NotFound,
    TotpClockDrift,
)
from accessguard.domain.model import Account, ClientInfo, Session
from accessguard.domain.sessions import Authenticated
from accessguard.storage.crypto import AesGcmBox
from accessguard.storage.sql.tables import accounts, outbox, totp_credentials
from tests.support import PASSWORD, SettableClock, make_account

CLIENT = ClientInfo("127.0.0.5", "pytest")


def auth_for(account: Account, now: datetime) -> Authenticated:
    session = Session("s1", account.id, now, now, now + timedelta(hours=1), "127.0.0.5", "pytest")
    return Authenticated(account, session)


def code_at(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


@pytest.fixture
def account(services: Services) -> Account:
    return make_account(services)


@pytest.fixture
def secret(services: Services, account: Account, clock: SettableClock) -> str:
    """An active credential; its confirming code was of a step well in the past."""
    auth = auth_for(account, clock.now())
    enrolment = services.totp.start_enrolment(auth)
    clock.advance(seconds=-1200)
    services.totp.confirm(auth, code_at(enrolment.secret, clock.now()), CLIENT)
    clock.advance(seconds=1200)
    return enrolment.secret


def verify(services: Services, account: Account, code: str) -> None:
    services.totp.verify(account.id, code, attempts_left=3)


@pytest.mark.parametrize("offset", [-30, 0, 30])
def test_codes_within_one_step_are_accepted(
    services: Services, account: Account, secret: str, clock: SettableClock, offset: int
) -> None:
    verify(services, account, code_at(secret, clock.now() + timedelta(seconds=offset)))


@pytest.mark.parametrize("offset", [120, -300, 840, -900])
def test_a_code_minutes_away_is_clock_drift_and_never_counts(
    services: Services, account: Account, secret: str, clock: SettableClock, offset: int
) -> None:
    code = code_at(secret, clock.now() + timedelta(seconds=offset))
    with pytest.raises(TotpClockDrift) as drift:
        verify(services, account, code)
    assert drift.value.facts["drift_seconds"] == offset  # positive: the device is ahead
    # Not then, and not when the server's time reaches the code's step either.
    clock.advance(seconds=max(offset, 0))
    with pytest.raises(MfaCodeReused):
        verify(services, account, code)


def test_drift_is_measured_in_whole_steps(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    clock.current = clock.current.replace(second=10)  # 10 s into a step
    code = code_at(secret, clock.now() + timedelta(seconds=125))  # 4 steps ahead
    with pytest.raises(TotpClockDrift) as drift:
        verify(services, account, code)
    assert drift.value.facts["drift_seconds"] == 120


def test_beyond_fifteen_minutes_is_simply_wrong(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    for offset in (16 * 60, -16 * 60):
        with pytest.raises(InvalidMfaCode) as wrong:
            verify(services, account, code_at(secret, clock.now() + timedelta(seconds=offset)))
        assert wrong.value.facts["attempts_left"] == 3


def test_an_accepted_code_and_every_earlier_step_are_refused(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    code = code_at(secret, clock.now())
    verify(services, account, code)
    with pytest.raises(MfaCodeReused):
        verify(services, account, code)
    with pytest.raises(MfaCodeReused):
        verify(services, account, code_at(secret, clock.now() - timedelta(seconds=30)))
    clock.advance(seconds=30)
    verify(services, account, code_at(secret, clock.now()))


def test_parallel_requests_with_one_code_let_exactly_one_through(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    code = code_at(secret, clock.now())
    barrier = threading.Barrier(16)
    outcomes: list[object] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        try:
            verify(services, account, code)
            result: object = "ok"
        except AccessError as error:
            result = type(error)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count(MfaCodeReused) == 15, outcomes


def test_enrolment_is_not_active_before_a_first_right_code(
    services: Services, account: Account, clock: SettableClock
) -> None:
    auth = auth_for(account, clock.now())
    enrolment = services.totp.start_enrolment(auth)
    assert enrolment.otpauth_uri.startswith("otpauth://totp/accessguard:")
    assert f"secret={enrolment.secret}" in enrolment.otpauth_uri
    assert not services.totp.enabled(account.id)
    with pytest.raises(NotFound):
        verify(services, account, code_at(enrolment.secret, clock.now()))
    with pytest.raises(InvalidMfaCode):
        services.totp.confirm(auth, "12345", CLIENT)
    assert not services.totp.enabled(account.id)
    code = code_at(enrolment.secret, clock.now())
    services.totp.confirm(auth, code, CLIENT)
    assert services.totp.enabled(account.id)
    with pytest.raises(MfaCodeReused):  # the confirming code is spent
        verify(services, account, code)
    assert "totp_enabled" in queued_templates(services)


def test_the_secret_is_sealed_at_rest(services: Services, account: Account, secret: str) -> None:
    with services.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(totp_credentials)).mappings()]
    assert len(rows) == 1
    assert secret not in repr(rows)
    assert rows[0]["sealed_secret"].startswith("v1.")


def test_sealed_secrets_survive_key_rotation() -> None:
    old = AesGcmBox([b"old-key"])
    sealed = old.seal("JBSWY3DPEHPK3PXP")
    assert AesGcmBox([b"old-key", b"new-key"]).open(sealed) == "JBSWY3DPEHPK3PXP"
    assert old.seal("x") != old.seal("x")  # a fresh nonce each time
    with pytest.raises(ValueError, match="no configured key"):
        AesGcmBox([b"other"]).open(sealed)


def queued_templates(services: Services) -> list[str]:
    with services.engine.connect() as conn:
        return list(conn.execute(sa.select(outbox.c.template)).scalars())


def test_removal_needs_the_password_and_a_current_code(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    auth = auth_for(account, clock.now())
    with pytest.raises(InvalidCredentials):
        services.totp.remove(auth, "wrong password, surely", code_at(secret, clock.now()), CLIENT)
    with pytest.raises(InvalidMfaCode) as wrong:
        services.totp.remove(auth, PASSWORD, "12345", CLIENT)
    assert wrong.value.facts["attempts_left"] == services.rules.lockout_threshold - 2
    assert services.totp.enabled(account.id)

    services.totp.remove(auth, PASSWORD, code_at(secret, clock.now()), CLIENT)

    assert not services.totp.enabled(account.id)
    with services.engine.connect() as conn:
        hold = conn.execute(
            sa.select(accounts.c.security_hold_until).where(accounts.c.id == account.id)
        ).scalar_one()
    assert hold == clock.now() + timedelta(seconds=services.rules.security_hold_seconds)
    assert "totp_removed" in queued_templates(services)
    with pytest.raises(NotFound):
        services.totp.remove(auth, PASSWORD, code_at(secret, clock.now()), CLIENT)
