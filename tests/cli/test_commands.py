"""The operator commands: migrate, create-user, unlock, demo."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accessguard.bootstrap import build_services
from accessguard.cli.main import app
from accessguard.domain.errors import AccountLocked
from accessguard.domain.model import ClientInfo
from accessguard.settings import Settings
from tests.support import PG_ADMIN_URL, free_port, inbox, require_postgres, token_from

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


def signs_in(email: str, password: str) -> bool:
    """Whether the account the command left behind signs in with `password`."""
    services = build_services(Settings())
    try:
        outcome = services.signin(email, password, None, ClientInfo("1.1.1.1", ""))
        return bool(getattr(outcome, "session_token", None))
    finally:
        services.close()


def test_migrate_creates_the_schema_then_says_there_is_nothing_to_do(environment: Path) -> None:
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert environment.exists()
    assert "created the database schema" in result.output
    again = runner.invoke(app, ["migrate"])
    assert again.exit_code == 0, again.output
    assert "the database schema is up to date" in again.output


def test_a_database_file_whose_folder_cannot_be_made_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("ACCESSGUARD_DATABASE_URL", f"sqlite:///{tmp_path / 'a-file' / 'x.db'}")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert result.output.startswith("The database at sqlite:///"), result.output
    assert "FileExistsError" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_create_user_reads_the_password_from_stdin() -> None:
    result = runner.invoke(
        app,
        ["create-user", "ops@example.com", "--password-stdin", "--verified"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert signs_in("ops@example.com", PASSWORD)


@pytest.mark.parametrize(
    "piped",
    [PASSWORD + "\r\n", "\ufeff" + PASSWORD + "\r\n"],
    ids=["crlf", "byte-order mark"],
)
def test_create_user_takes_a_password_from_a_windows_file(piped: str) -> None:
    # The carriage return is the line's, and the mark that Notepad puts first the file's:
    # neither is the password's, and nobody could type them at sign-in.
    result = runner.invoke(
        app,
        ["create-user", "ops@example.com", "--password-stdin", "--verified"],
        input=piped.encode(),
    )
    assert result.exit_code == 0, result.output
    assert signs_in("ops@example.com", PASSWORD)


@pytest.mark.parametrize(
    "piped",
    [b"nul\x00passphrase for ops desk\n", b"\xffpassphrase for ops desk\n"],
    ids=["nul", "not utf-8"],
)
def test_create_user_refuses_a_password_no_sign_in_form_can_send(piped: bytes) -> None:
    result = runner.invoke(app, ["create-user", "ops@example.com", "--password-stdin"], input=piped)
    assert result.exit_code == 1, result.output
    assert "NUL character or bytes that are not UTF-8" in result.output


@pytest.mark.parametrize("piped", ["", "\n", "\r\n"], ids=["nothing", "empty line", "crlf"])
def test_create_user_with_no_password_on_stdin_says_none_was_read(piped: str) -> None:
    # An empty line is what `printf '%s\n' "$PASSWORD"` pipes when the variable is unset.
    result = runner.invoke(app, ["create-user", "ops@example.com", "--password-stdin"], input=piped)
    assert result.exit_code == 1
    assert "No password was read from standard input" in result.output


@pytest.mark.parametrize(
    ("password", "reason"),
    [("passwordpassword", "too common"), ("too short", "too short (at least 15 characters).")],
)
def test_create_user_refuses_a_weak_password_with_the_reason(password: str, reason: str) -> None:
    result = runner.invoke(
        app, ["create-user", "ops@example.com", "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code == 1
    assert reason in result.output


def test_create_user_twice_says_it_exists_and_mails_the_owner_nothing() -> None:
    runner.invoke(app, ["create-user", "ops@example.com", "--password-stdin"], input=PASSWORD)
    result = runner.invoke(
        app, ["create-user", "ops@example.com", "--password-stdin"], input=PASSWORD
    )
    assert result.exit_code == 1
    assert "exists already" in result.output
    server = build_services(Settings())
    try:
        [confirmation] = inbox(server, "ops@example.com")  # no "finish" link voiding it
        token = token_from(confirmation["body"], "/verify-email")
        server.accounts.verify_email(token, ClientInfo("1.1.1.1", ""))
        outcome = server.signin("ops@example.com", PASSWORD, None, ClientInfo("1.1.1.1", ""))
        assert outcome.session_token
    finally:
        server.close()


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


def test_demo_prints_working_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSGUARD_ENV", "development")
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


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("ACCESSGUARD_LOCKOUT_THRESHOLD", "abc", "ACCESSGUARD_LOCKOUT_THRESHOLD"),
        ("ACCESSGUARD_TRUSTED_PROXIES", "10.0.0.0/33", "ACCESSGUARD_TRUSTED_PROXIES"),
        ("ACCESSGUARD_TRUSTED_PROXIES", "10.0.0.0/8,notanip", "entry 2 is not an address"),
        ("ACCESSGUARD_DATABASE_URL", "postgres://db/x", "postgresql+psycopg://"),
        ("ACCESSGUARD_PUBLIC_URL", "login.example.com", "ACCESSGUARD_PUBLIC_URL"),
        ("ACCESSGUARD_SMTP_FROM", "a@example.com\nBcc: b@example.com", "ACCESSGUARD_SMTP_FROM"),
        ("ACCESSGUARD_SECRET_KEYS", "short-but-secret-value", "32 characters"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it_without_its_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    # Secrets may sit next to the mistake: pydantic's report would quote them all.
    monkeypatch.setenv("ACCESSGUARD_SMTP_PASSWORD", "smtp-secret-hunter2")
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert named in result.output
    assert "Traceback" not in result.output
    assert "smtp-secret-hunter2" not in result.output
    assert "short-but-secret-value" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_an_unreachable_database_is_one_line_saying_what_to_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACCESSGUARD_DATABASE_URL", "postgresql+psycopg://ops:pw@127.0.0.1:9/none")
    monkeypatch.setenv("ACCESSGUARD_DB_TIMEOUT_SECONDS", "1")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert "could not be used (" in result.output
    assert "refused" in result.output.lower() or "failed" in result.output.lower()
    assert "ACCESSGUARD_DATABASE_URL" in result.output
    assert ":pw@" not in result.output


def test_a_one_shot_command_says_a_failure_once_without_the_logs_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In a real process, where nothing else has set up logging: the service's warning
    # ("database unavailable: OperationalError") used to come first, in the log's terms.
    monkeypatch.setenv("ACCESSGUARD_DATABASE_URL", "postgresql+psycopg://ops:pw@127.0.0.1:9/none")
    monkeypatch.setenv("ACCESSGUARD_DB_TIMEOUT_SECONDS", "1")
    command = [sys.executable, "-m", "accessguard", "unlock", "ada@example.com"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("The database at ")


def test_a_missing_database_is_told_apart_from_a_server_that_is_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_postgres()
    missing = PG_ADMIN_URL.rsplit("/", 1)[0] + "/accessguard_no_such_database"
    monkeypatch.setenv("ACCESSGUARD_DATABASE_URL", missing)
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    assert 'database "accessguard_no_such_database" does not exist' in result.output


def test_serve_with_several_workers_needs_shared_secret_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ACCESSGUARD_SECRET_KEYS")
    result = runner.invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 1
    assert "ACCESSGUARD_SECRET_KEYS" in result.output


def test_mail_queued_by_a_command_without_secret_keys_reaches_the_server(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("ACCESSGUARD_SECRET_KEYS")
    with caplog.at_level(logging.WARNING):
        result = runner.invoke(
            app, ["create-user", "new@example.com", "--password-stdin"], input=PASSWORD
        )
    assert result.exit_code == 0, result.output
    assert "SECRET_KEYS" not in caplog.text  # nothing of this run outlives it
    server = build_services(Settings())  # another random key, as a server started apart
    try:
        [mail] = inbox(server, "new@example.com")
        assert "/verify-email?token=" in mail["body"]
    finally:
        server.close()


def test_create_user_says_why_a_full_width_spelling_is_refused() -> None:
    result = runner.invoke(app, ["create-user", "\uff46ull@example.com"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "'\uff46ull@example.com' cannot be used: it must be typed in ordinary characters, "
        "not full-width or other special forms."
    )


@pytest.mark.parametrize("command", ["create-user", "unlock"])
def test_a_command_given_what_is_not_an_email_says_so(command: str) -> None:
    result = runner.invoke(app, [command, "@@"], input=PASSWORD)
    assert result.exit_code == 1
    assert "'@@' is not an email address" in result.output


def test_operator_commands_are_not_held_to_the_per_address_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACCESSGUARD_ADDRESS_REQUEST_LIMIT", "1")
    for number in range(3):
        result = runner.invoke(
            app, ["create-user", f"ops{number}@example.com", "--password-stdin"], input=PASSWORD
        )
        assert result.exit_code == 0, result.output


def test_demo_refuses_outside_development_and_leaves_the_account_alone() -> None:
    runner.invoke(
        app,
        ["create-user", "ada@example.com", "--password-stdin", "--verified"],
        input=PASSWORD + "\n",
    )
    result = runner.invoke(app, ["demo", "--email", "ada@example.com"])
    assert result.exit_code == 1
    assert "ACCESSGUARD_ENV=development" in result.output
    assert "password:" not in result.output
    assert signs_in("ada@example.com", PASSWORD)


def test_redis_down_names_the_settings_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSGUARD_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setenv("ACCESSGUARD_REDIS_TIMEOUT_SECONDS", "0.2")
    result = runner.invoke(
        app, ["create-user", "ada@example.com", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 1
    assert "ACCESSGUARD_REDIS_URL" in result.output
