from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from accessguard.domain import notifications
from accessguard.domain.model import Account
from accessguard.notify.channels.dev_outbox import DevOutboxChannel
from accessguard.notify.factory import build_channels
from accessguard.notify.outbox import Dispatcher, DispatchReport
from accessguard.settings import Settings
from tests.notify.conftest import queue
from tests.support import SettableClock, mailbox

LINK = "https://accounts.example.test/verify-email?token=abc123"


def test_dev_outbox_channel_stores_rendered_message(
    engine: sa.Engine,
    clock: SettableClock,
    account: Account,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    message = notifications.verify_email(account, LINK, clock.now() + timedelta(days=1))
    queue(engine, message, clock.now())
    channel = DevOutboxChannel(engine, clock, channel="email")

    assert make_dispatcher({"email": channel}).run_once() == DispatchReport(sent=1)

    [stored] = mailbox(engine, "ada@example.com")
    assert stored["channel"] == "email"
    assert stored["subject"] == "Confirm your email address"
    assert LINK in stored["body"]
    assert "Your anti-phishing phrase: blue <heron> & co" in stored["body"]
    assert stored["created_at"] == clock.now()


def test_channels_fall_back_to_dev_outbox_unless_gateways_are_configured(
    engine: sa.Engine,
    clock: SettableClock,
) -> None:
    bare = build_channels(Settings(_env_file=None), engine, clock)
    configured = build_channels(
        Settings(
            _env_file=None,
            smtp_host="mail.example.test",
            sms_webhook_url="https://sms.example.test/send",
        ),
        engine,
        clock,
    )

    assert {name: type(c).__name__ for name, c in bare.items()} == {
        "email": "DevOutboxChannel",
        "sms": "DevOutboxChannel",
    }
    assert {name: type(c).__name__ for name, c in configured.items()} == {
        "email": "SmtpChannel",
        "sms": "SmsWebhookChannel",
    }
