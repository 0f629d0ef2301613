"""Which files the app may read or write for a person it cannot see: a browser tab of
`talu-chat web` listening off loopback reaches only the folders in `[web] allowed_dirs`.

The web server tells each app process it starts through two environment variables: the mode
(`WEB_MODE_ENV`: "loopback" or "remote") and, off loopback, the allowed folders as a JSON list
of resolved paths (`WEB_ALLOWED_DIRS_ENV`). Without them (the terminal) nothing is confined.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import UsageError

WEB_MODE_ENV = "TALU_CHAT_WEB_MODE"
"""Set by `talu-chat web` in its app processes: "loopback" or "remote"."""
WEB_ALLOWED_DIRS_ENV = "TALU_CHAT_WEB_ALLOWED_DIRS"
"""Set by `talu-chat web` off loopback: the allowed folders, a JSON list of resolved paths."""
LOOPBACK = "loopback"
REMOTE = "remote"


class PathPolicyError(UsageError):
    """A path outside the folders a browser off loopback may reach."""


def web_environment(remote: bool, allowed_dirs: list[Path]) -> dict[str, str]:
    """The variables the web server gives an app process (allowed folders resolved here)."""
    if not remote:
        return {WEB_MODE_ENV: LOOPBACK}
    folders = [str(folder.expanduser().resolve()) for folder in allowed_dirs]
    return {WEB_MODE_ENV: REMOTE, WEB_ALLOWED_DIRS_ENV: json.dumps(folders)}


def _allowed_dirs() -> list[Path]:
    """The allowed folders passed by the web server; none when missing or unreadable."""
    try:
        folders = json.loads(os.environ.get(WEB_ALLOWED_DIRS_ENV, "[]"))
    except ValueError:
        return []
    if not isinstance(folders, list):
        return []
    return [Path(folder) for folder in folders if isinstance(folder, str) and folder]


def confine(path: Path | str) -> Path:
    """`path` (expanded) if this process may use it, else PathPolicyError.

    Only an app process of `talu-chat web` off loopback is confined: there the path is
    resolved (symlinks followed) and must lie inside one of the allowed folders, and the
    resolved path is returned so the caller uses what was checked.
    """
    path = Path(path).expanduser()
    if os.environ.get(WEB_MODE_ENV, LOOPBACK) == LOOPBACK:
        return path
    allowed = _allowed_dirs()  # any other mode value is treated as remote: fail closed
    if not allowed:
        raise PathPolicyError(f"{path}: in a browser off loopback no file can be used — "
                              "list folders in [web] allowed_dirs")
    resolved = path.resolve()
    if any(resolved.is_relative_to(folder) for folder in allowed):
        return resolved
    shown = ", ".join(str(folder) for folder in allowed)
    raise PathPolicyError(f"{path}: in a browser off loopback only files inside {shown} can "
                          "be used ([web] allowed_dirs)")


def suggested_folder(folder: Path) -> Path:
    """Where to suggest a file: `folder`, or off loopback the first allowed folder when
    `folder` is outside them (so the suggestion works)."""
    try:
        confine(folder)
    except PathPolicyError:
        allowed = _allowed_dirs()
        return allowed[0] if allowed else folder
    return folder
