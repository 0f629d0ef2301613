"""Cores shared by the local decodes of every talu-chat process of one user.

Each core is a lock file in the user's runtime dir, and a decode holds one lock per llama.cpp
thread. The locks are `fcntl.flock` locks: the kernel drops them when their process dies, so a
crash never leaves a core taken. A decode that finds every core taken waits, holding a shared
lock on `waiting.lock`; a decode holding more than one core sees that between two tokens and
gives one back. So two talu-chat processes on two cores decode side by side with a core each,
and a third takes turns. Where there is no `fcntl` (Windows) or no private folder, nothing is
shared and every process uses its own threads.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

RUNTIME_ENV = "TALU_CHAT_RUNTIME_DIR"
"""Overrides the runtime folder (tests; several users of one account that must not share)."""
POLL_S = 0.05
"""How often a waiting decode looks for a free core."""
NOTICE_AFTER_S = 0.3
"""A wait shorter than this (another decode giving a core back) goes unannounced."""
WAIT_NOTICE = "waiting for another talu-chat decode…"


def runtime_dir() -> Path | None:
    """This user's private folder for talu-chat's live coordination files, or None.

    TALU_CHAT_RUNTIME_DIR, else the platform's user runtime dir, else a folder of ours in the
    temporary dir; None when none of them can be made private to this user.
    """
    override = os.environ.get(RUNTIME_ENV)
    if override:
        candidates = [Path(override)]
    else:
        import platformdirs

        with warnings.catch_warnings():  # no XDG_RUNTIME_DIR: we pick the fallback ourselves
            warnings.simplefilter("ignore")
            platform = Path(platformdirs.user_runtime_dir("talu-chat", appauthor=False))
        uid = os.getuid() if hasattr(os, "getuid") else "user"
        fallback = Path(tempfile.gettempdir()) / f"talu-chat-{uid}"
        candidates = ([platform] if os.environ.get("XDG_RUNTIME_DIR") or sys.platform != "linux"
                      else []) + [fallback]
    for folder in candidates:
        if _private(folder):
            return folder
    log.warning("no private runtime folder (tried %s): local decodes of different talu-chat "
                "processes will not share cores", ", ".join(map(str, candidates)))
    return None


def _private(folder: Path) -> bool:
    """Make `folder` (mode 0700) if needed; whether it is a real folder owned by us."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return False
    import stat

    owned = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return stat.S_ISDIR(info.st_mode) and owned


class CoreShare:
    """The shared cores: `cores` lock files and the waiters' lock in `folder`."""

    def __init__(self, folder: Path, cores: int) -> None:
        self.folder = folder
        self.cores = max(1, cores)
        self._probe: int | None = None
        self._probe_lock = threading.Lock()

    @classmethod
    def open(cls, cores: int) -> CoreShare | None:
        """The share of this user's runtime dir; None where cores cannot be shared."""
        if fcntl is None or cores < 1:
            return None
        folder = runtime_dir()
        if folder is None:
            return None
        return cls(folder / "cores", cores) if _private(folder / "cores") else None

    def _open(self, name: str) -> int:
        return os.open(self.folder / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def others_waiting(self) -> bool:
        """Whether a decode (of any process) is waiting for a core right now."""
        with self._probe_lock:
            if self._probe is None:
                self._probe = self._open("waiting.lock")
            try:
                fcntl.flock(self._probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(self._probe, fcntl.LOCK_UN)
            return False

    def claim(self) -> Claim:
        """An empty claim on the shared cores; `acquire` or `grow` it."""
        return Claim(self)

    def close(self) -> None:
        with self._probe_lock:
            if self._probe is not None:
                os.close(self._probe)
                self._probe = None


class Claim:
    """The cores one decode holds (a lock file descriptor each)."""

    def __init__(self, share: CoreShare) -> None:
        self.share = share
        self._held: dict[int, int] = {}

    @property
    def count(self) -> int:
        return len(self._held)

    def grow(self, want: int) -> int:
        """Take free cores (without waiting) until `want` are held; how many are held."""
        for index in range(self.share.cores):
            if len(self._held) >= want:
                break
            if index in self._held:
                continue
            fd = self.share._open(f"core-{index}.lock")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._held[index] = fd
        return len(self._held)

    def shrink(self, keep: int) -> int:
        """Give back cores (the highest first) until at most `keep` are held."""
        for index in sorted(self._held, reverse=True):
            if len(self._held) <= max(0, keep):
                break
            os.close(self._held.pop(index))  # closing the last descriptor drops the lock
        return len(self._held)

    def release(self) -> None:
        """Give every core back."""
        self.shrink(0)

    def acquire(self, want: int, cancel: threading.Event) -> Iterator[str]:
        """Take up to `want` cores, waiting while none is free.

        Yields WAIT_NOTICE once if the wait outlasts NOTICE_AFTER_S. Returns holding at least
        one core, or none once `cancel` is set. A decode arriving while others already wait
        queues behind them for a poll instead of taking a core first.
        """
        if not self.share.others_waiting() and self.grow(want):
            return
        flag = self.share._open("waiting.lock")
        flagged = False
        started = time.monotonic()
        noticed = False
        try:
            while not cancel.is_set():
                if not flagged:  # a holder's probe may hold the lock this very instant
                    try:
                        fcntl.flock(flag, fcntl.LOCK_SH | fcntl.LOCK_NB)
                        flagged = True
                    except BlockingIOError:
                        pass
                if cancel.wait(POLL_S) or self.grow(want):
                    return
                if not noticed and time.monotonic() - started >= NOTICE_AFTER_S:
                    noticed = True
                    yield WAIT_NOTICE
        finally:
            os.close(flag)  # drops the waiters' flag
