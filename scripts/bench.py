"""Throughput of sign-in and of authenticated reads, against this machine's Argon2id budget.

    .venv/bin/python scripts/bench.py [--quick] [--skip-million] [--duration SECONDS]

(`make bench` runs it without options.) One run measures, and prints as one markdown table:

1. the baseline: Argon2id verifies per second with the settings' default parameters, one
   thread per core (argon2-cffi releases the GIL, so the threads use every core);
2. per backend (SQLite; PostgreSQL + Redis), against a real `accessguard serve` process
   (one worker) holding N verified accounts: POST /api/v1/login per second with its p50/p99
   latency and its ratio to the baseline (target >= 0.9; measured in windows with the
   baseline measured again between them, as the machine's speed drifts), and GET /api/v1/me
   per second with its ratio to the same server's GET /healthz, in windows alternating
   with it (target >= 0.5);
3. the same sign-in and /me figures on PostgreSQL holding 1,000,000 more accounts and
   1,000,000 audit_events rows (target: within 10 % of the small database).

The load comes from a separate process (this script, re-run with --loadgen-worker): a small
asyncio HTTP/1.1 keep-alive client on the standard library. httpx's async client costs about
4 ms of CPU per request on a slow core, as much as the server itself, so it would measure
itself on a 2-core machine; `--client httpx` uses it anyway, for comparison. CPU use of the
server (and of each of its threads: hashing, event loop, the rest), the load generator, the
PostgreSQL backends of the bench database and the rest of the machine is read from /proc
during each measurement and printed with the figures.

Everything it starts it stops (servers by process id, in `finally`); the PostgreSQL database
and the Redis keys it creates are dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from accessguard.domain.hashing import keep_to, usable_cores

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
SEED_EMAIL = "bench-{:07d}@bench.example"
BULK_EMAIL = "bench-bulk-{}@bench.example"  # the SQL bulk load spells it the same way
USER_AGENT = "accessguard-bench/1"
LOGIN_TARGET = 0.9  # sign-ins/s over baseline verifies/s
ME_TARGET = 0.5  # /me per s over /healthz per s
SCALE_TARGET = 0.9  # figures with 1M rows over the figures with N rows
CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- CPU accounting


def _machine_busy_seconds() -> float:
    """CPU-seconds spent by all cores on anything but idling since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    # user nice system idle iowait irq softirq steal
    return (sum(values) - values[3] - values[4]) / CLK_TCK


def _processes() -> Iterator[tuple[int, int, str, float]]:
    """(pid, process group, comm, CPU-seconds) of every process still readable."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = Path(entry.path, "stat").read_text()
            comm = text[text.index("(") + 1 : text.rindex(")")]
            rest = text[text.rindex(")") + 2 :].split()
            yield int(entry.name), int(rest[2]), comm, _cpu_seconds(rest)


def _threads(pid: int) -> Iterator[tuple[int, float]]:
    """(thread id, CPU-seconds) of every thread of the process still readable."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                text = Path(entry.path, "stat").read_text()
                yield int(entry.name), _cpu_seconds(text[text.rindex(")") + 2 :].split())


def _cpu_seconds(fields_after_comm: list[str]) -> float:
    # utime and stime, fields 14 and 15 of proc(5)'s stat
    return (int(fields_after_comm[11]) + int(fields_after_comm[12])) / CLK_TCK


def _is_backend_of(pid: int, database: str) -> bool:
    """PostgreSQL backends name their database in their process title."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return f" {database} " in title


def cpu_snapshot(server_pgid: int | None, database: str | None) -> dict[str, float]:
    """CPU-seconds so far, per process: the server's process group (and each of its
    threads), this process (the load generator), our PostgreSQL backends; and the machine
    as a whole."""
    snap = {"wall": time.perf_counter(), "machine": _machine_busy_seconds()}
    me = os.getpid()
    for pid, pgid, comm, cpu in _processes():
        if pid == me:
            snap[f"loadgen:{pid}"] = cpu
        elif server_pgid is not None and pgid == server_pgid:
            snap[f"server:{pid}"] = cpu
            for tid, thread_cpu in _threads(pid):
                snap[f"thread:{pid}:{tid}"] = thread_cpu
        elif database and comm == "postgres" and _is_backend_of(pid, database):
            snap[f"db:{pid}"] = cpu
    return snap


PARTIES = ("server", "loadgen", "db")


def cores_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Average cores busy per party between two snapshots; `other` is the rest of the box.

    Per process, so a backend that ends in between loses only its own last moments, and one
    that starts in between counts from its start."""
    wall = after["wall"] - before["wall"]
    used = dict.fromkeys(PARTIES, 0.0)
    for key, cpu in after.items():
        party = key.partition(":")[0]
        if party in used:
            used[party] += max(0.0, cpu - before.get(key, 0.0)) / wall
    used["machine"] = (after["machine"] - before["machine"]) / wall
    used["other"] = max(0.0, used["machine"] - sum(used[p] for p in PARTIES))
    used.update(server_threads(before, after, wall, HASHING_THREADS))
    used["seconds"] = wall
    return used


HASHING_THREADS = len(usable_cores())  # the server's, one per core (domain/hashing.py)
SERVER_THREADS = ("server_hashing", "server_loop", "server_rest")


def server_threads(
    before: dict[str, float], after: dict[str, float], wall: float, hashing: int
) -> dict[str, float]:
    """The server's cores split by thread: its main thread (the event loop), its `hashing`
    busiest other threads, and the rest (request threads, background work).

    The hashing threads are told apart by their load: under sign-ins each spends nearly a
    core on Argon2, while the work around the hashes is spread over a dozen request
    threads. Split only for a single server process, which is what the bench starts."""
    loop, others = 0.0, []
    for key, cpu in after.items():
        kind, _, ids = key.partition(":")
        if kind != "thread":
            continue
        cores = max(0.0, cpu - before.get(key, 0.0)) / wall
        pid, _, tid = ids.partition(":")
        if pid == tid:
            loop += cores
        else:
            others.append(cores)
    others.sort(reverse=True)
    return {
        "server_hashing": sum(others[:hashing]),
        "server_loop": loop,
        "server_rest": sum(others[hashing:]),
    }


