"""The awaited reads behind every authenticated API request (`SessionReads`): on PostgreSQL
through asyncpg, on SQLite on the event loop (a worker thread when SQLite is busy). Both must
answer exactly what the synchronous repositories answer, and on PostgreSQL the pool must
fail closed, hold under concurrency and be closed by the app's shutdown."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import asyncpg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.domain.errors import ServiceUnavailable
from accessguard.domain.model import Account, ClientInfo, SecondFactors, Session
from accessguard.domain.recovery_cases import (
    ActiveRecovery,
    CaseStatus,
    RecoveryCase,
    new_reference,
)
from accessguard.domain.tokens import digest
from accessguard.storage.sql.session_reads import (
    APPLICATION_NAME,
    AsyncpgSessionReads,
    ThreadedSessionReads,
    asyncpg_dsn,
)
from accessguard.storage.sql.session_reads_sqlite import SqliteSessionReads
from tests.support import free_port, make_account, silent_port

T = TypeVar("T")
CLIENT = ClientInfo("127.0.0.9", "pytest")


def in_a_thread(work: Callable[[], T]) -> T:
    """Run `work` on a thread of its own: event loops here must not meet one that another
    test left running on the main thread (Playwright's, in the browser tests)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(work).result()


def on_one_loop(services: Services, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` on a fresh event loop, closing that loop's pool after, as the app does."""

    async def main() -> T:
        try:
            return await work()
        finally:
            await services.session_reads.aclose()

    return in_a_thread(lambda: asyncio.run(main()))


def new_session(services: Services, email: str = "ada@example.com") -> str:
    account = make_account(services, email)
    with services.uow() as uow:
        token, _ = services.sessions.start(uow, account.id, CLIENT, services.clock.now())
    return token


def test_the_session_and_account_read_are_the_repositorys(services: Services) -> None:
    token = new_session(services)
    with services.uow(read_only=True) as uow:
        expected = uow.sessions.with_account(digest(token))
    assert expected is not None
    assert on_one_loop(services, lambda: services.session_reads.with_account(digest(token))) == (
        expected
    )


def test_an_unknown_token_finds_nothing(services: Services) -> None:
    new_session(services)
    found = on_one_loop(services, lambda: services.session_reads.with_account(digest("nope")))
    assert found is None


def test_a_touch_is_committed_at_once(services: Services) -> None:
    token = new_session(services)
    later = services.clock.now() + timedelta(minutes=5)
    with services.uow(read_only=True) as uow:
        found = uow.sessions.with_account(digest(token))
    assert found is not None
    on_one_loop(services, lambda: services.session_reads.touch(found[0].id, later))
    with services.uow(read_only=True) as uow:
        after = uow.sessions.with_account(digest(token))
    assert after is not None
    assert after[0].last_seen_at == later


def test_the_read_with_second_factors_is_the_repositorys(services: Services) -> None:
    token = new_session(services)
    reads = services.session_reads

    def read_both(
        token: str,
    ) -> tuple[Session, Account, SecondFactors, ActiveRecovery | None] | None:
        return on_one_loop(services, lambda: reads.with_account_and_factors(digest(token)))

    before = read_both(token)
    assert before is not None
    assert before[2] == SecondFactors()
    account_id = before[1].id
    now = services.clock.now()
    issued = services.recovery_codes.issue()
    with services.uow() as uow:  # an authenticator app and a set of codes, stored directly
        uow.totp.put_pending(account_id, "sealed-secret", now, session_id="a-session")
        uow.totp.activate(account_id, "sealed-secret", 1, now)
        issued.store(uow, account_id, now)
    after = read_both(token)
    with services.uow(read_only=True) as uow:
        found = uow.sessions.with_account(digest(token))
        factors = uow.accounts.second_factors(account_id)
    assert found is not None
    assert after == (*found, factors, None)
    assert factors == SecondFactors(totp=True, recovery_codes_left=len(issued.codes))
    assert read_both("unknown") is None


def case_of(account_id: str, status: CaseStatus, at: datetime) -> RecoveryCase:
    return RecoveryCase(
        str(uuid.uuid4()),
        new_reference(),
        account_id,
        status,
        "lost",
        at,
        "192.0.2.4",
        "ua",
        "GB",
        False,
        effective_at=at + timedelta(days=2) if status is CaseStatus.APPROVED else None,
    )


@pytest.mark.parametrize("status", [CaseStatus.OPEN, CaseStatus.APPROVED])
@pytest.mark.parametrize("path", ["awaited", "worker thread"])
def test_the_read_brings_the_active_recovery_case_as_the_repository_has_it(
    services: Services, status: CaseStatus, path: str
) -> None:
    # GET /me shows the owner an open or approved lost-device case in its one read; closed
    # cases of the same account must not show (nor multiply the row).
    token = new_session(services)
    reads = services.session_reads if path == "awaited" else ThreadedSessionReads(services.uow)
    now = services.clock.now()
    with services.uow() as uow:
        account = uow.sessions.with_account(digest(token))
        assert account is not None
        account_id = account[1].id
        for closed in (CaseStatus.CANCELLED, CaseStatus.COMPLETED, CaseStatus.REJECTED):
            uow.recovery_cases.add(case_of(account_id, closed, now), digest(closed))
    before = on_one_loop(services, lambda: reads.with_account_and_factors(digest(token)))
    assert before is not None
    assert before[3] is None
    with services.uow() as uow:
        uow.recovery_cases.add(case_of(account_id, status, now), digest("active"))
    found = on_one_loop(services, lambda: reads.with_account_and_factors(digest(token)))
    with services.uow(read_only=True) as uow:
        stored = uow.recovery_cases.active_for(account_id)
    assert found is not None
    assert stored is not None
    assert found[3] == ActiveRecovery.of(stored)
    assert found[3].status is status


def test_a_hundred_parallel_lookups_all_get_their_answer(services: Services) -> None:
    token = new_session(services)

    async def many() -> list[object]:
        reads = services.session_reads
        lookups = [reads.with_account(digest(token)) for _ in range(50)]
        misses = [reads.with_account(digest(f"other-{n}")) for n in range(50)]
        return list(await asyncio.gather(*lookups, *misses))

    answers = on_one_loop(services, many)
    assert all(found is not None for found in answers[:50])
    assert all(found is None for found in answers[50:])


on_postgres_only = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@on_postgres_only
def test_lookups_asked_in_one_turn_go_to_the_database_as_one_statement(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests that arrive together each look up their session: one statement finds them
    all, and each request gets its own session's answer."""
    tokens = [new_session(services), new_session(services, "bob@example.com")]
    with services.uow(read_only=True) as uow:
        expected = [uow.sessions.with_account(digest(token)) for token in tokens]
    statements: list[str] = []

    def counting(name: str) -> Callable[..., Awaitable[Any]]:
        run = getattr(asyncpg.connection.Connection, name)

        async def counted(self: asyncpg.Connection, query: str, *args: Any) -> Any:
            statements.append(query)
            return await run(self, query, *args)

        return counted

    for name in ("fetch", "fetchrow"):
        monkeypatch.setattr(asyncpg.connection.Connection, name, counting(name))
    reads = services.session_reads

    async def together() -> list[Any]:
        presented = [tokens[1], "nobody's", tokens[0], tokens[1]]
        return list(await asyncio.gather(*(reads.with_account(digest(t)) for t in presented)))

    assert on_one_loop(services, together) == [expected[1], None, expected[0], expected[1]]
    assert len(statements) == 1


def session_reads_connections(services: Services) -> int:
    with services.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            ).scalar_one()
        )


def all_closed(services: Services) -> bool:
    """Whether the pools' connections are gone; a backend leaves pg_stat_activity a moment
    after its client hangs up, so this waits up to 10 s for it."""
    deadline = time.monotonic() + 10
    while session_reads_connections(services) and time.monotonic() < deadline:
        time.sleep(0.05)
    return session_reads_connections(services) == 0


@on_postgres_only
def test_every_event_loop_gets_a_working_pool_of_its_own(services: Services) -> None:
    token = new_session(services)
    reads = services.session_reads

    async def look_up() -> int:
        assert await reads.with_account(digest(token)) is not None
        return session_reads_connections(services)

    for _ in range(3):
        assert on_one_loop(services, look_up) >= 1
        assert all_closed(services)


@on_postgres_only
def test_closing_the_services_ends_a_pool_its_loop_left_open(services: Services) -> None:
    token = new_session(services)
    reads = services.session_reads

    def left_open() -> None:
        loop = asyncio.new_event_loop()
        try:
            assert loop.run_until_complete(reads.with_account(digest(token))) is not None
            assert session_reads_connections(services) >= 1
            reads.close()
            assert all_closed(services)
        finally:
            loop.close()

    in_a_thread(left_open)


@on_postgres_only
def test_closing_the_services_waits_for_the_pool_of_a_loop_running_elsewhere_to_close(
    services: Services,
) -> None:
    token = new_session(services)
    reads = services.session_reads
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever)
    runner.start()
    try:
        lookup = asyncio.run_coroutine_threadsafe(reads.with_account(digest(token)), loop)
        assert lookup.result(timeout=10) is not None
        assert session_reads_connections(services) >= 1
        reads.close()  # from this thread, while the pool's loop runs on its own
        # Finished, not merely scheduled: a loop stopped now would destroy a pending close.
        assert asyncio.run_coroutine_threadsafe(others_pending(), loop).result(10) == set()
        assert all_closed(services)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join()
        loop.close()


async def others_pending() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


@on_postgres_only
def test_the_apps_shutdown_closes_its_pool(
    services: Services, client_factory: Callable[..., TestClient]
) -> None:
    token = new_session(services)
    client = client_factory(services)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert session_reads_connections(services) >= 1
    client.__exit__(None, None, None)
    assert all_closed(services)


def test_a_refused_connection_is_service_unavailable() -> None:
    reads = AsyncpgSessionReads(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/absent", timeout_seconds=1
    )
    with pytest.raises(ServiceUnavailable):
        in_a_thread(lambda: asyncio.run(reads.with_account(digest("any"))))
    reads.close()


@pytest.fixture
def silent_postgres() -> Iterator[str]:
    with silent_port() as port:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/hung"


def test_a_hung_database_times_out_into_service_unavailable(silent_postgres: str) -> None:
    reads = AsyncpgSessionReads(silent_postgres, timeout_seconds=0.2)
    with pytest.raises(ServiceUnavailable):
        in_a_thread(lambda: asyncio.run(reads.with_account_and_factors(digest("any"))))
    reads.close()


def test_the_database_url_becomes_asyncpgs_dsn_with_its_password_and_options() -> None:
    assert (
        asyncpg_dsn("postgresql+psycopg://app:s%40cret@db.internal:6432/ag?sslmode=require")
        == "postgresql://app:s%40cret@db.internal:6432/ag?sslmode=require"
    )


def test_libpq_client_settings_in_the_url_stay_with_psycopg() -> None:
    dsn = asyncpg_dsn(
        "postgresql+psycopg://app@db/ag?connect_timeout=3&keepalives=1&keepalives_idle=10"
        "&tcp_user_timeout=9000&sslmode=require&application_name=ops&options=-c%20search_path%3Dag"
    )
    address, _, query = dsn.partition("?")
    assert address == "postgresql://app@db/ag"
    assert parse_qs(query) == {
        "sslmode": ["require"],
        "application_name": ["ops"],
        "options": ["-c search_path=ag"],
    }


on_postgres_only = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@on_postgres_only
def test_an_operators_connection_settings_leave_the_session_reads_working(
    services_factory: Callable[..., Services], backend: dict[str, Any]
) -> None:
    url = backend["database_url"] + "?connect_timeout=3&keepalives=1&keepalives_idle=10"
    services = services_factory(database_url=url)
    token = new_session(services)
    found = on_one_loop(services, lambda: services.session_reads.with_account(digest(token)))
    assert found is not None


on_sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@on_sqlite_only
@pytest.mark.parametrize("with_factors", [False, True], ids=["session", "session_and_factors"])
def test_a_busy_sqlite_read_waits_on_a_worker_thread_not_on_the_loop(
    services: Services, with_factors: bool
) -> None:
    token = new_session(services)
    path = services.engine.url.database
    assert path
    # A connection in exclusive locking mode shuts every other reader out, even under WAL;
    # it needs the others closed to begin.
    services.engine.dispose()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.5, holder.close).start()

    async def read_while_ticking() -> tuple[object, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        reads = services.session_reads
        if with_factors:
            both = await reads.with_account_and_factors(digest(token))
            found = None if both is None else both[:2]
        else:
            found = await reads.with_account(digest(token))
        ticker.cancel()
        return found, ticks

    found, ticks = on_one_loop(services, read_while_ticking)
    assert found is not None
    assert found[0].account_id == found[1].id
    assert ticks > 0  # the loop went on while the read waited for the lock


@on_sqlite_only
def test_an_unopenable_sqlite_file_is_service_unavailable(
    services: Services, tmp_path: Path
) -> None:
    reads = SqliteSessionReads(
        str(tmp_path / "no-such-dir" / "x.db"), ThreadedSessionReads(services.uow)
    )
    with pytest.raises(ServiceUnavailable):
        in_a_thread(lambda: asyncio.run(reads.with_account(digest("any"))))
    reads.close()
