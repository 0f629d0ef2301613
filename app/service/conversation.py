"""The conversation service: the one door from the TUI, the REPL and the CLI to storage.

Every interface reaches sessions, messages, markers, forks, search, export and import through
`ConversationService`; only this package touches `storage`'s Store. Methods that read or
write the database are blocking: interfaces with an event loop call them on a worker thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage import (
    SearchFilters,
    SearchHit,
    Session,
    Store,
    list_profiles,
    open_profile,
    profile_path,
)

from ..errors import UsageError
from ..settings import Settings
from .alternatives import AlternativesMixin
from .attachments import AttachmentMethods
from .forks import MessageMethods
from .markers import MARKER_VERBS, TOGGLES, MarkResult
from .short_ids import prefixes_by_neighbours
from .transfer import TransferMethods
from .turns import TurnRun, stored_attachments

if TYPE_CHECKING:
    from engine import Engine, GenerationConfig

    from ..attachments import Attachment
    from .compare import CompareRun
    from .indexing import Indexer
    from .toolbox import Approve, Toolbox

#: The sidebar's sections, in order: (view, heading).
SIDEBAR_SECTIONS = (("pinned", "Pinned"), ("recent", "Recent"), ("archived", "Archived"),
                    ("deleted", "Trash"))


@dataclass(slots=True)
class SidebarSessions:
    """The sessions of each sidebar section, and how many more each holds than are listed."""

    sections: dict[str, list[Session]]
    more: dict[str, int]


def profile_exists(settings: Settings, profile: str) -> bool:
    """Whether the profile's database exists (commands that only read never create one)."""
    path = profile_path(settings.resolved_data_dir(), profile)
    if path.exists():
        return True
    # A data dir that can never exist is an error, not an empty profile.
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise UsageError(f"cannot use the data directory {path.parent.parent}: "
                                 f"{ancestor} is not a directory")
            break
    return False


def profile_names(settings: Settings) -> list[str]:
    """The profiles that have a database under the data dir."""
    return list_profiles(settings.resolved_data_dir())


