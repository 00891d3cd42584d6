"""A process opens at most the database connections its settings allow, so an operator can
keep instances x workers x connections under PostgreSQL's max_connections; a request that
finds none free waits its time limit, then answers service_unavailable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from accessguard.bootstrap import Services
from accessguard.domain.errors import ServiceUnavailable
from accessguard.domain.tokens import digest
from tests.storage.test_session_reads import (
    new_session,
    on_one_loop,
    on_postgres_only,
    session_reads_connections,
)


def test_a_request_beyond_the_pool_waits_then_is_service_unavailable(
    services_factory: Callable[..., Services],
) -> None:
    services = services_factory(db_pool_size=1, db_max_overflow=0, db_timeout_seconds=0.3)
    held = services.engine.connect()  # the only connection
    try:
        with pytest.raises(ServiceUnavailable), services.uow(read_only=True) as uow:
            uow.accounts.by_email_key("ada@example.com")
    finally:
        held.close()
    with services.uow(read_only=True) as uow:  # given back: the next request gets it
        assert uow.accounts.by_email_key("ada@example.com") is None


def test_the_overflow_opens_further_connections_up_to_its_limit(
    services_factory: Callable[..., Services],
) -> None:
    services = services_factory(db_pool_size=1, db_max_overflow=1, db_timeout_seconds=0.3)
    with services.engine.connect(), services.uow(read_only=True) as uow:
        assert uow.accounts.by_email_key("ada@example.com") is None  # the overflow's
        with pytest.raises(ServiceUnavailable), services.uow(read_only=True):
            pass


@on_postgres_only
def test_the_session_checks_share_at_most_their_own_pool_size(
    services_factory: Callable[..., Services],
) -> None:
    services = services_factory(db_read_pool_size=2)
    token = new_session(services)

    async def fifty_then_count() -> tuple[int, int]:
        reads = services.session_reads
        found = await asyncio.gather(*(reads.with_account(digest(token)) for _ in range(50)))
        # Counted while the pool is still open: it closes with the loop.
        return sum(one is not None for one in found), session_reads_connections(services)

    answered, connections = on_one_loop(services, fifty_then_count)
    assert answered == 50
    assert 1 <= connections <= 2
