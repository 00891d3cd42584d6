"""`accessguard`: thin commands over the same services the web app uses."""

from __future__ import annotations

import logging
import secrets
import sys
from typing import NoReturn

import typer
import uvicorn
from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from accessguard.bootstrap import Services, build_services
from accessguard.domain.emails import email_key
from accessguard.domain.errors import AccessError, ServiceUnavailable
from accessguard.domain.hashing import keep_python_together
from accessguard.domain.model import ClientInfo
from accessguard.settings import Settings
from accessguard.storage.sql.migrate import current_revision, upgrade

app = typer.Typer(
    help="accessguard: sign-in and account access for trading platforms.",
    no_args_is_help=True,
    add_completion=False,
)
_CLI = ClientInfo(ip="cli", user_agent="accessguard-cli")


def main() -> None:
    """The `accessguard` command. A one-shot command says what happened in its own words; the
    service's warnings (the database gone, a setting only pages need) would repeat it on
    stderr in the log's terms, so only errors are logged. `serve` sets up its own log."""
    logging.getLogger("accessguard").setLevel(logging.ERROR)
    app()


def _settings() -> Settings:
    """The configuration, or one line per wrong variable naming it and the fix, and exit 1.

    Never pydantic's own report: it quotes the values, and they may be secrets.
    """
    try:
        return Settings()
    except ValidationError as error:
        told: set[str] = set()
        for item in error.errors(include_input=False, include_url=False):
            name = f"ACCESSGUARD_{str(item['loc'][0]).upper()}: " if item["loc"] else ""
            if name in told:
                continue  # a union (IPv4 or IPv6 network) reports each member; one will do
            told.add(name)
            typer.echo(name + item["msg"].removeprefix("Value error, "), err=True)
        raise typer.Exit(code=1) from None


def _services(settings: Settings | None = None, *, say_migration: bool = False) -> Services:
    """Services on a migrated database; an unreachable database is one line and exit 1.
    `say_migration`: print what migrating did (created, upgraded, nothing to do)."""
    settings = settings or _settings()
    # How a failure names the database: its URL, with any password masked.
    address = make_url(settings.database_url).render_as_string(hide_password=True)
    try:
        services = build_services(settings, one_command=True)
    except OSError as error:  # a SQLite file's folder that cannot be made
        _fail(
            f"The database at {address} could not be used ({type(error).__name__}: "
            f"{error.strerror}). Check that ACCESSGUARD_DATABASE_URL names a file in a folder "
            "that exists or can be made."
        )
    try:
        before = current_revision(services.engine) if say_migration else None
        upgrade(services.engine)
        if say_migration:
            _say_migration(before, current_revision(services.engine))
    except AccessError as error:
        services.close()
        _fail(
            f"The database at {address} could not be used ({_driver_reason(error)}). Check "
            "that it is running and that ACCESSGUARD_DATABASE_URL names it (host, port, "
            "database, user, password)."
        )
    return services


def _say_migration(before: str | None, after: str | None) -> None:
    if before is None:
        typer.echo(f"created the database schema (revision {after})")
    elif before != after:
        typer.echo(f"upgraded the database schema from revision {before} to {after}")
    else:
        typer.echo(f"the database schema is up to date (revision {after})")


