"""The numbers the rules use, handed in by the composition root (the domain reads no env)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_LOCK_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Rules:
    public_url: str
    lockout_threshold: int = 5
    lockout_seconds: int = 900
    lockout_window_seconds: int = 86400
    address_failure_limit: int = 50
    address_window_seconds: int = 900
    address_request_limit: int = 30
    recipient_email_limit: int = 3
    session_idle_seconds: int = 3600
    session_max_seconds: int = 86400
    device_max_seconds: int = 31536000
    verify_token_seconds: int = 86400
    reset_token_seconds: int = 1800
    security_hold_seconds: int = 86400
    reauth_seconds: int = 900
    sms_code_seconds: int = 300
    sms_resend_cooldown_seconds: int = 60
    sms_daily_limit_per_number: int = 10
    sms_daily_limit_per_account: int = 20
    recovery_wait_seconds: int = 172800
    mfa_token_seconds: int = 300

    def link(self, path: str, token: str) -> str:
        """Emailed links are built from the configured base only, never from a request's
        Host header, which an attacker controls (reset-link poisoning)."""
        return f"{self.public_url.rstrip('/')}{path}?token={token}"
