"""What the REPL's calls share: Ctrl+C while a call runs, and the errors it expects."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

from engine import EngineError
from storage import StorageError

from ..errors import UsageError

EXPECTED_ERRORS = (UsageError, EngineError, StorageError)


@contextlib.contextmanager
def interrupt_calls(callback: Callable[[], object]) -> Iterator[None]:
    """While the block runs, Ctrl+C (SIGINT) calls `callback` instead of raising.

    The previous handler (asyncio's, prompt-toolkit's or Python's) is back afterwards.
    """
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)
    try:
        loop.add_signal_handler(signal.SIGINT, callback)
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
