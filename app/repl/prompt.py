"""Reading what the person types: a multi-line prompt-toolkit prompt, or plain piped lines."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.shortcuts import CompleteStyle

from ..settings import Settings

PROMPT = "> "
CONTINUATION = ". "


def history_file(settings: Settings, profile: str) -> Path:
    """Where a profile's prompt history is kept: `<data dir>/history/<profile>.txt`."""
    return settings.resolved_data_dir() / "history" / f"{profile}.txt"


def key_bindings() -> KeyBindings:
    """Enter sends; Alt+Enter (Escape, Enter) and Ctrl+J insert a newline."""
    bindings = KeyBindings()

    @bindings.add("enter")
    def _send(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    @bindings.add("escape", "enter")
    @bindings.add("c-j")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


class LineReader(Protocol):
    """Where the REPL's input comes from."""

    async def read(self) -> str:
        """The next message or command; EOFError at the end, KeyboardInterrupt on Ctrl+C."""
        ...

    async def ask(self, question: str) -> str:
        """A one-line answer to `question` (not kept in the history)."""
        ...

    def prefill(self, text: str) -> None:
        """Start the next `read` with `text` already typed (where there is an editor)."""
        ...


def _open_history(path: Path | None) -> History:
    if path is None:
        return InMemoryHistory()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only data dir still lets the person chat
        return InMemoryHistory()
    return FileHistory(str(path))


class PromptReader:
    """The interactive prompt: multi-line editing, history, completion.

    Create it inside the prompt-toolkit app session it should use (tests pass a pipe input).
    """

    def __init__(self, history_path: Path | None = None,
                 completer: Completer | None = None) -> None:
        self.session: PromptSession[str] = PromptSession(
            multiline=True,
            key_bindings=key_bindings(),
            history=_open_history(history_path),
            completer=completer,
            complete_style=CompleteStyle.READLINE_LIKE,
            complete_while_typing=False,
            prompt_continuation=CONTINUATION,
            enable_open_in_editor=True,
            reserve_space_for_menu=0,
        )
        self._prefill = ""

    async def read(self) -> str:
        """The next message, as typed."""
        default, self._prefill = self._prefill, ""
        return await self.session.prompt_async(PROMPT, default=default)

    def prefill(self, text: str) -> None:
        """The next prompt starts with `text` (an MCP prompt or resource to read and send)."""
        self._prefill = text

    async def ask(self, question: str) -> str:
        """A one-line answer, outside the history."""
        asking: PromptSession[str] = PromptSession(input=self.session.input,
                                                   output=self.session.output)
        return await asking.prompt_async(question)


class PlainReader:
    """Lines from a pipe or file: each line is one message (for scripts and tests)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    async def read(self) -> str:
        """The next line, without its newline."""
        line = await asyncio.to_thread(self.stream.readline)
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    async def ask(self, question: str) -> str:
        """No questions in a script: the answer is always empty (keep things as they are)."""
        return ""

    def prefill(self, text: str) -> None:
        """Nothing to prefill in a script (the REPL prints the text instead)."""
