"""The composition root: the one place that turns `Settings` into wired use cases."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from accessguard.domain.accounts import REGISTERED, RESEND, Accounts
from accessguard.domain.clock import SystemClock
from accessguard.domain.hashing import place_threads
from accessguard.domain.history import History
from accessguard.domain.lockout import Lockout
from accessguard.domain.mfa_signin import SecondStep
from accessguard.domain.mfa_sms import Sms, SmsFactor
from accessguard.domain.mfa_totp import Totp, TotpFactor
from accessguard.domain.new_recovery_codes import NewRecoveryCodes
from accessguard.domain.passwords import Argon2Hasher, PasswordPolicy
from accessguard.domain.passwords_change import FORGOT, Passwords
from accessguard.domain.ports import (
    Clock,
    SecondFactor,
    ThrottleStore,
    UnitOfWork,
    UnitOfWorkFactory,
)
from accessguard.domain.ports_async import SignInStore
from accessguard.domain.recovery_codes import (
    RecoveryCodeFactor,
    RecoveryCodeHasher,
    RecoveryCodes,
)
from accessguard.domain.recovery_completion import RecoveryCompletion
from accessguard.domain.recovery_requests import RecoveryRequests
from accessguard.domain.recovery_review import RecoveryReview
from accessguard.domain.rules import Rules
from accessguard.domain.sessions import Sessions
from accessguard.domain.signin import SignIn
from accessguard.domain.sms_codes import CodeHasher, SmsCodes
from accessguard.domain.support import Support
from accessguard.domain.throttling import AddressThrottle
from accessguard.domain.tokens import Signer
from accessguard.notify.factory import build_channels
from accessguard.notify.outbox import Dispatcher
from accessguard.notify.phones import PhoneNumberParser
from accessguard.notify.render import Renderer
from accessguard.settings import Settings
from accessguard.storage.crypto import AesGcmBox
from accessguard.storage.geo import country_of
from accessguard.storage.redis.throttle import RedisThrottleStore
from accessguard.storage.signin_store import PostgresRedisSignInStore
from accessguard.storage.sql.engine import create_engine
from accessguard.storage.sql.session_reads import AsyncpgSessionReads, ThreadedSessionReads
from accessguard.storage.sql.session_reads_sqlite import SqliteSessionReads
from accessguard.storage.sql.throttle import SqlThrottleStore
from accessguard.storage.sql.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: sa.Engine
    clock: Clock
    rules: Rules
    throttle: ThrottleStore
    hasher: Argon2Hasher
    accounts: Accounts
    signin: SignIn
    second_step: SecondStep
    sessions: Sessions
    passwords: Passwords
    history: History
    support: Support
    recovery: RecoveryRequests
    recovery_review: RecoveryReview
    recovery_completion: RecoveryCompletion
    dispatcher: Dispatcher
    device_signer: Signer
    totp: Totp
    totp_factor: TotpFactor
    recovery_codes: RecoveryCodes
    new_recovery_codes: NewRecoveryCodes
    recovery_code_factor: RecoveryCodeFactor
    sms: Sms
    sms_factor: SmsFactor
    uow: UnitOfWorkFactory
    session_reads: AsyncpgSessionReads | SqliteSessionReads
    signin_store: SignInStore | None
    on_queued: list[Callable[[], None]] = field(default_factory=list)

    def dispatcher_wake(self) -> None:
        """Tell the outbox worker a message is waiting, so it goes out now, not at the poll."""
        for callback in self.on_queued:
            callback()

    def close(self) -> None:
        if isinstance(self.throttle, RedisThrottleStore):
            self.throttle.close()
        if self.signin_store is not None:
            self.signin_store.close()
        self.session_reads.close()
        self.engine.dispose()


def rules_from(settings: Settings) -> Rules:
    names = Rules.__dataclass_fields__.keys()
    return Rules(**{name: getattr(settings, name) for name in names})


def signing_keys(settings: Settings, *, warn: bool = True) -> list[bytes]:
    if settings.secret_keys:
        return [key.get_secret_value().encode() for key in settings.secret_keys]
    if warn:
        log.warning(
            "ACCESSGUARD_SECRET_KEYS is unset: using a random key, so known-device cookies "
            "and authenticator-app secrets are unreadable after a restart and instances "
            "disagree, and queued mail is stored unsealed. Set it (the same on every "
            "instance) before anyone enables 2FA."
        )
    return [secrets.token_bytes(32)]


def build_services(
    settings: Settings, *, clock: Clock | None = None, one_command: bool = False
) -> Services:
    """`one_command`: for an operator command, which keeps nothing signed or sealed past its
    run and need not be warned about a random key."""
    clock = clock or SystemClock()
    engine = create_engine(
        settings.database_url,
        timeout_seconds=settings.db_timeout_seconds,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    rules = rules_from(settings)
    throttle: ThrottleStore
    if settings.redis_url:
        throttle = RedisThrottleStore(
            settings.redis_url,
            prefix=settings.redis_key_prefix,
            timeout_seconds=settings.redis_timeout_seconds,
        )
    else:
        throttle = SqlThrottleStore(engine)

    keys = signing_keys(settings, warn=not one_command)
    if settings.env == "production" and settings.support_url is None and not one_command:
        log.warning(
            "ACCESSGUARD_SUPPORT_URL is unset: pages and emails that tell a customer to "
            "contact support cannot say where. Set it to the support page or a mailto: address."
        )
    # Queued messages carry emailed tokens: sealed at rest until sent (storage/sql/outbox.py),
    # under configured keys only. A random key dies with its process, and no other could open
    # what it sealed: an operator command's mail, or the server's after a restart, was lost.
    outbox_box = AesGcmBox(keys) if settings.secret_keys else None

    def uow(*, read_only: bool = False, deferred_writes: bool = False) -> UnitOfWork:
        return SqlUnitOfWork(
            engine, read_only=read_only, deferred_writes=deferred_writes, outbox_box=outbox_box
        )

    place_threads(pinned=settings.pin_threads)
    hasher = Argon2Hasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    policy = PasswordPolicy(settings.password_min_length, settings.password_max_length)
    address_throttle = AddressThrottle(rules, throttle)
    session_reads: AsyncpgSessionReads | SqliteSessionReads
    if engine.dialect.name == "postgresql":
        session_reads = AsyncpgSessionReads(
            settings.database_url,
            timeout_seconds=settings.db_timeout_seconds,
            max_size=settings.db_read_pool_size,
        )
    else:  # SQLite on a file: the engine's pool refuses an in-memory database
        assert engine.url.database  # noqa: S101 - create_engine made the file's folder
        session_reads = SqliteSessionReads(engine.url.database, ThreadedSessionReads(uow))
    signin_store: SignInStore | None = None
    if isinstance(session_reads, AsyncpgSessionReads) and settings.redis_url:
        signin_store = PostgresRedisSignInStore(
            session_reads,
            settings.redis_url,
            prefix=settings.redis_key_prefix,
            timeout_seconds=settings.redis_timeout_seconds,
        )
    sessions = Sessions(rules, uow, clock, session_reads)
    signer = Signer(keys)
    dispatcher = Dispatcher(
        engine,
        build_channels(settings, engine, clock),
        Renderer(settings.public_url, settings.support_url),
        clock,
        max_attempts=settings.outbox_max_attempts,
        box=outbox_box,
    )
    code_hasher = RecoveryCodeHasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    recovery_codes = RecoveryCodes(uow, clock, code_hasher)
    totp = Totp(
        rules,
        uow,
        clock,
        hasher,
        AesGcmBox(keys),
        Lockout(rules, throttle),
        throttle,
        recovery_codes,
    )
    lockout = Lockout(rules, throttle)
    sms_codes = SmsCodes(rules, uow, clock, throttle, dispatcher, CodeHasher(keys))
    sms_factor = SmsFactor(uow, sms_codes)
    # The order is the order offered to the customer.
    totp_factor, recovery_code_factor = TotpFactor(totp), RecoveryCodeFactor(recovery_codes)
    factors: list[SecondFactor] = [totp_factor, sms_factor, recovery_code_factor]
    accounts = Accounts(rules, uow, clock, hasher, policy, address_throttle)
    passwords = Passwords(
        rules, uow, clock, hasher, policy, address_throttle, Lockout(rules, throttle)
    )
    dispatcher.carry_out(FORGOT, passwords.send_reset_link)
    dispatcher.carry_out(RESEND, accounts.send_verification_again)
    dispatcher.carry_out(REGISTERED, accounts.answer_registration)
    return Services(
        settings=settings,
        engine=engine,
        clock=clock,
        rules=rules,
        throttle=throttle,
        hasher=hasher,
        accounts=accounts,
        signin=SignIn(rules, uow, clock, hasher, throttle, sessions, signer, factors, signin_store),
        second_step=SecondStep(
            rules, uow, clock, throttle, sessions, signer, factors, texts=sms_factor
        ),
        sessions=sessions,
        passwords=passwords,
        history=History(uow),
        support=Support(uow, clock),
        recovery=RecoveryRequests(rules, uow, clock, hasher, throttle, signer, country_of),
        recovery_review=RecoveryReview(rules, uow, clock, signer, country_of),
        recovery_completion=RecoveryCompletion(rules, uow, clock),
        dispatcher=dispatcher,
        device_signer=signer,
        totp=totp,
        totp_factor=totp_factor,
        recovery_codes=recovery_codes,
        new_recovery_codes=NewRecoveryCodes(uow, clock, hasher, lockout, recovery_codes, totp),
        recovery_code_factor=recovery_code_factor,
        sms=Sms(
            rules,
            uow,
            clock,
            hasher,
            PhoneNumberParser(settings.sms_countries),
            sms_codes,
            totp,
            lockout,
        ),
        sms_factor=sms_factor,
        uow=uow,
        session_reads=session_reads,
        signin_store=signin_store,
    )
