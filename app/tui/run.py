"""Start the TUI from the command line."""

from __future__ import annotations

from ..context import AppContext


def run_tui(ctx: AppContext) -> None:
    """Open the full-screen chat for `ctx`'s profile."""
    from .app import TaluApp

    TaluApp(ctx).run()
