"""Helpers shared by tests: a settable clock, service reachability, mailbox reading."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import sqlalchemy as sa

if TYPE_CHECKING:
    from accessguard.bootstrap import Services
    from accessguard.domain.model import Account

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


class SettableClock:
    """Tests move time instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        # Far enough ahead that cookies the pages set are not already expired on the real
        # clock, which the test client's cookie jar consults.
        self.current = start or datetime(2036, 3, 2, 9, 30, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_service(name: str, port: int, how: str) -> None:
    """Skip locally when a real service is down; under CI a missing service is a failure."""
    if port_open("127.0.0.1", port):
        return
    message = f"{name} is not running at 127.0.0.1:{port}; start it with: {how}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_postgres() -> None:
    require_service(
        "PostgreSQL",
        5432,
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    )


def require_redis() -> None:
    require_service(
        "Redis", 6379, 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ""'
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(folder: Path, extra: Mapping[str, str]) -> Iterator[tuple[int, str]]:
    """A real `accessguard serve` process on a SQLite database in `folder`, with cheap hashes
    and `extra` settings: its pid and URL once /healthz answers. It logs to folder/serve.log."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ACCESSGUARD_")},
        "ACCESSGUARD_DATABASE_URL": f"sqlite:///{folder}/served.db",
        "ACCESSGUARD_ENV": "development",
        "ACCESSGUARD_COOKIE_SECURE": "false",
        "ACCESSGUARD_ARGON2_MEMORY_KIB": "1024",
        "ACCESSGUARD_ARGON2_TIME_COST": "1",
        **extra,
    }
    command = [sys.executable, "-m", "accessguard", "serve", "--port", str(port)]
    with (folder / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=folder, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail((folder / "serve.log").read_text())
        yield process.pid, url
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextmanager
def silent_port() -> Iterator[int]:
    """A port that completes TCP handshakes and then never answers: a hung server."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield int(listener.getsockname()[1])


def mailbox(engine: sa.Engine, to: str | None = None) -> list[dict[str, str]]:
    from accessguard.storage.sql.tables import dev_mailbox

    query = sa.select(dev_mailbox).order_by(dev_mailbox.c.id)
    if to is not None:
        query = query.where(dev_mailbox.c.recipient == to)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def audited(engine: sa.Engine, account_id: str, kind: str) -> list[str]:
    """The outcomes audited as `kind` for the account, oldest first."""
    from accessguard.storage.sql.tables import audit_events

    a = audit_events.c
    query = sa.select(a.outcome).where(a.account_id == account_id, a.kind == kind)
    with engine.connect() as conn:
        return list(conn.execute(query.order_by(a.id)).scalars())


def token_from(body: str, path: str) -> str:
    match = re.search(re.escape(path) + r"\?token=([A-Za-z0-9_\-.]+)", body)
    assert match, f"no {path} link in the message"
    return match.group(1)


def inbox(services: Services, to: str) -> list[dict[str, str]]:
    """Run the outbox once, as the background worker would, and read the dev mailbox."""
    services.dispatcher.run_once()
    return mailbox(services.engine, to)


PASSWORD = "correct horse trading desk 42"


def make_account(
    services: Services,
    email: str = "ada@example.com",
    password: str = PASSWORD,
    *,
    verified: bool = True,
) -> Account:
    from accessguard.domain.model import ClientInfo

    account = services.accounts.register(
        email, password, ClientInfo("127.0.0.9", "factory"), verified=verified
    )
    assert account is not None
    return account


@contextmanager
def new_pg_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database of its own, empty, dropped on leaving (even with sessions open)."""
    require_postgres()
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
