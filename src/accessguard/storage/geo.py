"""Which country an address belongs to, from the registries' data shipped in the iptocc wheel
(offline: no lookup leaves the machine)."""

from __future__ import annotations

import ipaddress

from iptocc import country_code


def country_of(ip: str) -> str | None:
    """The ISO 3166 code of a public address; None for private, local or unparsable ones."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if address.is_private or address.is_loopback or address.is_link_local:
        return None
    code = country_code(str(address))
    return str(code) if code else None
