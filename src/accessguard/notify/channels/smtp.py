"""Email over SMTP, with a time limit on every socket operation."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from email_validator import EmailNotValidError, validate_email

from accessguard.domain.clock import SystemClock
from accessguard.domain.ports import Clock
from accessguard.notify.channels import DeliveryFailed
from accessguard.notify.render import Rendered


def with_ascii_domain(address: str) -> str:
    """The same mailbox with its domain as DNS knows it (`user@xn--bcher-kva.example` for
    `user@bücher.example`): most mail servers lack SMTPUTF8 and refuse a Unicode domain. A
    non-ASCII local part still needs SMTPUTF8, which smtplib asks for on its own."""
    if address.isascii():
        return address
    try:
        checked = validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return address
    return f"{checked.local_part}@{checked.ascii_domain}"


class SmtpChannel:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        timeout_seconds: float,
        security: str = "none",
        username: str | None = None,
        password: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._host = host
        self._port = port
        self._sender = sender
        self._timeout = timeout_seconds
        self._security = security
        self._login = (username, password) if username and password else None

    def _connect(self) -> smtplib.SMTP:
        if self._security == "tls":
            return smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=ssl.create_default_context()
            )
        smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        try:
            if self._security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if self._login is not None:
                smtp.login(*self._login)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, recipient: str, rendered: Rendered) -> None:
        recipient = with_ascii_domain(recipient)
        try:
            email = self._build(recipient, rendered)
        except ValueError as error:
            raise self._failed("invalid header") from error
        try:
            with self._connect() as smtp:
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            # One recipient per message: its code says whether the refusal is for good (5xx:
            # no such mailbox) or for now (4xx: greylisting, a full mailbox).
            codes = [code for code, _ in error.recipients.values()]
            permanent = bool(codes) and all(code >= 500 for code in codes)
            refused = " ".join(str(code) for code in codes)
            raise self._failed(f"recipient refused {refused}", permanent=permanent) from error
        except smtplib.SMTPDataError as error:
            # The message itself refused (5xx: its content or size): the same message would be.
            permanent = error.smtp_code >= 500
            raise self._failed(f"SMTPDataError {error.smtp_code}", permanent=permanent) from error
        except smtplib.SMTPResponseException as error:
            # Only the code: the server's text often quotes the address it refused. A refused
            # sender or login is the operator's settings, which a retry may find mended.
            raise self._failed(f"{type(error).__name__} {error.smtp_code}") from error
        except smtplib.SMTPNotSupportedError as error:
            # A mailbox name that is not ASCII needs SMTPUTF8, which this server lacks.
            reason = "the mail server lacks SMTPUTF8, which this address needs"
            raise self._failed(reason, permanent=True) from error
        except (smtplib.SMTPException, OSError) as error:
            raise self._failed(type(error).__name__) from error

    def _build(self, recipient: str, rendered: Rendered) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = recipient
        email["Subject"] = rendered.subject
        # RFC 5322 requires Date; a Message-ID lets mail servers and spam filters tell
        # messages apart (a retried send keeps neither, it is built again).
        email["Date"] = format_datetime(self._clock.now())  # +0000, not "-0000" (unknown zone)
        email["Message-ID"] = make_msgid(domain=self._sender_domain())
        email.set_content(rendered.text)
        if rendered.html is not None:
            email.add_alternative(rendered.html, subtype="html")
        return email

    def _sender_domain(self) -> str:
        return parseaddr(self._sender)[1].rpartition("@")[2] or "localhost"

    def _failed(self, detail: str, *, permanent: bool = False) -> DeliveryFailed:
        # Not logged here: the outbox logs each failed attempt once, with this reason and
        # what it does next (retry or give up).
        return DeliveryFailed(f"smtp {self._host}:{self._port}: {detail}", permanent=permanent)
