"""The schema, as SQLAlchemy Core tables. No logic here; Alembic migrations mirror it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so we add it back)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_key", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("email_verified_at", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("role", sa.String(20), nullable=False, server_default="customer"),
    sa.Column("security_hold_until", UTCDateTime()),
    sa.Column("anti_phishing_phrase", sa.String(100)),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("user_agent", sa.String(300), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
    # The second factor that completed this sign-in (totp, sms, recovery_code); NULL: password
    # only. Staff actions need a session that passed one.
    sa.Column("second_factor", sa.String(20)),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

one_time_tokens = sa.Table(
    "one_time_tokens",
    metadata,
    sa.Column("token_digest", sa.String(64), primary_key=True),
    sa.Column("purpose", sa.String(30), nullable=False),
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime()),
)

lockouts = sa.Table(
    "lockouts",
    metadata,
    sa.Column("subject", sa.String(100), primary_key=True),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("locked_until", UTCDateTime()),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("outcome", sa.String(40), nullable=False),
    sa.Column("account_id", sa.String(36)),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("user_agent", sa.String(300), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_audit_events_account_kind_id", "account_id", "kind", "id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("template", sa.String(50), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("account_id", sa.String(36)),
    sa.Column("status", sa.String(12), nullable=False),  # queued | sent | abandoned
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.String(300)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime()),
    sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

dev_mailbox = sa.Table(
    "dev_mailbox",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

totp_credentials = sa.Table(
    "totp_credentials",
    metadata,
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("sealed_secret", sa.String(255), nullable=False),
    sa.Column("confirmed_at", UTCDateTime()),
    sa.Column("last_step", sa.BigInteger, nullable=False, server_default="-1"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # The session that started a pending set-up: the only one shown its key again.
    sa.Column("started_by_session", sa.String(36)),
)

# Codes matched a time far from now (wrong device clock): burnt one by one, so fixing the
# clock later does not refuse every code up to the drifted one.
totp_burnt_steps = sa.Table(
    "totp_burnt_steps",
    metadata,
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("step", sa.BigInteger, primary_key=True),
    sa.Column("burnt_at", UTCDateTime(), nullable=False),
)

# Half-finished sign-ins: the password was right, the second factor is still due.
mfa_challenges = sa.Table(
    "mfa_challenges",
    metadata,
    sa.Column("token_digest", sa.String(64), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("subject", sa.String(100), nullable=False),  # the lockout subject of the sign-in
    sa.Column("binding_digest", sa.String(64), nullable=False),  # the device that asked
    sa.Column("device_id", sa.String(36)),  # a known device that asked, if any
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("used_at", UTCDateTime()),
)

sms_credentials = sa.Table(
    "sms_credentials",
    metadata,
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("phone", sa.String(20), nullable=False),  # E.164
    sa.Column("confirmed_at", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# One live SMS code per purpose: `owner` is "sign_in:<challenge digest>" or
# "enrol:<account id>"; a resend replaces the row, voiding the older code.
sms_codes = sa.Table(
    "sms_codes",
    metadata,
    sa.Column("owner", sa.String(100), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("code_digest", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime()),  # the gateway took it; the resend cooldown starts
    sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("used_at", UTCDateTime()),
    # The code a resend to the same number replaced, acceptable until its own expiry: texts
    # arrive late, and the first to arrive is the one a customer types.
    sa.Column("previous_digest", sa.String(64)),
    sa.Column("previous_sent_at", UTCDateTime()),
    sa.Column("previous_expires_at", UTCDateTime()),
)

recovery_codes = sa.Table(
    "recovery_codes",
    metadata,
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("code_digest", sa.String(64), primary_key=True),
    sa.Column("salt", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime()),
)

# The statuses of an active case (domain/recovery_cases.ACTIVE), written out: the index below
# is built from this text, and an ON CONFLICT that names the index must repeat it.
ACTIVE_CASE = sa.text("status IN ('open', 'approved')")

recovery_requests = sa.Table(
    "recovery_requests",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("reference", sa.String(20), nullable=False, unique=True),
    sa.Column(
        "account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("user_agent", sa.String(300), nullable=False),
    sa.Column("country", sa.String(2)),
    sa.Column("known_device", sa.Boolean, nullable=False),
    sa.Column("decided_by", sa.String(36)),
    sa.Column("decided_at", UTCDateTime()),
    sa.Column("note", sa.Text),
    sa.Column("effective_at", UTCDateTime()),
    sa.Column("cancel_token_digest", sa.String(64), unique=True),
    sa.Column("closed_at", UTCDateTime()),
    sa.Index("ix_recovery_requests_status_effective_at", "status", "effective_at"),
    # At most one active case per account. Opening one holds the account row while it looks
    # for another (domain/recovery_requests.py); this holds for any writer that does not.
    sa.Index(
        "uq_recovery_requests_active_account_id",
        "account_id",
        unique=True,
        sqlite_where=ACTIVE_CASE,
        postgresql_where=ACTIVE_CASE,
    ),
)
