"""Slash commands, defined once for the TUI and the REPL.

A command does its work through the conversation service and returns a `CommandResult`: a
line to show, and optionally an `Action` the interface carries out its own way (open the model
picker, switch to a session, quit…). Commands may touch the disk: interfaces call `execute`
off their event loop.

`base` holds the registry (`@command`, `parse`, `execute`, `complete`, `/help`); each other
module registers a group of commands when imported, in the order `/help` lists them.
"""

# isort: off
from .base import (
    COMMANDS,
    Action,
    CommandResult,
    SlashCommand,
    command,
    complete,
    execute,
    is_command,
    parse,
)
from . import sessions  # noqa: F401  (each registers its commands: keep this order)
from . import tools  # noqa: F401
from . import session_settings  # noqa: F401
from . import listing  # noqa: F401
from . import turns  # noqa: F401
# isort: on

__all__ = ["COMMANDS", "Action", "CommandResult", "SlashCommand", "command", "complete",
           "execute", "is_command", "parse"]
