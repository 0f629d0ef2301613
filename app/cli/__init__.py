"""The `talu-chat` command line: the TUI by default, and scriptable subcommands.

Each command group lives in its own module, imported only when that command runs: `--help`
lists the commands from the table below without importing them, so start-up stays cheap.
Nothing outside this package imports it.
"""

from __future__ import annotations

import importlib
import logging
import signal
import sys

import click

from ..errors import EXIT_INTERRUPTED, EXIT_USAGE, UsageError
from .options import TEXT

#: Subcommand -> ("module:attribute" inside this package, the first paragraph of its help).
#: `--help` lists the commands from here; a test keeps each text equal to the command's own.
COMMANDS: dict[str, tuple[str, str]] = {
    "ask": ("ask:ask", "Ask one question and stream the answer (reads stdin when PROMPT is "
                       "'-' or absent)."),
    "cache": ("cache:cache", "Show or clear the saved model states that let sessions resume "
                             "fast after a restart."),
    "export": ("transfer:export", "Export sessions (IDs, or --all) to standard output or to a "
                                  "file."),
    "import": ("transfer:import_", "Import the sessions of a file into the profile: all of "
                                   "them, or none on any error."),
    "mcp": ("mcp:mcp", "Show the MCP servers configured in [mcp.servers.NAME] and what they "
                       "offer."),
    "models": ("models:models", "List the models talu-chat can use: local GGUF files and "
                                "endpoint models."),
    "repl": ("repl:repl", "Chat line by line in the terminal: the same sessions, models and "
                          "slash commands as the full-screen app, as plain text (for SSH, "
                          "tmux, screen readers and scrollback)."),
    "search": ("search:search", "Search messages and titles for QUERY: by its words, by its "
                                "meaning, or both."),
    "serve": ("serve:serve", "Serve every model talu-chat reaches over an OpenAI-compatible "
                             "HTTP API."),
    "sessions": ("sessions:sessions", "List and manage stored chat sessions (IDs may be any "
                                      "unique prefix)."),
    "web": ("web:web", "Open the chat in a browser tab: the same app, behind a secret token."),
}


def load_command(name: str) -> click.Command:
    """Import the command `name` of the table."""
    module_name, attribute = COMMANDS[name][0].split(":")
    command: click.Command = getattr(importlib.import_module(f"{__name__}.{module_name}"),
                                     attribute)
    return command


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when one of them runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # As click does it, from the table instead of the imported commands.
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit))
                for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", type=TEXT, default="default", show_default=True, metavar="NAME",
              help="Profile: one database of sessions.")
@click.option("--model", "model_ref", type=TEXT, default=None, metavar="REF",
              help="Model for new sessions, e.g. local::smollm2 or openai::gpt-4o-mini.")
@click.option("--theme", type=TEXT, default=None, metavar="NAME", help="TUI theme.")
@click.version_option(package_name="talu-chat")
@click.pass_context
def cli(ctx: click.Context, profile: str, model_ref: str | None, theme: str | None) -> None:
    """Chat with local GGUF models and OpenAI-compatible servers.

    With no command, opens the full-screen chat.
    """
    from ..context import AppContext
    from ..settings import load_settings

    ctx.obj = AppContext(profile=profile, model_ref=model_ref, theme=theme,
                         settings=load_settings())
    if ctx.invoked_subcommand is None:
        from ..tui.run import run_tui

        if not (sys.stdin and sys.stdin.isatty() and sys.stdout and sys.stdout.isatty()):
            raise UsageError("the full-screen chat needs a terminal; for pipes and scripts use "
                             "`talu-chat ask` or `talu-chat repl`")

        run_tui(ctx.obj)


def _setup_logging() -> None:
    from .. import locations

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
    from .output import OutputError, fail, guard_stdout, output_failed, report, stdout_closed

    # Ctrl+C while the modules load exits quietly (see app/__init__.py); from here on it is
    # a KeyboardInterrupt that the commands handle.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    guard_stdout()
    try:
        _setup_logging()  # imports platformdirs: a Ctrl+C can land here too
        cli.main(args=argv, prog_name="talu-chat", standalone_mode=False)
    except BrokenPipeError:
        stdout_closed()
    except OutputError as exc:
        output_failed(exc)
    except click.exceptions.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        fail(f"{exc.format_message()} (see --help)", exc.exit_code or EXIT_USAGE)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        report(exc)
