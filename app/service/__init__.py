"""The conversation service: where the engine and storage meet, and the interfaces' only door
to storage (sessions, turns, markers, forks, search, export, import)."""

from .attachments import PromptCost
from .conversation import (
    SIDEBAR_SECTIONS,
    ConversationService,
    SidebarSessions,
    profile_exists,
    profile_names,
)
from .forks import ParentLink
from .markers import MARKER_VERBS, MARKER_WORDS, TOGGLES, MarkerVerb, MarkResult
from .short_ids import SHORT_ID_MIN, unique_prefixes
from .transfer import export_filename, export_stem, read_import_file
from .turns import (
    FLUSH_INTERVAL_S,
    TurnContinued,
    TurnDelta,
    TurnEvent,
    TurnFinished,
    TurnNotice,
    TurnRun,
    TurnStarted,
    TurnToolResult,
    backend_messages,
)

__all__ = [
    "FLUSH_INTERVAL_S",
    "MARKER_VERBS",
    "MARKER_WORDS",
    "SHORT_ID_MIN",
    "SIDEBAR_SECTIONS",
    "TOGGLES",
    "ConversationService",
    "MarkResult",
    "MarkerVerb",
    "ParentLink",
    "PromptCost",
    "SidebarSessions",
    "TurnContinued",
    "TurnDelta",
    "TurnEvent",
    "TurnFinished",
    "TurnNotice",
    "TurnRun",
    "TurnStarted",
    "TurnToolResult",
    "backend_messages",
    "export_filename",
    "export_stem",
    "profile_exists",
    "profile_names",
    "read_import_file",
    "unique_prefixes",
]
