"""SMS codes as a second factor: enrolment, expiry, tries, resends, cooldown, daily caps,
parallel use, changing and removing the number, and the factor the sign-in uses."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.errors import (
    AccountLocked,
    AppCodeRequired,
    InvalidCredentials,
    InvalidMfaCode,
    MfaCodeReused,
    PhoneNumberInvalid,
    ReauthenticationRequired,
    RecoveryCodeUsed,
    SmsCodeExpired,
    SmsDeliveryFailed,
    SmsLimitReached,
    SmsNotSetUp,
    SmsResendTooSoon,
    TotpClockDrift,
    ValidationFailed,
)
from accessguard.domain.mfa_sms import Sms
from accessguard.domain.model import Account, ClientInfo, Message, Session
from accessguard.domain.ports import SecondFactor
from accessguard.domain.recovery_codes import SIGN_IN
from accessguard.domain.sessions import Authenticated
from accessguard.domain.sms_codes import masked
from accessguard.notify.channels.sms_webhook import SmsWebhookChannel
from accessguard.notify.outbox import Dispatcher
from accessguard.notify.render import Renderer
from accessguard.storage.sql.tables import accounts, audit_events, outbox, sms_codes
from accessguard.storage.sql.throttle import SqlThrottleStore
from tests.domain.test_mfa_totp import not_a_code_of
from tests.storage.test_concurrency import race
from tests.support import PASSWORD, SettableClock, audited, free_port, mailbox, make_account

CLIENT = ClientInfo("127.0.0.5", "pytest")
PHONE = "+4915123456789"
TYPED = "+49 (151) 2345-6789"
NEW_PHONE = "+33612345678"
CHALLENGE = hashlib.sha256(b"a sign-in challenge").hexdigest()


def auth_for(account: Account, now: datetime) -> Authenticated:
    session = Session("s1", account.id, now, now, now + timedelta(hours=1), "127.0.0.5", "pytest")
    return Authenticated(account, session)


def last_code(services: Services, phone: str = PHONE) -> str:
    texts = [m for m in mailbox(services.engine, phone) if m["channel"] == "sms"]
    match = re.search(r"\b(\d{6})\b", texts[-1]["body"])
    assert match, texts[-1]["body"]
    return match.group(1)


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def day_left(services: Services, retry_after: int | None, elapsed: int) -> bool:
    """The rest of the day's window: on the test clock in SQL, on the real one in Redis."""
    if isinstance(services.throttle, SqlThrottleStore):
        return retry_after == 86400 - elapsed
    return retry_after is not None and 86400 - 60 <= retry_after <= 86400


def texts_to(services: Services, phone: str) -> int:
    return len([m for m in mailbox(services.engine, phone) if m["channel"] == "sms"])


def queued(services: Services) -> list[str]:
    with services.engine.connect() as conn:
        return list(conn.execute(sa.select(outbox.c.template)).scalars())


def hold_of(services: Services, account: Account) -> datetime | None:
    with services.engine.connect() as conn:
        query = sa.select(accounts.c.security_hold_until).where(accounts.c.id == account.id)
        hold: datetime | None = conn.execute(query).scalar_one()
    return hold


def with_failing_gateway(services: Services, clock: SettableClock) -> Sms:
    """The same use cases, texting through a gateway where nothing listens."""
    channel = SmsWebhookChannel(f"http://127.0.0.1:{free_port()}/sms")
    dispatcher = Dispatcher(
        services.engine, {"sms": channel}, Renderer("https://a.test"), clock, max_attempts=1
    )
    codes = dataclasses.replace(services.sms.codes, sender=dispatcher)
    return dataclasses.replace(services.sms, codes=codes)


@pytest.fixture
def account(services: Services) -> Account:
    return make_account(services)


@pytest.fixture
def auth(account: Account, clock: SettableClock) -> Authenticated:
    return auth_for(account, clock.now())


@pytest.fixture
def enrolled(services: Services, auth: Authenticated, clock: SettableClock) -> Authenticated:
    """An account whose number PHONE is active, the enrolment's cooldown over."""
    services.sms.start(auth, PHONE, CLIENT)
    services.sms.confirm(auth, last_code(services), CLIENT)
    clock.advance(seconds=120)
    return auth


