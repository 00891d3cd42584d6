"""Sign-in's write on the event loop (storage/signin_store.py) carries its lock check: it lands
only while the email's lock is as it was read before the hash, all of it or none of it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.errors import AccessError
from accessguard.domain.lockout import device_subject, email_subject
from accessguard.domain.model import Account, AuditEvent, ClientInfo, Device, LockState, Session
from accessguard.domain.ports_async import SignInWrites
from accessguard.domain.signin import SignedIn
from accessguard.domain.tokens import digest
from accessguard.storage.sql.tables import audit_events, devices, sessions
from tests.storage.test_held_writes import _device, _event, _session
from tests.support import PASSWORD, SettableClock, make_account

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
Rows = tuple[Device, Session, AuditEvent]
T = TypeVar("T")


def _rows(services: Services) -> tuple[int, ...]:
    with services.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (devices, sessions, audit_events)
        )


def _lock_as_now(services: Services, subject: str) -> LockState:
    with services.uow(read_only=True) as uow:
        return uow.lockouts.get(subject)


def _write_if_lock_is(
    services: Services, account: Account, lock: LockState, rows: Rows | None = None
) -> str | None:
    store = services.signin_store
    assert store is not None
    device, session, event = rows or (_device(account), _session(account), _event(account))

    def fill(writes: SignInWrites) -> str:
        writes.devices.add(device, "d" * 64)
        writes.sessions.add(session, "s" * 64)
        writes.audit.record(event)
        return "signed in"

    return _on_a_loop(
        services, store.write_if_lock_is(email_subject(account.email_key), lock, fill)
    )


def _on_a_loop(services: Services, coroutine: Coroutine[Any, Any, T]) -> T:
    """Awaited on a loop of its own thread, as a server's: the suite's thread may run one."""

    async def run() -> T:
        try:
            return await coroutine
        finally:
            if services.signin_store is not None:
                await services.signin_store.aclose()
            await services.session_reads.aclose()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, run()).result(timeout=60)


def _lock(services: Services, subject: str, seen: LockState) -> None:
    with services.uow() as uow:
        uow.lockouts.lock(subject, seen, services.clock.now() + timedelta(minutes=15))


def _locked_then_lifted(services: Services, subject: str) -> LockState:
    """The lock row an unlock leaves: a later generation, and no lock."""
    _lock(services, subject, LockState())
    with services.uow() as uow:
        uow.lockouts.unlock([subject])
    return _lock_as_now(services, subject)


def test_the_rows_land_together_while_no_lock_was_ever_written(services: Services) -> None:
    account = make_account(services)
    before = _rows(services)
    assert _write_if_lock_is(services, account, LockState()) == "signed in"
    assert _rows(services) == tuple(n + 1 for n in before)


def test_nothing_lands_when_a_lock_came_after_the_read(services: Services) -> None:
    account = make_account(services)
    subject = email_subject(account.email_key)
    read_before_the_hash = _lock_as_now(services, subject)
    _lock(services, subject, read_before_the_hash)  # a racing failure locks meanwhile
    before = _rows(services)
    assert _write_if_lock_is(services, account, read_before_the_hash) is None
    assert _rows(services) == before


def test_nothing_lands_when_a_lifted_lock_was_set_again_after_the_read(
    services: Services,
) -> None:
    account = make_account(services)
    subject = email_subject(account.email_key)
    read_before_the_hash = _locked_then_lifted(services, subject)
    assert read_before_the_hash.generation > 0
    assert not read_before_the_hash.locked_until
    _lock(services, subject, read_before_the_hash)
    before = _rows(services)
    assert _write_if_lock_is(services, account, read_before_the_hash) is None
    assert _rows(services) == before


def test_the_rows_land_when_the_lock_row_is_as_read(services: Services) -> None:
    """A lock lifted before the read leaves its row: the same generation lets the write in,
    and so does only clearing its level (which moves no generation)."""
    account = make_account(services)
    subject = email_subject(account.email_key)
    read_before_the_hash = _locked_then_lifted(services, subject)
    with services.uow() as uow:
        uow.lockouts.clear_level(subject)
    before = _rows(services)
    assert _write_if_lock_is(services, account, read_before_the_hash) == "signed in"
    assert _rows(services) == tuple(n + 1 for n in before)


def test_each_row_lands_with_the_values_it_was_given(services: Services) -> None:
    """INSERT … SELECT matches values to columns by position: each row reads back whole."""
    account = make_account(services)
    device, session, event = _device(account), _session(account), _event(account)
    _write_if_lock_is(services, account, LockState(), (device, session, event))
    with services.uow(read_only=True) as uow:
        assert uow.sessions.by_token_digest("s" * 64) == session
        assert uow.devices.by_token_digest("d" * 64) == device
    with services.engine.connect() as conn:
        row = conn.execute(sa.select(audit_events)).one()
    assert (row.at, row.kind, row.outcome, row.account_id, row.ip, row.user_agent) == (
        event.at,
        event.kind,
        event.outcome,
        event.account_id,
        event.ip,
        event.user_agent,
    )


def test_a_known_device_is_read_with_the_account_and_its_own_lock(services: Services) -> None:
    account = make_account(services)
    device = _device(account)
    with services.uow() as uow:
        uow.devices.add(device, "d" * 64)
    store = services.signin_store
    assert store is not None
    email = email_subject(account.email_key)
    _lock(services, email, LockState())  # strangers' failures locked the email

    def read(email_key: str, token_digest: str) -> Any:
        return _on_a_loop(
            services, store.for_password_attempt_from_device(email_key, email, token_digest)
        )

    found, _, email_lock, with_device = read(account.email_key, "d" * 64)
    assert found == account
    assert email_lock == _lock_as_now(services, email)
    assert with_device == (device, LockState())
    _lock(services, device_subject(device.id), LockState())
    assert read(account.email_key, "d" * 64)[3] == (
        device,
        _lock_as_now(services, device_subject(device.id)),
    )
    # The account read as without a device token, and no device: an unknown token, another
    # account's device, or no account at all.
    assert read(account.email_key, "e" * 64) == (
        *_on_a_loop(services, store.for_password_attempt(account.email_key, email)),
        None,
    )
    other = make_account(services, "grace@example.com")
    assert read(other.email_key, "d" * 64)[0] == other
    assert read(other.email_key, "d" * 64)[3] is None
    assert read("nobody@example.com", "d" * 64)[0] is None
    assert read("nobody@example.com", "d" * 64)[3] is None


def test_a_known_devices_sign_in_stays_on_the_event_loop_while_strangers_lock_the_email(
    services: Services, clock: SettableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OWASP's device cookie: failures made elsewhere lock the email, not the device that
    signed in before; its sign-in is the common case, done without a worker thread."""
    account = make_account(services)
    who = ClientInfo("192.0.2.7", "app")
    first = services.signin(account.email, PASSWORD, None, who)
    assert isinstance(first, SignedIn)
    for _ in range(services.settings.lockout_threshold):
        with contextlib.suppress(AccessError):
            services.signin(account.email, "not the password at all", None, who)
    assert _lock_as_now(services, email_subject(account.email_key)).locked_until is not None

    def no_worker_thread(*_: Any, **__: Any) -> None:
        raise AssertionError("the known device's sign-in left the event loop")

    monkeypatch.setattr(asyncio, "to_thread", no_worker_thread)
    clock.advance(minutes=1)
    again = _on_a_loop(
        services, services.signin.sign_in_async(account.email, PASSWORD, first.device_token, who)
    )
    assert isinstance(again, SignedIn)
    assert again.device_token == first.device_token  # the device is kept, not replaced
    with services.uow(read_only=True) as uow:
        assert uow.sessions.by_token_digest(digest(again.session_token)) is not None
    with services.engine.connect() as conn:
        seen = conn.execute(
            sa.select(devices.c.last_seen_at).where(devices.c.account_id == account.id)
        ).all()
    assert seen == [(clock.now(),)]  # one device, touched by this sign-in


def test_a_known_devices_touch_lands_only_with_the_rest(services: Services) -> None:
    account = make_account(services)
    device = _device(account)
    with services.uow() as uow:
        uow.devices.add(device, "d" * 64)
    subject = device_subject(device.id)
    store = services.signin_store
    assert store is not None
    later = device.last_seen_at + timedelta(days=1)

    def touch_and_record(writes: SignInWrites) -> str:
        writes.devices.touch(device.id, later)
        writes.audit.record(_event(account))
        return "signed in"

    def last_seen() -> Any:
        with services.engine.connect() as conn:
            return conn.execute(
                sa.select(devices.c.last_seen_at).where(devices.c.id == device.id)
            ).scalar_one()

    read_before_the_hash = _lock_as_now(services, subject)
    _lock(services, subject, read_before_the_hash)
    moved = store.write_if_lock_is(subject, read_before_the_hash, touch_and_record)
    assert _on_a_loop(services, moved) is None
    assert last_seen() == device.last_seen_at
    as_read_now = _lock_as_now(services, subject)
    kept = store.write_if_lock_is(subject, as_read_now, touch_and_record)
    assert _on_a_loop(services, kept) == "signed in"
    assert last_seen() == later
