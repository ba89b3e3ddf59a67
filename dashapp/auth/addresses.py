"""The client a limit counts: its IPv4 address, or its IPv6 address's /64 network.

One IPv6 host commonly holds a whole /64 (SLAAC, privacy addresses) and can pick a new address
per request, so limits per address (sign-in attempts, exports at once) count the /64 as one
client, as mail servers and CDNs do. Anything that is not an IP address is kept as it is."""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 64


def client_key(address: str | None) -> str:
    """``203.0.113.7`` as it is; ``2001:db8:1:2:a:b:c:d`` as ``2001:db8:1:2::/64``; an IPv4
    address written as IPv6 (``::ffff:203.0.113.7``) as the IPv4 address; None as ``unknown``."""
    text = (address or "unknown").strip()[:100]
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)
