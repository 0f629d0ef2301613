"""app/net.py: which hosts are this machine only (shared by `serve` and `web`)."""

from __future__ import annotations

import pytest

from app.net import WILDCARD_HOSTS, is_loopback


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.3.2.1", "::1",
                                  "[::1]", "ip6-localhost"])
def test_loopback_names_and_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.4", "example.com",
                                  "localhost.example.com", "127.0.0.1.nip.io"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_wildcards_listen_everywhere() -> None:
    assert {"0.0.0.0", "::", ""} == WILDCARD_HOSTS
