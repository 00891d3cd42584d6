"""No request hangs: a database that stops answering on an open connection (a frozen host, a
half-open partition) reaches no statement timeout, since its server never sees the statement.
The client still hears `request_timed_out` within the request deadline, and /readyz says
"unavailable" instead of keeping a load balancer waiting."""

from __future__ import annotations

import contextlib
import gc
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import uvicorn

from accessguard.bootstrap import Services
from accessguard.web.app import create_app
from tests.conftest import _empty
from tests.support import PASSWORD, free_port, make_account, require_service


class StallingProxy:
    """Forwards TCP both ways until `stall()`; then holds every byte, connections left open,
    as a frozen database host does, until `release()`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closing = False
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self) -> None:
        self._flowing.clear()

    def release(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closing = True
        self._flowing.set()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            self._flowing.wait()
            try:
                sink.sendall(data)
            except OSError:
                return


@pytest.fixture
def backend(pg_database: str) -> dict[str, Any]:
    """PostgreSQL only, through the proxy: SQLite has no connection to stall."""
    _empty(pg_database)  # the run's shared database, as the other PostgreSQL tests find it
    return {"database_url": pg_database, "redis_url": None}


@pytest.fixture
def proxy(backend: dict[str, Any]) -> Iterator[StallingProxy]:
    parts = urlsplit(backend["database_url"])
    stalling = StallingProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    yield stalling
    stalling.close()


@pytest.fixture
def redis_proxy(request: pytest.FixtureRequest) -> Iterator[StallingProxy | None]:
    """A proxy to the real Redis when the test asks for one (indirect parameter), else None."""
    if not getattr(request, "param", False):
        yield None
        return
    require_service("Redis", 6379, "start redis-server")
    stalling = StallingProxy(("127.0.0.1", 6379))
    yield stalling
    stalling.close()


@pytest.fixture
def stalled_server(
    proxy: StallingProxy,
    redis_proxy: StallingProxy | None,
    services: Services,
    services_factory: Callable[..., Services],
) -> Iterator[str]:
    make_account(services)  # directly, before anything stalls
    parts = urlsplit(services.settings.database_url)
    through_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    redis: dict[str, str] = {}
    if redis_proxy is not None:
        redis["redis_url"] = f"redis://127.0.0.1:{redis_proxy.port}/0"
        redis["redis_key_prefix"] = f"accessguard-test:{secrets.token_hex(4)}:"
    served = services_factory(
        database_url=through_proxy,
        db_timeout_seconds=1,
        redis_timeout_seconds=0.5,
        request_timeout_seconds=2.5,
        **redis,
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(services=served, run_outbox_worker=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    # The server shares this process, and by the end of the suite its heap is large: a full
    # garbage collection then stops every thread, the server's loop too, for longer than the
    # 0.75 s between the readiness checks' limit and the request deadline. What is kept so
    # far is set aside, so the time limits measured are the server's, not the suite's.
    gc.collect()
    gc.freeze()
    yield f"http://127.0.0.1:{port}"
    gc.unfreeze()
    proxy.release()  # let the abandoned work finish, so the server stops cleanly
    server.should_exit = True
    thread.join(timeout=20)


def test_a_database_that_stops_answering_gets_a_retryable_answer_not_a_hang(
    proxy: StallingProxy, stalled_server: str
) -> None:
    body = {"email": "ada@example.com", "password": PASSWORD}
    with httpx.Client(base_url=stalled_server, timeout=20) as client:
        assert client.post("/api/v1/login", json=body).status_code == 200  # connections open
        proxy.stall()
        refused = client.post("/api/v1/login", json=body)
        ready = client.get("/readyz")
    assert refused.status_code == 503
    error = refused.json()["error"]
    assert error["code"] == "request_timed_out"  # not "nothing was changed": it may finish
    assert refused.headers["Retry-After"] == str(error["retry_after"])
    assert error["reference"] == refused.headers["X-Request-ID"]
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unavailable"


@pytest.mark.parametrize("redis_proxy", [True], indirect=True)
def test_readiness_with_both_dependencies_stalled_answers_its_checks_within_the_deadline(
    proxy: StallingProxy, redis_proxy: StallingProxy, stalled_server: str
) -> None:
    # One after the other, the two checks' limits add up past the request deadline, and the
    # load balancer got `request_timed_out` with no checks at all.
    with httpx.Client(base_url=stalled_server, timeout=20) as client:
        assert client.get("/readyz").status_code == 200
        proxy.stall()
        redis_proxy.stall()
        ready = client.get("/readyz")
        redis_proxy.release()
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "unavailable", "redis": "unavailable"}


@pytest.mark.parametrize("redis_proxy", [True], indirect=True)
def test_a_redis_that_stops_answering_refuses_sign_in_as_unavailable_within_its_limit(
    redis_proxy: StallingProxy, stalled_server: str
) -> None:
    """Fail closed, and soon: the counters cannot be read, so nothing is checked, and the
    answer says nothing changed (`service_unavailable`) instead of waiting out the request
    deadline (`request_timed_out`, which says it may have)."""
    body = {"email": "ada@example.com", "password": PASSWORD}
    with httpx.Client(base_url=stalled_server, timeout=20) as client:
        assert client.post("/api/v1/login", json=body).status_code == 200  # connections open
        redis_proxy.stall()
        refused = client.post("/api/v1/login", json=body)
        redis_proxy.release()
        again = client.post("/api/v1/login", json=body)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "service_unavailable"
    assert again.status_code == 200  # the stalled connection was dropped, not reused


def test_a_body_that_never_finishes_arriving_is_answered_within_the_deadline(
    stalled_server: str,
) -> None:
    """Bodies are read whole before anything else (web/middleware/json_only.py): a client
    that promises more than it sends is answered too, with words that blame no one."""
    address = urlsplit(stalled_server)
    with socket.create_connection((address.hostname, address.port), timeout=20) as sock:
        sock.sendall(
            b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"email": '
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), head
    assert json.loads(body)["error"]["code"] == "request_timed_out"
