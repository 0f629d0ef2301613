"""Reading an import file within ImportLimits: a regular file, a bounded unzip, checked JSON.

Every failure is an ImportFormatError (ImportLimitError for a limit) with one line naming the
file: nothing here lets a RecursionError, MemoryError or decoding error through, nothing
blocks on a FIFO or reads a device, and a zip bomb stops at the uncompressed limit after
holding at most that much.

JSON's non-standard ``NaN`` / ``Infinity`` literals, and numbers too large for a double
(``1e400``), are read as null: no stored figure can be non-finite, and the fields that require
a number then say so.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path
from typing import IO, Any

from ..errors import ImportFormatError, ImportLimitError
from .limits import DEFAULT_LIMITS, ImportLimits

_CHUNK = 1024 * 1024
_MEMBER = "conversations.json"
# A JSON string, escapes included; an unterminated one runs to the end (linear, no backtracking).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)
# What a damaged or unsupported zip raises from zipfile and zlib.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,  # encrypted members
    ValueError,
    OSError,
)


def read_document(path: Path, limits: ImportLimits = DEFAULT_LIMITS) -> Any:
    """Read and parse a JSON file (or the conversations.json inside a ChatGPT export zip)."""
    path = Path(path)
    try:
        text = _read_text(path, limits)
    except MemoryError:
        raise ImportLimitError(f"{path} is too large to read into memory") from None
    try:
        return json.loads(text, parse_constant=_non_finite, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise ImportFormatError(
            f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except ValueError:  # an integer longer than Python reads (sys.get_int_max_str_digits)
        raise ImportFormatError(f"{path} holds an integer too long to read") from None
    except RecursionError:  # only when max_depth is near the interpreter's own limit
        raise ImportLimitError(f"{path} is nested too deeply to read") from None
    except MemoryError:
        raise ImportLimitError(f"{path} is too large to read into memory") from None


def _read_text(path: Path, limits: ImportLimits) -> str:
    raw = read_bytes(path, limits)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFormatError(f"{path} is not UTF-8 text (byte {error.start})") from None
    check_depth(raw, path, limits.max_depth)
    return text


def _non_finite(literal: str) -> None:
    return None


def _finite_float(literal: str) -> float | None:
    value = float(literal)
    return value if value - value == 0 else None


def read_bytes(path: Path, limits: ImportLimits = DEFAULT_LIMITS) -> bytes | bytearray:
    """Return the bytes of a regular file, or of the conversations.json in a zip, within limits."""
    try:
        _check_regular(os.stat(path).st_mode, path)  # before opening: a FIFO would block
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags)
    except OSError as error:
        raise ImportFormatError(f"cannot read {path}: {error.strerror or error}") from None
    with open(fd, "rb") as handle:
        try:
            info = os.fstat(handle.fileno())
            _check_regular(info.st_mode, path)  # swapped since the stat above
            if info.st_size > limits.max_file_bytes:
                raise _too_big(path, info.st_size, limits.max_file_bytes)
            head = handle.read(4)
            handle.seek(0)
            if head.startswith(b"PK"):  # a zip: local header PK\3\4, or an empty archive PK\5\6
                return _read_zip(handle, path, limits)
            data = handle.read(limits.max_file_bytes + 1)
        except OSError as error:
            raise ImportFormatError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > limits.max_file_bytes:  # it grew while we read
        raise _too_big(path, len(data), limits.max_file_bytes)
    return data


def _check_regular(mode: int, path: Path) -> None:
    if stat.S_ISDIR(mode):  # in the words the system uses for it
        raise ImportFormatError(f"cannot read {path}: {os.strerror(errno.EISDIR)}")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise ImportFormatError(f"cannot read {path}: it is {kind}, not a regular file")


def _read_zip(handle: IO[bytes], path: Path, limits: ImportLimits) -> bytearray:
    limit = limits.max_uncompressed_bytes
    try:
        with zipfile.ZipFile(handle) as archive:
            members = [
                info
                for info in archive.infolist()
                if info.filename.rsplit("/", 1)[-1] == _MEMBER and not info.is_dir()
            ]
            if not members:
                raise ImportFormatError(f"{path}: the zip file holds no {_MEMBER}")
            member = members[0]
            if member.file_size > limit:  # what the archive declares; checked again below
                raise _inflates(path, member.file_size, limit)
            data = bytearray()
            with archive.open(member) as stream:
                while chunk := stream.read(_CHUNK):
                    data += chunk
                    if len(data) > limit:
                        raise _inflates(path, None, limit)
            return data
    except ImportFormatError:
        raise
    except MemoryError:
        raise ImportLimitError(f"{path}: {_MEMBER} is too large to read into memory") from None
    except _ZIP_ERRORS as error:
        raise ImportFormatError(
            f"cannot read {path}: a damaged or unsupported zip file ({_brief(error)})"
        ) from None


def _too_big(path: Path, size: int, limit: int) -> ImportLimitError:
    return ImportLimitError(
        f"{path} is {_size(size)}; the import limit (max_file_bytes) is {_size(limit)}"
    )


def _inflates(path: Path, size: int | None, limit: int) -> ImportLimitError:
    amount = _size(size) if size is not None else f"more than {_size(limit)}"
    return ImportLimitError(
        f"{path}: {_MEMBER} inflates to {amount}; "
        f"the import limit (max_uncompressed_bytes) is {_size(limit)}"
    )


def _size(count: int) -> str:
    if count < 1024 * 1024:
        return f"{count:,} bytes"
    return f"{count / (1024 * 1024):,.1f} MiB"


def _brief(error: BaseException) -> str:
    """An exception's text on one printable line (zip member names come from the file)."""
    text = " ".join(str(error).split())[:200] or type(error).__name__
    return text if text.isprintable() else ascii(text)


def check_depth(raw: bytes | bytearray, path: Path, max_depth: int) -> None:
    """Refuse JSON whose arrays and objects nest deeper than max_depth, before parsing it.

    Strings are cut out first (brackets inside them do not count); what is left of valid JSON
    is its bracket skeleton, whose running depth is computed a chunk at a time so a deep file
    fails within its first megabyte.
    """
    skeleton = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if skeleton.count(b"[") + skeleton.count(b"{") <= max_depth:
        return
    depth = 0
    for start in range(0, len(skeleton), _CHUNK):
        chunk = skeleton[start : start + _CHUNK]
        if max(accumulate(map(_STEP.__getitem__, chunk), initial=depth)) > max_depth:
            raise ImportLimitError(
                f"{path} nests arrays and objects more than {max_depth} deep; "
                f"the import limit (max_depth) is {max_depth}"
            )
        depth += sum(map(chunk.count, (b"[", b"{"))) - sum(map(chunk.count, (b"]", b"}")))
