"""The citizen's address behind proxies: X-Forwarded-For, believed only from proxies
we trust (COLLECTOR_FORWARDED_ALLOW_IPS: addresses or networks, or "*").

Same rule as uvicorn's proxy headers, the rightmost address not of a trusted proxy,
but decided once per proxy address instead of parsing every hop of every request.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from collector.settings import SettingsError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, allowed: str) -> None:
        entries = [entry.strip() for entry in allowed.split(",") if entry.strip()]
        self._everyone = "*" in entries
        self._networks: list[IPNetwork] = []
        for entry in entries:
            if entry == "*":
                continue
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise SettingsError(
                    f"COLLECTOR_FORWARDED_ALLOW_IPS: {entry!r} is not an address or network"
                ) from None
        # Every citizen's address is new to an lru_cache: single proxy addresses are
        # compared as text, and only real ranges parse the hop (3 us a request).
        self._addresses = frozenset(
            str(network.network_address) for network in self._networks if network.num_addresses == 1
        )
        self._ranges = [network for network in self._networks if network.num_addresses > 1]
        self.trusted = lru_cache(maxsize=256)(self._trusted) if self._ranges else self._trusted

    def _trusted(self, host: str) -> bool:
        if self._everyone or host in self._addresses:
            return True
        if not self._ranges:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._ranges)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The address to hash: the peer's, or what trusted proxies say they saw."""
        if not forwarded_for or not self.trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",")]
        for hop in reversed(hops):
            if hop and not self.trusted(hop):
                return hop
        return hops[0] or peer
