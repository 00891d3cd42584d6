"""Authenticator apps: the ±1 step window, drift, replay (also in parallel), enrolment with its
guessing limit and recovery codes, removal, and the sign-in factor."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.errors import (
    AccessError,
    AccountLocked,
    InvalidCredentials,
    InvalidMfaCode,
    MfaCodeReused,
    ReauthenticationRequired,
    RecoveryCodeUsed,
    TooManyRequests,
    TotpClockDrift,
    TotpNotSetUp,
    ValidationFailed,
)
from accessguard.domain.lockout import email_subject
from accessguard.domain.mfa_totp import time_step
from accessguard.domain.model import Account, ClientInfo, Session
from accessguard.domain.recovery_codes import SIGN_IN
from accessguard.domain.sessions import Authenticated
from accessguard.storage.crypto import AesGcmBox
from accessguard.storage.sql.outbox import SqlOutbox
from accessguard.storage.sql.tables import (
    accounts,
    outbox,
    recovery_codes,
    sms_credentials,
    totp_burnt_steps,
    totp_credentials,
)
from tests.storage.test_concurrency import race
from tests.support import PASSWORD, SettableClock, audited, make_account

CLIENT = ClientInfo("127.0.0.5", "pytest")


def auth_for(account: Account, now: datetime) -> Authenticated:
    session = Session("s1", account.id, now, now, now + timedelta(hours=1), "127.0.0.5", "pytest")
    return Authenticated(account, session)


def code_at(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


@pytest.fixture
def account(services: Services) -> Account:
    return make_account(services)


def _no_repeated_codes(secret: str, now: datetime) -> bool:
    """Whether no 6-digit code repeats within the steps these tests use (the confirming one
    40 steps back, the drift search 30 either side). About one secret in 10,000 has such a
    repeat, and then a code meant for one step is rightly read as the nearer one."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    codes = [totp.generate_otp(current + offset) for offset in range(-45, 46)]
    return len(set(codes)) == len(codes)


@pytest.fixture
def secret(services: Services, account: Account, clock: SettableClock) -> str:
    """An active credential; its confirming code was of a step well in the past."""
    auth = auth_for(account, clock.now())
    enrolment = services.totp.start_enrolment(auth, CLIENT)
    while not _no_repeated_codes(enrolment.secret, clock.now()):
        enrolment = services.totp.start_enrolment(auth, CLIENT)
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


