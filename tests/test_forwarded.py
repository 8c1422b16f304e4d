"""Which address is the citizen's, behind proxies we trust or do not."""

from __future__ import annotations

import pytest

from collector.forwarded import TrustedProxies
from collector.settings import SettingsError


@pytest.mark.parametrize(
    ("allowed", "peer", "forwarded", "expected"),
    [
        ("127.0.0.1,::1", "127.0.0.1", "198.51.100.7", "198.51.100.7"),
        ("127.0.0.1,::1", "::1", "198.51.100.7", "198.51.100.7"),
        ("127.0.0.1", "203.0.113.9", "198.51.100.7", "203.0.113.9"),  # untrusted peer
        ("127.0.0.1", "127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1", "", "127.0.0.1"),
        # The rightmost hop that is not a trusted proxy: a citizen cannot pose as another
        # by sending their own X-Forwarded-For through our proxies.
        ("10.0.0.0/8", "10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.5", "198.51.100.7"),
        ("10.0.0.0/8", "10.0.0.2", "10.0.0.9, 10.0.0.5", "10.0.0.9"),
        ("*", "203.0.113.9", "198.51.100.7", "198.51.100.7"),
        ("127.0.0.1", "127.0.0.1", "not-an-address", "not-an-address"),
    ],
)
def test_client_address(allowed: str, peer: str, forwarded: str | None, expected: str) -> None:
    assert TrustedProxies(allowed).client_address(peer, forwarded) == expected


def test_a_bad_entry_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="COLLECTOR_FORWARDED_ALLOW_IPS: 'localhost'"):
        TrustedProxies("127.0.0.1, localhost")