def test_a_number_is_active_only_after_its_code(
    services: Services, auth: Authenticated, account: Account
) -> None:
    sent = services.sms.start(auth, TYPED, CLIENT)

    assert sent.to == "+" + "\u2022" * 11 + "89"  # never the number in full
    assert not services.sms.enabled(account.id)
    with pytest.raises(InvalidMfaCode) as wrong:
        services.sms.confirm(auth, other_than(last_code(services)), CLIENT)
    assert wrong.value.facts["attempts_left"] == 4
    services.sms.confirm(auth, last_code(services), CLIENT)

    assert services.sms.enabled(account.id)
    assert "sms_enabled" in queued(services)
    with pytest.raises(SmsCodeExpired):  # spent
        services.sms.confirm(auth, last_code(services), CLIENT)


def test_the_text_goes_to_the_e164_form_of_what_was_typed(
    services: Services, auth: Authenticated
) -> None:
    services.sms.start(auth, "0049 151 2345.6789", CLIENT)
    assert texts_to(services, PHONE) == 1


def test_an_invalid_number_is_refused_before_anything_is_sent(
    services: Services, auth: Authenticated
) -> None:
    with pytest.raises(PhoneNumberInvalid) as refused:
        services.sms.start(auth, "+1 555 0000", CLIENT)
    assert refused.value.facts["fields"][0]["field"] == "phone"
    assert mailbox(services.engine) == []


def test_a_code_expires(services: Services, auth: Authenticated, clock: SettableClock) -> None:
    services.sms.start(auth, PHONE, CLIENT)
    clock.advance(seconds=services.rules.sms_code_seconds)
    with pytest.raises(SmsCodeExpired):
        services.sms.confirm(auth, last_code(services), CLIENT)


def test_five_wrong_tries_kill_the_code(services: Services, auth: Authenticated) -> None:
    services.sms.start(auth, PHONE, CLIENT)
    right = last_code(services)
    wrong = other_than(right)
    left = []
    for _ in range(5):
        with pytest.raises(InvalidMfaCode) as refused:
            services.sms.confirm(auth, wrong, CLIENT)
        left.append(refused.value.facts["attempts_left"])
    assert left == [4, 3, 2, 1, 0]
    with pytest.raises(SmsCodeExpired):
        services.sms.confirm(auth, right, CLIENT)


def code_then_cooldown(services: Services, auth: Authenticated, clock: SettableClock) -> str:
    """A code texted to PHONE; the clock then moved past its resend cooldown."""
    services.sms.start(auth, PHONE, CLIENT)
    code = last_code(services)
    clock.advance(seconds=services.rules.sms_resend_cooldown_seconds)
    return code


def resent(services: Services, auth: Authenticated, clock: SettableClock) -> tuple[str, str]:
    """A code, then a resend once the cooldown allows: both codes, the older first."""
    first = code_then_cooldown(services, auth, clock)
    services.sms.start(auth, PHONE, CLIENT)
    second = last_code(services)
    assert texts_to(services, PHONE) == 2
    return first, second


def test_a_code_a_resend_replaced_still_works_if_it_arrives_first(
    services: Services, auth: Authenticated, account: Account, clock: SettableClock
) -> None:
    first, _ = resent(services, auth, clock)
    services.sms.confirm(auth, first, CLIENT)
    assert services.sms.enabled(account.id)


def test_either_code_accepted_uses_up_both(
    services: Services, auth: Authenticated, clock: SettableClock
) -> None:
    first, second = resent(services, auth, clock)
    services.sms.confirm(auth, second, CLIENT)
    with pytest.raises(SmsCodeExpired):
        services.sms.confirm(auth, first, CLIENT)


def test_a_replaced_code_works_only_until_its_own_expiry(
    services: Services, auth: Authenticated, account: Account, clock: SettableClock
) -> None:
    first, second = resent(services, auth, clock)
    lifetime, cooldown = services.rules.sms_code_seconds, services.rules.sms_resend_cooldown_seconds
    clock.advance(seconds=lifetime - cooldown)  # the first code's five minutes are over
    if first != second:  # one chance in a million that both are the same
        with pytest.raises(InvalidMfaCode):
            services.sms.confirm(auth, first, CLIENT)
    services.sms.confirm(auth, second, CLIENT)
    assert services.sms.enabled(account.id)