def test_a_code_typed_in_arabic_indic_digits_is_the_same_code(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    # It used to be a 500: str.isdigit() let the digits through to compare_digest.
    code = code_at(secret, clock.now()).translate({48 + d: 0x0660 + d for d in range(10)})
    verify(services, account, code)


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


def test_a_slow_clock_soon_after_a_sign_in_is_told_its_drift_not_reuse(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    verify(services, account, code_at(secret, clock.now()))  # the last code used: this step
    behind = code_at(secret, clock.now() - timedelta(seconds=240))
    with pytest.raises(TotpClockDrift) as drift:
        verify(services, account, behind)
    assert drift.value.facts["drift_seconds"] == -240
    # Within the window it is still the same code used twice.
    with pytest.raises(MfaCodeReused):
        verify(services, account, code_at(secret, clock.now()))


@pytest.mark.parametrize("minutes", [1, 4, 14])
def test_a_code_used_minutes_ago_is_reused_not_clock_drift(
    services: Services, account: Account, secret: str, clock: SettableClock, minutes: int
) -> None:
    # A form sent again, or a replay: the clock is fine, and telling the customer to fix it
    # would send them after a fault they do not have.
    used = code_at(secret, clock.now())
    verify(services, account, used)
    clock.advance(seconds=60 * minutes)
    with pytest.raises(MfaCodeReused):
        verify(services, account, used)
    verify(services, account, code_at(secret, clock.now()))  # the next code still works


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


def not_a_code_of(secret: str, now: datetime) -> str:
    """Six digits that no step within an hour either side of `now` shows."""
    near = {code_at(secret, now + timedelta(seconds=30 * step)) for step in range(-120, 121)}
    return next(code for code in (f"{n:06d}" for n in range(10**6)) if code not in near)


def test_enrolment_is_not_active_before_a_first_right_code(
    services: Services, account: Account, clock: SettableClock
) -> None:
    auth = auth_for(account, clock.now())
    enrolment = services.totp.start_enrolment(auth, CLIENT)
    assert enrolment.otpauth_uri.startswith("otpauth://totp/accessguard:")
    assert f"secret={enrolment.secret}" in enrolment.otpauth_uri
    assert not services.totp.enabled(account.id)
    with pytest.raises(TotpNotSetUp):
        verify(services, account, code_at(enrolment.secret, clock.now()))
    with pytest.raises(ValidationFailed):  # a digit short: not a code at all
        services.totp.confirm(auth, "12345", CLIENT)
    with pytest.raises(InvalidMfaCode):
        services.totp.confirm(auth, not_a_code_of(enrolment.secret, clock.now()), CLIENT)
    assert not services.totp.enabled(account.id)
    code = code_at(enrolment.secret, clock.now())
    assert len(services.totp.confirm(auth, code, CLIENT)) == 10
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
    with pytest.raises(ValidationFailed):  # a typo in its form spends no try
        services.totp.remove(auth, PASSWORD, "12345", CLIENT)
    with pytest.raises(InvalidMfaCode) as wrong:
        services.totp.remove(auth, PASSWORD, not_a_code_of(secret, clock.now()), CLIENT)
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
    with pytest.raises(TotpNotSetUp):
        services.totp.remove(auth, PASSWORD, code_at(secret, clock.now()), CLIENT)


def test_removing_an_app_that_is_not_there_judges_no_secret(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    """A retry after the app went (with the recovery codes it took along) says there is no
    app, whatever it sends, and never counts toward the lockout."""
    auth = auth_for(account, clock.now())
    stand_in, retry = services.new_recovery_codes.make(auth, PASSWORD, CLIENT)[:2]
    services.totp.remove(auth, PASSWORD, stand_in, CLIENT)
    for _ in range(services.rules.lockout_threshold + 1):
        for code in (retry, "abcde-fghij", "123456"):
            with pytest.raises(TotpNotSetUp):
                services.totp.remove(auth, PASSWORD, code, CLIENT)
        with pytest.raises(TotpNotSetUp):
            services.totp.remove(auth, "not the password at all", retry, CLIENT)
    assert services.signin(account.email, PASSWORD, None, CLIENT)  # not locked


def test_removal_audits_a_reused_drifted_or_spent_code_and_never_counts_it(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    """None of them is a guess at an unknown secret (`lockout.NOT_A_GUESS`): a form sent
    twice, a phone's clock minutes off or a recovery code not yet crossed off costs the owner
    no try, and each is in the audit trail with its own refusal."""
    auth = auth_for(account, clock.now())
    used = code_at(secret, clock.now())
    verify(services, account, used)  # spent, by a sign-in say
    spent = services.new_recovery_codes.make(auth, PASSWORD, CLIENT)[0]
    services.recovery_codes.use(account.id, spent, used_for=SIGN_IN)
    threshold = services.rules.lockout_threshold

    for _ in range(threshold):
        with pytest.raises(MfaCodeReused):
            services.totp.remove(auth, PASSWORD, used, CLIENT)
    with pytest.raises(TotpClockDrift):
        services.totp.remove(
            auth, PASSWORD, code_at(secret, clock.now() + timedelta(minutes=5)), CLIENT
        )
    with pytest.raises(RecoveryCodeUsed):
        services.totp.remove(auth, PASSWORD, spent, CLIENT)

    assert audited(services.engine, account.id, "totp_removed") == [
        *["mfa_code_reused"] * threshold,
        "totp_clock_drift",
        "recovery_code_used",
    ]
    with pytest.raises(InvalidMfaCode) as wrong:  # wrong codes count as before
        services.totp.remove(auth, PASSWORD, not_a_code_of(secret, clock.now()), CLIENT)
    assert wrong.value.facts["attempts_left"] == threshold - 1
    clock.advance(seconds=30)
    services.totp.remove(auth, PASSWORD, code_at(secret, clock.now()), CLIENT)
    assert not services.totp.enabled(account.id)


def burnt_steps(services: Services) -> list[int]:
    with services.engine.connect() as conn:
        return list(conn.execute(sa.select(totp_burnt_steps.c.step)).scalars())


def last_step(services: Services) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(sa.select(totp_credentials.c.last_step)).scalar_one())


def test_a_drifted_code_burns_only_its_own_step_and_later_codes_still_work(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    before = last_step(services)
    ahead = code_at(secret, clock.now() + timedelta(minutes=5))
    with pytest.raises(TotpClockDrift):
        verify(services, account, ahead)
    assert last_step(services) == before
    assert burnt_steps(services) == [time_step(clock.now()) + 10]

    verify(services, account, code_at(secret, clock.now()))  # the clock fixed: in at once
    clock.advance(seconds=30)
    verify(services, account, code_at(secret, clock.now()))
    clock.advance(seconds=270)  # the drifted code's own time has come: still spent
    with pytest.raises(MfaCodeReused):
        verify(services, account, ahead)


def test_steps_burnt_behind_the_accepted_one_are_forgotten(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    with pytest.raises(TotpClockDrift):
        verify(services, account, code_at(secret, clock.now() - timedelta(minutes=3)))
    verify(services, account, code_at(secret, clock.now()))
    # last_step refuses that step now, so its row is no longer needed.
    assert burnt_steps(services) == []


def test_parallel_uses_of_a_drifted_code_burn_it_once(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    code = code_at(secret, clock.now() + timedelta(minutes=2))
    outcomes = race(16, lambda _: verify(services, account, code))
    kinds = [type(outcome) for outcome in outcomes]
    assert kinds.count(TotpClockDrift) == 1, outcomes
    assert kinds.count(MfaCodeReused) == 15, outcomes


def test_a_step_burnt_as_drift_is_never_accepted_in_its_window(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    # Another instance whose clock is minutes off saw this step as drift and burnt it.
    step = time_step(clock.now())
    with services.uow() as uow:
        assert uow.totp.burn_step(account.id, step, clock.now())
    with pytest.raises(MfaCodeReused):
        verify(services, account, code_at(secret, clock.now()))


def pending(
    services: Services, account: Account, clock: SettableClock
) -> tuple[str, Authenticated]:
    auth = auth_for(account, clock.now())
    return services.totp.start_enrolment(auth, CLIENT).secret, auth


def test_confirm_returns_ten_recovery_codes_stored_with_the_activation(
    services: Services, account: Account, clock: SettableClock
) -> None:
    secret, auth = pending(services, account, clock)
    codes = services.totp.confirm(auth, code_at(secret, clock.now()), CLIENT)
    assert len(codes) == len(set(codes)) == 10
    assert services.totp.enabled(account.id)
    assert services.recovery_codes.left(account.id) == 10


def test_a_failed_confirm_stores_neither_the_activation_nor_the_codes(
    services: Services, account: Account, clock: SettableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret, auth = pending(services, account, clock)

    def broken(*_: object) -> None:
        raise RuntimeError("outbox down")

    monkeypatch.setattr(SqlOutbox, "add", broken)  # fails after activate and the codes
    with pytest.raises(RuntimeError):
        services.totp.confirm(auth, code_at(secret, clock.now()), CLIENT)
    assert not services.totp.enabled(account.id)
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(recovery_codes)).scalar() == 0


def test_wrong_confirming_codes_are_limited_with_true_attempts_left(
    services: Services, account: Account, clock: SettableClock
) -> None:
    secret, auth = pending(services, account, clock)
    threshold = services.rules.lockout_threshold
    left = []
    for _ in range(threshold):
        with pytest.raises(InvalidMfaCode) as wrong:
            services.totp.confirm(auth, "000000", CLIENT)
        left.append(wrong.value.facts["attempts_left"])
    assert left == list(range(threshold - 1, -1, -1))

    with pytest.raises(TooManyRequests) as limited:  # even the right code now waits
        services.totp.confirm(auth, code_at(secret, clock.now()), CLIENT)
    # The window is the store's (Redis counts it in real time): at most the lock length.
    assert 0 < (limited.value.retry_after or 0) <= services.rules.lockout_seconds
    assert not services.totp.enabled(account.id)
    # The limit is the enrolment's own: the owner's sign-in is not locked by it.
    with services.uow(read_only=True) as uow:
        assert not uow.lockouts.get(email_subject(account.email_key)).is_locked(clock.now())


def test_a_success_starts_the_confirm_limit_afresh(
    services: Services, account: Account, clock: SettableClock
) -> None:
    secret, auth = pending(services, account, clock)
    with pytest.raises(InvalidMfaCode):
        services.totp.confirm(auth, "000000", CLIENT)
    services.totp.confirm(auth, code_at(secret, clock.now()), CLIENT)
    assert services.throttle.count(f"totp-confirm:{account.id}", clock.now()) == (0, 0)


def test_a_drifted_confirming_code_burns_its_step_and_the_right_one_confirms(
    services: Services, account: Account, clock: SettableClock
) -> None:
    secret, auth = pending(services, account, clock)
    ahead = code_at(secret, clock.now() + timedelta(minutes=4))
    with pytest.raises(TotpClockDrift) as drift:
        services.totp.confirm(auth, ahead, CLIENT)
    assert drift.value.facts["drift_seconds"] == 240
    services.totp.confirm(auth, code_at(secret, clock.now()), CLIENT)
    clock.advance(minutes=4)
    with pytest.raises(MfaCodeReused):
        verify(services, account, ahead)


def test_a_new_seed_forgets_the_steps_burnt_for_the_old_one(
    services: Services, account: Account, clock: SettableClock
) -> None:
    secret, auth = pending(services, account, clock)
    with pytest.raises(TotpClockDrift):
        services.totp.confirm(auth, code_at(secret, clock.now() + timedelta(minutes=4)), CLIENT)
    pending(services, account, clock)
    assert burnt_steps(services) == []


def confirm_phone(services: Services, account: Account, clock: SettableClock) -> None:
    with services.engine.begin() as conn:
        conn.execute(
            sms_credentials.insert().values(
                account_id=account.id,
                phone="+15551234567",
                created_at=clock.now(),
                confirmed_at=clock.now(),
            )
        )


def test_removing_the_last_second_factor_deletes_the_recovery_codes(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    auth = auth_for(account, clock.now())
    assert services.recovery_codes.left(account.id) == 10
    services.totp.remove(auth, PASSWORD, code_at(secret, clock.now()), CLIENT)
    assert services.recovery_codes.left(account.id) == 0
    assert burnt_steps(services) == []


def test_recovery_codes_stay_while_a_phone_remains(
    services: Services, account: Account, secret: str, clock: SettableClock
) -> None:
    confirm_phone(services, account, clock)
    auth = auth_for(account, clock.now())
    services.totp.remove(auth, PASSWORD, code_at(secret, clock.now()), CLIENT)
    assert services.recovery_codes.left(account.id) == 10


def test_the_sign_in_factor_is_enabled_by_an_active_app_and_spends_a_code_once(
    services: Services, account: Account, clock: SettableClock
) -> None:
    factor = services.totp_factor
    assert factor.method == "totp"
    secret, auth = pending(services, account, clock)
    with services.uow(read_only=True) as uow:
        assert not factor.enabled_in(uow.accounts.second_factors(account.id))
    clock.advance(seconds=-60)
    services.totp.confirm(auth, code_at(secret, clock.now()), CLIENT)
    clock.advance(seconds=60)
    with services.uow(read_only=True) as uow:
        assert factor.enabled_in(uow.accounts.second_factors(account.id))
    code = code_at(secret, clock.now())
    factor.verify_sign_in(account.id, code, "challenge-digest")
    with pytest.raises(MfaCodeReused):
        factor.verify_sign_in(account.id, code, "another-challenge")
    with pytest.raises(InvalidMfaCode):
        factor.verify_sign_in(account.id, "000000", "challenge-digest")


def test_a_session_signed_in_a_while_ago_shows_the_password_again_to_add_the_app(
    services: Services, account: Account, clock: SettableClock
) -> None:
    auth = auth_for(account, clock.now())
    clock.advance(seconds=services.rules.reauth_seconds + 1)
    with pytest.raises(ReauthenticationRequired):
        services.totp.start_enrolment(auth, CLIENT)
    with pytest.raises(InvalidCredentials):
        services.totp.start_enrolment(auth, CLIENT, password="not the password at all")
    assert services.totp.start_enrolment(auth, CLIENT, password=PASSWORD).secret


def test_a_wrong_password_sent_by_a_recent_session_to_add_the_app_is_refused(
    services: Services, account: Account, clock: SettableClock
) -> None:
    auth = auth_for(account, clock.now())
    with pytest.raises(InvalidCredentials):
        services.totp.start_enrolment(auth, CLIENT, password="not the password at all")
    failures = services.throttle.counts([f"fail:{email_subject(account.email_key)}:0"], clock.now())
    assert failures == [1]  # counted like any other guess
    assert services.totp.start_enrolment(auth, CLIENT).secret  # none sent: none needed


def test_wrong_passwords_to_add_the_app_count_toward_the_lockout(
    services: Services, account: Account, clock: SettableClock
) -> None:
    auth = auth_for(account, clock.now())
    clock.advance(seconds=services.rules.reauth_seconds + 1)
    for _ in range(services.rules.lockout_threshold - 1):
        with pytest.raises(InvalidCredentials):
            services.totp.start_enrolment(auth, CLIENT, password="guessing the password")
    with pytest.raises(AccountLocked):
        services.totp.start_enrolment(auth, CLIENT, password="guessing the password")
