"""Timing one operation for the benches: one warm-up run, then the measured runs."""

from __future__ import annotations

import time
from collections.abc import Callable


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Run `fn` once to warm up, then `repeat` times; the durations in seconds."""
    fn()
    durations = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - began)
    return durations
