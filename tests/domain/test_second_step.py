"""The two-step sign-in's rules, with a stand-in factor so they are proved apart from any one
kind of code (the real factors have their own tests, and the API tests use the real ones)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.codes import six_digit_problem
from accessguard.domain.emails import email_key
from accessguard.domain.errors import (
    AccountLocked,
    InvalidCredentials,
    InvalidMfaCode,
    MfaCodeReused,
    MfaMethodUnavailable,
    MfaTokenExpired,
    MfaTokenInvalid,
    TotpClockDrift,
    ValidationFailed,
)
from accessguard.domain.lockout import Lockout, email_subject
from accessguard.domain.mfa_signin import SecondStep
from accessguard.domain.model import ClientInfo, LockState, SecondFactors
from accessguard.domain.signin import SecondFactorDue, SignedIn, SignIn
from accessguard.storage.sql.tables import sessions
from tests.storage.test_concurrency import race
from tests.support import PASSWORD, SettableClock, inbox, make_account, token_from

APP = ClientInfo("203.0.113.7", "TradingApp/5.1 (iOS 18)")
OTHER_APP = ClientInfo("203.0.113.7", "curl/8.0")
GOOD = "424242"
THRESHOLD = 5


class StandInFactor:
    """Accepts GOOD once per sign-in, calls one code reused and one drifted, refuses the rest."""

    method = "totp"

    def __init__(self) -> None:
        self.enabled: set[str] = set()
        self.used: set[str] = set()

    def enabled_in(self, factors: SecondFactors) -> bool:
        return bool(self.enabled)  # the tests make one account, and enable it here

    def code_problem(self, code: str) -> str | None:
        return six_digit_problem(code, "the stand-in shows")

    def verify_sign_in(self, account_id: str, code: str, challenge: str) -> None:
        if code == "111111":
            raise MfaCodeReused()
        if code == "222222":
            raise TotpClockDrift(drift_seconds=120)
        if code != GOOD:
            raise InvalidMfaCode(attempts_left=0)


@pytest.fixture
def factor() -> StandInFactor:
    return StandInFactor()


@pytest.fixture
def svc(services: Services, factor: StandInFactor) -> Services:
    s = services
    return dataclasses.replace(
        s,
        signin=SignIn(
            s.rules, s.uow, s.clock, s.hasher, s.throttle, s.sessions, s.device_signer, [factor]
        ),
        second_step=SecondStep(
            s.rules, s.uow, s.clock, s.throttle, s.sessions, s.device_signer, [factor]
        ),
    )


def session_count(svc: Services) -> int:
    with svc.engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(sessions)) or 0)


def half_signed_in(
    svc: Services, factor: StandInFactor, device: str | None = None
) -> SecondFactorDue:
    account = make_account(svc)
    factor.enabled.add(account.id)
    result = svc.signin(account.email, PASSWORD, device, APP)
    assert isinstance(result, SecondFactorDue)
    return result


def test_a_right_password_opens_only_a_challenge_when_a_second_factor_is_set_up(
    svc: Services, factor: StandInFactor
) -> None:
    due = half_signed_in(svc, factor)
    assert due.methods == ("totp",)
    assert due.expires_at == svc.clock.now() + timedelta(seconds=svc.rules.mfa_token_seconds)
    assert session_count(svc) == 0


def test_the_right_code_signs_in_once_and_the_session_remembers_the_factor(
    svc: Services, factor: StandInFactor
) -> None:
    due = half_signed_in(svc, factor)
    done = svc.second_step(due.mfa_token, "totp", GOOD, None, APP)
    assert isinstance(done, SignedIn)
    auth = svc.sessions.authenticate(done.session_token)
    assert auth.session.second_factor == "totp"
    with pytest.raises(MfaTokenInvalid):
        svc.second_step(due.mfa_token, "totp", GOOD, None, APP)


def test_forged_empty_or_another_clients_token_never_advances(
    svc: Services, factor: StandInFactor
) -> None:
    due = half_signed_in(svc, factor)
    for token in ("forged-token", due.mfa_token + "x", "a"):
        with pytest.raises(MfaTokenInvalid):
            svc.second_step(token, "totp", GOOD, None, APP)
    with pytest.raises(MfaTokenInvalid):
        svc.second_step(due.mfa_token, "totp", GOOD, None, OTHER_APP)
    assert session_count(svc) == 0
    assert isinstance(svc.second_step(due.mfa_token, "totp", GOOD, None, APP), SignedIn)


def test_the_challenge_expires_after_its_lifetime(
    svc: Services, factor: StandInFactor, clock: SettableClock
) -> None:
    due = half_signed_in(svc, factor)
    clock.advance(seconds=svc.rules.mfa_token_seconds)
    with pytest.raises(MfaTokenExpired):
        svc.second_step(due.mfa_token, "totp", GOOD, None, APP)


def test_wrong_codes_say_how_many_attempts_are_left_and_then_lock(
    svc: Services, factor: StandInFactor
) -> None:
    due = half_signed_in(svc, factor)
    left = []
    for _ in range(THRESHOLD - 1):
        with pytest.raises(InvalidMfaCode) as wrong:
            svc.second_step(due.mfa_token, "totp", "000000", None, APP)
        left.append(wrong.value.facts["attempts_left"])
    assert left == [4, 3, 2, 1]
    with pytest.raises(AccountLocked):
        svc.second_step(due.mfa_token, "totp", "000000", None, APP)
    with pytest.raises(MfaTokenInvalid):  # the challenge died with the lock
        svc.second_step(due.mfa_token, "totp", GOOD, None, APP)
    with pytest.raises(AccountLocked):  # and the password alone does not get past the lock
        svc.signin("ada@example.com", PASSWORD, None, APP)


def test_a_right_password_does_not_buy_fresh_guesses_at_the_code(
    svc: Services, factor: StandInFactor
) -> None:
    due = half_signed_in(svc, factor)
    for _ in range(2):
        with pytest.raises(InvalidMfaCode):
            svc.second_step(due.mfa_token, "totp", "000000", None, APP)
    again = svc.signin("ada@example.com", PASSWORD, None, APP)
    assert isinstance(again, SecondFactorDue)
    for _ in range(2):
        with pytest.raises(InvalidMfaCode):
            svc.second_step(again.mfa_token, "totp", "000000", None, APP)
    with pytest.raises(AccountLocked):
        svc.second_step(again.mfa_token, "totp", "000000", None, APP)


def test_wrong_passwords_and_wrong_codes_share_one_counter(
    svc: Services, factor: StandInFactor
) -> None:
    account = make_account(svc)
    factor.enabled.add(account.id)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            svc.signin(account.email, "not the password at all", None, APP)
    due = svc.signin(account.email, PASSWORD, None, APP)
    assert isinstance(due, SecondFactorDue)
    with pytest.raises(InvalidMfaCode) as wrong:
        svc.second_step(due.mfa_token, "totp", "000000", None, APP)
    assert wrong.value.facts["attempts_left"] == 1
    with pytest.raises(AccountLocked):
        svc.second_step(due.mfa_token, "totp", "000000", None, APP)


def test_a_success_resets_the_counter(svc: Services, factor: StandInFactor) -> None:
    due = half_signed_in(svc, factor)
    for _ in range(THRESHOLD - 1):
        with pytest.raises(InvalidMfaCode):
            svc.second_step(due.mfa_token, "totp", "000000", None, APP)
    assert isinstance(svc.second_step(due.mfa_token, "totp", GOOD, None, APP), SignedIn)
    again = svc.signin("ada@example.com", PASSWORD, None, APP)
    assert isinstance(again, SecondFactorDue)
    with pytest.raises(InvalidMfaCode) as wrong:
        svc.second_step(again.mfa_token, "totp", "000000", None, APP)
    assert wrong.value.facts["attempts_left"] == THRESHOLD - 1


def test_a_lock_from_elsewhere_ends_a_pending_challenge(
    svc: Services, factor: StandInFactor
) -> None:
    due = half_signed_in(svc, factor)
    attacker = ClientInfo("198.51.100.66", "bot")
    for _ in range(THRESHOLD):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            svc.signin("ada@example.com", "guessing the password", None, attacker)
    with pytest.raises(AccountLocked):
        svc.second_step(due.mfa_token, "totp", GOOD, None, APP)


def test_a_known_device_finishes_its_sign_in_while_strangers_lock_the_email(
    svc: Services, factor: StandInFactor
) -> None:
    first = half_signed_in(svc, factor)
    done = svc.second_step(first.mfa_token, "totp", GOOD, None, APP)
    due = svc.signin("ada@example.com", PASSWORD, done.device_token, APP)
    assert isinstance(due, SecondFactorDue)
    attacker = ClientInfo("198.51.100.66", "bot")
    for _ in range(THRESHOLD):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            svc.signin("ada@example.com", "guessing the password", None, attacker)
    again = svc.second_step(due.mfa_token, "totp", GOOD, done.device_token, APP)
    assert again.device_token == done.device_token


def test_sign_out_and_a_password_change_end_pending_challenges(
    svc: Services, factor: StandInFactor
) -> None:
    first = half_signed_in(svc, factor)
    done = svc.second_step(first.mfa_token, "totp", GOOD, None, APP)
    pending = svc.signin("ada@example.com", PASSWORD, None, APP)
    assert isinstance(pending, SecondFactorDue)
    auth = svc.sessions.authenticate(done.session_token)
    svc.sessions.logout(auth, APP)
    with pytest.raises(MfaTokenInvalid):
        svc.second_step(pending.mfa_token, "totp", GOOD, None, APP)


def test_a_password_reset_ends_pending_challenges_and_signs_nobody_in(
    svc: Services, factor: StandInFactor
) -> None:
    pending = half_signed_in(svc, factor)
    svc.passwords.forgot("ada@example.com", APP)
    token = token_from(inbox(svc, "ada@example.com")[-1]["body"], "/reset-password")
    svc.passwords.reset(token, "an entirely new long passphrase", APP)
    assert session_count(svc) == 0
    with pytest.raises(MfaTokenInvalid):
        svc.second_step(pending.mfa_token, "totp", GOOD, None, APP)
    after = svc.signin("ada@example.com", "an entirely new long passphrase", None, APP)
    assert isinstance(after, SecondFactorDue)  # the reset did not remove the second factor


def test_a_method_the_account_lacks_is_refused_with_the_ones_it_has(
    svc: Services, factor: StandInFactor
) -> None:
    due = half_signed_in(svc, factor)
    with pytest.raises(MfaMethodUnavailable) as refused:
        svc.second_step(due.mfa_token, "sms", "123456", None, APP)
    assert refused.value.facts["methods"] == ["totp"]


def test_reused_and_drifted_codes_are_audited_but_never_counted(
    svc: Services, factor: StandInFactor
) -> None:
    # As on every owner-secret check (`lockout.NOT_A_GUESS`): no guess at an unknown secret.
    due = half_signed_in(svc, factor)
    for _ in range(THRESHOLD + 1):
        with pytest.raises(MfaCodeReused):
            svc.second_step(due.mfa_token, "totp", "111111", None, APP)
    with pytest.raises(TotpClockDrift):
        svc.second_step(due.mfa_token, "totp", "222222", None, APP)
    done = svc.second_step(due.mfa_token, "totp", GOOD, None, APP)
    assert isinstance(done, SignedIn)
    outcomes = [event.outcome for event in svc.history.sign_ins(done.account_id)]
    assert outcomes[: THRESHOLD + 3] == [
        "success",
        "totp_clock_drift",
        *["mfa_code_reused"] * (THRESHOLD + 1),
    ]


def test_a_code_malformed_by_a_typo_is_named_and_spends_no_try(
    svc: Services, factor: StandInFactor
) -> None:
    due = half_signed_in(svc, factor)
    for typo in ("abcdef", "12345", "1234567", "   ", "", "4" * 64, "42 42 4x"):
        for _ in range(THRESHOLD):
            with pytest.raises(ValidationFailed) as refused:
                svc.second_step(due.mfa_token, "totp", typo, None, APP)
        [field] = refused.value.facts["fields"]
        assert field["field"] == "code"
    with pytest.raises(InvalidMfaCode) as wrong:  # a well-formed wrong code still counts
        svc.second_step(due.mfa_token, "totp", "000000", None, APP)
    assert wrong.value.facts["attempts_left"] == THRESHOLD - 1
    assert isinstance(svc.second_step(due.mfa_token, "totp", GOOD, None, APP), SignedIn)


def test_parallel_right_codes_on_one_challenge_make_exactly_one_session(
    svc: Services, factor: StandInFactor
) -> None:
    due = half_signed_in(svc, factor)
    outcomes = race(12, lambda _: svc.second_step(due.mfa_token, "totp", GOOD, None, APP))
    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds == {"SignedIn": 1, "MfaTokenInvalid": 11}, kinds
    assert session_count(svc) == 1


def test_parallel_wrong_codes_on_separate_sign_ins_lock_exactly_as_sequential_ones(
    svc: Services, factor: StandInFactor
) -> None:
    first = half_signed_in(svc, factor)
    tokens = [first.mfa_token]
    for _ in range(19):  # an attacker with the password opens many half-finished sign-ins
        due = svc.signin("ada@example.com", PASSWORD, None, APP)
        assert isinstance(due, SecondFactorDue)
        tokens.append(due.mfa_token)
    outcomes = race(20, lambda i: svc.second_step(tokens[i], "totp", "000000", None, APP))
    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds["InvalidMfaCode"] == THRESHOLD - 1, kinds
    assert kinds["AccountLocked"] >= 1, kinds
    # Racers that had not started yet find their sign-in voided by the lock.
    assert set(kinds) <= {"InvalidMfaCode", "AccountLocked", "MfaTokenInvalid"}, kinds
    for token in tokens:  # every half-finished sign-in died with the lock
        with pytest.raises((AccountLocked, MfaTokenInvalid)):
            svc.second_step(token, "totp", GOOD, None, APP)
    with pytest.raises(AccountLocked):
        svc.signin("ada@example.com", PASSWORD, None, APP)


def test_parallel_attempts_on_one_sign_in_take_turns_and_spend_nothing_extra(
    svc: Services, factor: StandInFactor
) -> None:
    due = half_signed_in(svc, factor)
    outcomes = race(20, lambda _: svc.second_step(due.mfa_token, "totp", "000000", None, APP))
    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    # One at a time is judged; the others are told the sign-in is busy (mfa_token_invalid).
    assert set(kinds) <= {"InvalidMfaCode", "AccountLocked", "MfaTokenInvalid"}, kinds
    assert 1 <= kinds["InvalidMfaCode"] <= THRESHOLD - 1, kinds
    if kinds["AccountLocked"]:  # the fifth judged wrong code locked; later arrivals saw it
        with pytest.raises(AccountLocked):
            svc.signin("ada@example.com", PASSWORD, None, APP)
    else:
        assert isinstance(svc.second_step(due.mfa_token, "totp", GOOD, None, APP), SignedIn)


def test_two_recovery_codes_racing_on_one_sign_in_spend_only_one(
    services: Services, clock: SettableClock
) -> None:
    account = make_account(services)
    with services.uow() as uow:
        token, _ = services.sessions.start(uow, account.id, APP, clock.now())
    auth = services.sessions.authenticate(token)
    secret = services.totp.start_enrolment(auth, APP).secret
    codes = services.totp.confirm(auth, pyotp.TOTP(secret).at(clock.now()), APP)
    due = services.signin(account.email, PASSWORD, None, APP)
    assert isinstance(due, SecondFactorDue)
    outcomes = race(
        2, lambda i: services.second_step(due.mfa_token, "recovery_code", codes[i], None, APP)
    )
    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds == {"SignedIn": 1, "MfaTokenInvalid": 1}, kinds
    assert services.recovery_codes.left(account.id) == 9


def test_each_step_is_in_the_sign_in_history(svc: Services, factor: StandInFactor) -> None:
    due = half_signed_in(svc, factor)
    with pytest.raises(InvalidMfaCode):
        svc.second_step(due.mfa_token, "totp", "000000", None, APP)
    done = svc.second_step(due.mfa_token, "totp", GOOD, None, APP)
    account_id = svc.sessions.authenticate(done.session_token).account.id
    outcomes = [event.outcome for event in svc.history.sign_ins(account_id)]
    assert outcomes[:3] == ["success", "invalid_mfa_code", "mfa_required"]


def test_a_right_code_judged_while_wrong_ones_reach_the_threshold_does_not_sign_in(
    svc: Services, factor: StandInFactor
) -> None:
    """Wrong codes on other half-finished sign-ins are counted while this right one is being
    judged, and the attempt that reached the threshold has not written the lock yet: the
    counter already says the subject is locked."""
    due = half_signed_in(svc, factor)
    lockout = Lockout(svc.rules, svc.throttle)
    subject = email_subject(email_key("ada@example.com"))
    judge = factor.verify_sign_in

    def judged_while_others_fail(account_id: str, code: str, challenge: str) -> None:
        for _ in range(THRESHOLD):
            lockout.count_failure(subject, LockState(), "198.51.100.9", svc.clock.now())
        judge(account_id, code, challenge)

    factor.verify_sign_in = judged_while_others_fail  # type: ignore[method-assign]
    with pytest.raises(AccountLocked):
        svc.second_step(due.mfa_token, "totp", GOOD, None, APP)
    assert session_count(svc) == 0
    factor.verify_sign_in = judge  # type: ignore[method-assign]
    with pytest.raises(AccountLocked):  # the lock is written now, for every later attempt
        svc.signin("ada@example.com", PASSWORD, None, APP)
