"""The TUI's cost per streamed token, where people see it: the installed `talu-chat` in a real
pseudo-terminal (120x40), its output read as it arrives into the pyte terminal emulator.

Streams a ~3,000-token Markdown answer (headings, paragraphs, lists, code blocks) from the
scripted OpenAI-compatible server (tests/support/openai_server.py) at fixed token rates into
(a) the full-screen chat, the prompt typed into the terminal followed by Enter, and (b)
`talu-chat ask` on the same terminal. The answer carries marker words at known pieces; the screen is
checked after every read of the output, so a marker's lag is the time it first appears on the
emulated screen minus the time the server sent its piece. Reported per condition: the app
process's CPU seconds per 1,000 tokens (/proc/PID/stat, from the first marker on screen to the
end of the answer), frames per second written to the terminal (the emulator announces
synchronized output, so each frame ends with ESC[?2026l), and the screen's lag behind the feed
(median and max over the markers). Then the bundled model (SmolLM2 in process, temperature 0,
256 tokens, the same prompt) through the TUI and through `ask`: the decode rate each stored
with its answer, and their ratio (of the medians, and each run's against the `ask` run beside
it), with the TUI's frames/s and its event loop thread's CPU per second of decode; while the
model decodes, the TUI's output is read raw, not emulated (pyte, in pure Python, would take as
much CPU beside the decode as the app's own frames; a native terminal takes a fraction;
`--emulate-local` feeds it to pyte too). Medians of --reps runs (min–max), interleaved; the
targets of issue 10 beside the figures. Each run has a profile of its own in a throw-away data
dir; background indexing for search by meaning is off unless --index (`ask` does not index, and
it is a cost per answer, not per token). `--variant` runs the TUI again with extra environment
variables, interleaved, to compare a setting. Every process it starts is stopped, also on
Ctrl+C.

    .venv/bin/python bench/tui_terminal.py [--reps 3] [--rates 100,300,1000] [--no-local]
        [--emulate-local] [--only-tui] [--index] [--variant LABEL:VAR=VALUE,...]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.terminal import LINES, Terminal, cpu_seconds, isolated_env, talu_chat
from tests.support.openai_server import OpenAIServer, Reply, openai_server
from tests.support.scripted_backend import tokens

PROMPT = ("Write a long Markdown guide to packaging a Python project, with headings, "
          "lists and code blocks.")
MARKER = re.compile(r"mk(\d{3})x")
TIMEOUT_S = 60.0
ENDPOINT, MODEL = "bench", "m"
LOCAL_TOKENS = 256

_TEXT = ("the project keeps its metadata in one file so that every tool reads the same "
         "name version and dependencies while the build backend turns the source tree "
         "into a wheel that installers unpack without running any code at install time")
_WORDS = _TEXT.split()
_CODE = ["[build-system]", 'requires = ["setuptools>=68", "wheel"]',
         'build-backend = "setuptools.build_meta"', "", "[project]", 'name = "example"',
         'version = "1.2.3"', 'dependencies = ["httpx>=0.27", "rich>=13"]']


def markdown_answer(target_tokens: int = 3000) -> str:
    """A long Markdown answer with a marker word (mkNNNx) in every paragraph and list, the
    first word and the last."""
    parts: list[str] = []
    marker = 0
    count = 0

    def words(n: int, start: int) -> str:
        return " ".join(_WORDS[(start + i) % len(_WORDS)] for i in range(n))

    def mark() -> str:
        nonlocal marker
        marker += 1
        return f"mk{marker - 1:03d}x"

    section = 0
    while count < target_tokens:
        if section == 0:
            parts.append(f"{mark()} {words(40, 0)}.\n\n")
        parts.append(f"## Step {section + 1}: {words(4, section)}\n\n")
        parts.append(f"{mark()} {words(55, section * 7)}. {words(30, section * 3)}.\n\n")
        for item in range(5):
            lead = mark() if item == 0 else words(1, item)
            parts.append(f"- {lead} {words(9, section + item)}\n")
        parts.append("\n```toml\n" + "\n".join(_CODE) + "\n```\n\n")
        parts.append(f"1. {words(12, section)}\n2. {mark()} {words(12, section + 5)}\n\n")
        section += 1
        count = len(tokens("".join(parts)))
    parts.append(f"That is the whole guide, {mark()}")
    return "".join(parts)


@dataclass
class Run:
    """One streamed answer, as the terminal showed it."""

    cpu_per_1k: float
    fps: float
    lags: list[float]
    missed: int

    @property
    def lag_median(self) -> float:
        return statistics.median(self.lags) if self.lags else float("nan")

    @property
    def lag_max(self) -> float:
        return max(self.lags) if self.lags else float("nan")


@dataclass
class Watch:
    """Marker words as they first appear on the emulated screen (its changed lines only)."""

    term: Terminal
    seen: dict[int, float] = field(default_factory=dict)
    cpu_at_first: float | None = None

    def __call__(self, arrived: float) -> None:
        screen = self.term.screen
        columns = screen.columns
        for y in screen.dirty:
            row = screen.buffer[y]
            line = "".join(row[x].data for x in range(columns))
            for match in MARKER.finditer(line):
                number = int(match.group(1))
                if number not in self.seen:
                    self.seen[number] = arrived
                    if self.cpu_at_first is None:
                        self.cpu_at_first = cpu_seconds(self.term.pid)
        screen.dirty.clear()


def marker_pieces(answer: str) -> dict[int, int]:
    """Marker number -> index of the piece that carries it."""
    found = {}
    for index, piece in enumerate(tokens(answer)):
        if match := MARKER.search(piece):
            found[int(match.group(1))] = index
    return found


_started: list[Terminal] = []
_profiles = iter(range(1_000_000))


def fresh_profile() -> str:
    """A new profile for each run: every TUI opens on an empty chat."""
    return f"run{next(_profiles)}"


@contextmanager
def terminal(argv: list[str], env: dict[str, str]) -> Iterator[Terminal]:
    """A process on a pseudo-terminal, killed when the block ends however it ends."""
    term = Terminal(argv, env)
    _started.append(term)
    try:
        yield term
    finally:
        term.kill()
        _started.remove(term)


def status_line(term: Terminal) -> str:
    return next((line for line in reversed(term.screen.display[-4:])
                 if line.lstrip().startswith("profile ")), "")


def wait_for_chat(term: Terminal) -> None:
    """Until the chat's status bar shows and the backend's health is known."""
    term.pump(lambda: "● ready" in status_line(term) or "✕" in status_line(term), TIMEOUT_S)
    # The first session is read after the first frame: let it settle.
    term.quiet(0.3, 5)


def measure(term: Terminal, server: OpenAIServer, answer: str, rate: float,
            done: Callable[[], bool]) -> Run:
    """Read the terminal until `done`; the markers' lags, CPU per 1k tokens, frames/s."""
    watch = Watch(term)
    term.on_output = watch
    pieces = marker_pieces(answer)
    last = max(pieces)
    term.pump(lambda: last in watch.seen or not term.alive, 3000 / rate + TIMEOUT_S)
    term.pump(done, TIMEOUT_S)
    if term.alive:
        term.quiet(0.3, 5)
        cpu_end = cpu_seconds(term.pid)
    else:
        assert term.rusage is not None
        cpu_end = term.rusage.ru_utime + term.rusage.ru_stime
    term.on_output = None
    request = server.chat_requests[-1]
    sent = request.sent_at
    lags = [watch.seen[n] - sent[i] for n, i in pieces.items() if n in watch.seen]
    first, end = min(watch.seen.values()), watch.seen.get(last, max(watch.seen.values()))
    frames = [t for t in term.frame_times if first <= t <= end]
    assert watch.cpu_at_first is not None
    n = len(tokens(answer))
    return Run(cpu_per_1k=(cpu_end - watch.cpu_at_first) / n * 1000,
               fps=len(frames) / (end - first) if end > first else float("nan"),
               lags=lags, missed=len(pieces) - len(lags))


