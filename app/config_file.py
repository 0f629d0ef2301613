"""Edits of the TOML config file that keep its comments and layout, written atomically."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import tomllib
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions

ConfigValue = str | int | float | bool


class ConfigFileError(OSError):
    """The config file cannot be read, parsed or updated; it was left as it was.

    An `OSError`, like the read and write failures it wraps, so callers that already report
    I/O errors (the theme saver in the TUI) report this one too.
    """


def set_config_value(path: Path, key: str | tuple[str, ...], value: ConfigValue) -> None:
    """Set `key` in the TOML file at `path`, keeping every other line as it was.

    `key` is a top-level name (``"theme"``), a dotted path (``"local.n_ctx"``) or a tuple of
    parts for names that hold dots (``("endpoints", "my.server", "base_url")``). Missing
    tables, the file and its folders are created. The file is replaced atomically, so a
    crash leaves either the old or the new file, never half of one.
    """
    parts = tuple(key.split(".")) if isinstance(key, str) else key
    if not parts or not all(parts):
        raise ValueError(f"invalid config key {key!r}")
    path = Path(os.path.realpath(path))  # write through a symlink, do not replace it
    try:
        document = tomlkit.parse(_read(path))
    except tomlkit.exceptions.ParseError as exc:  # pragma: no cover - tomllib accepted it
        raise ConfigFileError(f"{path} cannot be edited ({exc}); fix it by hand") from exc
    table: MutableMapping[str, Any] = document
    for depth, part in enumerate(parts[:-1], 1):
        if part not in table:
            # Only the innermost table gets a header of its own: [endpoints.x], not [endpoints].
            table[part] = tomlkit.table(is_super_table=depth < len(parts) - 1)
        child = table[part]
        if not isinstance(child, MutableMapping):
            raise ConfigFileError(
                f"{path}: cannot set {'.'.join(parts)}: {'.'.join(parts[:depth])} is not a table"
            )
        table = child
    if isinstance(table.get(parts[-1]), MutableMapping):
        raise ConfigFileError(f"{path}: cannot set {'.'.join(parts)}: it is a table")
    table[parts[-1]] = value
    updated = tomlkit.dumps(document)
    try:  # never write what the settings loader would refuse to read
        tomllib.loads(updated)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - a tomlkit bug
        raise ConfigFileError(f"{path}: the edited file would not be valid TOML: {exc}") from exc
    _write_atomically(path, updated)


def _read(path: Path) -> str:
    """The file's text, "" when it does not exist; a `ConfigFileError` when it is unusable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
        tomllib.loads(text)  # the parser the settings use decides what is broken
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"{path} is not UTF-8 text ({exc.reason}); fix it by hand") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path} is not valid TOML ({exc}); fix it by hand") from exc
    return text


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` through a temporary file in the same folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode: int | None = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = None  # a new file keeps mkstemp's 0600: it may come to hold API keys
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ConfigFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(text.encode("utf-8"))
            temp.flush()
            os.fsync(temp.fileno())
        if mode is not None:
            os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(exc, OSError):
            raise ConfigFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
