"""Where a sign-in came from, as far as an offline registry lookup can tell."""

from __future__ import annotations

import ipaddress

from iptocc import country_code


def place_of(ip: str) -> str:
    """'Country GB', 'Local network' or 'Unknown': a hint for the owner, never a decision."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "Unknown"
    if address.is_private or address.is_loopback or address.is_link_local:
        return "Local network"
    code = country_code(str(address))
    return f"Country {code}" if code else "Unknown"