# --------------------------------------------------------------------------- load generator
# Runs in its own process (--loadgen-worker): a job as JSON on stdin, the result as JSON in
# the file the job names. Not on stdout: one run in many handed back a result whose pipe
# text was broken at its 65,536th byte (a pipe's capacity) while the worker exited 0.


class HttpError(Exception):
    pass


class RawConnection:
    """One HTTP/1.1 keep-alive connection; just enough protocol for uvicorn's answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Send one request; (status, body, whether the connection stays open)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HttpError(f"bad status line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = b""
        return int(parts[1]), body, headers.get("connection", "").lower() != "close"

    async def _chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return b"".join(chunks)
            chunks.append(chunk[:-2])

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.writer.close()


class HttpxConnection:
    """The same interface over httpx, for `--client httpx` (heavy: see the module docs)."""

    def __init__(self, host: str, port: int) -> None:
        import httpx

        self.client = httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30)

    @classmethod
    async def open(cls, host: str, port: int) -> HttpxConnection:
        return cls(host, port)

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        head, _, body = request.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        method, path, _ = lines[0].split(" ")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        headers.pop("Host", None)
        headers.pop("Content-Length", None)
        response = await self.client.request(method, path, headers=headers, content=body or None)
        return response.status_code, response.content, True

    def close(self) -> None:
        asyncio.get_running_loop().create_task(self.client.aclose())


def build_request(method: str, path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"User-Agent: {USER_AGENT}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def request_maker(job: dict[str, Any]) -> Callable[[], bytes]:
    """The next request to send, per the job: logins across the accounts, or GETs."""
    host = f"{job['host']}:{job['port']}"
    if job["kind"] == "login":
        emails: list[str] = job["emails"]
        bulk: int = job.get("bulk_count", 0)
        password: str = job["password"]
        devices: dict[str, str] = job.get("device_tokens", {})
        turn = itertools.count()

        def login() -> bytes:
            if bulk:  # uniformly over every account: the seeded ones and the bulk-loaded ones
                i = secrets.randbelow(len(emails) + bulk)
                email = emails[i] if i < len(emails) else BULK_EMAIL.format(i - len(emails) + 1)
            else:  # round robin: every seeded account signs in about equally often
                email = emails[next(turn) % len(emails)]
            fields = {"email": email, "password": password}
            if email in devices:  # an app that kept its device token, as apps do
                fields["device_token"] = devices[email]
            return build_request("POST", "/api/v1/login", host, {}, json.dumps(fields).encode())

        return login
    tokens: list[str] = job.get("tokens") or [""]
    prepared = [
        build_request("GET", job["path"], host, {"Authorization": f"Bearer {t}"} if t else {}, b"")
        for t in tokens
    ]
    cycle = itertools.cycle(prepared)
    return lambda: next(cycle)


@dataclass
class LoadState:
    t0: float
    t_end: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    tokens: list[str] = field(default_factory=list)
    cpu: list[dict[str, float]] = field(default_factory=list)


async def _worker(job: dict[str, Any], state: LoadState, make: Callable[[], bytes]) -> None:
    opener: Callable[[str, int], Awaitable[RawConnection | HttpxConnection]] = (
        HttpxConnection.open if job["client"] == "httpx" else RawConnection.open
    )
    conn: RawConnection | HttpxConnection | None = None
    want_tokens = job.get("want_tokens", 0)
    while time.perf_counter() < state.t_end:
        request = make()
        started = time.perf_counter()
        try:
            # asyncio.timeout, not wait_for: wait_for wraps each call in a task of its own,
            # CPU this client would take from the server it measures.
            if conn is None:
                async with asyncio.timeout(10):
                    conn = await opener(job["host"], job["port"])
            async with asyncio.timeout(30):
                status, body, keep = await conn.exchange(request)
        except (OSError, EOFError, HttpError, ValueError, TimeoutError) as error:
            if state.t0 <= time.perf_counter() <= state.t_end:
                state.failures[type(error).__name__] += 1
            if conn is not None:
                conn.close()
            conn = None
            await asyncio.sleep(0.05)
            continue
        done = time.perf_counter()
        if state.t0 <= done <= state.t_end:
            state.latencies.append(done - started)
            state.statuses[str(status)] += 1
        if status == 200 and len(state.tokens) < want_tokens:
            state.tokens.append(json.loads(body)["session"]["token"])
        if not keep and conn is not None:
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


async def _sample_cpu(job: dict[str, Any], state: LoadState) -> None:
    for moment in (state.t0, state.t_end):
        await asyncio.sleep(max(0.0, moment - time.perf_counter()))
        state.cpu.append(cpu_snapshot(job.get("server_pgid"), job.get("db_name")))


async def device_tokens(job: dict[str, Any]) -> dict[str, str]:
    """Each account's device token from one sign-in, before the clock starts: the known
    device of an app that signed in before."""
    conn = await RawConnection.open(job["host"], job["port"])
    tokens = {}
    try:
        for email in job["emails"]:
            body = json.dumps({"email": email, "password": job["password"]}).encode()
            request = build_request(
                "POST", "/api/v1/login", f"{job['host']}:{job['port']}", {}, body
            )
            status, answer, _ = await conn.exchange(request)
            if status != 200:
                raise HttpError(f"a first sign-in for a device token answered {status}")
            tokens[email] = json.loads(answer)["device_token"]
    finally:
        conn.close()
    return tokens


async def run_load(job: dict[str, Any]) -> dict[str, Any]:
    if job.get("known_devices"):
        job["device_tokens"] = await device_tokens(job)
    start = time.perf_counter()
    state = LoadState(t0=start + job["warmup"], t_end=start + job["warmup"] + job["duration"])
    make = request_maker(job)
    workers = [_worker(job, state, make) for _ in range(job["concurrency"])]
    await asyncio.gather(_sample_cpu(job, state), *workers)
    window = state.cpu[1]["wall"] - state.cpu[0]["wall"]
    ok = sum(n for s, n in state.statuses.items() if s.startswith("2"))
    lat = sorted(state.latencies)
    cuts = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else [0.0] * 99
    return {
        "window": window,
        "ok": ok,
        "rate": ok / window,
        "statuses": dict(state.statuses),
        "failures": dict(state.failures),
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "cpu": cores_used(state.cpu[0], state.cpu[1]),
        "tokens": state.tokens,
        "latencies": state.latencies if job.get("want_latencies") else [],
    }


def loadgen_main() -> int:
    job = json.loads(sys.stdin.read())
    with contextlib.suppress(ImportError):
        import uvloop  # the server runs on uvloop too; it makes the client lighter

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    result = asyncio.run(run_load(job))
    Path(job["result_path"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


# --------------------------------------------------------------------------- baseline


def argon2_defaults() -> dict[str, int]:
    from accessguard.settings import Settings

    fields = Settings.model_fields
    return {
        name: int(fields[name].default)
        for name in ("argon2_time_cost", "argon2_memory_kib", "argon2_parallelism")
    }


def hasher() -> Any:
    from accessguard.domain.passwords import Argon2Hasher

    p = argon2_defaults()
    return Argon2Hasher(
        time_cost=p["argon2_time_cost"],
        memory_kib=p["argon2_memory_kib"],
        parallelism=p["argon2_parallelism"],
    )


def raw_hasher(params: dict[str, int]) -> Any:
    """argon2-cffi itself, with the settings' names for its parameters."""
    import argon2

    return argon2.PasswordHasher(
        time_cost=params["argon2_time_cost"],
        memory_cost=params["argon2_memory_kib"],
        parallelism=params["argon2_parallelism"],
        type=argon2.Type.ID,
    )


