"""What one server runs with: address, keys, served models, CORS, queue bound, storage."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..net import WILDCARD_HOSTS, is_loopback


@dataclass(frozen=True)
class ServeOptions:
    """The settings of one running server (from the command line and the [serve] settings)."""

    host: str = "127.0.0.1"
    port: int = 8421
    api_keys: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    """Model references to serve; empty: the discovered models and the configured aliases."""
    cors_origins: tuple[str, ...] = ()
    queue_limit: int = 16
    log_prompts: bool = False
    store_profile: str | None = None
    """Keep every answered conversation as a session of this profile (None: store nothing)."""
    max_body_bytes: int = 16 * 1024 * 1024
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    """Host header names accepted besides the bound host and loopback names."""

    def host_allowed(self, header: str) -> bool:
        """Whether a request's Host header names this server (DNS rebinding protection)."""
        if self.host in WILDCARD_HOSTS:
            return True  # listening everywhere: a key is required, and it is the protection
        name = header.strip().lower()
        if name.startswith("["):  # [::1]:port
            name = name[1:].partition("]")[0]
        elif name.count(":") == 1:
            name = name.partition(":")[0]
        if not name:
            return False
        bound = self.host.strip("[]").lower()
        return name == bound or (is_loopback(name) and is_loopback(bound)) \
            or name in self.allowed_hosts