def test_the_code_before_a_resend_works_while_the_resend_is_still_being_sent(
    services: Services, auth: Authenticated, account: Account, clock: SettableClock
) -> None:
    first = code_then_cooldown(services, auth, clock)
    gateway = services.sms.codes.sender

    class FirstTextArrivesMeanwhile:
        def deliver_immediately(self, message: Message) -> None:
            services.sms.confirm(auth, first, CLIENT)
            gateway.deliver_immediately(message)

    codes = dataclasses.replace(services.sms.codes, sender=FirstTextArrivesMeanwhile())
    dataclasses.replace(services.sms, codes=codes).start(auth, PHONE, CLIENT)
    assert services.sms.enabled(account.id)


def test_a_resend_to_another_number_voids_the_older_code(
    services: Services, auth: Authenticated, account: Account, clock: SettableClock
) -> None:
    """A corrected number must be proven by its own code: one sent to the mistyped number
    proves nothing about the new one."""
    first = code_then_cooldown(services, auth, clock)
    services.sms.start(auth, NEW_PHONE, CLIENT)
    second = last_code(services, NEW_PHONE)
    if first != second:
        with pytest.raises(InvalidMfaCode):
            services.sms.confirm(auth, first, CLIENT)
    services.sms.confirm(auth, second, CLIENT)
    assert services.sms.enabled(account.id)


def test_a_code_that_ran_out_of_tries_is_not_revived_by_a_resend(
    services: Services, auth: Authenticated, clock: SettableClock
) -> None:
    services.sms.start(auth, PHONE, CLIENT)
    first = last_code(services)
    for _ in range(5):
        with pytest.raises(InvalidMfaCode):
            services.sms.confirm(auth, other_than(first), CLIENT)
    clock.advance(seconds=services.rules.sms_resend_cooldown_seconds)
    services.sms.start(auth, PHONE, CLIENT)
    second = last_code(services)
    if first != second:
        with pytest.raises(InvalidMfaCode):
            services.sms.confirm(auth, first, CLIENT)


def test_a_resend_waits_for_the_cooldown_and_says_how_long(
    services: Services, auth: Authenticated, clock: SettableClock
) -> None:
    services.sms.start(auth, PHONE, CLIENT)
    clock.advance(seconds=20)
    with pytest.raises(SmsResendTooSoon) as too_soon:
        services.sms.start(auth, PHONE, CLIENT)
    assert too_soon.value.retry_after == services.rules.sms_resend_cooldown_seconds - 20
    assert texts_to(services, PHONE) == 1
    clock.advance(seconds=40)
    services.sms.start(auth, PHONE, CLIENT)
    assert texts_to(services, PHONE) == 2


def test_a_failed_send_leaves_no_cooldown_and_no_usable_code(
    services: Services, auth: Authenticated, clock: SettableClock
) -> None:
    failing = with_failing_gateway(services, clock)
    with pytest.raises(SmsDeliveryFailed):
        failing.start(auth, PHONE, CLIENT)
    with services.engine.connect() as conn:
        assert conn.execute(sa.select(sms_codes)).all() == []  # the undelivered code is void
        outcomes = conn.execute(
            sa.select(audit_events.c.outcome).where(audit_events.c.kind == "sms_code_sent")
        ).scalars()
        assert list(outcomes) == ["sms_delivery_failed"]  # reported, not hidden

    services.sms.start(auth, PHONE, CLIENT)  # at once: the failure burnt no cooldown
    assert texts_to(services, PHONE) == 1


def test_a_failed_resend_does_not_restart_the_cooldown(
    services: Services, auth: Authenticated, clock: SettableClock
) -> None:
    services.sms.start(auth, PHONE, CLIENT)
    clock.advance(seconds=services.rules.sms_resend_cooldown_seconds)
    with pytest.raises(SmsDeliveryFailed):
        with_failing_gateway(services, clock).start(auth, PHONE, CLIENT)
    services.sms.start(auth, PHONE, CLIENT)
    assert texts_to(services, PHONE) == 2


