"""Whether a browser says a request was sent by another site: CSRF's first check.

Browsers label every request they send. `Sec-Fetch-Site` says outright whether it crossed
sites; `Origin` names the page that sent it, and must be one of ours. Clients that are not
browsers send neither, and nothing here refuses them: they cannot be tricked by a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

_OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def origin_of(url: str) -> str:
    """`https://accounts.example.com` for any URL of that site."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def from_another_site(headers: Mapping[str, str], host: str, public_origin: str) -> bool:
    """True when the browser says the request comes from a page not ours.

    Ours is the host the request was sent to, over http or https (behind a proxy that ends
    TLS the server itself sees plain http), or `PUBLIC_URL`'s origin (the proxy may also
    rewrite the host). Under Referrer-Policy no-referrer browsers send `Origin: null` even
    for our own forms, so null counts as absent and the caller's other checks decide.
    """
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in _OWN_FETCH_SITES:
        return True
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return False
    origin = origin.lower()
    own = {f"http://{host}".lower(), f"https://{host}".lower(), public_origin}
    return origin not in own
