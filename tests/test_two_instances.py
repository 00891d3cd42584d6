"""Two `accessguard serve` processes on one PostgreSQL and one Redis act as one service:
failures sent to either count toward one lock, and a session from one works on the other."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.support import (
    PASSWORD,
    PG_ADMIN_URL,
    REDIS_URL,
    free_port,
    require_postgres,
    require_redis,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

WRONG = "not the right password at all"
TIMEOUT = httpx.Timeout(10.0)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Without a .env file, so only the environment below configures the commands.
    return tmp_path_factory.mktemp("two-instances")


@pytest.fixture(scope="module")
def environment(workdir: Path) -> Iterator[dict[str, str]]:
    """A fresh database, migrated and holding two verified accounts, via the CLI."""
    require_postgres()
    require_redis()
    name = f"accessguard_two_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ACCESSGUARD_")},
        "ACCESSGUARD_DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name,
        "ACCESSGUARD_REDIS_URL": REDIS_URL,
        "ACCESSGUARD_REDIS_KEY_PREFIX": f"agtwo:{secrets.token_hex(6)}:",
        "ACCESSGUARD_SECRET_KEYS": "two-instances-key-" + secrets.token_urlsafe(32),
        "ACCESSGUARD_ARGON2_MEMORY_KIB": "1024",
        "ACCESSGUARD_ARGON2_TIME_COST": "1",
        "ACCESSGUARD_ENV": "development",
        "ACCESSGUARD_COOKIE_SECURE": "false",
    }
    try:
        accessguard(env, workdir, ["migrate"])
        accessguard(
            env,
            workdir,
            *(
                ["create-user", email, "--password-stdin", "--verified"]
                for email in ("ada@example.com", "bob@example.com")
            ),
        )
        yield env
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def accessguard(env: dict[str, str], cwd: Path, *commands: list[str]) -> None:
    """Run `accessguard` commands side by side (each takes a second or two just to start);
    each reads the password from standard input if it asks."""
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "accessguard", *command],
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    results = []
    for process in running:
        try:
            results.append(process.communicate(PASSWORD + "\n", timeout=60))
        except subprocess.TimeoutExpired:
            process.kill()
            results.append(process.communicate())
    for command, process, (out, err) in zip(commands, running, results, strict=True):
        assert process.returncode == 0, (command, out, err)


@pytest.fixture(scope="module")
def instances(environment: dict[str, str], workdir: Path) -> Iterator[list[str]]:
    """Two servers on two free ports; their base URLs once both answer /healthz."""
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            with (workdir / f"serve-{name}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "accessguard", "serve", "--port", str(port)],
                        env=environment,
                        cwd=workdir,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            wait_until_healthy(url, process, workdir)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], logs: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    output = "\n".join(p.read_text() for p in sorted(logs.glob("serve-*.log")))
    pytest.fail(f"{url} did not become healthy (exit {process.poll()}):\n{output}")


def login(url: str, email: str, password: str) -> httpx.Response:
    # A bare request each time: no cookie jar, so no device cookie changes the subject.
    return httpx.post(
        url + "/api/v1/login", json={"email": email, "password": password}, timeout=TIMEOUT
    )


def test_failures_on_either_instance_count_toward_one_lock(instances: list[str]) -> None:
    answers = [login(instances[attempt % 2], "bob@example.com", WRONG) for attempt in range(5)]

    codes = [answer.json()["error"]["code"] for answer in answers]
    assert codes == ["invalid_credentials"] * 5
    assert "locked_until" in answers[-1].json()["error"]  # the fifth locked, on one instance
    for url in instances:
        right = login(url, "bob@example.com", PASSWORD)
        assert right.status_code == 423
        assert right.json()["error"]["code"] == "account_locked"
        assert 0 < right.json()["error"]["retry_after"] <= 900


def test_session_from_one_instance_works_on_the_other(instances: list[str]) -> None:
    first, second = instances
    signed_in = login(first, "ada@example.com", PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["session"]["token"]

    me = httpx.get(
        second + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )

    assert me.status_code == 200, me.text
    assert me.json()["email"] == "ada@example.com"