def measure_baseline(seconds: float, password: str) -> dict[str, float]:
    """Argon2id verifies per second with one thread per core, all of them busy.

    argon2-cffi called directly from each thread: the raw rate, without the service's
    hashing threads and their hand-off in between. Each thread keeps to a core of its own,
    as the server's do (domain/hashing.py), so that the service is measured against the best
    rate of this machine: alone on two cores, threads kept in place verified as fast as or
    faster than threads left to move (docs/performance.md, session 15)."""
    h = raw_hasher(argon2_defaults())
    stored = h.hash(password)
    cores = usable_cores()
    threads = len(cores)
    h.verify(stored, password)  # warm: the first call allocates

    def spin(deadline: float, core: int) -> int:
        keep_to(core)
        n = 0
        while time.perf_counter() < deadline:
            if not h.verify(stored, password):
                raise RuntimeError("baseline verify failed")
            n += 1
        return n

    before = cpu_snapshot(os.getpgid(0), None)
    process_before = os.times()
    deadline = time.perf_counter() + seconds
    with ThreadPoolExecutor(threads) as pool:
        count = sum(pool.map(spin, [deadline] * threads, cores))
    after = cpu_snapshot(os.getpgid(0), None)
    process_after = os.times()
    cpu = (process_after.user + process_after.system) - (
        process_before.user + process_before.system
    )
    used = cores_used(before, after)
    return {
        "rate": count / used["seconds"],
        "threads": threads,
        "ms_per_verify": cpu / count * 1000,
        "other_cores": used["other"],
    }


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accessguard_command() -> list[str]:
    script = Path(sys.executable).with_name("accessguard")
    return [str(script)] if script.exists() else [sys.executable, "-m", "accessguard"]


class Server:
    """`accessguard serve` with one worker, in its own process group; stopped by its id."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str) -> None:
        self.env = env
        self.workdir = workdir
        self.log_path = workdir / f"server-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> Server:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self, timeout: float = 90.0) -> None:
        self.port = free_port()
        command = [*accessguard_command(), "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", "1"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                command,
                env=self.env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: CPU accounting and stopping
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                url = f"http://127.0.0.1:{self.port}/healthz"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"server not up after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the group led by the server we started
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


# --------------------------------------------------------------------------- backends


@dataclass
class Backend:
    title: str
    database_url: str
    redis_url: str | None = None
    redis_prefix: str = "accessguard:"
    db_name: str | None = None  # PostgreSQL database, to attribute its backends' CPU
    argon2: dict[str, int] | None = None  # None: the settings' defaults

    def settings(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "env": "development",
            "cookie_secure": False,
            "database_url": self.database_url,
            "redis_key_prefix": self.redis_prefix,
            "address_failure_limit": 1_000_000_000,
            **(self.argon2 or argon2_defaults()),
        }
        if self.redis_url:
            values["redis_url"] = self.redis_url
        return values

    def server_env(self, secret_key: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSGUARD_")}
        for name, value in {**self.settings(), "secret_keys": secret_key}.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            env[f"ACCESSGUARD_{name.upper()}"] = text
        return env


def seed_accounts(backend: Backend, count: int, password: str) -> list[str]:
    """N verified accounts through the use case itself (one Argon2 hash each, in threads)."""
    from accessguard.bootstrap import build_services
    from accessguard.domain.model import ClientInfo
    from accessguard.settings import Settings
    from accessguard.storage.sql.migrate import upgrade

    settings = Settings(
        _env_file=None,
        **backend.settings(),
        address_request_limit=1_000_000_000,
        secret_keys=[secrets.token_urlsafe(48)],
    )
    services = build_services(settings)
    try:
        upgrade(services.engine)
        client = ClientInfo(ip="127.0.0.1", user_agent=USER_AGENT)
        emails = [SEED_EMAIL.format(i) for i in range(count)]

        def register(email: str) -> None:
            if services.accounts.register(email, password, client, verified=True) is None:
                raise RuntimeError(f"{email} exists already")

        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            list(pool.map(register, emails))
        # Each registration queued its own follow-up (domain/deferred.py): carried out now, so
        # that the server's outbox worker is idle while it is measured.
        while services.dispatcher.run_once(limit=500).sent:
            pass
    finally:
        services.close()
    return emails


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[tuple[str, str]]:
    """A fresh database for this run, dropped (with its connections) at the end."""
    import sqlalchemy as sa

    name = f"accessguard_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield admin_url.rsplit("/", 1)[0] + "/" + name, name
    finally:
        with contextlib.suppress(sa.exc.SQLAlchemyError), admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextlib.contextmanager
def redis_prefix(url: str) -> Iterator[str]:
    """A key prefix for this run; its keys are deleted at the end."""
    import redis

    prefix = f"accessguard-bench:{secrets.token_hex(4)}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(url, socket_timeout=5)
        with contextlib.suppress(redis.RedisError):
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            for i in range(0, len(keys), 500):
                client.delete(*keys[i : i + 500])
        client.close()


BULK_ACCOUNTS_SQL = """
INSERT INTO accounts (id, email, email_key, password_hash, email_verified_at, created_at, role)
SELECT md5('bench-bulk-' || g)::uuid::text,
       'bench-bulk-' || g || '@bench.example',
       'bench-bulk-' || g || '@bench.example',
       :hash, now(), now() - make_interval(secs => g), 'customer'
