"""The one door every user-given attachment path goes through.

`/attach`, the file picker, a pasted path and `ask --attach` all name files here: `~` is
expanded, a relative path is taken from `base` (the working folder), symlinks are resolved
and the file must exist. Folders and globs become their files, a bounded number of them.
A browser tab of `talu-chat web` off loopback reaches only `[web] allowed_dirs`
(app.path_policy), checked here on the resolved path.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from ..path_policy import PathPolicyError, confine
from ..sanitize import visible_line
from .errors import AttachmentError

_GLOB_CHARS = frozenset("*?[")


def shown(raw: str | Path) -> str:
    """A path as one safe line for a message (hostile names included), cut at 120."""
    line = visible_line(str(raw))
    return line if len(line) <= 120 else line[:119] + "…"


def attachment_path(raw: str | Path, base: Path | None = None) -> Path:
    """The resolved path of an existing file or folder the person named; AttachmentError
    (one line) when it does not exist or cannot be resolved."""
    text = str(raw)  # not stripped: a name may begin or end with a space
    if not text.strip() or "\x00" in text:
        raise AttachmentError(f"not a file name: {shown(raw)!r}")
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        raise AttachmentError(f"no such file: {shown(raw)}") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a permission error
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "symlink loop"
        raise AttachmentError(f"cannot attach {shown(raw)}: {reason}") from None
    try:
        return confine(resolved)  # a browser tab off loopback: [web] allowed_dirs only
    except PathPolicyError as exc:
        raise AttachmentError(str(exc)) from None


def expand(raw: str, max_files: int, base: Path | None = None) -> list[Path]:
    """The files `raw` names: a file, each file of a folder (recursively, hidden ones left
    out, sorted) or of a glob; AttachmentError beyond `max_files` or when nothing matches."""
    text = os.path.expanduser(raw)
    if _GLOB_CHARS & set(text) and not os.path.lexists(_absolute(text, base)):
        matches = sorted(glob.iglob(_absolute(text, base), recursive=True))
        if not matches:
            raise AttachmentError(f"no file matches {shown(raw)}")
        found: list[Path] = []
        for match in matches:
            found.extend(_files(attachment_path(match), max_files - len(found), raw))
        return found
    return _files(attachment_path(raw, base), max_files, raw)


def _absolute(text: str, base: Path | None) -> str:
    return text if os.path.isabs(text) else os.path.join(base or Path.cwd(), text)


def _files(path: Path, room: int, raw: str) -> list[Path]:
    if not path.is_dir():
        return [path]
    found: list[Path] = []
    for folder, dirs, names in os.walk(path):  # symlinked folders are not followed
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            if len(found) >= room:
                raise AttachmentError(f"{shown(raw)} holds more files than attachments."
                                      f"max_files allows in one message")
            found.append(attachment_path(Path(folder) / name))
    if not found:
        raise AttachmentError(f"the folder {shown(raw)} holds no files")
    return found


def complete_path(prefix: str, base: Path | None = None, limit: int = 200) -> list[str]:
    """Paths that complete `prefix` as typed (folders end in "/"; hidden entries only when
    the prefix's last part starts with "."), sorted, at most `limit`."""
    expanded = os.path.expanduser(prefix)
    folder, _, start = expanded.rpartition(os.sep)
    where = _absolute(folder + os.sep if folder or expanded.startswith(os.sep) else ".", base)
    try:
        entries = sorted(os.scandir(where), key=lambda e: e.name)
    except OSError:
        return []
    typed_folder = prefix[: len(prefix) - len(start)]
    found = []
    for entry in entries:
        if not entry.name.startswith(start) or (entry.name.startswith(".")
                                                and not start.startswith(".")):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        found.append(typed_folder + entry.name + ("/" if is_dir else ""))
        if len(found) >= limit:
            break
    return found
