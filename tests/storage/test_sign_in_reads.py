"""Sign-in's first read: the account and its second factors in one statement, the same on
both backends as the two separate reads it replaces."""

from __future__ import annotations

from accessguard.bootstrap import Services
from accessguard.domain.emails import email_key
from accessguard.domain.model import SecondFactors
from tests.support import make_account


def read_both_ways(services: Services, key: str) -> tuple[object, object]:
    with services.uow(read_only=True) as uow:
        together = uow.accounts.by_email_key_with_factors(key)
        account = uow.accounts.by_email_key(key)
        apart = (account, uow.accounts.second_factors(account.id)) if account else None
    return together, apart


def test_the_account_with_its_factors_is_the_two_separate_reads(services: Services) -> None:
    account = make_account(services)
    key = email_key(account.email)
    together, apart = read_both_ways(services, key)
    assert together == apart == (account, SecondFactors())
    now = services.clock.now()
    issued = services.recovery_codes.issue()
    with services.uow() as uow:  # an app, a phone and a set of codes, stored directly
        uow.totp.put_pending(account.id, "sealed-secret", now)
        uow.totp.activate(account.id, "sealed-secret", 1, now)
        uow.sms.add_confirmed(account.id, "+447700900123", now)
        issued.store(uow, account.id, now)
    together, apart = read_both_ways(services, key)
    assert together == apart
    assert together == (account, SecondFactors(True, True, len(issued.codes)))


def test_an_unknown_email_finds_nothing(services: Services) -> None:
    make_account(services)
    assert read_both_ways(services, email_key("nobody@example.com")) == (None, None)


def test_another_accounts_factors_never_show(services: Services) -> None:
    with_app = make_account(services, "grace@example.com")
    plain = make_account(services)
    now = services.clock.now()
    with services.uow() as uow:
        uow.totp.put_pending(with_app.id, "sealed-secret", now)
        uow.totp.activate(with_app.id, "sealed-secret", 1, now)
    together, _ = read_both_ways(services, email_key(plain.email))
    assert together == (plain, SecondFactors())
