"""Command palette entries: every session action, and switching to each discovered model."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from ..sanitize import visible_line

if TYPE_CHECKING:
    from .screens.chat import ChatScreen

ACTIONS = (
    ("New session", "new_session"), ("Rename session", "rename"),
    ("Search all sessions", "search"), ("Switch model…", "pick_model"),
    ("Export session", "export"), ("Pin / unpin session", "toggle('pin')"),
    ("Archive / unarchive session", "toggle('archive')"),
    ("Move to trash / restore session", "toggle('trash')"),
    ("Set system prompt", "system_prompt"), ("Fork at the last message", "fork_last"),
    ("Regenerate the last answer", "regenerate"), ("Compare models…", "compare"),
    ("Toggle the sidebar", "toggle_sidebar"),
    ("Stop the streaming answer", "stop"), ("Slash commands and keys", "help"),
    ("Choose tools for this session…", "pick_tools"),
    ("Expand / collapse tool blocks", "toggle_tool_blocks"),
    ("Attach a file…", "attach_file"),
)


class SessionCommands(Provider):
    """Session actions of the chat screen, and "Use model: <ref>" for each known model."""

    async def startup(self) -> None:
        self.models: list[str] = []
        screen = self.screen
        if hasattr(screen, "service"):
            try:
                models, _errors = await screen.service.engine.list_models()
            except Exception:  # discovery problems show in the model picker instead
                models = []
            self.models = [m.ref for m in models]

    def _entries(self) -> list[tuple[str, object, str]]:
        screen: ChatScreen = self.screen  # type: ignore[assignment]
        if not hasattr(screen, "run_action"):
            return []
        entries: list[tuple[str, object, str]] = [
            (label, partial(screen.run_action, action), "session") for label, action in ACTIONS
        ]
        for ref in self.models:
            entries.append((f"Use model: {ref}", partial(screen.switch_model, ref),
                            "applies to the next answer"))
        tools = getattr(screen, "tools", None)
        catalog = getattr(tools, "catalog", None)
        for prompt in catalog.prompts if catalog is not None else ():
            name = visible_line(f"{prompt.server}.{prompt.name}")
            needs = [a for a, required, _ in prompt.arguments if required]
            run = (partial(screen.prompt.load_text, f"/prompt {name} " + " ".join(
                       f"{a}=" for a in needs)) if needs
                   else partial(screen.run_command, f"/prompt {name}"))
            entries.append((f"MCP prompt: {name}", run, "into the prompt box"))
        for resource in catalog.resources if catalog is not None else ():
            uri = visible_line(resource.uri)
            entries.append((f"MCP resource: {uri}", partial(screen.run_command,
                                                             f"/resource {uri}"),
                            "added to the prompt as a fenced block"))
        return entries

    async def discover(self) -> Hits:
        for label, callback, help_text in self._entries():
            yield DiscoveryHit(Content(label), callback, text=label,  # type: ignore[arg-type]
                               help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, callback, help_text in self._entries():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), callback,  # type: ignore[arg-type]
                          help=help_text)