FROM generate_series(1, :count) AS g
"""

BULK_AUDIT_SQL = """
INSERT INTO audit_events (at, kind, outcome, account_id, ip, user_agent, detail)
SELECT now() - make_interval(secs => g),
       CASE WHEN g % 10 = 0 THEN 'register' ELSE 'sign_in' END,
       CASE WHEN g % 7 = 0 THEN 'invalid_credentials' ELSE 'success' END,
       md5('bench-bulk-' || (1 + (g::bigint * 7919) % :accounts))::uuid::text,
       '198.51.100.' || (g % 250), 'bench-bulk', '{}'::json
FROM generate_series(1, :events) AS g
"""


def bulk_load(database_url: str, accounts: int, events: int, password: str) -> dict[str, Any]:
    """`accounts` more accounts (all with one precomputed hash of `password`) and `events`
    audit rows spread over them, with INSERT … SELECT FROM generate_series."""
    import sqlalchemy as sa

    from accessguard.domain.emails import email_key
    from accessguard.domain.passwords import prepare

    sample = BULK_EMAIL.format(12345)
    if email_key(sample) != sample:
        raise RuntimeError("bulk emails would not be found by their email_key")
    password_hash = hasher().hash(prepare(password))
    started = time.perf_counter()
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
            conn.execute(sa.text(BULK_ACCOUNTS_SQL), {"hash": password_hash, "count": accounts})
            conn.execute(sa.text(BULK_AUDIT_SQL), {"accounts": accounts, "events": events})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE accounts")
            conn.exec_driver_sql("VACUUM ANALYZE audit_events")
            rows = {
                table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608 - fixed names
                for table in ("accounts", "audit_events")
            }
    finally:
        engine.dispose()
    return {"seconds": time.perf_counter() - started, **rows}


# --------------------------------------------------------------------------- measuring


@dataclass
class Options:
    duration: float
    warmup: float
    concurrency: int
    client: str
    accounts: int
    million: int
    baseline_seconds: float


def drive(server: Server, backend: Backend, options: Options, **job: Any) -> dict[str, Any]:
    """One measurement by a fresh load-generator process; bounded in time, killed if late."""
    assert server.proc is not None  # noqa: S101 - started by the caller
    job.update(
        host="127.0.0.1",
        port=server.port,
        duration=options.duration,
        warmup=options.warmup,
        concurrency=options.concurrency,
        client=options.client,
        server_pgid=server.proc.pid,
        db_name=backend.db_name,
    )
    what = job.get("path") or "POST /api/v1/login"
    say(f"  {backend.title}: {what} for {options.warmup:g}+{options.duration:.3g} s")
    with tempfile.TemporaryDirectory(prefix="accessguard-loadgen-") as folder:
        result_path = Path(folder) / "result.json"
        job["result_path"] = str(result_path)
        with subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--loadgen-worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        ) as proc:
            try:
                _, err = proc.communicate(
                    json.dumps(job).encode(), timeout=options.warmup + options.duration + 90
                )
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise RuntimeError(f"load generator for {what} overran its time limit") from None
        if proc.returncode != 0:
            raise RuntimeError(f"load generator failed:\n{err.decode(errors='replace')[-2000:]}")
        result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    bad = {s: n for s, n in result["statuses"].items() if not s.startswith("2")}
    result["errors"] = sum(bad.values()) + sum(result["failures"].values())
    result["error_detail"] = {**bad, **result["failures"]}
    say(
        f"    {result['rate']:.1f}/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms"
        + (f", errors {result['error_detail']}" if result["errors"] else "")
    )
    if bad:
        say("    server log tail:\n" + server.tail(10))
    return result


def bracketing(baselines: list[dict[str, float]]) -> dict[str, float]:
    """One baseline from those taken between the sign-in windows: their mean rate and CPU per
    verify, each one's rate, and the busiest reading of the rest of the machine."""
    return {
        "rate": statistics.fmean(b["rate"] for b in baselines),
        "threads": baselines[0]["threads"],
        "ms_per_verify": statistics.fmean(b["ms_per_verify"] for b in baselines),
        "other_cores": max(b["other_cores"] for b in baselines),
        "rates": [b["rate"] for b in baselines],
    }


