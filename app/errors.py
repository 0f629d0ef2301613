"""Exit codes and the one place the command line turns exceptions into one-line messages."""

from __future__ import annotations

import logging
import sys

import click

from engine import ConfigError, EngineError, ModelReferenceError

from .settings import SettingsError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2  # the input was wrong: arguments, settings, model reference, session id, file
EXIT_BACKEND = 3  # the model or server failed: unreachable, auth, timeout, bad model file
EXIT_INTERRUPTED = 130

USAGE_ERROR_KINDS = {"model_reference", "config"}


class UsageError(Exception):
    """Something the person asked for cannot be done as asked."""


def _is_usage(exc: BaseException) -> bool:
    if isinstance(exc, UsageError | SettingsError | ModelReferenceError | ConfigError):
        return True
    # storage errors are the person's input too (unknown session, bad file, bad profile)
    return type(exc).__module__.startswith("storage")


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an error that ended a command."""
    if _is_usage(exc):
        return EXIT_USAGE
    if isinstance(exc, EngineError):
        return EXIT_BACKEND
    return EXIT_INTERNAL


def exit_code_for_kind(kind: str | None) -> int:
    """The exit code for an engine error reported in a stream's last chunk."""
    return EXIT_USAGE if kind in USAGE_ERROR_KINDS else EXIT_BACKEND


def fail(message: str, code: int) -> None:
    """Print one line to stderr and exit with `code`."""
    click.echo(f"talu-chat: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


def report(exc: BaseException) -> None:
    """Print `exc` as one line (never a traceback) and exit with its code."""
    code = exit_code_for(exc)
    if code == EXIT_INTERNAL:
        log.exception("internal error")
        fail(f"internal error: {type(exc).__name__}: {exc} (details in the log)", code)
    fail(str(exc), code)
