"""Expired counters, sessions, devices, tokens and sent messages are purged; live ones stay."""

from __future__ import annotations

import sqlalchemy as sa

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.storage.sql.housekeeping import purge
from accessguard.storage.sql.tables import audit_events, counters, devices, sessions
from tests.support import PASSWORD, SettableClock, make_account


def rows(services: Services, table: sa.Table) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_purge_keeps_live_rows_and_drops_expired_ones(
    services: Services, clock: SettableClock
) -> None:
    make_account(services)
    services.signin("ada@example.com", PASSWORD, None, ClientInfo("1.1.1.1", "t"))
    services.accounts.throttle.hit("register", "9.9.9.9", clock.now())
    purge(services.engine, clock.now())
    assert rows(services, sessions) == 1
    assert rows(services, devices) == 1
    clock.advance(days=400)
    purge(services.engine, clock.now())
    assert rows(services, sessions) == 0
    assert rows(services, devices) == 0
    assert rows(services, counters) == 0
    assert rows(services, audit_events) > 0, "the audit trail is never purged"


def test_recently_ended_sessions_are_kept_for_support(
    services: Services, clock: SettableClock
) -> None:
    make_account(services)
    services.signin("ada@example.com", PASSWORD, None, ClientInfo("1.1.1.1", "t"))
    clock.advance(days=2)
    purge(services.engine, clock.now())
    assert rows(services, sessions) == 1
    clock.advance(days=30)
    purge(services.engine, clock.now())
    assert rows(services, sessions) == 0
