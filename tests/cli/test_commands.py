"""The operator commands: migrate, create-user, unlock, demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from accessguard.bootstrap import build_services
from accessguard.cli.main import app
from accessguard.domain.errors import AccountLocked
from accessguard.domain.model import ClientInfo
from accessguard.settings import Settings

runner = CliRunner()
PASSWORD = "an operator chosen long password"


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    database = tmp_path / "cli.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCESSGUARD_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("ACCESSGUARD_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ACCESSGUARD_ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("ACCESSGUARD_SECRET_KEYS", "cli-test-key-" + "x" * 32)
    return database


def test_migrate_creates_the_schema(environment: Path) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert environment.exists()


def test_create_user_reads_the_password_from_stdin() -> None:
    result = runner.invoke(
        app,
        ["create-user", "ops@example.com", "--password-stdin", "--verified"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    services = build_services(Settings())
    try:
        outcome = services.signin("ops@example.com", PASSWORD, None, ClientInfo("1.1.1.1", ""))
        assert outcome.session_token
    finally:
        services.close()


def test_create_user_refuses_a_common_password_with_the_reason() -> None:
    result = runner.invoke(
        app, ["create-user", "ops@example.com", "--password-stdin"], input="passwordpassword\n"
    )
    assert result.exit_code == 1
    assert "too common" in result.output


def test_create_user_twice_says_it_exists() -> None:
    runner.invoke(app, ["create-user", "ops@example.com", "--password-stdin"], input=PASSWORD)
    result = runner.invoke(
        app, ["create-user", "ops@example.com", "--password-stdin"], input=PASSWORD
    )
    assert result.exit_code == 1
    assert "exists already" in result.output


def test_unlock_lifts_a_lock() -> None:
    runner.invoke(
        app, ["create-user", "ops@example.com", "--password-stdin", "--verified"], input=PASSWORD
    )
    services = build_services(Settings())
    client = ClientInfo("203.0.113.5", "attacker")
    try:
        for i in range(5):
            with pytest.raises(Exception):  # noqa: B017,PT011 - invalid, then locked
                services.signin("ops@example.com", f"wrong guess {i}", None, client)
        with pytest.raises(AccountLocked):
            services.signin("ops@example.com", PASSWORD, None, client)
        result = runner.invoke(app, ["unlock", "ops@example.com"])
        assert result.exit_code == 0, result.output
        assert services.signin("ops@example.com", PASSWORD, None, client).session_token
    finally:
        services.close()


def test_unlock_unknown_email_says_what_to_do() -> None:
    runner.invoke(app, ["migrate"])
    result = runner.invoke(app, ["unlock", "nobody@example.com"])
    assert result.exit_code == 1
    assert "No account" in result.output
    assert "create-user" in result.output


def test_demo_prints_working_credentials() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    password = result.output.split("password:")[1].strip()
    services = build_services(Settings())
    try:
        assert services.signin(
            "demo@example.com", password, None, ClientInfo("1.1.1.1", "")
        ).session_token
    finally:
        services.close()
    again = runner.invoke(app, ["demo"])
    assert again.exit_code == 0