def _driver_reason(error: BaseException) -> str:
    """What the driver said, on one line: a database that does not exist, a refused password
    and a server that is down need different fixes. Its messages name the host, database and
    user, never the password."""
    cause = error.__cause__
    original = getattr(cause, "orig", None) or cause
    lines = str(original).splitlines() if original is not None else []
    # Its lines are sentences, most without a full stop of their own ("…refused", "Is the…").
    said = "; ".join(" ".join(line.split()) for line in lines if line.strip())
    return said[:300] or "no answer"


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code=1)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    _services(say_migration=True).close()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(
        1, min=1, help="Processes; above 1, ACCESSGUARD_SECRET_KEYS must be set."
    ),
) -> None:
    """Migrate the database, then serve the web pages and the API."""
    logging.getLogger("accessguard").setLevel(logging.NOTSET)  # all that the root lets through
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = _settings()
    if workers > 1 and not settings.secret_keys:
        # Each process would make up its own key: a device cookie or an authenticator secret
        # sealed by one would not open in the others.
        _fail(
            "--workers above 1 needs ACCESSGUARD_SECRET_KEYS, the same for every process: "
            'make one with python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    _services(settings, say_migration=True).close()
    if workers == 1 and settings.pin_threads:
        keep_python_together()  # before uvicorn starts its loop and its request threads
    uvicorn.run(
        "accessguard.web.asgi:app_from_environment",
        factory=True,
        # uvicorn's own, but a request too broken to parse is answered with the envelope.
        http="accessguard.web.http_protocol:EnvelopeHttpProtocol",
        host=host,
        port=port,
        workers=workers,
        # X-Forwarded-For is judged by the app against ACCESSGUARD_TRUSTED_PROXIES; uvicorn's
        # own handling would trust 127.0.0.1 by default and let a local client pick its address.
        proxy_headers=False,
        access_log=False,
        server_header=False,
    )


@app.command("create-user")
def create_user(
    email: str,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    verified: bool = typer.Option(False, "--verified", help="Mark the email as confirmed."),
    role: str = typer.Option("customer", "--role", help="customer or support."),
) -> None:
    """Create an account. Without --password-stdin a strong password is generated and shown."""
    if role not in {"customer", "support"}:
        _fail("--role must be customer or support.")
    try:
        email = validate_email(email, check_deliverability=False, strict=True).normalized
    except EmailNotValidError as error:
        _fail(f"{email!r} is not an email address: {error}")
    password = _password_from_stdin() if password_stdin else secrets.token_urlsafe(18)
    services = _services()
    try:
        account = services.accounts.register(
            email, password, _CLI, verified=verified, role=role, by_operator=True
        )
    except ServiceUnavailable:
        _fail(
            "The database or Redis did not answer; nothing was changed. Check that both run "
            "and that ACCESSGUARD_DATABASE_URL and ACCESSGUARD_REDIS_URL name them."
        )
    except AccessError as error:
        message = error.entry.message
        fields = error.facts.get("fields") or []
        if fields:  # the form's words ("the highlighted fields") do not fit a terminal
            _fail(f"{email!r} cannot be used: it {fields[0]['message']}.")
        if "min_length" in error.facts:
            message = f"{message.rstrip('.')} (at least {error.facts['min_length']} characters)."
        elif "max_length" in error.facts:
            message = f"{message.rstrip('.')} (at most {error.facts['max_length']} characters)."
        _fail(f"{message} {error.entry.remedy}")
    finally:
        services.close()
    if account is None:
        _fail(f"An account for {email} exists already; to lift a lock use `accessguard unlock`.")
    typer.echo(f"created {email}" + ("" if password_stdin else f" with password {password}"))


def _password_from_stdin() -> str:
    """The first line of standard input, without its line ending: `\r\n` too, or a password
    piped from a Windows file would end in a carriage return nobody can type. Read as bytes
    and decoded here, so text that is not UTF-8 is refused in words whatever the locale."""
    try:
        # utf-8-sig: a file saved by Notepad starts with a byte-order mark nobody can type.
        line = sys.stdin.buffer.readline().decode("utf-8-sig")
    except UnicodeDecodeError:
        _fail(_UNSENDABLE_STDIN)
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        # Also an empty first line: an unset variable in `printf '%s\n' "$PASSWORD"` gives one.
        _fail(
            "No password was read from standard input. Pipe one line holding it, for example "
            "`printf '%s\\n' \"$PASSWORD\" | accessguard create-user EMAIL --password-stdin`."
        )
    if "\x00" in password:
        _fail(_UNSENDABLE_STDIN)
    return password


# The API and the pages refuse such a password, so nobody could ever sign in with it.
_UNSENDABLE_STDIN = (
    "The password read from standard input holds a NUL character or bytes that are not UTF-8, "
    "which no sign-in form can send. Pipe the password as UTF-8 text."
)


@app.command()
def unlock(email: str) -> None:
    """Lift the lockout on an account and all of its devices."""
    try:
        validate_email(email, check_deliverability=False, strict=True)
    except EmailNotValidError as error:
        _fail(f"{email!r} is not an email address: {error}")
    services = _services()
    try:
        found = services.support.unlock(email, actor="cli")
    finally:
        services.close()
    if not found:
        _fail(
            f"No account with the email {email}. Check the spelling; create one with "
            "`accessguard create-user EMAIL`."
        )
    typer.echo(f"unlocked {email}")


@app.command()
def demo(email: str = "demo@example.com") -> None:
    """Create (or refresh) a verified demo account and print its credentials (development)."""
    settings = _settings()
    if settings.env != "development":
        # It sets a password without the owner's word, notice or sessions ended: fine for a
        # laptop's demo account, an account takeover anywhere else.
        _fail(
            "demo runs only with ACCESSGUARD_ENV=development (make run sets it); to add an "
            "account elsewhere use `accessguard create-user EMAIL`."
        )
    services = _services(settings)
    password = "demo-" + secrets.token_urlsafe(12)
    try:
        with services.uow() as uow:
            existing = uow.accounts.by_email_key(email_key(email))
            if existing is not None:
                uow.accounts.set_password(existing.id, services.hasher.hash(password))
        if existing is None:
            services.accounts.register(email, password, _CLI, verified=True, by_operator=True)
    finally:
        services.close()
    typer.echo(f"demo account: {email}\npassword:     {password}")