def test_a_failed_resend_leaves_the_code_sent_before_it_working(
    services: Services, auth: Authenticated, account: Account, clock: SettableClock
) -> None:
    first = code_then_cooldown(services, auth, clock)
    with pytest.raises(SmsDeliveryFailed):
        with_failing_gateway(services, clock).start(auth, PHONE, CLIENT)
    services.sms.confirm(auth, first, CLIENT)
    assert services.sms.enabled(account.id)


def test_a_number_gets_a_capped_number_of_texts_a_day(
    services_factory: Callable[..., Services], clock: SettableClock
) -> None:
    services = services_factory(sms_daily_limit_per_number=3)
    ada = auth_for(make_account(services, "ada@example.com"), clock.now())
    bob = auth_for(make_account(services, "bob@example.com"), clock.now())
    for auth in (ada, bob, ada):  # the same number under two accounts counts together
        services.sms.start(auth, PHONE, CLIENT)
        clock.advance(seconds=60)
    with pytest.raises(SmsLimitReached) as capped:
        services.sms.start(bob, PHONE, CLIENT)
    assert day_left(services, capped.value.retry_after, 180)
    assert texts_to(services, PHONE) == 3
    if isinstance(services.throttle, SqlThrottleStore):  # Redis expires keys on its own clock
        clock.advance(seconds=86400 - 180)
        services.sms.start(bob, PHONE, CLIENT, password=PASSWORD)  # signed in a day ago


def test_an_account_gets_a_capped_number_of_texts_a_day(
    services_factory: Callable[..., Services], clock: SettableClock
) -> None:
    services = services_factory(sms_daily_limit_per_account=2)
    auth = auth_for(make_account(services), clock.now())
    services.sms.start(auth, PHONE, CLIENT)
    clock.advance(seconds=60)
    services.sms.start(auth, NEW_PHONE, CLIENT)
    clock.advance(seconds=60)
    with pytest.raises(SmsLimitReached) as capped:
        services.sms.start(auth, "+12025550143", CLIENT)
    assert day_left(services, capped.value.retry_after, 120)


CAPS = ("sms_daily_limit_per_account", "sms_daily_limit_per_number")


def signs_in_by_text(services: Services, account: Account, attempt: int) -> None:
    """A sign-in from an unfamiliar device that asks for a text and uses its code: a code used
    ends the wait across such sign-ins, which Redis would keep by its own clock."""
    challenge = hashlib.sha256(f"sign-in {attempt}".encode()).hexdigest()
    services.sms_factor.send_sign_in_code(account.id, challenge, CLIENT)
    services.sms_factor.verify_sign_in(account.id, last_code(services), challenge)


def capped_owner(
    services_factory: Callable[..., Services], clock: SettableClock, cap: str
) -> tuple[Services, Account, Authenticated]:
    """An account whose number PHONE is set up, under a daily `cap` of 3, and its session."""
    services = services_factory(**{cap: 3})
    account = make_account(services)
    session = auth_for(account, clock.now())
    services.sms.start(session, PHONE, CLIENT)
    services.sms.confirm(session, last_code(services), CLIENT)
    return services, account, session


@pytest.mark.parametrize("cap", CAPS)
def test_sign_ins_up_to_the_cap_leave_a_signed_in_owner_the_texts_to_change_the_number(
    cap: str, services_factory: Callable[..., Services], clock: SettableClock
) -> None:
    services, account, owner = capped_owner(services_factory, clock, cap)
    for attempt in range(3):  # whoever has the password, pressing "send me a code"
        signs_in_by_text(services, account, attempt)
    with pytest.raises(SmsLimitReached):
        signs_in_by_text(services, account, 3)

    services.sms.send_current_code(owner, CLIENT)
    services.sms.start(owner, NEW_PHONE, CLIENT, password=PASSWORD, code=last_code(services))
    services.sms.confirm(owner, last_code(services, NEW_PHONE), CLIENT)
    assert services.sms.number_on_file(account.id) == masked(NEW_PHONE)


