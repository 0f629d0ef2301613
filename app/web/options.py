"""What one `talu-chat web` server runs with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TOKEN_PARAMETER = "token"
"""The query parameter of the first visit's address."""


@dataclass(frozen=True)
class WebOptions:
    """Address, secret, session cap and the app process every browser tab gets."""

    host: str
    port: int
    token: str
    """The secret every request must carry (query once, then the cookie). Never logged."""
    command: tuple[str, ...]
    """The argv of one tab's app process (no shell)."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Variables added to the app processes' environment (the web mode, allowed folders)."""
    max_sessions: int = 1
    slot_wait_s: float = 3.0
    """How long a new tab waits for a free session (a reloaded tab frees its own) before it
    is refused."""
    stop_wait_s: float = 5.0
    """How long an app process may take to quit before it is killed."""

    def cookie_name(self, port: int) -> str:
        """The cookie holding the token: one per port (cookies ignore ports)."""
        return f"talu_chat_web_{port}"
