"""New recovery codes while an authenticator app is set up: they remove the app, so a session
that never proved the app (signed in by text message after a SIM swap, say) shows a current
code from it as well as the password."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.errors import (
    AccountLocked,
    InvalidMfaCode,
    MfaCodeReused,
    RecoveryCodesReplaced,
    TotpClockDrift,
    ValidationFailed,
)
from accessguard.domain.model import Account, Session
from accessguard.domain.new_recovery_codes import KIND
from accessguard.domain.sessions import Authenticated
from accessguard.storage.sql.tables import outbox
from tests.domain.test_mfa_totp import CLIENT, auth_for, code_at, not_a_code_of
from tests.support import PASSWORD, SettableClock, audited, make_account


@pytest.fixture
def account(services: Services) -> Account:
    return make_account(services)


@pytest.fixture
def secret(services: Services, account: Account, clock: SettableClock) -> str:
    """An app set up by session "s1", a minute ago (its confirming code is spent)."""
    auth = auth_for(account, clock.now())
    secret = services.totp.start_enrolment(auth, CLIENT).secret
    clock.advance(seconds=-60)
    services.totp.confirm(auth, code_at(secret, clock.now()), CLIENT)
    clock.advance(seconds=60)
    return secret


def session_of(account: Account, clock: SettableClock, second_factor: str | None) -> Authenticated:
    """Another session of the account, finished by `second_factor`."""
    now = clock.now()
    later = now + timedelta(hours=1)
    session = Session(
        "s2", account.id, now, now, later, "127.0.0.5", "pytest", second_factor=second_factor
    )
    return Authenticated(account, session)


def queued(services: Services, template: str) -> int:
    with services.engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.id).where(outbox.c.template == template))
        return len(rows.all())


def test_only_a_session_that_proved_the_app_makes_codes_without_it(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    need = services.totp.codes_need_the_app
    assert need(session_of(account, clock, "sms"))
    assert need(session_of(account, clock, None))  # signed in before the app was set up
    assert not need(session_of(account, clock, "totp"))
    assert not need(session_of(account, clock, "recovery_code"))
    assert not need(auth_for(account, clock.now()))  # the session that set the app up


def test_without_an_app_no_code_is_needed(
    services: Services, account: Account, clock: SettableClock
) -> None:
    auth = session_of(account, clock, "sms")
    assert not services.totp.codes_need_the_app(auth)
    pending = services.totp.start_enrolment(auth_for(account, clock.now()), CLIENT)
    assert pending.secret  # set up but not confirmed: no app yet
    assert not services.totp.codes_need_the_app(auth)


def test_a_session_signed_in_by_text_needs_the_apps_code_for_new_codes(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    # The SIM swap: the password and a texted code made this session. New codes on the
    # password alone would let it remove the app, and the owner with it.
    texted = session_of(account, clock, "sms")
    before = services.recovery_codes.current_set(account.id)

    with pytest.raises(ValidationFailed) as missing:
        services.new_recovery_codes.make(texted, PASSWORD, CLIENT)
    assert [field["field"] for field in missing.value.facts["fields"]] == ["code"]
    with pytest.raises(InvalidMfaCode) as wrong:
        services.new_recovery_codes.make(texted, PASSWORD, CLIENT, code="000000")
    assert wrong.value.facts["attempts_left"] == services.rules.lockout_threshold - 1
    assert services.recovery_codes.current_set(account.id) == before
    assert queued(services, "recovery_codes_regenerated") == 0

    codes = services.new_recovery_codes.make(
        texted, PASSWORD, CLIENT, code=code_at(secret, clock.now())
    )
    assert len(codes) == 10
    assert services.recovery_codes.current_set(account.id) != before
    with pytest.raises(MfaCodeReused):  # the app's code was spent on it
        services.new_recovery_codes.make(
            texted, PASSWORD, CLIENT, code=code_at(secret, clock.now())
        )


def test_wrong_app_codes_for_new_codes_count_toward_the_lockout(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    texted = session_of(account, clock, "sms")
    for _ in range(services.rules.lockout_threshold - 1):
        with pytest.raises(InvalidMfaCode):
            services.new_recovery_codes.make(texted, PASSWORD, CLIENT, code="000000")
    with pytest.raises(AccountLocked):
        services.new_recovery_codes.make(texted, PASSWORD, CLIENT, code="000000")
    with pytest.raises(AccountLocked):  # not even the right code while locked
        services.new_recovery_codes.make(
            texted, PASSWORD, CLIENT, code=code_at(secret, clock.now())
        )


def test_a_session_signed_in_with_the_app_needs_only_the_password(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    for method in ("totp", "recovery_code"):
        codes = services.new_recovery_codes.make(
            session_of(account, clock, method), PASSWORD, CLIENT
        )
        assert len(codes) == 10
    assert queued(services, "recovery_codes_regenerated") == 2


def test_a_reused_app_code_is_refused_as_reused_and_audited_but_not_counted(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    # Not a guess at an unknown secret (`lockout.NOT_A_GUESS`), on every owner-secret check:
    # the owner hears to wait for the next code, and the audit trail still has it.
    texted = session_of(account, clock, "sms")
    spent = code_at(secret, clock.now())
    services.new_recovery_codes.make(texted, PASSWORD, CLIENT, code=spent)
    before = services.recovery_codes.current_set(account.id)

    with pytest.raises(MfaCodeReused):
        services.new_recovery_codes.make(texted, PASSWORD, CLIENT, code=spent)

    assert audited(services.engine, account.id, KIND) == ["success", "mfa_code_reused"]
    assert services.recovery_codes.current_set(account.id) == before
    with pytest.raises(InvalidMfaCode) as wrong:
        services.new_recovery_codes.make(
            texted, PASSWORD, CLIENT, code=not_a_code_of(secret, clock.now())
        )
    assert wrong.value.facts["attempts_left"] == services.rules.lockout_threshold - 1


def test_a_form_sent_again_with_its_spent_code_never_locks_the_owner(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    texted = session_of(account, clock, "sms")
    spent = code_at(secret, clock.now())
    services.new_recovery_codes.make(texted, PASSWORD, CLIENT, code=spent)
    for _ in range(services.rules.lockout_threshold + 1):
        with pytest.raises(MfaCodeReused):
            services.new_recovery_codes.make(texted, PASSWORD, CLIENT, code=spent)
    drifted = code_at(secret, clock.now() + timedelta(minutes=5))
    with pytest.raises(TotpClockDrift):  # a phone's clock minutes off is no guess either
        services.new_recovery_codes.make(texted, PASSWORD, CLIENT, code=drifted)

    assert audited(services.engine, account.id, KIND)[-2:] == [
        "mfa_code_reused",
        "totp_clock_drift",
    ]
    clock.advance(seconds=30)
    codes = services.new_recovery_codes.make(
        texted, PASSWORD, CLIENT, code=code_at(secret, clock.now())
    )
    assert len(codes) == 10


def test_a_right_password_and_code_leave_earlier_failures_counted(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    # As for every owner-secret check (`Lockout.guard_owner_secret` resets nothing): a
    # session that has the password must not buy fresh guesses at the app's code with it.
    # Only a finished sign-in resets the email's counter.
    texted = session_of(account, clock, "sms")
    wrong = not_a_code_of(secret, clock.now())
    for _ in range(services.rules.lockout_threshold - 1):
        with pytest.raises(InvalidMfaCode):
            services.new_recovery_codes.make(texted, PASSWORD, CLIENT, code=wrong)

    codes = services.new_recovery_codes.make(
        texted, PASSWORD, CLIENT, code=code_at(secret, clock.now())
    )
    assert len(codes) == 10
    proved = session_of(account, clock, "totp")  # the password alone, for a session with the app
    assert len(services.new_recovery_codes.make(proved, PASSWORD, CLIENT)) == 10

    with pytest.raises(AccountLocked):  # the next failure is still the one that locks
        services.new_recovery_codes.make(proved, "surely not the password", CLIENT)


def test_a_form_whose_set_is_gone_hears_it_was_replaced_before_any_secret_is_checked(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    # The account page's form sent twice: its app code was spent by the first sending, and
    # the owner must hear that their new set was made, not that the code was used. The set's
    # name is on this session's own account page, so the answer tells a stolen session only
    # what it could read there; it checks no secret, so it counts and audits none.
    texted = session_of(account, clock, "sms")
    shown = services.recovery_codes.current_set(account.id)
    spent = code_at(secret, clock.now())
    services.new_recovery_codes.make(texted, PASSWORD, CLIENT, code=spent, replacing=shown)
    made = services.recovery_codes.current_set(account.id)

    for password, code in ((PASSWORD, spent), ("not the password", "000000"), (PASSWORD, None)):
        with pytest.raises(RecoveryCodesReplaced):
            services.new_recovery_codes.make(texted, password, CLIENT, code=code, replacing=shown)

    assert services.recovery_codes.current_set(account.id) == made
    assert audited(services.engine, account.id, KIND) == ["success"]
    with pytest.raises(InvalidMfaCode) as wrong:  # no failure was counted
        services.new_recovery_codes.make(
            texted, PASSWORD, CLIENT, code=not_a_code_of(secret, clock.now()), replacing=made
        )
    assert wrong.value.facts["attempts_left"] == services.rules.lockout_threshold - 1
