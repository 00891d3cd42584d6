"""`accessguard`: thin commands over the same services the web app uses."""

from __future__ import annotations

import logging
import secrets
import sys

import typer
import uvicorn

from accessguard.bootstrap import Services, build_services
from accessguard.domain.emails import email_key
from accessguard.domain.errors import AccessError
from accessguard.domain.model import ClientInfo
from accessguard.settings import Settings
from accessguard.storage.sql.migrate import upgrade

app = typer.Typer(
    help="accessguard: sign-in and account access for trading platforms.",
    no_args_is_help=True,
    add_completion=False,
)
_CLI = ClientInfo(ip="cli", user_agent="accessguard-cli")


def _services() -> Services:
    services = build_services(Settings())
    upgrade(services.engine)
    return services


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code=1)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    services = build_services(Settings())
    upgrade(services.engine)
    typer.echo("database is at the latest schema")
    services.close()


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Migrate the database, then serve the web pages and the API."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    migrate()
    uvicorn.run(
        "accessguard.web.asgi:app_from_environment",
        factory=True,
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
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(18)
    services = _services()
    try:
        account = services.accounts.register(email, password, _CLI, verified=verified, role=role)
    except AccessError as error:
        _fail(f"{error.entry.message} {error.entry.remedy}")
    finally:
        services.close()
    if account is None:
        _fail(f"An account for {email} exists already; to lift a lock use `accessguard unlock`.")
    typer.echo(f"created {email}" + ("" if password_stdin else f" with password {password}"))


@app.command()
def unlock(email: str) -> None:
    """Lift the lockout on an account and all of its devices."""
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
    """Create (or refresh) a verified demo account and print its credentials."""
    services = _services()
    password = "demo-" + secrets.token_urlsafe(12)
    try:
        with services.uow() as uow:
            existing = uow.accounts.by_email_key(email_key(email))
            if existing is not None:
                uow.accounts.set_password(existing.id, services.hasher.hash(password))
        if existing is None:
            services.accounts.register(email, password, _CLI, verified=True)
    finally:
        services.close()
    typer.echo(f"demo account: {email}\npassword:     {password}")
