"""One decode at a time per in-process model, with a bounded queue in front of it."""

from __future__ import annotations

import asyncio

from .errors import ApiError

RETRY_AFTER_S = 2


class Slot:
    """A request's place in a model's queue: `acquire` waits its turn, `release` ends it."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._held = False
        self._done = False

    async def acquire(self) -> None:
        if self._gate.lock is not None:
            await self._gate.lock.acquire()
            self._held = True

    def release(self) -> None:
        """Leave the queue (and free the model); safe to call more than once."""
        if self._done:
            return
        self._done = True
        self._gate.pending -= 1
        if self._held and self._gate.lock is not None:
            self._held = False
            self._gate.lock.release()


class Gate:
    """The queue of one model: at most one request running unless `concurrent`, and at most
    `limit` more waiting."""

    def __init__(self, limit: int, concurrent: bool) -> None:
        self.limit = limit
        self.lock: asyncio.Lock | None = None if concurrent else asyncio.Lock()
        self.pending = 0
        """Requests running or waiting."""

    def reserve(self) -> Slot:
        """A place in the queue, or 429 with Retry-After when the queue is full."""
        if self.lock is not None and self.pending > self.limit:
            raise ApiError(429, f"the model is busy: {self.limit} requests are already "
                                "waiting; retry later", "rate_limit_error",
                           code="queue_full", headers={"Retry-After": str(RETRY_AFTER_S)})
        self.pending += 1
        return Slot(self)


class Gates:
    """The gates of every served model, by queue key."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._gates: dict[str, Gate] = {}

    def reserve(self, key: str, concurrent: bool) -> Slot:
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = Gate(self.limit, concurrent)
        return gate.reserve()

    def pending(self) -> dict[str, int]:
        return {key: gate.pending for key, gate in self._gates.items()}