def tui_run(exe: str, env: dict[str, str], server: OpenAIServer, answer: str,
            rate: float) -> Run:
    server.script(MODEL, Reply(text=answer, rate=rate))
    profile = fresh_profile()
    with terminal([exe, "--profile", profile, "--model", f"{ENDPOINT}::{MODEL}"], env) as term:
        wait_for_chat(term)
        term.write(PROMPT.encode())
        term.quiet(0.2, 2)
        term.write(b"\r")
        run = measure(term, server, answer, rate,
                      lambda: "streaming" not in status_line(term))
        term.close()
        return run


def ask_run(exe: str, env: dict[str, str], server: OpenAIServer, answer: str,
            rate: float) -> Run:
    server.script(MODEL, Reply(text=answer, rate=rate))
    with terminal([exe, "ask", "-m", f"{ENDPOINT}::{MODEL}", PROMPT], env) as term:
        run = measure(term, server, answer, rate, lambda: not term.alive)
        if term.exit_status:
            sys.exit(f"talu-chat ask failed ({term.exit_status}):\n{term.text()}")
        return run


def latest_answer(data_dir: Path, profile: str) -> tuple[str, float | None] | None:
    """(status, decode rate) of the newest answer of `profile`, None before there is one."""
    from storage import profile_path

    path = profile_path(data_dir, profile)
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT status, tokens_per_s FROM messages WHERE role = 'assistant' "
                           "ORDER BY rowid DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:  # not created yet
        return None
    finally:
        conn.close()
    return (row[0], row[1]) if row is not None else None


