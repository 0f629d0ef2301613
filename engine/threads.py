"""How many threads llama.cpp decodes with: every core of an idle machine, fewer beside busy ones.

llama.cpp's CPU threads (an OpenMP team) meet at a barrier after every operation of every
token, so a thread that another process has preempted stalls the whole team: on two cores
beside one or two busy processes, two threads decode 3-70x slower than one (README, Settings).
So before a decode, and every CHECK_EVERY_S while it runs, the CPU that other processes took
from our cores is measured (/proc/stat minus this process's own CPU time) and the answer uses
the threads that fit beside it, stepping back up when the others stop. The prompt, read in big
matrix products that wait far less on a preempted thread, keeps more threads beside a
part-time load. The cores themselves are shared with other talu-chat decodes through
`engine.cpu_share`.

OpenMP's waiting stays at its default (spin briefly, then sleep): the fastest idle, and a team
that never shares a core with a busy process never waits long. `local.wait_policy` changes it.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from .cpu_share import Claim, CoreShare

log = logging.getLogger(__name__)

WaitPolicy = Literal["auto", "passive", "active"]
CHECK_EVERY_S = 0.2
"""How often a running decode measures the other processes' load."""
MIN_WINDOW_S = 0.1
"""A shorter measurement says too little (/proc/stat counts in 10 ms ticks)."""
STALE_S = 2.0
"""A measurement window longer than this (an idle spell between turns) is checked against
what runs right now."""
SLACK_DOWN = 0.25
"""Cores of other work tolerated beside a full team before a thread is given up."""
SLACK_UP = 0.1
"""Cores of other work tolerated before a thread is taken back (hysteresis)."""
SLACK_PROMPT = 0.75
"""Cores of other work tolerated beside a full team reading the prompt: its big matrix
products wait far less on a preempted thread than a token's small ones do (measured: beside a
neighbour busy 60% of the time two threads still read a prompt faster than one)."""
OMP_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def fitting_threads(current: int, limit: int, cores: int, foreign: float) -> int:
    """The threads to decode with beside `foreign` cores of other work, starting from `current`.

    Steps down as soon as the others take more than SLACK_DOWN of the cores left to us, steps
    back up only once they take less than SLACK_UP (so a measurement's noise does not make
    the count flap); always between 1 and `limit`.
    """
    def fit(slack: float) -> int:
        return cores - math.ceil(max(0.0, foreign - slack))

    threads = current
    if threads > fit(SLACK_DOWN):
        threads = fit(SLACK_DOWN)
    elif threads < fit(SLACK_UP):
        threads = fit(SLACK_UP)
    return max(1, min(limit, threads))


def prompt_threads(limit: int, cores: int, foreign: float) -> int:
    """The threads to read a prompt with beside `foreign` cores of other work."""
    return max(1, min(limit, cores - math.ceil(max(0.0, foreign - SLACK_PROMPT))))


class CpuSample(NamedTuple):
    """One reading: wall time, busy CPU seconds of our cores, our own CPU seconds."""

    wall: float
    busy: float
    own: float


def parse_proc_stat(text: str, cpus: set[int], ticks_per_s: float = 100.0) -> tuple[float, int]:
    """(busy CPU seconds of `cpus`, tasks running now) from the text of /proc/stat."""
    busy = 0
    running = 0
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            fields = [int(v) for v in rest.split()[:8]]
            busy += sum(fields) - sum(fields[3:5])  # everything but idle and iowait
        elif name == "procs_running":
            running = int(rest)
    return busy / ticks_per_s, running


def foreign_cores(before: CpuSample, after: CpuSample) -> float | None:
    """Cores other processes kept busy between two samples; None if too short to tell."""
    wall = after.wall - before.wall
    if wall < MIN_WINDOW_S:
        return None
    return max(0.0, (after.busy - before.busy) - (after.own - before.own)) / wall