def merge_windows(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """Several load-generator results as one: counts summed, CPU weighted by each window's
    length, latency percentiles over every request."""
    seconds = sum(w["window"] for w in windows)
    latencies = sorted(x for w in windows for x in w["latencies"])
    cuts = (
        statistics.quantiles(latencies, n=100, method="inclusive")
        if len(latencies) >= 2
        else [0.0] * 99
    )
    statuses: Counter[str] = sum((Counter(w["statuses"]) for w in windows), Counter())
    failures: Counter[str] = sum((Counter(w["failures"]) for w in windows), Counter())
    detail: Counter[str] = sum((Counter(w["error_detail"]) for w in windows), Counter())
    ok = sum(w["ok"] for w in windows)
    return {
        "window": seconds,
        "ok": ok,
        "rate": ok / seconds,
        "statuses": dict(statuses),
        "failures": dict(failures),
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "cpu": {
            party: sum(w["cpu"][party] * w["window"] for w in windows) / seconds
            for party in windows[0]["cpu"]
            if party != "seconds"
        },
        "tokens": [t for w in windows for t in w["tokens"]][:256],
        "errors": sum(w["errors"] for w in windows),
        "error_detail": dict(detail),
    }


# The VM's speed drifts by a fifth within a minute (docs/performance.md), so each ratio is
# taken between figures measured moments apart: sign-in in short windows with a baseline
# between each two (the server idle meanwhile), each window against the mean of the two
# baselines either side of it; /me in windows alternating with /healthz, each against the
# /healthz windows either side. The verdict is the median, so one window on a machine that
# changed speed under it does not decide alone.
WINDOWS = 3


def between(windows: list[dict[str, Any]], references: list[dict[str, Any]]) -> list[float]:
    """Each window's rate against the mean rate of the two references either side of it."""
    return [
        window["rate"] / statistics.fmean((before["rate"], after["rate"]))
        for window, before, after in zip(windows, references, references[1:], strict=False)
    ]


def measure_server(
    backend: Backend, options: Options, workdir: Path, name: str, login_job: dict[str, Any]
) -> dict[str, Any]:
    """Sign-in in windows between baselines, then /me (with sessions from the sign-ins) in
    windows between /healthz windows, on one server."""
    short = replace(options, duration=options.duration / WINDOWS)
    password = login_job["password"]
    baselines = [measure_baseline(options.baseline_seconds, password)]
    logins: list[dict[str, Any]] = []
    with Server(backend.server_env(secrets.token_urlsafe(48)), workdir, name) as server:
        for _ in range(WINDOWS):
            job = {"kind": "login", "want_tokens": 256, "want_latencies": True, **login_job}
            logins.append(drive(server, backend, short, **job))
            baselines.append(measure_baseline(options.baseline_seconds, password))
            say(f"    baseline {baselines[-1]['rate']:.1f}/s")
        login = merge_windows(logins)
        if not login["tokens"]:
            raise RuntimeError("no sign-in succeeded, so /me cannot be measured")
        healthz = [drive(server, backend, short, kind="get", path="/healthz")]
        me: list[dict[str, Any]] = []
        for _ in range(WINDOWS):
            job = {"kind": "get", "path": "/api/v1/me", "tokens": login["tokens"]}
            me.append(drive(server, backend, short, want_latencies=True, **job))
            healthz.append(drive(server, backend, short, kind="get", path="/healthz"))
    return {
        "login": login,
        "healthz": merge_windows(healthz),
        "me": merge_windows(me),
        "baseline_here": bracketing(baselines),
        "login_ratios": between(logins, baselines),
        "me_ratios": between(me, healthz),
    }


def run_backend(
    backend: Backend, options: Options, workdir: Path, password: str
) -> tuple[dict[str, Any], list[str]]:
    say(f"{backend.title}: creating {options.accounts} verified accounts")
    started = time.perf_counter()
    emails = seed_accounts(backend, options.accounts, password)
    say(f"  created in {time.perf_counter() - started:.1f} s; starting the server")
    name = backend.db_name or "sqlite"
    result = measure_server(
        backend, options, workdir, name, {"emails": emails, "password": password}
    )
    return result, emails


# Cheap enough that a sign-in's own hash is a small part of its CPU (about 1 ms against
# 25-40 ms with the defaults here), so the rest of its work stands out.
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}
OVERHEAD_ACCOUNTS = 200


def measure_overhead(backend: Backend, options: Options, workdir: Path, password: str) -> Any:
    """Sign-in's CPU apart from Argon2: the same sign-ins, on a fresh store whose accounts are
    hashed with CHEAP_ARGON2, less the CPU of that cheap verify itself (measured here, in a
    loop, just after). What is left is the HTTP, storage and counter work that every real
    sign-in adds to its hash, which no drift in the machine's speed hides as it does the
    throughput ratio."""
    say(f"{backend.title}: sign-in apart from Argon2 ({OVERHEAD_ACCOUNTS} cheaply hashed accounts)")
    emails = seed_accounts(backend, OVERHEAD_ACCOUNTS, password)
    name = f"{backend.db_name or 'sqlite'}-cheap"
    with Server(backend.server_env(secrets.token_urlsafe(48)), workdir, name) as server:
        result = drive(server, backend, options, kind="login", emails=emails, password=password)
        say(f"{backend.title}: the same from known devices (each account's device token kept)")
        known = drive(
            server,
            backend,
            options,
            kind="login",
            emails=emails,
            password=password,
            known_devices=True,
        )
    result["cheap_verify_ms"] = known["cheap_verify_ms"] = cheap_verify_ms(password)
    result["known"] = known
    return result