@dataclass
class LocalRun:
    """One answer of the bundled model: its decode rate, and what the screen cost meanwhile."""

    rate: float
    fps: float = float("nan")
    """Frames written to the terminal per second of the decode (TUI only)."""
    ui_cpu: float = float("nan")
    """CPU seconds of the app's event loop thread per second of the decode (TUI only)."""


def finished_rate(data_dir: Path, profile: str) -> float:
    answer = latest_answer(data_dir, profile)
    if answer is None or answer[1] is None:
        sys.exit(f"bench: no decode rate stored with the answer ({answer})")
    return float(answer[1])


def local_tui(exe: str, env: dict[str, str], data_dir: Path, emulate: bool) -> LocalRun:
    """The bundled model's answer in the TUI. Once it streams, the output is read without
    the emulator unless `emulate` (pyte, in pure Python, would take as much CPU beside the
    decode as the app's own frames; a native terminal takes a fraction), and the end is read
    from the answer's stored status."""
    profile = fresh_profile()
    with terminal([exe, "--profile", profile, "--model", "local::smollm2"], env) as term:
        wait_for_chat(term)
        term.write(PROMPT.encode())
        term.quiet(0.2, 2)
        term.write(b"\r")
        term.pump(lambda: "streaming" in status_line(term), TIMEOUT_S)
        term.emulate = emulate
        frames, ui_cpu, started = term.frames, cpu_seconds(term.pid, term.pid), time.monotonic()
        deadline = started + TIMEOUT_S
        while (answer := latest_answer(data_dir, profile)) is None or answer[0] == "streaming":
            if time.monotonic() > deadline or not term.alive:
                sys.exit(f"bench: the TUI's answer did not end ({answer})")
            term.read(0.05)
        wall = time.monotonic() - started
        run = LocalRun(finished_rate(data_dir, profile), (term.frames - frames) / wall,
                       (cpu_seconds(term.pid, term.pid) - ui_cpu) / wall)
        term.emulate = True
        term.close()
    return run


def local_ask(exe: str, env: dict[str, str], data_dir: Path) -> LocalRun:
    profile = fresh_profile()
    with terminal([exe, "ask", "--profile", profile, "-m", "local::smollm2", PROMPT],
                  env) as term:
        term.pump(lambda: not term.alive, TIMEOUT_S)
        if term.exit_status:
            sys.exit(f"talu-chat ask failed ({term.exit_status}):\n{term.text()}")
    return LocalRun(finished_rate(data_dir, profile))


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return (f"{fmt.format(statistics.median(values))} "
            f"({fmt.format(min(values))}–{fmt.format(max(values))})")


