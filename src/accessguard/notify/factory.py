"""Channels as the settings ask: real gateways when configured, else the development mailbox."""

from __future__ import annotations

import sqlalchemy as sa

from accessguard.domain.clock import SystemClock
from accessguard.domain.ports import Clock
from accessguard.notify.channels import Channel
from accessguard.notify.channels.dev_outbox import DevOutboxChannel
from accessguard.notify.channels.sms_webhook import SmsWebhookChannel
from accessguard.notify.channels.smtp import SmtpChannel
from accessguard.settings import Settings


def build_channels(
    settings: Settings, engine: sa.Engine, clock: Clock | None = None
) -> dict[str, Channel]:
    clock = clock or SystemClock()
    email: Channel = (
        SmtpChannel(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            timeout_seconds=settings.smtp_timeout_seconds,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            clock=clock,
        )
        if settings.smtp_host
        else DevOutboxChannel(engine, clock, channel="email")
    )
    sms: Channel = (
        SmsWebhookChannel(settings.sms_webhook_url)
        if settings.sms_webhook_url
        else DevOutboxChannel(engine, clock, channel="sms")
    )
    return {"email": email, "sms": sms}
