"""Exit codes, the person's own mistakes (`UsageError`), and which exit code an error gets.

Kept free of heavy imports: the command line loads it before knowing what will run.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2  # the input was wrong: arguments, settings, model reference, session id, file
EXIT_BACKEND = 3  # the model or server failed: unreachable, auth, timeout, bad model file
EXIT_OUTPUT = 4  # standard output could not be written (a full disk…); the answer is stored
EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141  # the reader of standard output went away (128 + SIGPIPE), quietly

USAGE_ERROR_KINDS = {"model_reference", "config"}


class UsageError(Exception):
    """Something the person asked for cannot be done as asked."""


def _is_usage(exc: BaseException) -> bool:
    from engine import ConfigError, ModelReferenceError
    from storage import StorageError

    from .settings import SettingsError

    # Storage errors are the person's input too: an unknown session, a bad file or profile.
    return isinstance(exc, UsageError | SettingsError | ModelReferenceError | ConfigError
                      | StorageError)


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an error that ended a command."""
    from engine import EngineError

    if isinstance(exc, UsageError) or _is_usage(exc):
        return EXIT_USAGE
    if isinstance(exc, EngineError):
        return EXIT_BACKEND
    return EXIT_INTERNAL


def exit_code_for_kind(kind: str | None) -> int:
    """The exit code for an engine error reported in a stream's last chunk."""
    return EXIT_USAGE if kind in USAGE_ERROR_KINDS else EXIT_BACKEND
