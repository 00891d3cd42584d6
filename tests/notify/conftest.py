"""Real receivers for the channels: an aiosmtpd server and a small HTTP SMS gateway."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from accessguard.domain.model import Account, Message
from accessguard.notify.channels import Channel
from accessguard.notify.outbox import Dispatcher
from accessguard.notify.render import Renderer
from accessguard.storage.sql import tables
from accessguard.storage.sql.engine import create_engine
from accessguard.storage.sql.outbox import SqlOutbox
from tests.support import SettableClock, free_port

PUBLIC_URL = "https://accounts.example.test"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'notify.db'}", timeout_seconds=2)
    tables.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def account(clock: SettableClock) -> Account:
    return Account(
        id="acc-1",
        email="ada@example.com",
        email_key="ada@example.com",
        password_hash="unused",
        email_verified_at=clock.now(),
        created_at=clock.now(),
        anti_phishing_phrase="blue <heron> & co",
    )


def queue(engine: sa.Engine, message: Message, now: datetime) -> int:
    with engine.begin() as conn:
        SqlOutbox(conn).add(message, now)
        return int(conn.execute(sa.select(sa.func.max(tables.outbox.c.id))).scalar_one())


def outbox_row(engine: sa.Engine, message_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        query = sa.select(tables.outbox).where(tables.outbox.c.id == message_id)
        return dict(conn.execute(query).mappings().one())


@pytest.fixture
def make_dispatcher(engine: sa.Engine, clock: SettableClock) -> Callable[..., Dispatcher]:
    def make(channels: dict[str, Channel], max_attempts: int = 5) -> Dispatcher:
        return Dispatcher(engine, channels, Renderer(PUBLIC_URL), clock, max_attempts=max_attempts)

    return make


class MailCollector:
    """An aiosmtpd handler keeping every message; it can refuse recipients instead."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[str] = []  # RCPT TO, as the envelope named them
        self.refuse_recipients = False
        self.refusal = "550 5.1.1"  # for good; "450 …" is for now

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.refuse_recipients:
            return f"{self.refusal} <{address}>: no such mailbox"
        envelope.rcpt_tos.append(address)
        self.recipients.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


class SmtpServer:
    def __init__(self, *, smtputf8: bool = True) -> None:
        self.port = free_port()
        self.handler = MailCollector()
        self._smtputf8 = smtputf8  # many servers lack it
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=self._smtputf8
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """A port with nothing listening yet; `start()` brings the server up on it."""
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_down: SmtpServer) -> SmtpServer:
    smtp_down.start()
    return smtp_down


@pytest.fixture
def smtp_ascii_only() -> Iterator[SmtpServer]:
    """A server up, without SMTPUTF8: it takes only ASCII addresses."""
    server = SmtpServer(smtputf8=False)
    server.start()
    yield server
    server.stop()


class _GatewayHandler(BaseHTTPRequestHandler):
    server: _GatewayServer

    def do_POST(self) -> None:
        gateway = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if gateway.mode == "silent":
            gateway.release.wait(5)
            return
        if gateway.mode == "drip":  # headers at once, then a byte now and then
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                if gateway.release.wait(0.05):
                    return
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return  # the client gave up, as it should
            return
        gateway.received.append(
            {"json": json.loads(body), "content_type": self.headers["Content-Type"]}
        )
        self.send_response(200 if gateway.mode == "ok" else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _GatewayServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _GatewayHandler)
        self.mode = "ok"  # ok | error | silent | drip
        self.received: list[dict[str, Any]] = []
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sms"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on the silent mode is expected


@pytest.fixture
def sms_gateway() -> Iterator[_GatewayServer]:
    server = _GatewayServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join()
