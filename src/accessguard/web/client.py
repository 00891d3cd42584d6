"""Who is asking: the client's address (believing X-Forwarded-For only from trusted proxies)."""

from __future__ import annotations

import ipaddress

from fastapi import Request

from accessguard.domain.model import ClientInfo
from accessguard.settings import Network, Settings


def client_address(peer: str, forwarded_for: str | None, trusted: list[Network]) -> str:
    """The rightmost address not belonging to a trusted proxy.

    Walking from the right matters: the left end of X-Forwarded-For is whatever the client
    wrote, so an attacker could otherwise pick a fresh address per request and evade the
    per-address throttle. A malformed header changes nothing.
    """
    if not trusted or not _is_trusted(peer, trusted) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return peer
        if not any(address in network for network in trusted):
            return str(address)
    return peer


def _is_trusted(peer: str, trusted: list[Network]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted)


async def client_info(request: Request) -> ClientInfo:
    return client_of(request, request.app.state.services.settings)


def client_of(request: Request, settings: Settings) -> ClientInfo:
    peer = request.client.host if request.client else "unknown"
    # Every line of the header, in order: a proxy may add its own line rather than extend
    # the client's, and reading only the first would believe the client's (RFC 9110 5.3).
    forwarded_for = ", ".join(request.headers.getlist("x-forwarded-for"))
    ip = client_address(peer, forwarded_for, settings.trusted_proxies)
    user_agent = request.headers.get("user-agent", "")[:300]
    return ClientInfo(ip=ip, user_agent=user_agent)
