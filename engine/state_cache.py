"""A bounded folder of saved model states, one per conversation and model, least recently used
evicted first.

A state file holds a conversation (the model's KV cache of its tokens), so it is named after
an opaque key the caller gives (a session id) and removed with `forget(key)`. Each file starts
with a header that names its key, the fingerprint of the model and runtime that wrote it, the
exact tokens it holds and a checksum; a reader uses a state only when all of these agree, and
ignores (and removes) a file that does not parse, with a log line. Files are written to a
temporary name and renamed, so a reader never sees half a file. Pure Python: nothing here
loads llama.cpp, so listing, clearing and forgetting stay cheap.

Layout of `<root>/<sha256(key)[:24]>-<fingerprint id>.kvstate`::

    MAGIC | header length (u32 LE) | header (JSON) | tokens (int32, native order) | state data
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import sys
import tempfile
import threading
import time
import zlib
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import LocalConfig

log = logging.getLogger(__name__)

MAGIC = b"TALU-KV\x01"
FORMAT = 1
SUFFIX = ".kvstate"
_TEMP_PREFIX = ".tmp-"
_TEMP_SUFFIX = ".part"
_HEADER_LEN = struct.Struct("<I")
_MAX_HEADER = 1 << 20
#: A temporary file older than this was left by a process that died while writing it.
STALE_TEMP_S = 3600.0
MB = 1024 * 1024


class CorruptState(Exception):
    """A state file that cannot be used: not ours, truncated, or failing its checksum."""


def key_id(key: str) -> str:
    """The file name prefix of a key's states (the key itself is not written in the name)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def fingerprint_id(fingerprint: Mapping[str, Any]) -> str:
    """A short stable name for a fingerprint (part of the state's file name)."""
    text = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CachedState:
    """One saved state as listed: its file, size, owner key, model file, tokens and last use."""

    path: Path
    size_bytes: int
    used_at: float
    key: str | None = None
    model: str | None = None
    n_tokens: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.path.name, "size_bytes": self.size_bytes, "used_at": self.used_at,
                "key": self.key, "model": self.model, "tokens": self.n_tokens}


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """What the cache holds: its folder, cap, states (most recently used first) and total."""

    root: Path | None
    cap_bytes: int
    states: list[CachedState]

    @property
    def enabled(self) -> bool:
        return self.root is not None and self.cap_bytes > 0

    @property
    def total_bytes(self) -> int:
        return sum(s.size_bytes for s in self.states)

    def as_dict(self) -> dict[str, Any]:
        return {"dir": str(self.root) if self.root else None, "enabled": self.enabled,
                "cap_bytes": self.cap_bytes, "total_bytes": self.total_bytes,
                "states": [s.as_dict() for s in self.states]}


class SavedState:
    """An opened state file whose header matched: its tokens; `read_data()` reads the rest.

    The file stays open until `close()`, so a concurrent rewrite (a rename over it) cannot mix
    one file's header with another's data.
    """

    def __init__(self, path: Path, handle: BufferedReader, header: dict[str, Any],
                 tokens: array[int]) -> None:
        self.path = path
        self._handle = handle
        self.header = header
        self.tokens = tokens

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    def read_data(self) -> bytearray:
        """The state data, checked against the header's size and checksum (CorruptState)."""
        size = int(self.header["data_bytes"])
        if os.fstat(self._handle.fileno()).st_size - self._handle.tell() != size:
            raise CorruptState("the file's length does not match its header")
        data = bytearray(size)
        if self._handle.readinto(data) != size:
            raise CorruptState("the file's length does not match its header")
        crc = zlib.crc32(data, zlib.crc32(self.tokens.tobytes()))
        if crc != self.header["crc32"]:
            raise CorruptState("checksum mismatch")
        return data

    def close(self) -> None:
        self._handle.close()