@pytest.mark.parametrize("cap", CAPS)
def test_a_signed_in_session_meets_its_own_cap_and_leaves_sign_ins_their_texts(
    cap: str, services_factory: Callable[..., Services], clock: SettableClock
) -> None:
    services, account, session = capped_owner(services_factory, clock, cap)  # perhaps stolen
    for _ in range(2):
        clock.advance(seconds=services.rules.sms_resend_cooldown_seconds)
        services.sms.send_current_code(session, CLIENT)
    clock.advance(seconds=services.rules.sms_resend_cooldown_seconds)
    with pytest.raises(SmsLimitReached):
        services.sms.send_current_code(session, CLIENT)
    assert texts_to(services, PHONE) == 3

    signs_in_by_text(services, account, 0)
    assert texts_to(services, PHONE) == 4


@pytest.mark.parametrize("cap", CAPS)
def test_more_known_devices_bring_no_more_texts_to_a_number(
    cap: str, services_factory: Callable[..., Services], clock: SettableClock
) -> None:
    # Devices cost their owner no text (a sign-in finished with the app's code makes one):
    # with caps for each, a number that earns from its texts would be paid without bound.
    services, account, _ = capped_owner(services_factory, clock, cap)
    before = texts_to(services, PHONE)

    def sign_in_from(device: str) -> None:
        challenge = hashlib.sha256(f"a sign-in on {device}".encode()).hexdigest()
        services.sms_factor.send_sign_in_code(account.id, challenge, CLIENT, known_device=device)

    for device in ("d1", "d2", "d3"):
        sign_in_from(device)
    with pytest.raises(SmsLimitReached):
        sign_in_from("d4")
    assert texts_to(services, PHONE) == before + 3

    signs_in_by_text(services, account, 0)  # an unfamiliar device's sign-in keeps its own
    assert texts_to(services, PHONE) == before + 4


def test_parallel_confirms_of_one_code_let_exactly_one_through(
    services: Services, auth: Authenticated, account: Account
) -> None:
    services.sms.start(auth, PHONE, CLIENT)
    code = last_code(services)

    outcomes = race(16, lambda _: services.sms.confirm(auth, code, CLIENT))

    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds["NoneType"] == 1, outcomes
    assert set(kinds) <= {"NoneType", "MfaCodeReused", "SmsCodeExpired"}, outcomes
    assert services.sms.enabled(account.id)
    assert queued(services).count("sms_enabled") == 1


def test_codes_are_stored_as_keyed_digests_and_never_logged(
    services: Services, auth: Authenticated, caplog: pytest.LogCaptureFixture, clock: SettableClock
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SmsDeliveryFailed):
        with_failing_gateway(services, clock).start(auth, PHONE, CLIENT)
    services.sms.start(auth, PHONE, CLIENT)
    code = last_code(services)
    with services.engine.connect() as conn:
        [row] = conn.execute(sa.select(sms_codes)).mappings().all()
    assert code not in str(dict(row))
    assert row["code_digest"] != hashlib.sha256(code.encode()).hexdigest()
    services.sms.confirm(auth, code, CLIENT)
    logged = "\n".join(record.getMessage() + str(record.args) for record in caplog.records)
    assert "not delivered" in logged
    assert code not in logged
    assert PHONE not in logged


def test_changing_the_number_needs_the_password_and_a_code_to_the_old_one(
    services: Services, enrolled: Authenticated, account: Account, clock: SettableClock
) -> None:
    with pytest.raises(ValidationFailed) as missing:
        services.sms.start(enrolled, NEW_PHONE, CLIENT)
    assert {f["field"] for f in missing.value.facts["fields"]} == {"password", "code"}

    services.sms.send_current_code(enrolled, CLIENT)
    old_code = last_code(services, PHONE)
    with pytest.raises(InvalidCredentials):
        services.sms.start(enrolled, NEW_PHONE, CLIENT, password="not it at all", code=old_code)
    services.sms.start(enrolled, NEW_PHONE, CLIENT, password=PASSWORD, code=old_code)
    assert texts_to(services, NEW_PHONE) == 1
    services.sms.confirm(enrolled, last_code(services, NEW_PHONE), CLIENT)

    factor: SecondFactor = services.sms_factor
    with services.uow(read_only=True) as uow:
        assert factor.enabled_in(uow.accounts.second_factors(account.id))
        credential = uow.sms.credential(account.id)
    assert credential is not None
    assert credential.phone == NEW_PHONE
    assert hold_of(services, account) == clock.now() + timedelta(
        seconds=services.rules.security_hold_seconds
    )
    assert "phone_changed" in queued(services)


