"""Turn hooks: start, first token, end, error; the built-in metrics hook; hook discovery.

A hook is any object with some of the methods of `Hook`. A hook that raises is logged and
skipped: it never breaks a turn.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from .energy import EnergyMeter, EnergyStart
from .errors import ConfigError
from .types import FinishReason, Metrics, Usage

log = logging.getLogger(__name__)

HOOKS_ENTRY_POINT_GROUP = "talu_chat.hooks"


@dataclass(slots=True)
class Turn:
    """What hooks see of one turn; timestamps are `time.perf_counter()` seconds."""

    model_ref: str
    backend: str
    model: str
    started_at: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    ended_at: float | None = None
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    error: str | None = None
    metrics: Metrics | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Hook:
    """Base class with no-op methods; override what you need."""

    def on_start(self, turn: Turn) -> None:
        """The request is about to be sent."""

    def on_first_token(self, turn: Turn) -> None:
        """The first text of the answer arrived (`turn.first_token_at` is set)."""

    def on_end(self, turn: Turn) -> None:
        """The answer ended (`finish_reason`, `usage` and `metrics` are set)."""

    def on_error(self, turn: Turn, error: BaseException) -> None:
        """The turn failed; `on_end` follows with finish_reason "error"."""


def compute_metrics(turn: Turn) -> Metrics:
    """Time to first token, prompt and decode time and decode speed of a finished turn."""
    end = turn.ended_at if turn.ended_at is not None else time.perf_counter()
    usage = turn.usage or Usage()
    metrics = Metrics(
        total_s=end - turn.started_at,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )
    if turn.first_token_at is not None:
        metrics.ttft_s = turn.first_token_at - turn.started_at
        metrics.prompt_s = metrics.ttft_s
        metrics.decode_s = end - turn.first_token_at
        tokens = usage.completion_tokens or 0
        # The first token is produced by prompt processing; decode speed covers the rest.
        if tokens > 1 and metrics.decode_s > 0:
            metrics.tokens_per_s = (tokens - 1) / metrics.decode_s
    return metrics


class MetricsHook(Hook):
    """Built in: fills `turn.metrics` with the figures every stored answer carries, energy
    included: joules from the host's counter for local models (where one is readable) and
    the process's CPU time for every turn."""

    def __init__(self, meter: EnergyMeter | None = None) -> None:
        self.meter = meter or EnergyMeter(None)

    def on_start(self, turn: Turn) -> None:
        turn.extra["energy_start"] = self.meter.start()

    def on_end(self, turn: Turn) -> None:
        metrics = compute_metrics(turn)
        start = turn.extra.get("energy_start")
        if isinstance(start, EnergyStart):
            joules, metrics.cpu_s = self.meter.stop(start)
            if turn.backend == "local" and joules is not None:  # a server's energy is its own
                metrics.energy_j, metrics.energy_source = joules, self.meter.source
        turn.metrics = metrics


class HookRunner:
    """Calls each hook in order, logging and skipping any that raises."""

    def __init__(self, hooks: Iterable[Any] = (), metrics: MetricsHook | None = None) -> None:
        self.hooks: list[Any] = [metrics or MetricsHook(), *hooks]

    def _call(self, name: str, *args: Any) -> None:
        for hook in self.hooks:
            method = getattr(hook, name, None)
            if method is None:
                continue
            try:
                method(*args)
            except Exception:
                log.exception("hook %r failed in %s; skipped", hook, name)

    def start(self, turn: Turn) -> None:
        self._call("on_start", turn)

    def first_token(self, turn: Turn) -> None:
        turn.first_token_at = time.perf_counter()
        self._call("on_first_token", turn)

    def end(self, turn: Turn) -> None:
        turn.ended_at = time.perf_counter()
        self._call("on_end", turn)

    def error(self, turn: Turn, error: BaseException) -> None:
        turn.error = str(error)
        self._call("on_error", turn, error)


def _instantiate(obj: Any) -> Any:
    return obj() if isinstance(obj, type) else obj


def load_hook(spec: str) -> Any:
    """Load a hook from "module:attribute" (a class is instantiated)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"hook {spec!r} must look like 'package.module:HookClass'")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load hook {spec!r}: {exc}") from None
    return _instantiate(target)


def discover_hooks(specs: Iterable[str] = ()) -> list[Any]:
    """Hooks named in settings plus those registered under the `talu_chat.hooks` entry point."""
    hooks = [load_hook(spec) for spec in specs]
    for ep in entry_points(group=HOOKS_ENTRY_POINT_GROUP):
        try:
            hooks.append(_instantiate(ep.load()))
        except Exception:
            log.exception("cannot load hook entry point %s; skipped", ep.name)
    return hooks
