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
    # Empty elements of a list header are to be ignored (RFC 9110, 5.6.1): "a, , b" and a
    # trailing comma name the same hops as "a, b".
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _hop_address(hop)
        if address is None:
            return peer
        if not any(address in network for network in trusted):
            return str(address)
    return peer


def _hop_address(hop: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A hop's address, also as some proxies write it with the client's port:
    `203.0.113.7:51234`, `[2001:db8::1]:51234`. None for anything else."""
    if hop.startswith("["):
        hop, bracket, port = hop[1:].partition("]")
        if not bracket or (port and not _is_port(port.removeprefix(":"))):
            return None
    elif hop.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has two or more
        hop, _, port = hop.partition(":")
        if not _is_port(port):
            return None
    try:
        return ipaddress.ip_address(hop)
    except ValueError:
        return None


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < int(text) < 65536


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