def test_a_first_enrolment_code_cannot_complete_a_change(
    services: Services, auth: Authenticated, account: Account, clock: SettableClock
) -> None:
    services.sms.start(auth, NEW_PHONE, CLIENT)  # asked for without proof: no number yet
    with services.uow() as uow:  # meanwhile another number became active
        assert uow.sms.add_confirmed(account.id, PHONE, clock.now())
    with pytest.raises(SmsCodeExpired):
        services.sms.confirm(auth, last_code(services, NEW_PHONE), CLIENT)


def test_wrong_codes_while_managing_count_toward_the_lockout(
    services: Services, enrolled: Authenticated
) -> None:
    services.sms.send_current_code(enrolled, CLIENT)
    right = last_code(services)
    wrong = other_than(right)
    with pytest.raises(InvalidMfaCode) as refused:
        services.sms.remove(enrolled, PASSWORD, wrong, CLIENT)
    assert refused.value.facts["attempts_left"] == services.rules.lockout_threshold - 1
    for _ in range(services.rules.lockout_threshold - 2):
        with pytest.raises(InvalidCredentials):
            services.sms.remove(enrolled, "wrong password " * 2, right, CLIENT)
    with pytest.raises(AccountLocked):
        services.sms.remove(enrolled, "wrong password " * 2, right, CLIENT)
    with pytest.raises(AccountLocked):  # even the right secrets wait for the lock
        services.sms.remove(enrolled, PASSWORD, right, CLIENT)


def test_removal_needs_the_password_and_a_current_code(
    services: Services, enrolled: Authenticated, account: Account, clock: SettableClock
) -> None:
    with pytest.raises(SmsCodeExpired):  # no code was asked for
        services.sms.remove(enrolled, PASSWORD, "123456", CLIENT)
    services.sms.send_current_code(enrolled, CLIENT)
    services.sms.remove(enrolled, PASSWORD, last_code(services), CLIENT)

    assert not services.sms.enabled(account.id)
    assert hold_of(services, account) == clock.now() + timedelta(
        seconds=services.rules.security_hold_seconds
    )
    assert "sms_removed" in queued(services)
    with pytest.raises(SmsNotSetUp):
        services.sms.send_current_code(enrolled, CLIENT)


def test_with_an_authenticator_app_its_code_is_the_current_code(
    services: Services, enrolled: Authenticated, account: Account, clock: SettableClock
) -> None:
    enrolment = services.totp.start_enrolment(enrolled, CLIENT, password=PASSWORD)
    clock.advance(seconds=-600)
    services.totp.confirm(enrolled, pyotp.TOTP(enrolment.secret).at(clock.now()), CLIENT)
    clock.advance(seconds=600)

    with pytest.raises(AppCodeRequired):
        services.sms.send_current_code(enrolled, CLIENT)
    code = pyotp.TOTP(enrolment.secret).at(clock.now())
    services.sms.remove(enrolled, PASSWORD, code, CLIENT)
    assert not services.sms.enabled(account.id)


def test_managing_audits_an_expired_or_used_texted_code_and_never_counts_it(
    services: Services, enrolled: Authenticated, account: Account, clock: SettableClock
) -> None:
    """A code that no longer works (`lockout.NOT_A_GUESS`) is no guess: typed again after it
    proved a change, or after it expired, it costs the owner no try and is audited."""
    threshold = services.rules.lockout_threshold
    services.sms.send_current_code(enrolled, CLIENT)
    used = last_code(services)
    services.sms.start(enrolled, NEW_PHONE, CLIENT, password=PASSWORD, code=used)
    for _ in range(threshold):
        with pytest.raises(SmsCodeExpired):
            services.sms.remove(enrolled, PASSWORD, used, CLIENT)
    services.sms.send_current_code(enrolled, CLIENT)
    late = last_code(services)
    clock.advance(seconds=services.rules.sms_code_seconds + 1)
    with pytest.raises(SmsCodeExpired):
        services.sms.remove(enrolled, PASSWORD, late, CLIENT)

    assert audited(services.engine, account.id, "sms_removed") == ["sms_code_expired"] * (
        threshold + 1
    )
    services.sms.send_current_code(enrolled, CLIENT)
    with pytest.raises(InvalidMfaCode) as wrong:  # wrong codes count as before
        services.sms.remove(enrolled, PASSWORD, other_than(last_code(services)), CLIENT)
    assert wrong.value.facts["attempts_left"] == threshold - 1
    services.sms.remove(enrolled, PASSWORD, last_code(services), CLIENT)
    assert not services.sms.enabled(account.id)