def cheap_verify_ms(password: str, seconds: float = 1.0) -> float:
    """CPU milliseconds of one verify with CHEAP_ARGON2, on one thread."""
    h = raw_hasher(CHEAP_ARGON2)
    stored = h.hash(password)
    h.verify(stored, password)  # warm: the first call allocates
    count, started, deadline = 0, time.process_time(), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        h.verify(stored, password)
        count += 1
    return (time.process_time() - started) / count * 1000


def run_million(
    backend: Backend, options: Options, workdir: Path, password: str, emails: list[str]
) -> dict[str, Any]:
    say(f"{backend.title}: bulk-loading {options.million:,} accounts and audit rows")
    loaded = bulk_load(backend.database_url, options.million, options.million, password)
    say(
        f"  loaded in {loaded['seconds']:.1f} s: {loaded['accounts']:,} accounts, "
        f"{loaded['audit_events']:,} audit rows; restarting the server"
    )
    job = {"emails": emails, "password": password, "bulk_count": options.million}
    result = measure_server(backend, options, workdir, f"{backend.db_name}-big", job)
    result["loaded"] = loaded
    return result


# --------------------------------------------------------------------------- the table


def cpu_model() -> str:
    model, virtual = platform.processor() or "unknown", False
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                virtual = virtual or " hypervisor" in line
    return model + (" (virtual machine)" if virtual else "")


def service_versions(admin_url: str, redis_url: str) -> str:
    parts = []
    with contextlib.suppress(Exception):
        import sqlalchemy as sa

        engine = sa.create_engine(admin_url)
        with engine.connect() as conn:
            parts.append(f"PostgreSQL {conn.exec_driver_sql('SHOW server_version').scalar()}")
        engine.dispose()
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(redis_url, socket_timeout=2)
        parts.append("Redis " + str(client.info("server")["redis_version"]))
        client.close()
    return ", ".join(parts) or "PostgreSQL/Redis versions unknown"


def verdict(ratio: float, target: float) -> str:
    if ratio >= target:
        return f"**{ratio:.2f}** (target ≥ {target:g}: met)"
    return f"**{ratio:.2f}** (target ≥ {target:g}: missed by {(1 - ratio / target) * 100:.0f} %)"


def cpu_cell(result: dict[str, Any]) -> str:
    c = result["cpu"]
    db = f" / db {c['db']:.2f}" if c["db"] > 0 else ""
    return f"server {c['server']:.2f} / load gen {c['loadgen']:.2f}{db} / rest {c['other']:.2f}"


def per_request_ms(result: dict[str, Any]) -> str:
    return f"{cpu_ms(result, 'server'):.2f}"


def cpu_ms(result: dict[str, Any], *parties: str) -> float:
    """CPU milliseconds per answered request spent by the given parties."""
    total = sum(result["statuses"].values()) or 1
    return float(sum(result["cpu"][p] for p in parties) * result["window"] / total * 1000)


def threads_cell(data: dict[str, Any]) -> str:
    """Where the server's CPU per sign-in goes, real hashes and cheap ones side by side: what
    the hashes' company costs each thread."""

    def split(result: dict[str, Any]) -> str:
        return " / ".join(f"{cpu_ms(result, part):.2f}" for part in SERVER_THREADS) + " ms"

    verify = data["baseline_here"]["ms_per_verify"]
    cell = f"{split(data['login'])} (verify {verify:.1f} ms)"
    cheap = data.get("overhead")
    if isinstance(cheap, dict) and not cheap["errors"]:
        cell += f"; cheap {split(cheap)}"
    return cell


def cpu_estimates(data: dict[str, Any]) -> str:
    """Ratios from CPU cost per request, which other users of the machine barely move."""
    login_ms = cpu_ms(data["login"], *PARTIES)
    verify_ms = data["baseline_here"]["ms_per_verify"]
    me_ms = cpu_ms(data["me"], *PARTIES)
    healthz_ms = cpu_ms(data["healthz"], *PARTIES)
    return (
        f"sign-in {verify_ms:.1f} ÷ {login_ms:.1f} ms = {verify_ms / login_ms:.2f}; "
        f"/me {healthz_ms:.2f} ÷ {me_ms:.2f} ms = {healthz_ms / me_ms:.2f}"
    )


def overhead_cells(data: dict[str, Any]) -> list[str]:
    """Sign-in's CPU apart from Argon2, and the ratio it allows with this run's verify; then
    the same from known devices."""
    found = data.get("overhead")
    if not isinstance(found, dict):
        return [found or "—", "—", "—"]
    verify = data["baseline_here"]["ms_per_verify"]
    return [*_overhead(found, verify), _overhead(found["known"], verify)[0]]


def _overhead(found: dict[str, Any], verify: float) -> list[str]:
    if found["errors"]:
        return [f"errors: {found['error_detail']}", "—"]
    parts = " / ".join(f"{cpu_ms(found, party):.2f}" for party in PARTIES)
    cheap = found["cheap_verify_ms"]
    rest = cpu_ms(found, *PARTIES) - cheap
    return [
        f"{parts} ms ({found['rate']:.0f}/s), less its cheap verify {cheap:.2f} ms: {rest:.2f} ms",
        f"{verify:.1f} ÷ ({verify:.1f} + {rest:.2f}) ms = {verify / (verify + rest):.2f}",
    ]


def scale_cell(big: dict[str, Any], small: dict[str, Any], figure: str, ratios: str) -> str:
    """The figure with 1M rows against the same with N, each as its ratio to the reference
    measured beside it (so the machine's drift between the two columns cancels out)."""
    ratio = statistics.median(big[ratios]) / statistics.median(small[ratios])
    by_cpu = cpu_ms(small[figure], *PARTIES) / cpu_ms(big[figure], *PARTIES)
    return f"{verdict(ratio, SCALE_TARGET)}; by CPU per request {by_cpu:.2f}"


def windows_verdict(ratios: list[float], target: float) -> str:
    listed = " / ".join(f"{r:.2f}" for r in ratios)
    return f"{verdict(statistics.median(ratios), target)}; windows {listed}"


