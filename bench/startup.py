"""Start-up benchmark: whole processes of the installed `talu-chat`, from launch.

Measures `talu-chat --help`, `talu-chat sessions list` and the full-screen chat until its
first frame showing the status bar (read through a real pseudo-terminal and the pyte terminal
emulator), on a generated profile of 10,000 sessions in a temporary data dir (and an empty
profile beside it). `python -c pass` is the floor, measured in the same run. Each case runs
once to fill the bytecode cache, then --reps times, interleaved; printed: the median wall time
(min–max), its excess over the floor, and the median CPU time (user + system, which a busy
machine inflates less than wall time). Figures, not a pass/fail test.

    .venv/bin/python bench/startup.py [--reps 5] [--sessions 10000] [--exe PATH]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import resource
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyte

from bench.terminal import COLUMNS, LINES, cpu_seconds, isolated_env, talu_chat
from bench.tui import fill_profile

TIMEOUT_S = 30.0


def run_process(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from launch to exit of a command whose output goes to pipes, and its CPU
    seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=TIMEOUT_S)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def status_bar_shown(screen: pyte.Screen, profile: str) -> bool:
    """Whether a line of the emulated screen holds the chat's status bar."""
    return any(line.lstrip().startswith(f"profile {profile}  │  model ")
               for line in screen.display[-4:])


def first_frame(argv: list[str], env: dict[str, str], profile: str) -> tuple[float, float]:
    """Seconds from launch until the terminal shows the status bar, and the app's CPU seconds
    by then; then quit the app."""
    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.ByteStream(screen)
    marker = f"profile {profile}".encode()
    started = time.perf_counter()
    pid, master = pty.fork()
    if pid == 0:  # the child: the pseudo-terminal is its controlling terminal and stdio
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    shown: tuple[float, float] | None = None
    output = bytearray()
    fed = 0
    try:
        while shown is None:
            left = started + TIMEOUT_S - time.perf_counter()
            if left <= 0 or not select.select([master], [], [], left)[0]:
                raise TimeoutError
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                data = b""
            arrived = time.perf_counter()
            if not data:
                break
            output += data
            # The emulator reads the output only once the status text has arrived, so that
            # this process takes no CPU from the app before that.
            if fed or marker in output[-len(data) - len(marker):]:
                stream.feed(bytes(output[fed:]))
                fed = len(output)
                if status_bar_shown(screen, profile):
                    shown = arrived - started, cpu_seconds(pid)
        if shown is None:
            raise TimeoutError
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(master)
        tail = output[-2000:].decode(errors="replace")
        sys.exit(f"the chat showed no status bar within {TIMEOUT_S:g} s; output ends:\n{tail}")
    _quit(pid, master)
    return shown


def _quit(pid: int, master: int) -> None:
    """Ctrl+Q, reading what the app writes until it exits (killed after 10 s)."""
    os.write(master, b"\x11")
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                if not os.read(master, 1 << 16):
                    break
            except OSError:
                break
        if os.waitpid(pid, os.WNOHANG)[0]:
            os.close(master)
            return
    else:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(master)


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):6.3f} s ({min(times):.3f}–{max(times):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description="talu-chat start-up benchmark")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--exe", help="the talu-chat to run (default: the one beside this "
                                      "Python), e.g. another checkout's, to compare")
    args = parser.parse_args()

    exe = args.exe or talu_chat()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = isolated_env(root)
        from storage import open_profile

        fill_profile(root / "data", args.sessions)
        open_profile(root / "data", "empty").close()
        big = f"{args.sessions:,} sessions"
        cases: dict[str, Callable[[], tuple[float, float]]] = {
            "python -c pass (floor)": lambda: run_process([sys.executable, "-c", "pass"], env),
            "talu-chat --help": lambda: run_process([exe, "--help"], env),
            f"talu-chat sessions list ({big})": lambda: run_process([exe, "sessions", "list"],
                                                                    env),
            "TUI first frame (empty profile)": lambda: first_frame(
                [exe, "--profile", "empty"], env, "empty"),
            f"TUI first frame ({big})": lambda: first_frame([exe], env, "default"),
        }
        for case in cases.values():  # warm the file cache and the bytecode cache
            case()
        wall: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.reps):
            for name, case in cases.items():
                elapsed, used = case()
                wall[name].append(elapsed)
                cpu[name].append(used)

    floor = statistics.median(wall["python -c pass (floor)"])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"talu-chat start-up: whole processes from launch, median of {args.reps} (min–max); "
          f"{os.cpu_count()} CPUs, load average {load}")
    width = max(map(len, wall))
    print(f"  {'':<{width}}  {'wall':^24}  {'floor +':>7}  {'CPU (user+sys)':>14}")
    for name in wall:
        over = "" if name == "python -c pass (floor)" else \
            f"{statistics.median(wall[name]) - floor:6.3f} s"
        print(f"  {name:<{width}}  {summary(wall[name])}  {over:>7}  "
              f"{statistics.median(cpu[name]):9.3f} s")


if __name__ == "__main__":
    main()
