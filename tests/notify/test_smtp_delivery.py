from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa

from accessguard.domain import notifications
from accessguard.domain.model import Account, ClientInfo
from accessguard.notify.channels.smtp import SmtpChannel
from accessguard.notify.outbox import Dispatcher, DispatchReport
from accessguard.notify.render import Rendered, Renderer
from accessguard.storage.crypto import AesGcmBox
from accessguard.storage.sql.outbox import SqlOutbox
from tests.notify.conftest import SmtpServer, outbox_row, queue
from tests.support import SettableClock

LINK = "https://accounts.example.test/reset-password?token=s3cret-token"


def smtp_channel(server: SmtpServer) -> SmtpChannel:
    return SmtpChannel(
        "127.0.0.1", server.port, "Accounts <no-reply@example.test>", timeout_seconds=2
    )


def test_queued_email_is_sent_over_smtp_and_redacted(
    engine: sa.Engine,
    clock: SettableClock,
    account: Account,
    smtp: SmtpServer,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    message = notifications.password_reset(account, LINK, clock.now() + timedelta(minutes=30))
    message_id = queue(engine, message, clock.now())

    report = make_dispatcher({"email": smtp_channel(smtp)}).run_once()

    assert report == DispatchReport(sent=1)
    [sent] = smtp.handler.messages
    assert sent["To"] == "ada@example.com"
    assert sent["From"] == "Accounts <no-reply@example.test>"
    assert sent["Subject"] == "Reset your password"
    assert parsedate_to_datetime(sent["Date"]).tzinfo is not None  # RFC 5322 requires it
    assert sent["Message-ID"].endswith("@example.test>")
    assert sent.get_content_type() == "multipart/alternative"
    text = sent.get_body(("plain",))
    html = sent.get_body(("html",))
    assert text is not None
    assert LINK in text.get_content()
    assert html is not None
    assert LINK in html.get_content()
    row = outbox_row(engine, message_id)
    assert row["status"] == "sent"
    assert row["sent_at"] == clock.now()
    assert row["payload"] == {"redacted": True}


def test_smtp_outage_keeps_message_queued_then_sends_when_server_is_up(
    engine: sa.Engine,
    clock: SettableClock,
    account: Account,
    smtp_down: SmtpServer,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    message_id = queue(engine, notifications.already_registered(account), clock.now())
    dispatcher = make_dispatcher({"email": smtp_channel(smtp_down)})

    assert dispatcher.run_once() == DispatchReport(retried=1)
    row = outbox_row(engine, message_id)
    assert (row["status"], row["attempts"]) == ("queued", 1)
    assert row["next_attempt_at"] > clock.now()
    assert "ConnectionRefusedError" in row["last_error"]

    smtp_down.start()
    assert dispatcher.run_once() == DispatchReport(), "not due before the backoff ends"
    clock.current = row["next_attempt_at"]
    assert dispatcher.run_once() == DispatchReport(sent=1)
    assert dispatcher.run_once() == DispatchReport()

    assert len(smtp_down.handler.messages) == 1
    assert outbox_row(engine, message_id)["status"] == "sent"


def test_message_is_abandoned_after_max_attempts_and_logged(
    engine: sa.Engine,
    clock: SettableClock,
    account: Account,
    smtp_down: SmtpServer,
    make_dispatcher: Callable[..., Dispatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = notifications.verify_email(account, LINK, clock.now() + timedelta(days=1))
    message_id = queue(engine, message, clock.now())
    dispatcher = make_dispatcher({"email": smtp_channel(smtp_down)}, max_attempts=3)

    reports = []
    for _ in range(3):
        reports.append(dispatcher.run_once())
        clock.advance(hours=1)

    assert reports == [
        DispatchReport(retried=1),
        DispatchReport(retried=1),
        DispatchReport(abandoned=1),
    ]
    row = outbox_row(engine, message_id)
    assert (row["status"], row["attempts"]) == ("abandoned", 3)
    assert row["payload"] == {"redacted": True}
    assert dispatcher.run_once() == DispatchReport()
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"outbox message {message_id} (verify_email) abandoned" in record.getMessage()


def test_email_carries_anti_phishing_phrase(
    engine: sa.Engine,
    clock: SettableClock,
    account: Account,
    smtp: SmtpServer,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    message = notifications.password_changed(
        account, ClientInfo("198.51.100.7", "Firefox"), clock.now(), "change"
    )
    queue(engine, message, clock.now())

    make_dispatcher({"email": smtp_channel(smtp)}).run_once()

    [sent] = smtp.handler.messages
    text, html = sent.get_body(("plain",)), sent.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "Your anti-phishing phrase: blue <heron> & co" in text.get_content()
    assert "Your anti-phishing phrase: <strong>blue &lt;heron&gt; &amp; co</strong>" in (
        html.get_content()
    )
    assert "https://accounts.example.test/forgot-password" in text.get_content()


def test_a_mailbox_at_an_international_domain_is_reached_without_smtputf8(
    engine: sa.Engine,
    clock: SettableClock,
    account: Account,
    smtp_ascii_only: SmtpServer,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    # Many servers do not offer SMTPUTF8: the domain goes as DNS knows it.
    abroad = dataclasses.replace(account, email="ada@b\u00fccher.example")
    queue(engine, notifications.already_registered(abroad), clock.now())

    report = make_dispatcher({"email": smtp_channel(smtp_ascii_only)}).run_once()

    assert report == DispatchReport(sent=1)
    assert smtp_ascii_only.handler.recipients == ["ada@xn--bcher-kva.example"]
    [sent] = smtp_ascii_only.handler.messages
    assert sent["To"] == "ada@xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("refusal", "report"),
    [("550 5.1.1", DispatchReport(abandoned=1)), ("450 4.2.2", DispatchReport(retried=1))],
    ids=["for good", "for now"],
)
def test_a_recipient_refused_for_good_is_not_tried_again(
    engine: sa.Engine,
    clock: SettableClock,
    account: Account,
    smtp: SmtpServer,
    make_dispatcher: Callable[..., Dispatcher],
    refusal: str,
    report: DispatchReport,
) -> None:
    smtp.handler.refuse_recipients, smtp.handler.refusal = True, refusal
    message_id = queue(engine, notifications.already_registered(account), clock.now())

    assert make_dispatcher({"email": smtp_channel(smtp)}).run_once() == report
    row = outbox_row(engine, message_id)
    assert row["attempts"] == 1
    assert row["last_error"].endswith(f"recipient refused {refusal[:3]}")


def test_a_mailbox_name_beyond_ascii_is_given_up_at_once_by_a_server_without_smtputf8(
    engine: sa.Engine,
    clock: SettableClock,
    account: Account,
    smtp_ascii_only: SmtpServer,
    make_dispatcher: Callable[..., Dispatcher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The same server would refuse it for a day of retries: the operator hears why, once.
    abroad = dataclasses.replace(account, email="j\u00f6s\u00e9@example.com")
    message_id = queue(engine, notifications.already_registered(abroad), clock.now())

    report = make_dispatcher({"email": smtp_channel(smtp_ascii_only)}).run_once()

    assert report == DispatchReport(abandoned=1)
    assert smtp_ascii_only.handler.messages == []
    assert outbox_row(engine, message_id)["status"] == "abandoned"
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "refused for good" in record.getMessage()
    assert "lacks SMTPUTF8" in record.getMessage()
    assert "j\u00f6s\u00e9" not in record.getMessage()


@pytest.mark.parametrize("outage", ["closed port", "recipient refused"])
def test_smtp_failure_log_has_no_recipient_or_body(
    engine: sa.Engine,
    clock: SettableClock,
    account: Account,
    smtp_down: SmtpServer,
    make_dispatcher: Callable[..., Dispatcher],
    caplog: pytest.LogCaptureFixture,
    outage: str,
) -> None:
    if outage == "recipient refused":
        smtp_down.handler.refuse_recipients = True
        smtp_down.start()
    message = notifications.password_reset(account, LINK, clock.now() + timedelta(minutes=30))
    message_id = queue(engine, message, clock.now())
    caplog.set_level(logging.DEBUG, logger="accessguard")

    make_dispatcher({"email": smtp_channel(smtp_down)}, max_attempts=1).run_once()

    ours = [r.getMessage() for r in caplog.records if r.name.startswith("accessguard")]
    [told] = [line for line in ours if f"outbox message {message_id} " in line]
    assert f"smtp 127.0.0.1:{smtp_down.port}" in told  # once, with the reason
    for line in [*ours, outbox_row(engine, message_id)["last_error"]]:
        assert "ada@example.com" not in line
        assert "s3cret-token" not in line
        assert "blue <heron>" not in line


def test_claimed_message_is_not_sent_again_by_a_second_dispatcher(
    engine: sa.Engine,
    clock: SettableClock,
    account: Account,
    smtp: SmtpServer,
    make_dispatcher: Callable[..., Dispatcher],
) -> None:
    queue(engine, notifications.already_verified(account), clock.now())
    second = make_dispatcher({"email": smtp_channel(smtp)})
    seen_by_second: list[DispatchReport] = []

    class SendWhileAnotherLooks:
        def send(self, recipient: str, rendered: Rendered) -> None:
            seen_by_second.append(second.run_once())
            smtp_channel(smtp).send(recipient, rendered)

    assert make_dispatcher({"email": SendWhileAnotherLooks()}).run_once() == DispatchReport(sent=1)
    assert seen_by_second == [DispatchReport()]
    assert len(smtp.handler.messages) == 1


def test_a_message_sealed_with_a_key_no_longer_configured_is_retried_not_sent_garbled(
    engine: sa.Engine,
    clock: SettableClock,
    account: Account,
    smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    old, new = AesGcmBox([b"k" * 32]), AesGcmBox([b"n" * 32])
    message = notifications.password_reset(account, LINK, clock.now() + timedelta(minutes=30))
    with engine.begin() as conn:
        SqlOutbox(conn, old).add(message, clock.now())
    renderer = Renderer("https://accounts.example.test")
    channels = {"email": smtp_channel(smtp)}
    lost_key = Dispatcher(engine, channels, renderer, clock, max_attempts=3, box=new)
    assert lost_key.run_once() == DispatchReport(retried=1)
    assert smtp.handler.messages == []
    assert "payload unreadable" in caplog.text
    clock.advance(seconds=60)
    key_back = Dispatcher(engine, channels, renderer, clock, max_attempts=3, box=old)
    assert key_back.run_once() == DispatchReport(sent=1)
    [sent] = smtp.handler.messages
    assert LINK in sent.get_body(("plain",)).get_content()
