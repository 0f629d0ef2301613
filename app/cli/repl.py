"""`talu-chat repl`: the line-mode chat's command (the REPL itself lives in `app.repl`)."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import click

from ..repl.keys import KEYS_HELP
from .options import TEXT, app_context, generation_options, profile_option, sampling_flags

REPL_HELP = f"""Chat line by line in the terminal: the same sessions, models and slash
commands as the full-screen app, as plain text (for SSH, tmux, screen readers and scrollback).

Starts a new session, or resumes one with --session ID or --continue. Answers stream as they
arrive, followed by one dim line with the model, time to first token, tokens/s and tokens.
Colour follows NO_COLOR; when standard input is not a terminal, each line read is one message.

\b
Keys:
{KEYS_HELP}

\b
Type /help for the slash commands."""


@click.command(help=REPL_HELP)
@click.option("-m", "--model", "model_ref", type=TEXT, default=None, metavar="REF",
              help="Model reference (a resumed session switches to it).")
@click.option("-s", "--system", type=TEXT, default=None, help="System prompt of the session.")
@click.option("--session", "session_id", type=TEXT, default=None, metavar="ID",
              help="Resume this session (an id or a unique prefix).")
@click.option("-c", "--continue", "continue_", is_flag=True,
              help="Resume the most recent session.")
@click.option("-q", "--quiet", is_flag=True,
              help="No start-up line and no metrics line after each answer.")
@sampling_flags
@profile_option
def repl(model_ref: str | None, system: str | None, session_id: str | None, continue_: bool,
         quiet: bool, temperature: float | None, max_tokens: int | None, seed: int | None,
         options: tuple[tuple[str, str], ...], profile: str | None) -> None:
    """Chat line by line in the terminal."""
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.output import create_output

    from ..repl.prompt import PlainReader
    from ..repl.session import run_repl

    ctx = app_context(profile)
    config = generation_options(options, temperature=temperature, max_tokens=max_tokens,
                                seed=seed)
    interactive = sys.stdin is not None and sys.stdin.isatty()
    # With stdout piped (`talu-chat repl | tee chat.txt`) the prompt still goes to the terminal.
    terminal = (create_app_session(output=create_output(always_prefer_tty=True))
                if interactive else contextlib.nullcontext())
    with terminal:
        asyncio.run(run_repl(ctx, session_id=session_id, continue_=continue_,
                             model_ref=model_ref, system=system, quiet=quiet, config=config,
                             reader=None if interactive else PlainReader(sys.stdin)))
