from __future__ import annotations

from datetime import timedelta

import jinja2
import pytest

from accessguard.domain import notifications
from accessguard.domain.model import Account, ClientInfo, Message
from accessguard.notify.render import Renderer
from tests.support import SettableClock

RESET_PAGE = "https://accounts.example.test/forgot-password"


def every_email(account: Account, clock: SettableClock) -> list[Message]:
    later = clock.now() + timedelta(hours=1)
    client = ClientInfo("203.0.113.9", "Mozilla/5.0 <script>")
    return [
        notifications.verify_email(account, "https://x.test/v?token=a&b=1", later),
        notifications.already_registered(account),
        notifications.already_verified(account),
        notifications.unknown_account("nobody@example.com", "verify"),
        notifications.unknown_account("nobody@example.com", "reset"),
        notifications.password_reset(account, "https://x.test/r?token=a&b=1", later),
        notifications.password_changed(account, client, clock.now(), "reset"),
        notifications.password_changed(account, client, clock.now(), "change"),
    ]


def test_every_email_renders_text_and_escaped_html(account: Account, clock: SettableClock) -> None:
    renderer = Renderer("https://accounts.example.test/")

    for message in every_email(account, clock):
        rendered = renderer.render(message)
        assert rendered.subject
        assert "\n" not in rendered.subject
        assert rendered.html is not None
        assert "<script>" not in rendered.html
        assert "&b=1" not in rendered.html  # links are escaped inside attributes too
        has_phrase = message.data.get("anti_phishing_phrase") is not None
        assert ("Your anti-phishing phrase:" in rendered.text) is has_phrase
        assert ("Your anti-phishing phrase:" in rendered.html) is has_phrase


def test_password_changed_points_to_the_reset_page(account: Account, clock: SettableClock) -> None:
    message = notifications.password_changed(
        account, ClientInfo("203.0.113.9", "Firefox"), clock.now(), "change"
    )

    rendered = Renderer("https://accounts.example.test").render(message)

    assert "If this wasn't you, reset your password now" in rendered.text
    assert RESET_PAGE in rendered.text
    assert rendered.html is not None
    assert f'href="{RESET_PAGE}"' in rendered.html
    assert "203.0.113.9" in rendered.text


@pytest.mark.parametrize("template", ["sms_code", "sms_enrol_code", "sms_manage_code"])
def test_a_code_text_names_the_service_and_binds_the_code_to_our_host(template: str) -> None:
    renderer = Renderer("https://accounts.example.test:8443/")
    rendered = renderer.render(Message("sms", "+1555", template, {"code": "493817"}))

    assert rendered.html is None
    first, *_, last = rendered.text.splitlines()
    assert first.startswith("accessguard: 493817 is your ")
    # WebOTP's origin-bound line, last: the browser offers the code on this host only.
    assert last == "@accounts.example.test #493817"
    assert len(rendered.text) <= 160, "more than one SMS segment"


@pytest.mark.parametrize("template", ["no_such_template", "../email/_layout", "_layout"])
def test_unknown_template_is_a_template_error(template: str) -> None:
    with pytest.raises(jinja2.TemplateNotFound):
        Renderer("https://a.test").render(Message("email", "a@b.test", template, {}))


def test_every_email_links_to_support_when_the_operator_names_it(
    account: Account, clock: SettableClock
) -> None:
    support = "https://example.com/support?from=mail&lang=en"
    with_support = Renderer("https://accounts.example.test", support)
    without = Renderer("https://accounts.example.test")

    for message in every_email(account, clock):
        rendered = with_support.render(message)
        assert f"Contact support: {support}" in rendered.text
        assert rendered.html is not None
        assert 'href="https://example.com/support?from=mail&amp;lang=en"' in rendered.html
        plain = without.render(message)
        assert "Contact support:" not in plain.text
        assert plain.html is not None
        assert "example.com/support" not in plain.html


@pytest.mark.parametrize(
    ("used_for", "words"),
    [
        ("sign_in", "used to sign in to your account on"),
        ("app_removal", "used to remove the authenticator app from your account on"),
        ("phone_removal", "used to remove the phone number from your account on"),
        (None, "used on your account on"),  # queued before the email named the use
    ],
)
def test_a_recovery_code_email_names_what_the_code_was_used_for(
    account: Account, clock: SettableClock, used_for: str | None, words: str
) -> None:
    facts = {"at": clock.now().isoformat(), "codes_left": 1}
    if used_for is not None:
        facts["used_for"] = used_for
    message = Message("email", account.email, "recovery_code_used", facts, account.id)

    rendered = Renderer("https://accounts.example.test").render(message)

    assert rendered.subject == "A recovery code was used on your account"
    assert words in rendered.text
    assert rendered.html is not None
    assert words in rendered.html
    assert "1 recovery code is left.\n\nIf this was you" in rendered.text


def cancelled_case_notices(account: Account, clock: SettableClock) -> list[Message]:
    """The recovery-cancelled notice in both wordings: each body ends without a newline."""
    facts = {
        "reference": "R-7KQ2-M4XD",
        "requested_at": clock.now().isoformat(timespec="minutes"),
        "ip": "203.0.113.9",
        "country": "DE",
        "user_agent": "Firefox",
        "cancelled_at": clock.now().isoformat(timespec="minutes"),
    }
    return [
        Message("email", account.email, "recovery_cancelled", {**facts, "by": by})
        for by in ("link", "password_reset")
    ]


def test_the_signature_separator_stands_after_a_blank_line(
    account: Account, clock: SettableClock
) -> None:
    # RFC 3676 section 4.3: "-- " alone on its line starts the signature, which mail readers
    # fold away or leave out of replies; glued to the last line of text it reads as text.
    renderer = Renderer("https://accounts.example.test", "https://example.com/support")
    for message in [*every_email(account, clock), *cancelled_case_notices(account, clock)]:
        text = renderer.render(message).text
        body, separator, signature = text.rpartition("\n-- \n")
        assert separator, f"{message.template}: no signature separator"
        assert body.endswith("\n"), f"{message.template}: no blank line before the separator"
        assert body.rstrip("\n").strip(), message.template
        assert signature.startswith("We will never ask for your password"), message.template