class StateCache:
    """Saved model states under `root`, at most `cap_bytes` in all (0: the cache is off)."""

    def __init__(self, root: Path | None, cap_bytes: int) -> None:
        self.root = root
        self.cap_bytes = cap_bytes if root is not None else 0
        self._lock = threading.Lock()
        self._forgotten: set[str] = set()
        self._clock = 0

    @classmethod
    def from_config(cls, config: LocalConfig) -> StateCache:
        """The cache `local.kv_cache_dir` / `local.kv_cache_mb` describe."""
        root = config.kv_cache_dir.expanduser() if config.kv_cache_dir else None
        return cls(root, config.kv_cache_mb * MB)

    @property
    def enabled(self) -> bool:
        return self.cap_bytes > 0

    def path_for(self, key: str, fingerprint: Mapping[str, Any]) -> Path:
        assert self.root is not None
        return self.root / f"{key_id(key)}-{fingerprint_id(fingerprint)}{SUFFIX}"

    # reading ------------------------------------------------------------------------------

    def open(self, key: str, fingerprint: Mapping[str, Any]) -> SavedState | None:
        """The saved state of `key` for this fingerprint, or None (missing, foreign, corrupt).

        A file that is not a valid state of this key and fingerprint is logged and removed.
        """
        if not self.enabled or key in self._forgotten:
            return None
        path = self.path_for(key, fingerprint)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read saved model state %s: %s", path, exc.strerror)
            return None
        try:
            header, tokens = _read_header(handle)
            if header.get("key") != key or header.get("fingerprint") != dict(fingerprint):
                raise CorruptState("it belongs to another conversation or model")
        except CorruptState as exc:
            handle.close()
            self.discard(path, str(exc))
            return None
        except BaseException:
            handle.close()
            raise
        self._touch(path)
        return SavedState(path, handle, header, tokens)

    def discard(self, path: Path, reason: str) -> None:
        """Remove an unusable state file, saying why in the log."""
        log.warning("ignoring saved model state %s: %s", path, reason)
        with contextlib.suppress(OSError):
            path.unlink()

    # writing ------------------------------------------------------------------------------

    def save(self, key: str, fingerprint: Mapping[str, Any], tokens: Iterable[int],
             data: bytes | bytearray | memoryview, model: str | None = None) -> Path | None:
        """Write the state of `key` atomically, then evict down to the cap; its path or None.

        Nothing is written when the cache is off, `key` was forgotten, or the state alone is
        larger than the cap.
        """
        if not self.enabled or key in self._forgotten:
            return None
        token_array = array("i", tokens)
        token_bytes = token_array.tobytes()
        header = {"format": FORMAT, "key": key, "fingerprint": dict(fingerprint),
                  "model": model, "n_tokens": len(token_array), "data_bytes": len(data),
                  "crc32": zlib.crc32(data, zlib.crc32(token_bytes)), "saved_at": time.time()}
        head = json.dumps(header, sort_keys=True).encode("utf-8")
        size = len(MAGIC) + _HEADER_LEN.size + len(head) + len(token_bytes) + len(data)
        if size > self.cap_bytes:
            log.info("model state of %d tokens (%d bytes) is larger than the cache's cap",
                     len(token_array), size)
            return None
        assert self.root is not None
        path = self.path_for(key, fingerprint)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.root, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
        except OSError as exc:
            log.warning("cannot save model state in %s: %s", self.root, exc)
            return None
        placed = False
        try:
            # No fsync: this is a cache. A file cut short by a crash fails its length or
            # checksum check and is ignored.
            with os.fdopen(fd, "wb") as out:
                out.write(MAGIC)
                out.write(_HEADER_LEN.pack(len(head)))
                out.write(head)
                out.write(token_bytes)
                out.write(data)
            with self._lock:  # `forget` may have run while we wrote
                if key not in self._forgotten:
                    os.replace(temp, path)
                    self._touch(path)
                    placed = True
        except OSError as exc:
            log.warning("cannot save model state %s: %s", path, exc)
        finally:
            if not placed:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
        if not placed:
            return None
        self.evict(keep=path)
        return path

    def _touch(self, path: Path) -> None:
        """Mark `path` as just used (its mtime orders the LRU), strictly after the last one."""
        self._clock = max(time.time_ns(), self._clock + 1000)
        with contextlib.suppress(OSError):
            os.utime(path, ns=(self._clock, self._clock))

    # bounds, listing, removal -------------------------------------------------------------

    def _files(self) -> list[tuple[Path, os.stat_result]]:
        if self.root is None:
            return []
        found = []
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return []
        now = time.time()
        for entry in entries:
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.name.startswith(_TEMP_PREFIX) and entry.name.endswith(_TEMP_SUFFIX):
                if now - stat.st_mtime > STALE_TEMP_S:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
            elif entry.name.endswith(SUFFIX) and entry.is_file(follow_symlinks=False):
                found.append((Path(entry.path), stat))
        found.sort(key=lambda item: (item[1].st_mtime_ns, item[0].name), reverse=True)
        return found

    def evict(self, keep: Path | None = None) -> int:
        """Remove the least recently used states until the rest fit the cap; how many went."""
        files = self._files()
        total = sum(stat.st_size for _, stat in files)
        removed = 0
        for path, stat in reversed(files):  # oldest first
            if total <= self.cap_bytes:
                break
            if path == keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                log.info("evicted model state %s (%d bytes)", path.name, stat.st_size)
                removed += 1
            total -= stat.st_size
        return removed

    def usage(self) -> CacheUsage:
        """Every saved state, most recently used first, with its header's facts."""
        states = []
        for path, stat in self._files():
            key = model = None
            n_tokens = None
            try:
                with path.open("rb") as handle:
                    header, _tokens = _read_header(handle, tokens=False)
                key, model, n_tokens = header.get("key"), header.get("model"), header.get(
                    "n_tokens")
            except (OSError, CorruptState):
                pass  # listed as it is; `open` removes it if it is ever asked for
            states.append(CachedState(path, stat.st_size, stat.st_mtime, key, model, n_tokens))
        return CacheUsage(self.root, self.cap_bytes, states)

    def forget(self, key: str) -> int:
        """Remove every state of `key` (any model) and save none for it again in this process."""
        with self._lock:
            self._forgotten.add(key)
            return self._remove(f"{key_id(key)}-")

    def clear(self) -> tuple[int, int]:
        """Remove every state (and temporary file left by a crash); (files, bytes) removed."""
        count = freed = 0
        if self.root is None:
            return 0, 0
        with self._lock:
            try:
                entries = list(os.scandir(self.root))
            except OSError:
                return 0, 0
            for entry in entries:
                ours = entry.name.endswith(SUFFIX) or (
                    entry.name.startswith(_TEMP_PREFIX) and entry.name.endswith(_TEMP_SUFFIX))
                if not ours or not entry.is_file(follow_symlinks=False):
                    continue
                with contextlib.suppress(OSError):
                    size = entry.stat(follow_symlinks=False).st_size
                    os.unlink(entry.path)
                    if entry.name.endswith(SUFFIX):
                        count += 1
                        freed += size
        return count, freed

    def _remove(self, prefix: str) -> int:
        removed = 0
        if self.root is None:
            return 0
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.root):
                if entry.name.startswith(prefix) and entry.name.endswith(SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        removed += 1
        return removed


def _read_header(handle: BufferedReader, *,
                 tokens: bool = True) -> tuple[dict[str, Any], array[int]]:
    """The header and tokens at the start of a state file (CorruptState when they are not)."""
    try:
        if handle.read(len(MAGIC)) != MAGIC:
            raise CorruptState("not a talu-chat model state")
        (length,) = _HEADER_LEN.unpack(handle.read(_HEADER_LEN.size))
        if length > _MAX_HEADER:
            raise CorruptState("header too large")
        header = json.loads(handle.read(length))
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise CorruptState("unknown state format")
        n_tokens = header["n_tokens"]
        if not isinstance(n_tokens, int) or n_tokens < 0 or not isinstance(
                header.get("data_bytes"), int) or not isinstance(header.get("crc32"), int):
            raise CorruptState("malformed header")
        found: array[int] = array("i")
        if tokens:
            raw = handle.read(n_tokens * found.itemsize)
            if len(raw) != n_tokens * found.itemsize:
                raise CorruptState("the file is truncated")
            found.frombytes(raw)
        return header, found
    except (struct.error, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise CorruptState(f"unreadable header ({exc.__class__.__name__})") from None


#: What a state written on another machine layout would get wrong; part of every fingerprint.
PLATFORM = {"byteorder": sys.byteorder, "int_bytes": array("i").itemsize}
