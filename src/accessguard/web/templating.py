"""Jinja2 for the pages: auto-escaped, with versioned static URLs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from fastapi.templating import Jinja2Templates

WEB = Path(__file__).parent
STATIC = WEB / "static"


@cache
def static_url(name: str) -> str:
    """`/static/NAME?v=HASH`: a changed file gets a new URL, so a stale cache never mixes
    an old stylesheet with a new page."""
    version = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={version}"


def when(iso: str) -> str:
    """'17:18 UTC on 25 November 2026': a time a customer reads at a glance."""
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    return f"{moment:%H:%M} UTC on {moment.day} {moment:%B %Y}"


templates = Jinja2Templates(directory=WEB / "templates")
templates.env.globals["static_url"] = static_url
templates.env.filters["when"] = when
