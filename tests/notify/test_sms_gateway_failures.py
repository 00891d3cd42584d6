"""SMS codes through a real HTTP gateway in the test: the JSON it receives, and that a
refusing or silent gateway ends the request quickly with `sms_delivery_failed` (502), never a
500 and never a hang, leaving no cooldown behind."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo, Message
from accessguard.notify.channels import DeliveryFailed, sms_webhook
from accessguard.notify.channels.sms_webhook import SmsWebhookChannel
from accessguard.notify.outbox import Dispatcher
from accessguard.notify.render import Renderer
from tests.notify.conftest import _GatewayServer
from tests.support import PASSWORD, make_account

API = "/api/v1"
PHONE = "+4915123456789"
TYPED = "+49 151 2345 6789"
CHALLENGE = "c" * 64


def signed_in(client: TestClient, services: Services) -> dict[str, str]:
    make_account(services)
    answer = client.post(f"{API}/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['session']['token']}"}


def code_in(body: str) -> str:
    match = re.search(r"\b(\d{6})\b", body)
    assert match, body
    return match.group(1)


@pytest.fixture
def gateway_services(
    services_factory: Callable[..., Services], sms_gateway: _GatewayServer
) -> Services:
    return services_factory(sms_webhook_url=sms_gateway.url)


def test_the_gateway_receives_the_code_and_the_e164_number(
    gateway_services: Services,
    sms_gateway: _GatewayServer,
    client_factory: Callable[..., TestClient],
) -> None:
    client = client_factory(gateway_services)
    headers = signed_in(client, gateway_services)

    sent = client.post(f"{API}/me/mfa/sms", json={"phone": TYPED}, headers=headers)

    assert sent.status_code == 202, sent.text
    [request] = sms_gateway.received
    assert request["content_type"] == "application/json"
    assert request["json"]["to"] == PHONE
    code = code_in(request["json"]["body"])
    assert code not in sent.text
    confirmed = client.post(f"{API}/me/mfa/sms/confirm", json={"code": code}, headers=headers)
    assert confirmed.status_code == 204, confirmed.text


def test_a_sign_in_code_reaches_the_gateway(
    gateway_services: Services, sms_gateway: _GatewayServer
) -> None:
    account = make_account(gateway_services)
    with gateway_services.uow() as uow:
        uow.sms.add_confirmed(account.id, PHONE, gateway_services.clock.now())

    gateway_services.sms_factor.send_sign_in_code(account.id, CHALLENGE, ClientInfo("::1", "t"))

    [request] = sms_gateway.received
    assert request["json"]["to"] == PHONE
    assert "is your sign-in code" in request["json"]["body"]
    gateway_services.sms_factor.verify_sign_in(
        account.id, code_in(request["json"]["body"]), CHALLENGE
    )


def test_a_refusing_gateway_is_a_502_that_burns_no_cooldown(
    gateway_services: Services,
    sms_gateway: _GatewayServer,
    client_factory: Callable[..., TestClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_factory(gateway_services)
    headers = signed_in(client, gateway_services)
    sms_gateway.mode = "error"

    refused = client.post(f"{API}/me/mfa/sms", json={"phone": PHONE}, headers=headers)

    assert refused.status_code == 502, refused.text
    assert refused.json()["error"]["code"] == "sms_delivery_failed"
    # Trying again shortly is the remedy, so the answer says when (API.md: retry_after).
    assert refused.headers["Retry-After"] == str(refused.json()["error"]["retry_after"])
    undelivered = code_in(sms_gateway.received[-1]["json"]["body"])
    assert undelivered not in refused.text
    assert "status 500" in caplog.text
    assert undelivered not in caplog.text
    assert PHONE not in caplog.text

    sms_gateway.mode = "ok"
    again = client.post(f"{API}/me/mfa/sms", json={"phone": PHONE}, headers=headers)
    assert again.status_code == 202, again.text  # at once: the failure started no cooldown
    late = client.post(f"{API}/me/mfa/sms/confirm", json={"code": undelivered}, headers=headers)
    if undelivered != code_in(sms_gateway.received[-1]["json"]["body"]):
        assert late.status_code == 401  # the code that never arrived counts for nothing


def test_a_silent_gateway_ends_in_sms_delivery_failed_quickly(
    gateway_services: Services,
    sms_gateway: _GatewayServer,
    client_factory: Callable[..., TestClient],
) -> None:
    # The default limits (2 s to connect, 5 s per read) are what production gets; the test
    # shortens them so that it proves the mapping without waiting five seconds.
    assert sms_webhook.DEFAULT_TIMEOUT.connect == 2.0
    assert sms_webhook.DEFAULT_TIMEOUT.read == 5.0
    impatient = Dispatcher(
        gateway_services.engine,
        {"sms": SmsWebhookChannel(sms_gateway.url, timeout=httpx.Timeout(0.3))},
        Renderer(gateway_services.settings.public_url),
        gateway_services.clock,
        max_attempts=1,
    )
    codes = dataclasses.replace(gateway_services.sms.codes, sender=impatient)
    services = dataclasses.replace(
        gateway_services, sms=dataclasses.replace(gateway_services.sms, codes=codes)
    )
    client = client_factory(services)
    headers = signed_in(client, services)
    sms_gateway.mode = "silent"

    started = time.monotonic()
    answer = client.post(f"{API}/me/mfa/sms", json={"phone": PHONE}, headers=headers)

    assert time.monotonic() - started < 3
    assert answer.status_code == 502, answer.text
    assert answer.json()["error"]["code"] == "sms_delivery_failed"
    sms_gateway.mode = "ok"
    again = client.post(f"{API}/me/mfa/sms", json={"phone": PHONE}, headers=headers)
    assert again.status_code == 202, again.text


def test_a_gateway_dripping_its_answer_is_cut_off_by_the_overall_limit(
    sms_gateway: _GatewayServer,
) -> None:
    # Each read arrives well within the per-read limit; only the overall limit can end it.
    assert sms_webhook.DEFAULT_DEADLINE_SECONDS == 8.0
    channel = SmsWebhookChannel(sms_gateway.url, timeout=httpx.Timeout(1.0), deadline_seconds=0.4)
    sms_gateway.mode = "drip"
    rendered = Renderer("https://accounts.example.test").render(
        Message("sms", PHONE, "sms_code", {"code": "123456"})
    )
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match="took too long"):
        channel.send(PHONE, rendered)
    assert time.monotonic() - started < 3  # not the 50 s the drip would take