class ConversationService(MessageMethods, TransferMethods, AlternativesMixin,
                          AttachmentMethods):
    """Sessions and turns of one profile, on one engine (created when first needed)."""

    def __init__(self, store: Store, engine: Engine | Callable[[], Engine], settings: Settings,
                 default_model: str | None = None) -> None:
        self.store = store
        self._engine: Engine | None = None
        self._engine_factory: Callable[[], Engine] | None = None
        if callable(engine) and not hasattr(engine, "stream"):
            self._engine_factory = engine
        else:
            self._engine = engine  # type: ignore[assignment]
        self.settings = settings
        self.default_model = default_model or settings.default_model
        self.recovered = store.mark_interrupted()

    @classmethod
    def open(cls, settings: Settings, engine: Engine | Callable[[], Engine],
             profile: str = "default", default_model: str | None = None) -> ConversationService:
        """Open a profile's database (rows left `streaming` by a crash become `interrupted`)."""
        store = open_profile(settings.resolved_data_dir(), profile)
        return cls(store, engine, settings, default_model)

    @property
    def engine(self) -> Engine:
        """The engine turns run on."""
        if self._engine is None:
            assert self._engine_factory is not None
            self._engine = self._engine_factory()
        return self._engine

    def close(self) -> None:
        if "indexer" in self.__dict__:
            self.indexer.stop_background()
        self.store.close()

    # sessions (messages and forks: `MessageMethods`) -------------------------------------

    def new_session(self, model_ref: str | None = None, system_prompt: str | None = None,
                    title: str | None = None) -> Session:
        """A new session on `model_ref` (validated) or the default model."""
        ref = model_ref or self.default_model
        self.engine.resolve(ref)
        return self.store.create_session(
            title=title, model_ref=ref,
            system_prompt=system_prompt if system_prompt is not None
            else self.settings.system_prompt)

    def get_session(self, session_id: str) -> Session:
        """The session with exactly this id."""
        return self.store.get_session(session_id)

    def find_session(self, prefix: str) -> Session:
        """The session an id or unique id prefix names."""
        return self.store.get_session(self.store.resolve_session_id(prefix))

    def most_recent(self) -> Session | None:
        """The most recently updated session that is not archived or in the trash."""
        latest = [*self.store.list_sessions("pinned", limit=1),
                  *self.store.list_sessions("normal", limit=1)]
        return max(latest, key=lambda s: (s.updated_at, s.id), default=None)

    def choose_session(self, *, session_id: str | None, continue_: bool,
                       model_ref: str | None, system: str | None) -> str:
        """The session a command line turn goes to: --session, --continue, or a new one."""
        if session_id and continue_:
            raise UsageError("use --session or --continue, not both")
        if session_id or continue_:
            session = self.find_session(session_id) if session_id else self.most_recent()
            if session is None:
                raise UsageError("no session to continue: start one with talu-chat ask PROMPT")
            if model_ref:
                self.set_model(session.id, model_ref)
            if system is not None:
                self.store.set_system_prompt(session.id, system)
            return session.id
        return self.new_session(model_ref=model_ref, system_prompt=system).id

    def list_sessions(self, view: str = "recent", limit: int | None = None,
                      title_filter: str | None = None) -> list[Session]:
        """A view's sessions, most recently updated first (pinned first in "recent")."""
        return self.store.list_sessions(view, limit=limit, title_filter=title_filter)

    def count_sessions(self, view: str = "recent", title_filter: str | None = None) -> int:
        """How many sessions a view holds."""
        return self.store.count_sessions(view, title_filter=title_filter)

    def usage(self) -> dict[str, int]:
        """What the profile holds and takes on disk: sessions (every marker), messages
        (alternatives included), attachments (distinct files and their bytes, stored once
        however often they are attached) and the database's bytes, attachments included."""
        store = self.store
        attachments = store.attachment_usage()
        return {"sessions": store.count_sessions("all"), "messages": store.count_all_messages(),
                "attachments": attachments.blobs, "attachment_bytes": attachments.bytes,
                "database_bytes": store.file_bytes()}

    def sidebar(self, title_filter: str | None = None, limit: int = 200) -> SidebarSessions:
        """The sidebar's sections, each cut at `limit` sessions."""
        sections: dict[str, list[Session]] = {}
        more: dict[str, int] = {}
        for view, _heading in SIDEBAR_SECTIONS:
            # "Recent" in the sidebar leaves out the pinned sessions listed above it.
            query = "normal" if view == "recent" else view
            rows = self.store.list_sessions(query, limit=limit, title_filter=title_filter)
            total = self.store.count_sessions(query, title_filter=title_filter)
            sections[view] = rows
            more[view] = max(0, total - len(rows))
        return SidebarSessions(sections, more)

    def short_ids(self, session_ids: Sequence[str] | set[str]) -> dict[str, str]:
        """The shortest prefix naming each session uniquely among all the profile's sessions."""
        return prefixes_by_neighbours(session_ids, self.store.neighbour_session_ids)

    def short_id(self, session_id: str) -> str:
        """`short_ids` of one session."""
        return self.short_ids([session_id])[session_id]

    def set_model(self, session_id: str, ref: str) -> Session:
        """Switch the session's model; the next turn uses it with the whole history."""
        self.engine.resolve(ref)
        return self.store.set_model(session_id, ref)

    def set_tool_use(self, session_id: str, setting: str) -> Session:
        """How this session uses tools: "on" / "off", or the first step's tool choice
        ("auto", "required", "none", or a tool's name); kept with the session."""
        from engine.tools import TOOL_NAME

        session = self.store.get_session(session_id)
        metadata = dict(session.metadata)
        if setting in ("on", "off"):
            metadata["tools"] = setting
        elif setting in ("auto", "required", "none") or TOOL_NAME.match(setting):
            metadata["tool_choice"] = setting
        else:
            raise UsageError(f"/tools takes on, off, auto, required, none or a tool's name, "
                             f"not {setting[:40]!r}")
        return self.store.set_metadata(session_id, metadata)

    def select_tools(self, session_id: str, verb: str, names: Sequence[str] = ()) -> Session:
        """Change which tools the session offers: "use" or "drop" tools or MCP servers by
        name, "only" exactly these, "all" every configured tool again (kept with the session;
        it only narrows what the settings configure)."""
        from .tool_selection import ToolSelection

        session = self.store.get_session(session_id)
        current = ToolSelection.of(session.metadata)
        if verb == "use":
            selection = current.using(names)
        elif verb == "drop":
            selection = current.dropping(names)
        elif verb == "only":
            selection = ToolSelection(tuple(dict.fromkeys(names)))
        else:
            selection = ToolSelection()
        return self.store.set_metadata(session_id, selection.stored_in(session.metadata))

    def set_system_prompt(self, session_id: str, text: str | None) -> Session:
        """Set the system prompt (None or blank clears it); it applies from the next answer."""
        return self.store.set_system_prompt(session_id, text if text and text.strip() else None)

    def rename(self, session_id: str, title: str) -> Session:
        """Give a session a new title."""
        return self.store.rename(session_id, title)

    def set_generation_config(self, session_id: str, config: dict[str, Any]) -> Session:
        """Replace the session's own generation settings (already validated)."""
        return self.store.set_generation_config(session_id, config)

    def mark(self, session_id: str, verb: str) -> MarkResult:
        """Apply a marker verb (pin, unpin, archive, unarchive, delete, restore)."""
        marker_verb = MARKER_VERBS[verb]
        before = self.store.get_session(session_id)
        after = self.store.set_marker(session_id, marker_verb.marker,
                                      only_from=marker_verb.only_from)
        return MarkResult(marker_verb, before, after)

    def toggle(self, session_id: str, toggle: str) -> MarkResult:
        """Flip a toggle of the chat (pin, archive, trash): on when off, off when on."""
        marker, on_verb, off_verb = TOGGLES[toggle]
        current = self.store.get_session(session_id).marker
        return self.mark(session_id, off_verb if current == marker else on_verb)

    def purge(self, session_id: str, *, force: bool = False) -> None:
        """Remove a trashed session for good (any session with `force`), with its saved
        model states (they hold the conversation)."""
        self.store.purge(session_id, force=force)
        self.engine.forget(session_id)

    def purge_trash(self) -> int:
        """Purge every session in the trash, with their saved model states; how many went."""
        trashed = [s.id for s in self.store.list_sessions("deleted")]
        count = self.store.purge_trash()
        for session_id in trashed:
            if not self.store.session_exists(session_id):
                self.engine.forget(session_id)
        return count

    # search (export and import: `TransferMethods`) ---------------------------------------

    def search(self, query: str, limit: int = 20, include_deleted: bool = False,
               filters: SearchFilters | None = None) -> list[SearchHit]:
        """Messages and titles matching every word of `query`, best first."""
        return self.store.search(query, limit=limit, include_deleted=include_deleted,
                                 filters=filters)

    @functools.cached_property
    def indexer(self) -> Indexer:
        """The search index by meaning (app.service.indexing): embeds and searches."""
        from .indexing import Indexer

        return Indexer(self)

    # turns --------------------------------------------------------------------------------

    def generation_config(self, session: Session, overrides: dict[str, Any]) -> GenerationConfig:
        """Settings' defaults, then the session's own settings, then this turn's."""
        from engine import EngineError

        try:
            return self.settings.generation.merged(session.generation_config).merged(overrides)
        except ValueError as exc:
            raise EngineError(f"invalid generation settings: {exc}") from None

    def send(self, session_id: str, text: str, *, model_ref: str | None = None,
             config: dict[str, Any] | None = None, toolbox: Toolbox | None = None,
             approve: Approve | None = None, tool_choice: str | None = None,
             attachments: Sequence[Attachment] = ()) -> TurnRun:
        """A turn that stores `text` (with its `attachments`) as the user message and streams
        the answer; with a `toolbox`, the model may call its tools (run as `approve` allows),
        step by step."""
        return TurnRun(self, session_id, text, model_ref, config, toolbox=toolbox,
                       approve=approve, tool_choice=tool_choice, attachments=attachments)

    def compare(self, session_id: str, text: str, refs: Sequence[str],
                config: dict[str, Any] | None = None, *,
                attachments: Sequence[Attachment] = ()) -> CompareRun:
        """A turn that asks every model in `refs` (2 or more) the same `text` (with its
        `attachments`): one answer per model, stored as the turn's alternatives (the first
        model's chosen)."""
        from .compare import CompareRun

        return CompareRun(self, session_id, text, refs, config, attachments=attachments)

    def regenerate(self, session_id: str, config: dict[str, Any] | None = None, *,
                   toolbox: Toolbox | None = None, approve: Approve | None = None) -> TurnRun:
        """Answer the last user message again, as a new alternative of its turn.

        The earlier answers stay as the turn's other alternatives (browse them with
        `choose_alternative`). Also the retry of a failed turn: an answer that is only an
        error with no text is replaced, not kept.
        """
        from engine import EngineError

        messages = self.store.get_messages(session_id, limit=50)
        users = [m for m in messages if m.role == "user"]
        if not users:
            raise EngineError("nothing to regenerate: the session has no user message")
        return TurnRun(self, session_id, None, None, config, toolbox=toolbox, approve=approve,
                       new_alternative=True)

    def continue_answer(self, session_id: str, config: dict[str, Any] | None = None, *,
                        toolbox: Toolbox | None = None,
                        approve: Approve | None = None) -> tuple[TurnRun, str]:
        """Continue the session's last answer when it stopped (Esc) or was cut (max_tokens):
        in place where the model can, else with a "continue" user turn (`continuing`).
        Returns the turn and a line saying which it is."""
        from .continuing import continue_answer

        return continue_answer(self, session_id, config, toolbox, approve)

    def edit_and_resend(self, message_id: str, text: str, *, fork: bool = True,
                        config: dict[str, Any] | None = None) -> tuple[Session, TurnRun]:
        """Replace a user message and answer it again.

        With `fork` (the default) the edit goes to a new session forked just before the
        message, so the original conversation stays as it was; otherwise the session is
        rewritten in place from that message on.
        """
        from engine import EngineError

        message = self.store.get_message(message_id)
        if message.role != "user":
            raise EngineError("only your own messages can be edited")
        if fork:
            before = self.store.get_messages(message.session_id, limit=1,
                                             before_position=message.position)
            session = self.store.fork(message.session_id, before[0].id if before else None)
            if not before:
                self.store.truncate_after(session.id, -1)
        else:
            session = self.store.get_session(message.session_id)
        attachments = stored_attachments(message, self.store.attachment_data)  # kept
        if not fork:
            self.store.truncate_after(session.id, message.position - 1)
        return session, TurnRun(self, session.id, text, None, config, attachments=attachments)
