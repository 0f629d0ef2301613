"""Tab completion: slash command names, model references, session ids and `/attach` paths."""

from __future__ import annotations

from collections.abc import Iterable

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from storage import EXPORT_FORMATS

from .. import commands

MODEL_ARGUMENT = frozenset({"model", "new"})
SESSION_ARGUMENT = frozenset({"open"})


class ReplCompleter(Completer):
    """Completes `/name`, then the argument of commands that take a model or a session.

    The REPL keeps `model_refs` and `sessions` fresh (models are listed once in the background,
    sessions before each prompt), so completing never waits on a server or the disk.
    """

    def __init__(self) -> None:
        self.model_refs: list[str] = []
        self.sessions: list[tuple[str, str]] = []  # (id, title), most recent first
        self.mcp_prompts: list[str] = []  # SERVER.NAME, once the MCP servers are listed
        self.mcp_resources: list[str] = []  # URIs

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not commands.is_command(text) or "\n" in text:
            return
        name, space, arg = text[1:].partition(" ")
        if not space:
            for command in commands.COMMANDS.values():
                if command.name.startswith(name.lower()):
                    yield Completion(f"/{command.name}", -len(text), display_meta=command.help)
            return
        yield from self._arguments(name.lower(), arg)

    def _arguments(self, name: str, arg: str) -> Iterable[Completion]:
        needle = arg.lower()
        if name in MODEL_ARGUMENT:
            for ref in self.model_refs:
                if needle in ref.lower():
                    yield Completion(ref, -len(arg))
        elif name in SESSION_ARGUMENT:
            for session_id, title in self.sessions:
                if session_id.startswith(needle) or (needle and needle in title.lower()):
                    yield Completion(session_id, -len(arg), display_meta=title)
        elif name in ("prompt", "resource") and " " not in arg:
            for value in self.mcp_prompts if name == "prompt" else self.mcp_resources:
                if value.lower().startswith(needle):
                    yield Completion(value, -len(arg))
        elif name == "attach":
            yield from _paths(arg)
        elif name == "export" and " " not in arg:
            for fmt in EXPORT_FORMATS:
                if fmt.startswith(needle):
                    yield Completion(fmt, -len(arg))


def _paths(arg: str) -> Iterable[Completion]:
    """The last path of `/attach`'s arguments, completed from the disk (names with spaces
    quoted, as `/attach` splits its arguments like a shell)."""
    import shlex

    from ..attachments import complete_path

    last = "" if arg.endswith(" ") else arg.rsplit(" ", 1)[-1]
    for path in complete_path(last):
        yield Completion(shlex.quote(path), -len(last), display=path)
