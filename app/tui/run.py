"""Start the TUI from the command line."""

from __future__ import annotations

import gc

from ..context import AppContext

#: The garbage collector's thresholds while the TUI runs. Python's default (700, 10, 10)
#: collects generation 0 every 700 net allocations and the whole heap every 100 of those; a
#: streaming frame allocates tens of thousands of short-lived strips and segments, so the
#: collector ran many times a frame and walked Textual's whole widget tree each full pass.
#: bench/tui_terminal.py, 300 tok/s into the chat: 1.49 → 0.96 s CPU per 1,000 tokens and the
#: screen's worst lag 0.46 → 0.29 s (medians of 4, same run); at 1,000 tok/s 0.74 → 0.54.
#: Freezing the start-up heap (gc.freeze) measured no further gain.
GC_THRESHOLDS = (100_000, 50, 100)


def run_tui(ctx: AppContext) -> None:
    """Open the full-screen chat for `ctx`'s profile."""
    from .app import TaluApp

    gc.set_threshold(*GC_THRESHOLDS)
    TaluApp(ctx).run()