def main() -> None:
    parser = argparse.ArgumentParser(description="the TUI's cost per streamed token")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rates", default="100,300,1000",
                        help="token rates of the scripted endpoint, comma-separated")
    parser.add_argument("--tokens", type=int, default=3000)
    parser.add_argument("--no-local", action="store_true", help="skip the bundled model")
    parser.add_argument("--emulate-local", action="store_true",
                        help="feed the TUI's output to pyte during the bundled model's answer too")
    parser.add_argument("--only-tui", action="store_true", help="skip `ask` on the stream")
    parser.add_argument("--index", action="store_true",
                        help="let the TUI index answers for search by meaning in the background "
                             "(off by default: `ask` does not, and it is not per token)")
    parser.add_argument("--exe", help="the talu-chat to run (default: beside this Python)")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL:VAR=VALUE,…",
                        help="also run the TUI with these environment variables, interleaved "
                             "(to compare a setting); repeatable")
    args = parser.parse_args()
    variants: dict[str, dict[str, str]] = {"tui": {}}
    for spec in args.variant:
        label, _, assignments = spec.partition(":")
        variants[label] = dict(item.split("=", 1) for item in assignments.split(",") if item)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    exe = args.exe or talu_chat()
    answer = markdown_answer(args.tokens)
    n_tokens = len(tokens(answer))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    load_before = os.getloadavg()
    streamed: dict[tuple[str, float], list[Run]] = {}
    local: dict[str, list[LocalRun]] = {name: [] for name in [*variants, "ask"]}
    try:
        with tempfile.TemporaryDirectory() as tmp, openai_server((MODEL,)) as server:
            root = Path(tmp)
            env = isolated_env(root)
            env.update(server.env(ENDPOINT))
            env.update(TALU_CHAT_GENERATION__TEMPERATURE="0",
                       TALU_CHAT_GENERATION__MAX_TOKENS=str(LOCAL_TOKENS))
            if not args.index:
                env["TALU_CHAT_SEARCH__INDEX"] = "false"
            scripted = {**env}
            del scripted["TALU_CHAT_GENERATION__MAX_TOKENS"]
            # Warm the bytecode and file caches.
            ask_run(exe, scripted, server, markdown_answer(200), 1000)
            for rep in range(args.reps):
                for rate in rates:
                    for kind in [*variants, "ask"]:
                        if kind == "ask" and args.only_tui:
                            continue
                        run = ask_run if kind == "ask" else tui_run
                        result = run(exe, {**scripted, **variants.get(kind, {})}, server,
                                     answer, rate)
                        streamed.setdefault((kind, rate), []).append(result)
                        print(f"  rep {rep + 1} {kind:>4} {rate:5.0f} tok/s: "
                              f"CPU {result.cpu_per_1k:.2f} s/1k, {result.fps:.1f} fps, lag "
                              f"{result.lag_median:.3f}/{result.lag_max:.3f} s, "
                              f"{result.missed} missed", file=sys.stderr, flush=True)
                if not args.no_local:
                    for kind in local:
                        kind_env = {**env, **variants.get(kind, {})}
                        done = (local_ask(exe, kind_env, root / "data") if kind == "ask" else
                                local_tui(exe, kind_env, root / "data", args.emulate_local))
                        local[kind].append(done)
                        print(f"  rep {rep + 1} local {kind}: {done.rate:.1f} tok/s, "
                              f"{done.fps:.1f} fps, UI thread {done.ui_cpu:.3f} CPU s/s",
                              file=sys.stderr, flush=True)
    finally:
        for term in list(_started):
            term.kill()

    load_after = os.getloadavg()
    print(f"TUI in a real terminal ({LINES} lines), a {n_tokens:,}-token Markdown answer; "
          f"median of {args.reps} (min–max); {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    width = max(map(len, [*variants, "ask"]))
    print(f"  {'feed':>10}  {'app':>{width}}  {'CPU s / 1k tokens':>20}  {'frames/s':>18}  "
          f"{'lag median s':>20}  {'lag max s':>20}  missed")
    for (kind, rate), runs in sorted(streamed.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"  {rate:>6.0f}/s  {kind:>{width}}  {spread([r.cpu_per_1k for r in runs]):>20}  "
              f"{spread([r.fps for r in runs], '{:.1f}'):>18}  "
              f"{spread([r.lag_median for r in runs], '{:.3f}'):>20}  "
              f"{spread([r.lag_max for r in runs], '{:.3f}'):>20}  "
              f"{sum(r.missed for r in runs)}")
    print("  targets: ≤ 1.0 s CPU per 1,000 tokens at 300 tok/s (TUI); screen ≤ 0.25 s behind")
    if local["ask"]:
        asks = [r.rate for r in local["ask"]]
        ask = statistics.median(asks)
        print(f"Bundled model (SmolLM2, temperature 0, {LOCAL_TOKENS} tokens), decode rate "
              f"stored with the answer (the TUI's output read "
              f"{'by pyte' if args.emulate_local else 'raw'} while it decodes): "
              f"ask {spread(asks, '{:.1f}')} tok/s")
        for kind in variants:
            decodes = local[kind]
            rates = [r.rate for r in decodes]
            paired = [r.rate / a.rate for r, a in zip(decodes, local["ask"], strict=True)]
            print(f"  {kind}: {spread(rates, '{:.1f}')} tok/s, ÷ ask "
                  f"{statistics.median(rates) / ask:.2f} (each rep ÷ its ask: "
                  f"{spread(paired)}; target ≥ 0.95); {spread([r.fps for r in decodes], '{:.1f}')}"
                  f" frames/s, UI thread {spread([r.ui_cpu for r in decodes], '{:.3f}')} CPU s/s")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # every process it started is stopped by then
        sys.exit("bench/tui_terminal.py: interrupted")
