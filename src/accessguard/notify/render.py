"""Messages to text: one Jinja template per message and channel, HTML autoescaped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from accessguard.domain.model import Message

_TEMPLATES = Path(__file__).parent / "templates"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None = None


def _when(value: str) -> str:
    """An ISO timestamp from the domain, as people read it."""
    try:
        moment = datetime.fromisoformat(value).astimezone(UTC)
    except (TypeError, ValueError):
        return str(value)
    return f"{moment.day} {moment:%B %Y at %H:%M} UTC"


class Renderer:
    def __init__(self, public_url: str, support_url: str | None = None) -> None:
        self._public_url = public_url.rstrip("/")
        self._support_url = support_url
        # The pages' host, without a port: the origin-bound line of a code text names it.
        self._public_host = urlsplit(self._public_url).hostname or ""
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_TEMPLATES),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters["when"] = _when

    def render(self, message: Message) -> Rendered:
        """Raises `jinja2.TemplateError` for an unknown template or missing data."""
        if not _NAME.fullmatch(message.template) or not _NAME.fullmatch(message.channel):
            raise jinja2.TemplateNotFound(message.template)
        context: dict[str, Any] = {
            "anti_phishing_phrase": None,
            **message.data,
            "public_url": self._public_url,
            "reset_url": f"{self._public_url}/forgot-password",
            "support_url": self._support_url,
            "public_host": self._public_host,
        }
        base = f"{message.channel}/{message.template}"
        if message.channel == "sms":
            return Rendered(subject="", text=self._render(f"{base}.txt", context).strip())
        # One line, always: a newline in a header would start another header.
        subject = " ".join(self._render(f"{base}.subject.txt", context).split())
        context["subject"] = subject
        return Rendered(
            subject=subject,
            text=self._render(f"{base}.txt", context),
            html=self._render(f"{base}.html", context),
        )

    def _render(self, name: str, context: dict[str, Any]) -> str:
        return self._env.get_template(name).render(context)