def column(data: dict[str, Any] | str, small: dict[str, Any] | str | None) -> list[str]:
    """The cells of one backend's column, in the row order of `ROWS`."""
    if isinstance(data, str):
        return [data] + ["—"] * (len(ROWS) - 1)
    login, healthz, me, here = data["login"], data["healthz"], data["me"], data["baseline_here"]
    cells = [
        f"{here['rate']:.1f}/s ({', '.join(f'{r:.1f}' for r in here['rates'])}; "
        f"{here['ms_per_verify']:.1f} ms CPU each; "
        f"rest of machine {here['other_cores']:.2f} cores)",
        f"{login['rate']:.1f}/s",
        windows_verdict(data["login_ratios"], LOGIN_TARGET),
        f"{login['p50_ms']:.0f} / {login['p99_ms']:.0f} ms",
        f"{healthz['rate']:.0f}/s",
        f"{me['rate']:.0f}/s",
        windows_verdict(data["me_ratios"], ME_TARGET),
        f"{me['p50_ms']:.1f} / {me['p99_ms']:.1f} ms",
    ]
    if isinstance(small, dict):
        cells += [
            scale_cell(data, small, "login", "login_ratios"),
            scale_cell(data, small, "me", "me_ratios"),
        ]
    else:
        cells += ["—", "—"]
    cells += [
        *overhead_cells(data),
        cpu_estimates(data),
        f"{per_request_ms(login)} / {per_request_ms(me)} / {per_request_ms(healthz)} ms",
        threads_cell(data),
        cpu_cell(login),
        cpu_cell(me),
        cpu_cell(healthz),
        ", ".join(
            f"{r['errors']} ({r['error_detail']})" if r["errors"] else "0"
            for r in (login, me, healthz)
        ),
    ]
    return cells


ROWS = [
    f"Argon2id baseline, all cores: mean of {WINDOWS + 1} taken before, between and"
    " after the sign-in windows (each)",
    "sign-in throughput (POST /api/v1/login), all windows",
    f"sign-in ÷ baseline: median of {WINDOWS} windows, each against the baselines"
    " either side of it",
    "sign-in latency p50 / p99",
    "GET /healthz, same server, all windows",
    "GET /api/v1/me, per server process (there is 1), all windows",
    f"/me ÷ /healthz: median of {WINDOWS} windows, each against the /healthz windows either"
    " side of it",
    "/me latency p50 / p99",
    "sign-in ÷ same with N accounts, each as its ratio to the baseline",
    "/me ÷ same with N accounts, each as its ratio to /healthz",
    "sign-in CPU apart from Argon2 (accounts hashed with m=1024 KiB, t=1): server / load gen"
    " / db per sign-in, less that cheap verify's own CPU",
    "sign-in ÷ baseline that this allows: verify ÷ (verify + CPU apart from Argon2)",
    "the same CPU apart from Argon2 from known devices (each account's client sends the device"
    " token of a first sign-in, as apps and browsers that signed in before do)",
    "the two ratios from CPU per request (all parties): verify ÷ sign-in; healthz ÷ me",
    "server CPU per request: sign-in / me / healthz",
    f"server CPU per sign-in by thread: the {HASHING_THREADS} hashing threads / the event loop"
    " / the other threads; with real hashes (next to the baseline's CPU per verify), then with"
    " cheap ones",
    "cores busy during sign-in",
    "cores busy during /me",
    "cores busy during /healthz",
    "errors: sign-in, me, healthz",
]


