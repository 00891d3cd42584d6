from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from accessguard.domain.errors import SmsDeliveryFailed
from accessguard.domain.model import Message
from accessguard.notify.channels import DeliveryFailed
from accessguard.notify.channels.sms_webhook import SmsWebhookChannel
from accessguard.notify.outbox import Dispatcher, DispatchReport
from accessguard.notify.render import Rendered
from tests.notify.conftest import _GatewayServer, outbox_row, queue
from tests.support import SettableClock, free_port

PHONE = "+15555550123"
CODE_MESSAGE = Message("sms", PHONE, "sms_code", {"code": "493817"}, "acc-1")


def test_sms_webhook_posts_json_to_gateway(
    engine: sa.Engine,
    clock: SettableClock,
    sms_gateway: _GatewayServer,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    message_id = queue(engine, CODE_MESSAGE, clock.now())

    report = make_dispatcher({"sms": SmsWebhookChannel(sms_gateway.url)}).run_once()

    assert report == DispatchReport(sent=1)
    [request] = sms_gateway.received
    assert request["content_type"] == "application/json"
    assert request["json"]["to"] == PHONE
    assert "493817" in request["json"]["body"]
    assert outbox_row(engine, message_id)["payload"] == {"redacted": True}


def test_sms_gateway_500_is_delivery_failure(
    sms_gateway: _GatewayServer, caplog: pytest.LogCaptureFixture
) -> None:
    sms_gateway.mode = "error"
    channel = SmsWebhookChannel(sms_gateway.url)

    with pytest.raises(DeliveryFailed, match="status 500"):
        channel.send(PHONE, Rendered("", "493817 is your sign-in code."))

    assert "493817" not in caplog.text
    assert PHONE not in caplog.text


def test_sms_gateway_that_never_answers_times_out(sms_gateway: _GatewayServer) -> None:
    sms_gateway.mode = "silent"
    channel = SmsWebhookChannel(sms_gateway.url, timeout=httpx.Timeout(0.3))

    with pytest.raises(DeliveryFailed, match="ReadTimeout"):
        channel.send(PHONE, Rendered("", "493817 is your sign-in code."))


def test_unreachable_gateway_is_delivery_failure() -> None:
    channel = SmsWebhookChannel(f"http://127.0.0.1:{free_port()}/sms")

    with pytest.raises(DeliveryFailed, match="ConnectError"):
        channel.send(PHONE, Rendered("", "493817 is your sign-in code."))


def test_immediate_delivery_failure_is_reported_as_sms_delivery_failed(
    sms_gateway: _GatewayServer,
    make_dispatcher: Callable[..., Dispatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sms_gateway.mode = "error"
    dispatcher = make_dispatcher({"sms": SmsWebhookChannel(sms_gateway.url)})
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SmsDeliveryFailed):
        dispatcher.deliver_immediately(CODE_MESSAGE)

    sms_gateway.mode = "ok"
    dispatcher.deliver_immediately(CODE_MESSAGE)
    assert sms_gateway.received[-1]["json"]["to"] == PHONE
    assert "493817" not in caplog.text


def test_a_gateway_address_with_credentials_never_reaches_the_log(
    sms_gateway: _GatewayServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Gateways often take their key in the URL; httpx logs each request's URL at INFO."""
    secret_url = sms_gateway.url.replace("http://", "http://apiuser:GW-PASSWORD@") + "?key=GW-KEY"
    channel = SmsWebhookChannel(secret_url)
    with caplog.at_level(logging.DEBUG):
        channel.send(PHONE, Rendered("", "493817 is your sign-in code."))
        sms_gateway.mode = "error"
        with pytest.raises(DeliveryFailed):
            channel.send(PHONE, Rendered("", "493817 is your sign-in code."))
    assert sms_gateway.received  # the text did go out
    assert "GW-PASSWORD" not in caplog.text
    assert "GW-KEY" not in caplog.text
