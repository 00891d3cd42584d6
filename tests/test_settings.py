"""Configurations that cannot work safely stop start-up with a message naming the fix."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from accessguard.bootstrap import build_services
from accessguard.settings import Settings

KEY = "a-production-key-" + "k" * 32
PUBLIC = "https://accounts.example.com"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_a_public_deployment_without_secret_keys_does_not_start() -> None:
    with pytest.raises(ValidationError, match="ACCESSGUARD_SECRET_KEYS is unset"):
        settings(public_url=PUBLIC)
    assert settings(public_url=PUBLIC, secret_keys=KEY).secret_keys


def test_a_local_trial_or_development_starts_without_secret_keys() -> None:
    assert settings().secret_keys == []  # public URL on 127.0.0.1
    assert settings(env="development", public_url=PUBLIC).secret_keys == []


def test_short_secret_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        settings(secret_keys="too-short")


def test_plain_http_cookies_on_a_public_address_are_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="ACCESSGUARD_COOKIE_SECURE=false"):
        settings(public_url=PUBLIC, secret_keys=KEY, cookie_secure=False)


@pytest.mark.parametrize(
    "address",
    ["https://example.com/support", "http://127.0.0.1:9000/help", "mailto:help@example.com"],
)
def test_a_support_address_is_a_web_page_or_a_mailbox(address: str) -> None:
    assert settings(support_url=address).support_url == address


@pytest.mark.parametrize(
    "address",
    [
        "javascript:alert(1)",
        "support@example.com",
        "https://",
        "mailto:nobody",
        "https://example.com/a b",
        "https://example.com/\r\nBcc: x@evil.example",
        "data:text/html,hi",
    ],
)
def test_a_support_address_that_would_not_work_as_a_link_is_refused(address: str) -> None:
    with pytest.raises(ValidationError, match="support_url"):
        settings(support_url=address)


def test_a_request_deadline_shorter_than_a_database_wait_is_refused() -> None:
    with pytest.raises(ValidationError, match="REQUEST_TIMEOUT_SECONDS must be more than"):
        settings(request_timeout_seconds=5, db_timeout_seconds=5)
    assert settings(request_timeout_seconds=7, db_timeout_seconds=5).request_timeout_seconds == 7


@pytest.mark.parametrize(
    ("values", "warned"),
    [
        ({"public_url": PUBLIC, "secret_keys": KEY}, True),
        ({"public_url": PUBLIC, "secret_keys": KEY, "support_url": PUBLIC + "/help"}, False),
        ({"env": "development", "public_url": PUBLIC}, False),
    ],
)
def test_a_production_server_without_a_support_address_warns_at_start_up(
    values: dict[str, Any], warned: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = {"database_url": f"sqlite:///{tmp_path / 'accessguard.db'}"}
    with caplog.at_level(logging.WARNING):
        build_services(settings(**database, **values)).close()
    assert ("ACCESSGUARD_SUPPORT_URL is unset" in caplog.text) is warned


def test_the_countries_served_by_text_are_country_codes() -> None:
    assert settings(sms_countries=" gb, De ,US").sms_countries == ["GB", "DE", "US"]
    assert settings().sms_countries == []  # every country
    with pytest.raises(ValidationError, match="entry 2 is not a country code"):
        settings(sms_countries="GB,XX")
