"""Start the TUI from the command line."""

from __future__ import annotations

import gc

from ..context import AppContext
from .garbage import GC_THRESHOLDS


def run_tui(ctx: AppContext) -> None:
    """Open the full-screen chat for `ctx`'s profile."""
    from .app import TaluApp

    gc.set_threshold(*GC_THRESHOLDS)  # see app/tui/garbage.py
    TaluApp(ctx).run()
