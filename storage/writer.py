"""Who is streaming into a message row, and whether that process is still alive.

A streaming row carries ``writer = "<pid>:<start>"`` where ``start`` is the process start time
in clock ticks since boot (field 22 of ``/proc/<pid>/stat``), or empty where /proc is missing.
The start time guards against a reused pid: a row is orphaned when its pid is gone, or when the
pid now belongs to a process that started at another time. Rows with no writer (older rows,
imports) count as orphaned. Limits: processes in another pid namespace (another container on a
shared volume) cannot be seen and are taken as dead.
"""

from __future__ import annotations

import functools
import os


def _start_ticks(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return ""
    # The command name (field 2) may contain spaces and parentheses; fields resume after ")".
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else ""


@functools.cache
def _token_for(pid: int) -> str:
    return f"{pid}:{_start_ticks(pid)}"


def current_writer() -> str:
    """Return this process's writer token (recomputed after a fork)."""
    return _token_for(os.getpid())


def writer_alive(token: str | None) -> bool:
    """Return True when the process named by a writer token is still running."""
    if not token:
        return False
    pid_text, _, start = token.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    except OSError:
        return False
    return not start or _start_ticks(pid) in ("", start)
