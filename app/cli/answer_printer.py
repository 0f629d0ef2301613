"""How `ask` writes answers: streamed text on stdout, and the JSON of an answer."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..sanitize import valid_unicode, visible_controls, visible_line
from .output import OutputError

if TYPE_CHECKING:
    from engine import Chunk


class AnswerPrinter:
    """Writes streamed text to stdout; control sequences are made visible on a terminal.

    Output that cannot be written never loses the turn: a closed pipe (`| head -1`) stops the
    answer (`on_closed`), any other failure (a full disk) stops the printing while the answer
    goes on being stored; `failure` says which happened.
    """

    def __init__(self, quiet: bool, on_closed: Callable[[], object] = lambda: None) -> None:
        self.quiet = quiet
        self.tty = sys.stdout.isatty()
        self.last = ""
        self.on_closed = on_closed
        self.failure: OutputError | None = None

    def _write(self, text: str) -> None:
        if self.failure is not None:
            return
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OutputError as exc:
            self.failure = exc
            if isinstance(exc.error, BrokenPipeError):
                self.on_closed()

    def text(self, text: str) -> None:
        if self.quiet or not text:
            return
        self._write(visible_controls(text) if self.tty else valid_unicode(text))
        self.last = text

    def heading(self, text: str) -> None:
        """A line of talu-chat's own before an answer (a model's name); none with --json."""
        if not self.quiet:
            self._write(f"{text}\n")
        self.last = ""

    def notice(self, text: str) -> None:
        click.echo(f"talu-chat: note: {visible_line(text)}", err=True)

    def end(self) -> None:
        if not self.quiet and self.last and not self.last.endswith("\n"):
            self._write("\n")
            self.last = "\n"


def answer_dict(text: str, model: str, final: Chunk, **extra: Any) -> dict[str, Any]:
    """One answer as `ask --json` reports it."""
    return {
        "text": text,
        "model": model,
        "finish_reason": final.finish_reason,
        "usage": final.usage.as_dict() if final.usage else None,
        "metrics": final.metrics.as_dict() if final.metrics else None,
        **extra,
    }


def answer_json(text: str, model: str, final: Chunk, **extra: Any) -> str:
    """The one JSON document `ask --json` prints."""
    return json.dumps(answer_dict(text, model, final, **extra), ensure_ascii=False)
