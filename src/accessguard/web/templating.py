"""Jinja2 for the pages: auto-escaped, with versioned static URLs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

WEB = Path(__file__).parent
STATIC = WEB / "static"


@cache
def static_url(name: str) -> str:
    """`/static/NAME?v=HASH`: a changed file gets a new URL, so a stale cache never mixes
    an old stylesheet with a new page."""
    version = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={version}"


def when(iso: str, *, ends: bool = False) -> str:
    """'17:18 UTC on 25 November 2026': a time a customer reads at a glance. `ends`: the end
    of a wait, rounded up to the minute, so that trying again at the time shown works."""
    moment = datetime.fromisoformat(iso).astimezone(UTC)
    if ends and (moment.second or moment.microsecond):
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return f"{moment:%H:%M} UTC on {moment.day} {moment:%B %Y}"


# Control characters other than tab and line breaks, as typed into a form and shown back.
_INVISIBLE = dict.fromkeys(c for c in (*range(32), *range(127, 160)) if chr(c) not in "\t\n\r")


def _shown(value: object) -> object:
    """What a page prints of a value: a NUL or an escape code typed into a form and shown
    back would break the HTML for some readers, so it is dropped."""
    return value.translate(_INVISIBLE) if isinstance(value, str) else value


def _site(request: Request) -> dict[str, Any]:
    """What every page may show of the operator's set-up."""
    services = getattr(request.app.state, "services", None)
    return {"support_url": services.settings.support_url if services else None}


templates = Jinja2Templates(directory=WEB / "templates", context_processors=[_site])
templates.env.finalize = _shown
templates.env.globals["static_url"] = static_url
templates.env.filters["when"] = when
