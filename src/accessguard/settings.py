"""The one place that reads the environment: every knob, its default and its caveats."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

import phonenumbers
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")


class Settings(BaseSettings):
    """Configuration, from `ACCESSGUARD_*` variables and an optional `.env` file."""

    model_config = SettingsConfigDict(
        env_prefix="ACCESSGUARD_", env_file=".env", extra="ignore", frozen=True
    )

    env: Literal["development", "production"] = Field(
        "production", description="`development` enables /dev/outbox and relaxes nothing else."
    )
    database_url: str = Field(
        "sqlite:///./var/accessguard.db",
        description="SQLAlchemy URL; postgresql+psycopg://… in production.",
    )
    redis_url: str | None = Field(
        None, description="Counters and throttles in Redis when set; otherwise in the database."
    )
    redis_key_prefix: str = Field("accessguard:", description="Prefix of every Redis key.")
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base of every emailed link. Never taken from the request's Host header.",
    )
    support_url: str | None = Field(
        None,
        max_length=500,
        description="Where customers reach support: an https:// page or a mailto: address. "
        "Pages and emails link to it wherever they tell a customer to contact support; unset, "
        "they say so without a link.",
    )
    secret_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Signing keys, oldest first; the newest signs, all verify (rotation). "
        "Comma-separated in the environment. Required in production on a public address; "
        "empty (development, or a loopback trial): a random key per process, so device cookies "
        "and 2FA secrets do not survive a restart and several instances disagree.",
    )
    smtp_host: str | None = Field(None, description="Outgoing mail server; unset: dev outbox.")
    smtp_port: int = Field(25, description="SMTP port.")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (port 587), tls (port 465) or none (a local relay)."
    )
    smtp_username: str | None = Field(None, description="SMTP login, when the server wants one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_from: str = Field("accessguard <no-reply@localhost>", description="From: address.")
    smtp_timeout_seconds: float = Field(10.0, description="Limit on each SMTP operation.")
    sms_webhook_url: str | None = Field(None, description="SMS gateway; unset: dev outbox.")
    lockout_threshold: int = Field(5, ge=1, le=1000, description="Consecutive failures to lock.")
    lockout_seconds: int = Field(900, ge=1, description="First lock; doubles per lock up to 24 h.")
    lockout_window_seconds: int = Field(
        86400, ge=60, description="Failures older than this are forgotten."
    )
    address_failure_limit: int = Field(
        50, ge=1, description="Failed sign-ins from one address before it is throttled."
    )
    address_window_seconds: int = Field(900, ge=1, description="Window of the address limit.")
    address_request_limit: int = Field(
        30, ge=1, description="Registrations, resets and resends per address per window."
    )
    recipient_email_limit: int = Field(
        3,
        ge=1,
        description="Emails of one kind (sign-up, reset, verification) to one address per "
        "window, whoever asks; further requests answer the same and send nothing.",
    )
    cookie_secure: bool = Field(
        True, description="Secure, __Host- prefixed cookies. false only for plain-http local use."
    )
    password_min_length: int = Field(15, ge=8, le=64, description="NIST SP 800-63B-4 minimum.")
    password_max_length: int = Field(256, ge=64, le=1024, description="Longest password taken.")
    argon2_time_cost: int = Field(2, ge=1, description="OWASP: t=2 with m=19456 KiB, p=1.")
    argon2_memory_kib: int = Field(19456, ge=1024, description="Argon2id memory in KiB.")
    argon2_parallelism: int = Field(1, ge=1, description="Argon2id lanes.")
    pin_threads: bool = Field(
        True,
        description="Each Argon2 thread keeps to a core of its own, and with one worker the "
        "Python threads to one core together (Linux); saves CPU per sign-in.",
    )
    session_idle_seconds: int = Field(3600, ge=60, description="Idle timeout of a session.")
    session_max_seconds: int = Field(86400, ge=60, description="Absolute session lifetime.")
    device_max_seconds: int = Field(
        31536000, ge=86400, description="How long a known-device cookie is honoured."
    )
    verify_token_seconds: int = Field(86400, ge=60, description="Email-verification link life.")
    reset_token_seconds: int = Field(1800, ge=60, description="Password-reset link life.")
    mfa_token_seconds: int = Field(300, ge=30, description="Half-finished sign-in lifetime.")
    sms_code_seconds: int = Field(300, ge=30, description="SMS code lifetime.")
    sms_resend_cooldown_seconds: int = Field(
        60, ge=10, description="Wait before another SMS code, from the last successful send."
    )
    sms_daily_limit_per_number: int = Field(
        10,
        ge=1,
        description="SMS codes one phone number may be sent per day (anti-flooding), for each "
        "kind: sign-ins from unfamiliar devices, from known devices, signed-in actions.",
    )
    sms_daily_limit_per_account: int = Field(
        20,
        ge=1,
        description="SMS codes one account may have sent per day (anti-pumping), for each kind "
        "as above.",
    )
    sms_countries: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Countries whose numbers may be set up for texts, as ISO 3166 codes "
        "separated by commas (GB,DE,US). Empty: every country. Numbers already set up keep "
        "working; texts to countries a platform does not serve are where SMS pumping pays.",
    )
    recovery_wait_seconds: int = Field(172800, ge=0, description="Lost-device waiting period.")
    security_hold_seconds: int = Field(86400, ge=0, description="Hold after a security change.")
    reauth_seconds: int = Field(
        900,
        ge=0,
        description="How long after signing in a second factor may be added without typing "
        "the password again.",
    )
    trusted_proxies: Annotated[list[Network], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks whose X-Forwarded-For is believed. Empty: the "
        "socket's peer address counts and X-Forwarded-For is ignored.",
    )
    outbox_max_attempts: int = Field(
        32,
        ge=1,
        description="Sends tried before abandoning. Waits double from 10 s up to an hour, so "
        "the default keeps trying for about a day of mail-server outage.",
    )
    outbox_poll_seconds: float = Field(2.0, gt=0, description="How often the sender looks.")
    db_timeout_seconds: float = Field(5.0, gt=0, description="Pool wait and statement limit.")
    request_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest a request waits for its answer; past it the client gets "
        "request_timed_out (a stalled dependency, or a body sent too slowly), while the work "
        "goes on in the background. More than DB_TIMEOUT_SECONDS + 1.",
    )
    db_pool_size: int = Field(
        20,
        ge=1,
        description="Database connections each server process keeps for its request threads "
        "and its outbox sender.",
    )
    db_max_overflow: int = Field(
        20,
        ge=0,
        description="Further connections a process may open at a peak, closed when returned.",
    )
    db_read_pool_size: int = Field(
        10,
        ge=1,
        description="PostgreSQL connections each process keeps for the API's session checks "
        "(asyncpg, on the event loop). A process opens at most db_pool_size + "
        "db_max_overflow + db_read_pool_size connections: keep instances x workers x that "
        "below PostgreSQL's max_connections.",
    )
    redis_timeout_seconds: float = Field(
        1.0,
        gt=0,
        description="Time limit of each Redis command (and of connecting): past it, the "
        "request that needed Redis answers service_unavailable.",
    )

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("sms_countries", mode="before")
    @classmethod
    def _as_countries(cls, value: object) -> object:
        def country(item: str) -> str:
            if item.upper() not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError("is not a country code, such as GB, DE or US")
            return item.upper()

        return _each_entry(value, country)

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be an absolute http(s) address such as https://login.example.com: "
                "emailed links are built from it"
            )
        return value

    @field_validator("support_url")
    @classmethod
    def _support_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        web = parts.scheme in ("http", "https") and bool(parts.hostname)
        mail = parts.scheme == "mailto" and "@" in parts.path
        # Printed into emails and pages as it is: one token, nothing a mail reader could split.
        if not (web or mail) or any(ch.isspace() or ord(ch) < 32 for ch in value):
            raise ValueError(
                "must be an https:// address such as https://example.com/support, or "
                "mailto:support@example.com"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if value.startswith(("sqlite:///", "postgresql+psycopg://")):
            return value
        if value.startswith(("postgres://", "postgresql://")):
            scheme = value.partition("://")[0]
            raise ValueError(f"write postgresql+psycopg:// instead of {scheme}:// (the driver)")
        raise ValueError(
            "must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB (the supported databases)"
        )

    @field_validator("redis_url")
    @classmethod
    def _redis_address(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be redis://HOST:PORT/DB, rediss://… (TLS) or unix://PATH")
        return value

    @field_validator("smtp_from")
    @classmethod
    def _one_line_address(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n") or "@" not in value:
            raise ValueError(
                "must be one line with an address, e.g. Example <no-reply@example.com>"
            )
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _as_networks(cls, value: object) -> object:
        def network(item: str) -> Network:
            try:
                return ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    "is not an address or network, such as 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32"
                ) from None

        return _each_entry(value, network)

    @model_validator(mode="after")
    def _refuse_impossible_combinations(self) -> Settings:
        if self.request_timeout_seconds <= self.db_timeout_seconds + 1:
            # The deadline must leave /readyz room to answer "unavailable" itself (its checks
            # stop well inside it, web/health.py), and a request room for one database wait.
            raise ValueError(
                "ACCESSGUARD_REQUEST_TIMEOUT_SECONDS must be more than "
                "ACCESSGUARD_DB_TIMEOUT_SECONDS + 1"
            )
        host = urlsplit(self.public_url).hostname or ""
        if self.env == "production" and not self.cookie_secure and host not in _LOOPBACK_HOSTS:
            raise ValueError(
                "ACCESSGUARD_COOKIE_SECURE=false sends session cookies over plain http to "
                f"{host}; set ACCESSGUARD_COOKIE_SECURE=true (serve over https) or "
                "ACCESSGUARD_ENV=development for a local trial."
            )
        if self.env == "production" and not self.secret_keys and host not in _LOOPBACK_HOSTS:
            raise ValueError(
                "ACCESSGUARD_SECRET_KEYS is unset: authenticator-app secrets would be sealed "
                "with a key that dies with the process, locking their owners out at the next "
                "restart. Set it, the same on every instance, e.g. to the output of: "
                'python -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        if self.session_idle_seconds > self.session_max_seconds:
            raise ValueError(
                "ACCESSGUARD_SESSION_IDLE_SECONDS exceeds ACCESSGUARD_SESSION_MAX_SECONDS; "
                "lower the idle timeout."
            )
        for key in self.secret_keys:
            if len(key.get_secret_value()) < 32:
                raise ValueError(
                    "Each ACCESSGUARD_SECRET_KEYS entry needs at least 32 characters; "
                    'make one with: python -c "import secrets; print(secrets.token_urlsafe(48))"'
                )
        return self

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _each_entry(value: object, read: Callable[[str], T]) -> object:
    """A comma-separated setting (or a list) read entry by entry; a refused entry is named by
    its place, as no message quotes a setting's value."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        return value
    entries = []
    for place, item in enumerate((str(i).strip() for i in items if str(i).strip()), 1):
        try:
            entries.append(read(item))
        except ValueError as refused:
            raise ValueError(f"entry {place} {refused}") from None
    return entries
