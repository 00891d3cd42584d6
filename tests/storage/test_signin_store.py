"""Sign-in's write on the event loop (storage/signin_store.py) carries its lock check: it lands
only while the email's lock is as it was read before the hash, all of it or none of it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.lockout import email_subject
from accessguard.domain.model import Account, AuditEvent, Device, LockState, Session
from accessguard.domain.ports_async import SignInWrites
from accessguard.storage.sql.tables import audit_events, devices, sessions
from tests.storage.test_held_writes import _device, _event, _session
from tests.support import make_account

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
Rows = tuple[Device, Session, AuditEvent]


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

    async def write() -> Any:
        try:
            return await store.write_if_lock_is(email_subject(account.email_key), lock, fill)
        finally:
            await store.aclose()
            await services.session_reads.aclose()

    return asyncio.run(write())


def _lock(services: Services, subject: str, seen: LockState) -> None:
    with services.uow() as uow:
        uow.lockouts.lock(subject, seen, services.clock.now() + timedelta(minutes=15))


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
    _lock(services, subject, LockState())
    with services.uow() as uow:
        uow.lockouts.unlock([subject])
    read_before_the_hash = _lock_as_now(services, subject)
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
    _lock(services, subject, LockState())
    with services.uow() as uow:
        uow.lockouts.unlock([subject])
    read_before_the_hash = _lock_as_now(services, subject)
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