def render(
    options: Options,
    facts: dict[str, str],
    baseline: dict[str, float],
    baseline_end: dict[str, float] | None,
    columns: dict[str, dict[str, Any] | str],
) -> str:
    p = argon2_defaults()
    params = (
        f"m={p['argon2_memory_kib']} KiB, t={p['argon2_time_cost']}, p={p['argon2_parallelism']}"
    )
    end = (
        f"; at the end of the run {baseline_end['rate']:.1f}/s "
        f"(rest of machine {baseline_end['other_cores']:.2f} cores)"
        if baseline_end
        else ""
    )
    lines = [
        f"### accessguard bench, {facts['date']}",
        "",
        f"- command: `{facts['command']}`",
        f"- machine: nproc {facts['nproc']}, {facts['cpu']}, {facts['memory']}, "
        f"Linux {platform.release()}, Python {platform.python_version()}, {facts['services']}; "
        f"load average at start {facts['load']}",
        f"- baseline: Argon2id verify ({params}) on {baseline['threads']:.0f} threads "
        f"(one per core, each kept to it) at the start of the run: "
        f"{baseline['rate']:.1f} verifies/s "
        f"({baseline['ms_per_verify']:.1f} ms CPU per verify; rest of machine "
        f"{baseline['other_cores']:.2f} cores){end}. The machine may be shared and its speed "
        f"drifts, so each column's sign-in is measured in {WINDOWS} windows with a "
        "baseline before, between and after them, and each window is divided by the mean of "
        "the two baselines either side of it (first rows)",
        f"- server: `accessguard serve --workers 1` = **1 server process** per backend; "
        f"{options.accounts:,} verified accounts; load: {options.concurrency} concurrent "
        f"keep-alive connections from one separate process ({options.client} client), "
        f"{options.duration:g} s measured per figure in {WINDOWS} windows of "
        f"{options.warmup:g} s warm-up then {options.duration / WINDOWS:.3g} s (sign-in apart "
        f"from Argon2: one window, {options.warmup:g} s then {options.duration:g} s)",
        "- cores busy: average CPU cores used while measuring, from /proc: the server "
        "process, the load generator, the bench database's PostgreSQL backends, and the "
        "rest of the machine (Redis, PostgreSQL background work, kernel, other users). "
        "CPU per request barely moves when others load the machine, throughput does",
        "",
        "| figure | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    big = columns.get(MILLION_KEY)
    small = columns.get(PG_KEY)
    cells = {
        title: column(data, small if title == MILLION_KEY else None)
        for title, data in columns.items()
    }
    for i, row in enumerate(ROWS):
        lines.append(f"| {row} | " + " | ".join(cells[t][i] for t in columns) + " |")
    if isinstance(big, dict):
        loaded = big["loaded"]
        lines += [
            "",
            f"Bulk load for the last column: {loaded['accounts']:,} accounts and "
            f"{loaded['audit_events']:,} audit_events rows in total, loaded with INSERT … "
            f"SELECT FROM generate_series plus VACUUM ANALYZE in {loaded['seconds']:.0f} s; "
            "its sign-ins pick accounts uniformly over all of them.",
        ]
    return "\n".join(lines)


SQLITE_KEY = "SQLite"
PG_KEY = "PostgreSQL + Redis"
MILLION_KEY = "PostgreSQL + Redis, 1M accounts + 1M audit rows"


def machine_facts(admin_url: str, redis_url: str) -> dict[str, str]:
    argv = [os.path.relpath(sys.executable), *sys.argv]
    if argv[1].startswith("/"):
        argv[1] = os.path.relpath(argv[1])
    memory = "memory unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB RAM"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": shlex.join(argv),
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "memory": memory,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "services": service_versions(admin_url, redis_url),
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short run, to check it works")
    parser.add_argument("--skip-million", action="store_true", help="no 1M-row column")
    parser.add_argument("--duration", type=float, help="seconds per measured figure [10; 3]")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per figure [2; 1]")
    parser.add_argument("--concurrency", type=int, default=16, help="connections [16]")
    parser.add_argument("--accounts", type=int, help="seeded accounts [1000; 100]")
    parser.add_argument("--million", type=int, help="bulk rows [1000000; 100000 with --quick]")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw", help="[raw]")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--loadgen-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name, full, quick in [
        ("duration", 10.0, 3.0),
        ("warmup", 2.0, 1.0),
        ("accounts", 1000, 100),
        ("million", 1_000_000, 100_000),
    ]:
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.duration <= 0 or args.duration > 600 or args.concurrency < 1 or args.accounts < 1:
        parser.error("--duration must be in (0, 600], --concurrency and --accounts >= 1")
    return args


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally`: servers stop, DB drops


def run_all(args: argparse.Namespace, options: Options, password: str, workdir: Path) -> Any:
    columns: dict[str, dict[str, Any] | str] = {}
    if not args.skip_sqlite:
        sqlite = Backend(SQLITE_KEY, f"sqlite:///{workdir / 'bench.db'}")
        columns[SQLITE_KEY] = attempt(lambda: run_backend(sqlite, options, workdir, password)[0])
        cheap = Backend(SQLITE_KEY, f"sqlite:///{workdir / 'cheap.db'}", argon2=CHEAP_ARGON2)
        add_overhead(
            columns, SQLITE_KEY, lambda: measure_overhead(cheap, options, workdir, password)
        )
    if args.skip_postgres:
        return columns
    try:
        with (
            postgres_database(args.pg_admin_url) as (url, name),
            redis_prefix(args.redis_url) as prefix,
        ):
            pg = Backend(PG_KEY, url, args.redis_url, prefix, name)
            small, emails = run_backend(pg, options, workdir, password)
            columns[PG_KEY] = small
            if not args.skip_million:
                columns[MILLION_KEY] = attempt(
                    lambda: run_million(pg, options, workdir, password, emails)
                )
    except Exception as error:  # noqa: BLE001 - one failed backend must not lose the others
        say(f"PostgreSQL + Redis failed: {error!r}")
        columns.setdefault(PG_KEY, failure(error))

    def pg_overhead() -> Any:
        with (
            postgres_database(args.pg_admin_url) as (url, name),
            redis_prefix(args.redis_url) as prefix,
        ):
            cheap = Backend(PG_KEY, url, args.redis_url, prefix, name, argon2=CHEAP_ARGON2)
            return measure_overhead(cheap, options, workdir, password)

    add_overhead(columns, PG_KEY, pg_overhead)
    return columns


def add_overhead(columns: dict[str, Any], key: str, measure: Callable[[], Any]) -> None:
    """Measure sign-in apart from Argon2 for a column that was measured."""
    if isinstance(columns.get(key), dict):
        columns[key]["overhead"] = attempt(measure)


def failure(error: BaseException) -> str:
    """A table cell: one line, no pipes."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"failed: {type(error).__name__}: {first}"[:160].replace("|", "/")


def attempt(run: Callable[[], dict[str, Any]]) -> dict[str, Any] | str:
    try:
        return run()
    except Exception as error:  # noqa: BLE001 - one failed backend must not lose the others
        say(f"failed: {error!r}")
        return failure(error)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.loadgen_worker:
        return loadgen_main()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    options = Options(
        duration=args.duration,
        warmup=args.warmup,
        concurrency=args.concurrency,
        client=args.client,
        accounts=args.accounts,
        million=args.million,
        baseline_seconds=2.0 if args.quick else 3.0,
    )
    facts = machine_facts(args.pg_admin_url, args.redis_url)
    password = "bench-" + secrets.token_urlsafe(18)
    say(f"baseline: Argon2id verify on {HASHING_THREADS} threads, {options.baseline_seconds:g} s")
    baseline = measure_baseline(options.baseline_seconds, password)
    say(f"  {baseline['rate']:.1f} verifies/s")
    with tempfile.TemporaryDirectory(prefix="accessguard-bench-") as tmp:
        columns = run_all(args, options, password, Path(tmp))
    say("baseline again, to see whether the machine's load changed during the run")
    baseline_end = measure_baseline(options.baseline_seconds, password)
    print(render(options, facts, baseline, baseline_end, columns), flush=True)
    return 1 if any(isinstance(v, str) for v in columns.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
