"""What every command shares: settings, the profile, and lazily created engine and store."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine import Engine

from .conversation import ConversationService
from .settings import Settings, load_settings


@dataclass
class AppContext:
    """Per-invocation state of the command line, the TUI and the REPL."""

    profile: str = "default"
    model_ref: str | None = None
    theme: str | None = None
    settings: Settings = field(default_factory=load_settings)
    _engine: Engine | None = None
    _service: ConversationService | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(self.settings.engine_config())
        return self._engine

    @property
    def default_model(self) -> str:
        return self.model_ref or self.settings.default_model

    def service(self) -> ConversationService:
        """The conversation service of this profile (opened once)."""
        if self._service is None:
            self._service = ConversationService.open(self.settings, self.engine, self.profile,
                                                     self.default_model)
        return self._service
