"""A password attempt's read before the hash: the account, its second factors and a lock in
one statement (with a device token, also the account's device and the device's own lock),
the same on both backends as the separate reads it replaces."""

from __future__ import annotations

import uuid
from datetime import timedelta

from accessguard.bootstrap import Services
from accessguard.domain.emails import email_key
from accessguard.domain.lockout import device_subject, email_subject
from accessguard.domain.model import Account, Device, LockState, SecondFactors
from tests.support import make_account


def read_both_ways(services: Services, key: str, subject: str) -> tuple[object, object]:
    with services.uow(read_only=True) as uow:
        together = uow.accounts.for_password_attempt(key, subject)
        account = uow.accounts.by_email_key(key)
        factors = uow.accounts.second_factors(account.id) if account else SecondFactors()
        apart = (account, factors, uow.lockouts.get(subject))
    return together, apart


def lock(services: Services, subject: str) -> LockState:
    until = services.clock.now() + timedelta(minutes=15)
    with services.uow() as uow:
        uow.lockouts.lock(subject, LockState(), until)
        return uow.lockouts.get(subject)


def test_the_account_with_its_factors_and_lock_is_the_separate_reads(services: Services) -> None:
    account = make_account(services)
    key = email_key(account.email)
    subject = email_subject(key)
    together, apart = read_both_ways(services, key, subject)
    assert together == apart == (account, SecondFactors(), LockState())
    now = services.clock.now()
    issued = services.recovery_codes.issue()
    with services.uow() as uow:  # an app, a phone and a set of codes, stored directly
        uow.totp.put_pending(account.id, "sealed-secret", now, session_id="a-session")
        uow.totp.activate(account.id, "sealed-secret", 1, now)
        uow.sms.add_confirmed(account.id, "+447700900123", now)
        issued.store(uow, account.id, now)
    locked = lock(services, subject)
    together, apart = read_both_ways(services, key, subject)
    assert together == apart
    assert together == (account, SecondFactors(True, True, len(issued.codes)), locked)
    assert locked.locked_until is not None


def test_an_unknown_email_finds_no_account_but_its_lock(services: Services) -> None:
    make_account(services)
    key = email_key("nobody@example.com")
    assert read_both_ways(services, key, email_subject(key)) == (
        (None, SecondFactors(), LockState()),
        (None, SecondFactors(), LockState()),
    )
    locked = lock(services, email_subject(key))
    together, apart = read_both_ways(services, key, email_subject(key))
    assert together == apart == (None, SecondFactors(), locked)


def test_another_accounts_factors_and_locks_never_show(services: Services) -> None:
    with_app = make_account(services, "grace@example.com")
    plain = make_account(services)
    now = services.clock.now()
    with services.uow() as uow:
        uow.totp.put_pending(with_app.id, "sealed-secret", now, session_id="a-session")
        uow.totp.activate(with_app.id, "sealed-secret", 1, now)
    lock(services, email_subject(with_app.email_key))
    key = email_key(plain.email)
    together, _ = read_both_ways(services, key, email_subject(key))
    assert together == (plain, SecondFactors(), LockState())


def read_with_device_both_ways(
    services: Services, key: str, token_digest: str
) -> tuple[object, object]:
    subject = email_subject(key)
    with services.uow(read_only=True) as uow:
        together = uow.accounts.for_password_attempt_from_device(key, subject, token_digest)
        account, factors, email_lock = uow.accounts.for_password_attempt(key, subject)
        device = uow.devices.by_token_digest(token_digest)
        if device is None or account is None or device.account_id != account.id:
            found = None
        else:
            found = (device, uow.lockouts.get(device_subject(device.id)))
        apart = (account, factors, email_lock, found)
    return together, apart


def add_device(services: Services, account: Account, token_digest: str) -> Device:
    now = services.clock.now()
    device = Device(str(uuid.uuid4()), account.id, now, now, now + timedelta(days=30))
    with services.uow() as uow:
        uow.devices.add(device, token_digest)
    return device


def test_a_device_token_adds_the_accounts_device_and_its_lock_as_the_separate_reads(
    services: Services,
) -> None:
    account = make_account(services)
    other = make_account(services, "grace@example.com")
    device = add_device(services, account, "d" * 64)
    add_device(services, other, "e" * 64)
    key = email_key(account.email)
    email_lock = lock(services, email_subject(key))
    together, apart = read_with_device_both_ways(services, key, "d" * 64)
    assert together == apart == (account, SecondFactors(), email_lock, (device, LockState()))
    device_lock = lock(services, device_subject(device.id))
    together, apart = read_with_device_both_ways(services, key, "d" * 64)
    assert together == apart == (account, SecondFactors(), email_lock, (device, device_lock))
    # Another account's device, an unknown token, or no account: no device.
    for email, token_digest in [
        (account.email, "e" * 64),
        (account.email, "f" * 64),
        ("nobody@example.com", "d" * 64),
    ]:
        together, apart = read_with_device_both_ways(services, email_key(email), token_digest)
        assert together == apart
        assert together[3] is None
