"""How the REPL writes: plain text, live control sequences made visible, one dim metrics line."""

from __future__ import annotations

import os
from typing import Any, TextIO

from storage import Session, StoredMessage

from ..formatting import alternative_label, answer_facts
from ..sanitize import visible_controls
from ..tool_lines import ToolExchange, exchange_line

DIM = "\x1b[2m"
BOLD_RED = "\x1b[1;31m"
RESET = "\x1b[0m"


def is_terminal(stream: TextIO) -> bool:
    """Whether `stream` is connected to a terminal."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def colour_allowed(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return is_terminal(stream) and not os.environ.get("NO_COLOR")


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines too) as one space."""
    return " ".join(text.split())


def metrics_line(message: StoredMessage) -> str:
    """`local::smollm2 · TTFT 0.31 s · 132 tok/s · 45 tokens` for a finished answer."""
    return " · ".join(answer_facts(message))


class Renderer:
    """Writes the REPL's output to one text stream.

    Text that came from a model or a person (answers, titles, search hits) goes through
    `visible_controls` whenever the stream is a terminal, so an escape sequence in it is shown,
    never obeyed; piped output stays byte-for-byte what the model said.
    """

    def __init__(self, out: TextIO, *, quiet: bool = False, colour: bool | None = None) -> None:
        self.out = out
        self.quiet = quiet
        self.terminal = is_terminal(out)
        self.colour = colour_allowed(out) if colour is None else colour
        self._at_line_start = True

    def _write(self, text: str) -> None:
        if not text:
            return
        self.out.write(text)
        self.out.flush()
        self._at_line_start = text.endswith("\n")

    def _style(self, text: str, style: str) -> str:
        return f"{style}{text}{RESET}" if self.colour else text

    def safe(self, text: str) -> str:
        """`text` as it may reach this stream."""
        return visible_controls(text) if self.terminal else text

    def end_line(self) -> None:
        """Finish a line left open by streamed text."""
        if not self._at_line_start:
            self._write("\n")

    def answer(self, text: str) -> None:
        """A piece of a streaming answer, as it arrives."""
        self._write(self.safe(text))

    def line(self, text: str) -> None:
        """A line (or lines) of plain output, e.g. a command's message."""
        self.end_line()
        self._write(self.safe(text) + "\n")

    def dim(self, text: str) -> None:
        """A secondary line: banner, metrics, notes."""
        self.end_line()
        self._write(self._style(self.safe(text), DIM) + "\n")

    def error(self, text: str) -> None:
        """A one-line error; the REPL goes on."""
        self.end_line()
        self._write(self._style("error:", BOLD_RED) + " " + self.safe(one_line(text)) + "\n")

    def notice(self, text: str) -> None:
        """Something about this turn worth knowing (e.g. the history was trimmed)."""
        self.dim(f"note: {one_line(text)}")

    def banner(self, text: str) -> None:
        """The start-up line (suppressed by --quiet)."""
        if not self.quiet:
            self.dim(text)

    def finished(self, message: StoredMessage) -> None:
        """The end of an answer: its error line, or its metrics line unless quiet."""
        self.end_line()
        if message.status == "error":
            self.error(f"{message.error or 'the answer failed'} — your message is kept; "
                       "/regenerate tries again")
        elif not self.quiet:
            self.dim(metrics_line(message))

    def session_header(self, session: Session, message_count: int) -> None:
        """Which session is open now, on which model."""
        title = f" “{one_line(session.title)}”" if session.title else ""
        count = f" · {message_count} messages" if message_count else ""
        model = session.model_ref or "the default model"
        self.dim(f"session {session.id}{title} · {model}{count}")

    def tool(self, exchange: ToolExchange) -> None:
        """`tool 2: → current_time(timezone="UTC") · ran · 25 chars` (`/tool 2` shows it all)."""
        self.dim(f"tool {exchange.number}: {exchange_line(exchange)} · /tool {exchange.number}")

    def history(self, messages: list[StoredMessage],
                tools: list[ToolExchange] | None = None) -> None:
        """Earlier messages of a session, for picking a conversation up again (tool calls and
        results as the compact lines of `tools`, the session's numbered exchanges)."""
        by_result = {e.result.id: e for e in tools or () if e.result is not None}
        for message in messages:
            if message.role == "tool":
                if message.id in by_result:
                    self.tool(by_result[message.id])
                continue
            if message.role == "user":
                label = "you"
            elif message.role == "assistant":
                label = message.model_ref or "assistant"
                if message.status not in ("complete", "streaming"):
                    label += f" ({message.status})"
                if (alternative := alternative_label(message)) is not None:
                    label += f" {alternative}"
            else:
                label = message.role
            if message.content or not message.tool_calls or message.attachments:
                self.dim(f"{label}:")
                if message.attachments:
                    self.attachments(message.attachments)
                self.line(message.content.rstrip("\n") if message.content else "")

    def attachments(self, records: list[dict[str, Any]]) -> None:
        """A message's attachments as chips: name and size."""
        from ..attachments import record_chip

        self.dim("  ".join(f"[{record_chip(r)}]" for r in records))