class LoadMonitor:
    """Measures what other processes take of our cores, from /proc/stat (Linux only)."""

    def __init__(self, cpus: set[int]) -> None:
        self.cpus = cpus
        self._ticks = float(os.sysconf("SC_CLK_TCK"))
        self._lock = threading.Lock()
        self._last = self.sample()

    @classmethod
    def open(cls, cpus: set[int]) -> LoadMonitor | None:
        """A monitor, or None where /proc/stat cannot be read."""
        try:
            return cls(cpus)
        except (OSError, ValueError, AttributeError):  # no /proc/stat, no os.sysconf
            return None

    def _read(self) -> tuple[float, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            return parse_proc_stat(stat.read(), self.cpus, self._ticks)

    def sample(self) -> CpuSample:
        busy, _ = self._read()
        return CpuSample(time.monotonic(), busy, time.process_time())

    def age(self) -> float:
        """Seconds since the last measurement."""
        return time.monotonic() - self._last.wall

    def since_last(self) -> float | None:
        """Cores of other work since the last call that measured (None: too soon)."""
        now = self.sample()
        with self._lock:
            foreign = foreign_cores(self._last, now)
            if foreign is not None:
                self._last = now
            return foreign

    def running_now(self) -> int:
        """Tasks of other processes on a CPU right now (the least of three quick looks)."""
        seen = []
        for attempt in range(3):
            if attempt:
                time.sleep(0.001)
            _, running = self._read()
            seen.append(running - _own_running())
        return max(0, min(seen))


def _own_running() -> int:
    """Threads of this process that are running or runnable right now."""
    count = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as stat:
                state = stat.read().rpartition(b")")[2].split(maxsplit=1)[0]
        except (OSError, IndexError):
            continue
        count += state == b"R"
    return max(count, 1)


def openmp_environment(policy: WaitPolicy, environ: Mapping[str, str]) -> dict[str, str]:
    """The OpenMP variables to set for `policy`; none where the person set their own."""
    if policy == "auto" or any(name in environ for name in OMP_VARIABLES):
        return {}
    return {"OMP_WAIT_POLICY": policy.upper()}


def describe_wait(environ: Mapping[str, str]) -> str:
    """How llama.cpp's OpenMP threads will wait, in words, from the environment."""
    policy = environ.get("OMP_WAIT_POLICY", "").upper()
    spin = environ.get("GOMP_SPINCOUNT")
    if spin is not None:
        return f"GOMP_SPINCOUNT={spin}" + (f", OMP_WAIT_POLICY={policy}" if policy else "")
    if policy == "PASSIVE":
        return "passive (sleep at once)"
    if policy == "ACTIVE":
        return "active (spin)"
    return "OpenMP default (spin briefly, then sleep)"


def apply_wait_policy(policy: WaitPolicy) -> None:
    """Set the OpenMP variables for `policy`, which only counts before llama.cpp loads."""
    wanted = openmp_environment(policy, os.environ)
    if not wanted:
        return
    if "llama_cpp.llama_cpp" in sys.modules:
        if any(os.environ.get(k) != v for k, v in wanted.items()):
            log.warning("wait_policy %r ignored: llama.cpp was loaded before it was set", policy)
        return
    os.environ.update(wanted)


@dataclass
class ThreadPolicy:
    """The settings and shared state behind every decode of one local backend."""

    limit: int
    """Most threads a decode uses (`local.n_threads`, default: the cores we may run on)."""
    adaptive: bool
    """Whether decodes step down beside busy processes (`local.adaptive_threads`)."""
    monitor: LoadMonitor | None
    share: CoreShare | None
    last: int = 0
    """The threads the latest decode ended with (where the next one starts)."""
    last_batch: int = 0
    """The threads the latest decode read its prompt with."""
    history: tuple[tuple[int, int], ...] = ()
    """(tokens so far, threads) at each change of the latest decode (benches, logs)."""

    @classmethod
    def from_config(cls, n_threads: int | None, adaptive: bool, shared_cores: int | None,
                    wait_policy: WaitPolicy) -> ThreadPolicy:
        cpus = _cpus()
        apply_wait_policy(wait_policy)
        share = None
        if shared_cores != 0:
            share = CoreShare.open(shared_cores or os.cpu_count() or len(cpus))
        monitor = LoadMonitor.open(cpus) if adaptive else None
        limit = n_threads or len(cpus)
        return cls(limit, adaptive, monitor, share, limit)

    def decode(self, set_threads: Callable[[int, int], None]) -> DecodeThreads:
        """A decode's threads; `set_threads(n, batch)` applies them to the llama.cpp context
        (n for one token at a time, batch for a prompt)."""
        return DecodeThreads(self, set_threads)

    def close(self) -> None:
        if self.share is not None:
            self.share.close()


def _cpus() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return set(range(os.cpu_count() or 1))


class DecodeThreads:
    """The threads of one decode: chosen before it starts, revised between its tokens."""

    def __init__(self, policy: ThreadPolicy, set_threads: Callable[[int, int], None]) -> None:
        self.policy = policy
        self._set = set_threads
        self._claim: Claim | None = policy.share.claim() if policy.share else None
        self.threads = 0
        """Threads for one token at a time (the answer)."""
        self.batch = 0
        """Threads for many tokens at once (the prompt)."""
        self.tokens = 0
        self.changes: list[tuple[int, int]] = []
        """(token, threads) each time the count changed, for logs and benches."""
        self._checked = time.monotonic()

    def _wanted(self, foreign: float | None, current: int) -> int:
        policy = self.policy
        if not policy.adaptive:
            return policy.limit
        if foreign is None or policy.monitor is None:
            return current
        return fitting_threads(current, policy.limit, len(policy.monitor.cpus), foreign)

    def begin(self, cancel: threading.Event) -> Iterator[str]:
        """Take cores and choose the count before the first token; yields wait notices.

        Returns with at least one thread, or holding nothing once `cancel` is set.
        """
        policy = self.policy
        foreign: float | None = None
        if policy.monitor is not None:
            stale = policy.monitor.age() > STALE_S
            foreign = policy.monitor.since_last()
            if foreign is not None and stale:
                # Averaged over a long idle spell, a neighbour that started a moment ago
                # hardly shows: look at what runs now as well.
                foreign = max(foreign, float(policy.monitor.running_now()))
        wanted = self._wanted(foreign, policy.last or policy.limit)
        batch = wanted
        if policy.adaptive and policy.monitor is not None:
            batch = (prompt_threads(policy.limit, len(policy.monitor.cpus), foreign)
                     if foreign is not None else max(wanted, policy.last_batch))
        if self._claim is not None:
            yield from self._claim.acquire(max(wanted, batch), cancel)
            if cancel.is_set():
                self.end()
                return
            wanted = min(wanted, self._claim.count)
            batch = min(batch, self._claim.count)
        self._apply(wanted, batch)
        policy.last_batch = self.batch

    def tick(self) -> None:
        """Between two tokens: give a core to a waiting decode, follow the others' load."""
        self.tokens += 1
        claim = self._claim
        if claim is not None:
            if claim.count > self.threads:  # the prompt is read: keep the answer's cores only
                self._apply(self.threads, claim.shrink(self.threads))
            if self.threads > 1 and claim.share.others_waiting():
                self._apply(claim.shrink(self.threads - 1))
        now = time.monotonic()
        if now - self._checked < CHECK_EVERY_S:
            return
        self._checked = now
        monitor = self.policy.monitor
        foreign = monitor.since_last() if monitor is not None else None
        wanted = self._wanted(foreign, self.threads)
        if claim is not None:
            if wanted > self.threads and not claim.share.others_waiting():
                wanted = claim.grow(wanted)
            else:
                wanted = claim.shrink(wanted)
        if wanted != self.threads:
            self._apply(wanted)

    def _apply(self, threads: int, batch: int | None = None) -> None:
        threads = max(1, threads)
        batch = threads if batch is None else max(1, batch)
        if (threads, batch) != (self.threads, self.batch):
            self._set(threads, batch)
            if threads != self.threads:
                self.changes.append((self.tokens, threads))
            self.threads, self.batch = threads, batch

    def end(self) -> None:
        """Give the cores back; the next decode starts from this one's count."""
        if self._claim is not None:
            self._claim.release()
        if self.threads:
            self.policy.last = self.threads
            self.policy.history = tuple(self.changes)
            if len(self.changes) > 1:
                log.debug("decode threads by token: %s", self.changes)


def describe(n_threads: int | None, adaptive: bool, shared_cores: int | None,
             wait_policy: WaitPolicy, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What `models plan` shows of the thread policy (nothing is measured or loaded)."""
    environ = os.environ if environ is None else environ
    limit = n_threads or len(_cpus())
    env = {**environ, **openmp_environment(wait_policy, environ)}
    machine = shared_cores or os.cpu_count() or limit
    return {
        "threads": limit,
        "thread_policy": (f"adaptive: {limit} on idle cores, fewer while other processes keep "
                          "them busy" if adaptive and limit > 1 else "fixed"),
        "wait_policy": describe_wait(env),
        "core_sharing": ("off" if shared_cores == 0 else
                         f"{machine} cores shared with your other talu-chat decodes"),
    }