def test_with_an_app_a_reused_drifted_or_spent_code_is_audited_and_never_counted(
    services: Services, enrolled: Authenticated, account: Account, clock: SettableClock
) -> None:
    enrolment = services.totp.start_enrolment(enrolled, CLIENT, password=PASSWORD)
    app = pyotp.TOTP(enrolment.secret)
    clock.advance(seconds=-600)
    recovery = services.totp.confirm(enrolled, app.at(clock.now()), CLIENT)
    clock.advance(seconds=600)
    used = app.at(clock.now())
    services.totp.verify(account.id, used, attempts_left=0)  # spent, by a sign-in say
    services.recovery_codes.use(account.id, recovery[0], used_for=SIGN_IN)
    threshold = services.rules.lockout_threshold

    for _ in range(threshold):
        with pytest.raises(MfaCodeReused):
            services.sms.start(enrolled, NEW_PHONE, CLIENT, password=PASSWORD, code=used)
    drifted = app.at(clock.now() + timedelta(minutes=5))
    with pytest.raises(TotpClockDrift):
        services.sms.remove(enrolled, PASSWORD, drifted, CLIENT)
    with pytest.raises(RecoveryCodeUsed):
        services.sms.remove(enrolled, PASSWORD, recovery[0], CLIENT)

    assert audited(services.engine, account.id, "phone_changed") == ["mfa_code_reused"] * threshold
    assert audited(services.engine, account.id, "sms_removed") == [
        "totp_clock_drift",
        "recovery_code_used",
    ]
    assert texts_to(services, NEW_PHONE) == 0
    with pytest.raises(InvalidMfaCode) as wrong:  # wrong codes count as before
        services.sms.remove(
            enrolled, PASSWORD, not_a_code_of(enrolment.secret, clock.now()), CLIENT
        )
    assert wrong.value.facts["attempts_left"] == threshold - 1


def test_the_sign_in_factor_sends_and_accepts_a_code_for_its_own_sign_in_only(
    services: Services, enrolled: Authenticated, account: Account, clock: SettableClock
) -> None:
    factor = services.sms_factor
    assert factor.method == "sms"
    factor.send_sign_in_code(account.id, CHALLENGE, CLIENT)
    code = last_code(services)
    other = hashlib.sha256(b"another sign-in").hexdigest()

    with pytest.raises(SmsCodeExpired):  # no code was sent for that sign-in
        factor.verify_sign_in(account.id, code, other)
    with pytest.raises(SmsResendTooSoon):
        factor.send_sign_in_code(account.id, CHALLENGE, CLIENT)
    factor.verify_sign_in(account.id, code, CHALLENGE)
    with pytest.raises(SmsCodeExpired):
        factor.verify_sign_in(account.id, code, CHALLENGE)


def test_a_sign_in_accepts_the_code_its_resend_replaced(
    services: Services, enrolled: Authenticated, account: Account, clock: SettableClock
) -> None:
    factor = services.sms_factor
    # From a known device: no wait across sign-ins, whose counter Redis keeps by its own clock.
    factor.send_sign_in_code(account.id, CHALLENGE, CLIENT, known_device="d1")
    first = last_code(services)
    clock.advance(seconds=services.rules.sms_resend_cooldown_seconds)
    factor.send_sign_in_code(account.id, CHALLENGE, CLIENT, known_device="d1")
    factor.verify_sign_in(account.id, first, CHALLENGE)
    with pytest.raises(SmsCodeExpired):  # the newer code went with it
        factor.verify_sign_in(account.id, last_code(services), CHALLENGE)


