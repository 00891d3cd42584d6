"""Configurations that cannot work safely stop start-up with a message naming the fix."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

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
