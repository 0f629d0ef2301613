"""What every command shares: settings, the profile, and lazily created engine and store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine import Engine

from .settings import Settings, load_settings


@dataclass
class AppContext:
    """Per-invocation state of the command line, the TUI and the REPL."""

    profile: str = "default"
    model_ref: str | None = None
    theme: str | None = None
    settings: Settings = field(default_factory=load_settings)
    _engine: Engine | None = None
    _store: Any = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(self.settings.engine_config())
        return self._engine

    @property
    def default_model(self) -> str:
        return self.model_ref or self.settings.default_model