def test_a_sign_in_code_is_refused_for_another_account_and_when_wrong(
    services: Services, enrolled: Authenticated, account: Account
) -> None:
    factor = services.sms_factor
    factor.send_sign_in_code(account.id, CHALLENGE, CLIENT)
    code = last_code(services)
    with pytest.raises(SmsCodeExpired):
        factor.verify_sign_in("another-account", code, CHALLENGE)
    with pytest.raises(InvalidMfaCode):
        factor.verify_sign_in(account.id, other_than(code), CHALLENGE)
    factor.verify_sign_in(account.id, f"{code[:3]} {code[3:]}", CHALLENGE)  # as people type


def test_no_sign_in_code_without_an_active_number(services: Services, account: Account) -> None:
    with pytest.raises(SmsNotSetUp):
        services.sms_factor.send_sign_in_code(account.id, CHALLENGE, CLIENT)
    with services.uow(read_only=True) as uow:
        assert not services.sms_factor.enabled_in(uow.accounts.second_factors(account.id))


def test_parallel_sends_for_one_sign_in_text_once(
    services: Services, enrolled: Authenticated, account: Account
) -> None:
    before = texts_to(services, PHONE)
    outcomes = race(
        8, lambda _: services.sms_factor.send_sign_in_code(account.id, CHALLENGE, CLIENT)
    )
    kinds = Counter(type(outcome).__name__ for outcome in outcomes)
    assert kinds == {"SentCode": 1, "SmsResendTooSoon": 7}, kinds
    assert texts_to(services, PHONE) == before + 1


def test_a_change_refused_for_waiting_spends_no_proof(
    services: Services, enrolled: Authenticated, clock: SettableClock
) -> None:
    services.sms.send_current_code(enrolled, CLIENT)
    services.sms.start(enrolled, NEW_PHONE, CLIENT, password=PASSWORD, code=last_code(services))
    clock.advance(seconds=30)
    services.sms.send_current_code(enrolled, CLIENT)  # the first one is spent: no cooldown
    proof = last_code(services)
    with pytest.raises(SmsResendTooSoon) as too_soon:
        services.sms.start(enrolled, NEW_PHONE, CLIENT, password=PASSWORD, code=proof)
    assert too_soon.value.retry_after == 30
    clock.advance(seconds=30)
    services.sms.start(enrolled, NEW_PHONE, CLIENT, password=PASSWORD, code=proof)
    assert texts_to(services, NEW_PHONE) == 2


def test_a_change_voids_codes_on_their_way_to_the_old_number(
    services: Services, enrolled: Authenticated, account: Account
) -> None:
    services.sms_factor.send_sign_in_code(account.id, CHALLENGE, CLIENT)
    sign_in_code = last_code(services)
    services.sms.send_current_code(enrolled, CLIENT)
    services.sms.start(enrolled, NEW_PHONE, CLIENT, password=PASSWORD, code=last_code(services))
    services.sms.confirm(enrolled, last_code(services, NEW_PHONE), CLIENT)

    with pytest.raises(SmsCodeExpired):
        services.sms_factor.verify_sign_in(account.id, sign_in_code, CHALLENGE)


def test_adding_a_first_number_a_while_after_signing_in_needs_the_password(
    services: Services, account: Account, clock: SettableClock
) -> None:
    auth = auth_for(account, clock.now())
    clock.advance(seconds=services.rules.reauth_seconds + 1)
    with pytest.raises(ReauthenticationRequired):
        services.sms.start(auth, PHONE, CLIENT)
    assert texts_to(services, PHONE) == 0
    services.sms.start(auth, PHONE, CLIENT, password=PASSWORD)
    assert texts_to(services, PHONE) == 1


def test_the_number_on_file_is_shown_masked_only(
    services: Services, enrolled: Authenticated, account: Account
) -> None:
    shown = services.sms.number_on_file(account.id)
    assert shown is not None
    assert shown.endswith(PHONE[-2:])
    assert PHONE not in shown
    assert services.sms.number_on_file("no-such-account") is None
