"""What every command shares: settings, the profile, and lazily created engine and service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .settings import Settings, load_settings

if TYPE_CHECKING:
    from engine import Engine

    from .service import ConversationService


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
        """The engine, created on first use."""
        if self._engine is None:
            from engine import Engine
            from engine.redact import redact_logs

            self._engine = Engine(self.settings.engine_config())
            redact_logs(self._engine.redact)  # no configured secret reaches the log file
        return self._engine

    @property
    def default_model(self) -> str:
        return self.model_ref or self.settings.default_model

    def profile_exists(self) -> bool:
        """Whether this profile's database exists yet."""
        from .service import profile_exists

        return profile_exists(self.settings, self.profile)

    def service(self) -> ConversationService:
        """The conversation service of this profile (opened once; the engine made on use)."""
        if self._service is None:
            from .service import ConversationService

            self._service = ConversationService.open(
                self.settings, lambda: self.engine, self.profile, self.default_model)
        return self._service
