"""The `talu-chat` command line: the TUI by default, and scriptable subcommands."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from . import locations
from .context import AppContext
from .errors import EXIT_INTERRUPTED, EXIT_USAGE, fail, report
from .settings import load_settings


def profile_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--profile NAME` on a subcommand (the group's `--profile` is the default)."""
    return click.option("--profile", "profile", default=None, metavar="NAME",
                        help="Profile to use (default: 'default').")(func)


def app_context(profile: str | None = None) -> AppContext:
    """The current AppContext, with a subcommand's `--profile` applied."""
    ctx = click.get_current_context().find_object(AppContext)
    if ctx is None:  # a command invoked on its own (tests)
        ctx = AppContext(settings=load_settings())
    if profile:
        ctx.profile = profile
    return ctx


@click.group(invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", default="default", show_default=True, metavar="NAME",
              help="Profile: one database of sessions.")
@click.option("--model", "model_ref", default=None, metavar="REF",
              help="Model for new sessions, e.g. local::smollm2 or openai::gpt-4o-mini.")
@click.option("--theme", default=None, metavar="NAME", help="TUI theme.")
@click.version_option(package_name="talu-chat")
@click.pass_context
def cli(ctx: click.Context, profile: str, model_ref: str | None, theme: str | None) -> None:
    """Chat with local GGUF models and OpenAI-compatible servers.

    With no command, opens the full-screen chat.
    """
    ctx.obj = AppContext(profile=profile, model_ref=model_ref, theme=theme,
                         settings=load_settings())
    if ctx.invoked_subcommand is None:
        from .tui.run import run_tui

        run_tui(ctx.obj)


def _register_commands() -> None:
    from . import cli_sessions
    from .cli_engine import ask, models
    from .repl import cli as repl_cli

    cli.add_command(ask)
    cli.add_command(models)
    cli_sessions.register(cli)
    repl_cli.register(cli)


def _setup_logging() -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    try:
        path = locations.log_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    except OSError:
        handler = logging.NullHandler()
    root.addHandler(handler)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turning every error into one line on stderr."""
    _setup_logging()
    _register_commands()
    try:
        cli.main(args=argv, prog_name="talu-chat", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        fail(f"{exc.format_message()} (see --help)", exc.exit_code or EXIT_USAGE)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        report(exc)
