"""Thread policy under load, and two talu-chat processes decoding at once.

--busy N[,N…]  Decode tok/s and TTFT of talu-chat's engine under each thread policy, and of a
               raw llama-cpp-python loop under each setting, with N busy neighbour processes
               (`python -c 'while True: pass'`, started and stopped here). Every run is its own
               child process (OpenMP reads its environment once per process), the settings
               interleaved round by round; medians (min–max). Each policy is compared with the
               best raw setting of the same condition. Targets: idle ≥ 0.97×, busy ≥ 0.8×.
               `1@0.5`: one neighbour busy half of every 10 ms (a part-time load).
--pair         Two engine processes started together on the same prompt: each one's tokens ÷
               wall time from sending, against one process alone. Target: ≥ 0.4× alone.

"other load" is the CPU (in cores) that processes other than this bench's took during a run:
another person's tests on a shared machine show up there. Part of bench/engine.py's run (the
sections run only when asked for); also runs alone:

    .venv/bin/python bench/threads.py --busy 0,1,2 --pair [--thread-rounds 5] [--thread-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import available_cores
from engine.refs import bundled_model_path

PROMPTS = [
    "Write a long story about a lighthouse keeper and a storm.",
    "Explain in detail how bread is made, step by step.",
    "Describe a journey across a desert, at length.",
    "Tell a long tale about a clockmaker's apprentice.",
]
BUSY = "while True: pass"
#: A neighbour busy part of every 10 ms: busy for {busy} s, then asleep for {idle} s.
PART_TIME = ("import time\nwhile True:\n    t = time.perf_counter()\n"
             "    while time.perf_counter() - t < {busy}: pass\n    time.sleep({idle})")
#: talu-chat's policies: LocalConfig fields (the defaults first).
POLICIES: dict[str, dict[str, Any]] = {
    "adaptive (default)": {},
    "fixed all cores (before)": {"adaptive_threads": False, "shared_cores": 0},
    "fixed all cores, passive": {"adaptive_threads": False, "shared_cores": 0,
                                 "wait_policy": "passive"},
    "fixed 1 thread": {"n_threads": 1, "adaptive_threads": False, "shared_cores": 0},
}


def raw_settings(cores: int) -> dict[str, tuple[int, dict[str, str]]]:
    """The raw loop's settings: threads and OpenMP environment."""
    return {
        f"raw {cores} threads": (cores, {}),
        f"raw {cores} threads, passive": (cores, {"OMP_WAIT_POLICY": "PASSIVE"}),
        "raw 1 thread": (1, {}),
    }


# ---- child processes -------------------------------------------------------------------------

def _prompt_tokens(llm: Any, model: Path, text: str) -> list[int]:
    """`text` as a user message through the GGUF's chat template, as the engine renders it."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    from engine.gguf import read_gguf
    from engine.local_models import CHATML_TEMPLATE

    formatter = Jinja2ChatFormatter(template=read_gguf(model).chat_template or CHATML_TEMPLATE,
                                    eos_token="", bos_token="")
    result = formatter(messages=[{"role": "user", "content": text}])
    tokens: list[int] = llm.tokenize(result.prompt.encode(), add_bos=not result.added_special,
                                     special=True)
    return tokens


def _timed(pieces: Any, started: float, budget: float) -> dict[str, float]:
    """TTFT, decode tok/s and pieces of one streamed answer (cut after `budget` seconds)."""
    first = None
    n = 0
    for piece in pieces:
        if piece:
            n += 1
            first = first or time.perf_counter()
        if time.perf_counter() - started > budget:
            break
    end = time.perf_counter()
    first = first or end
    return {"ttft": first - started, "tps": (n - 1) / (end - first) if n > 1 else 0.0,
            "n": n, "wall": end - started}


def worker_raw(args: argparse.Namespace) -> list[dict[str, float]]:
    """A plain create_completion loop on the main thread, cold cache every time."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(args.model), n_ctx=args.n_ctx, n_threads=args.threads,
                n_threads_batch=args.threads, verbose=False)
    results = []
    for i in range(args.reps + 1):
        tokens = _prompt_tokens(llm, args.model, PROMPTS[i % len(PROMPTS)])
        llm.reset()
        started = time.perf_counter()
        parts = llm.create_completion(tokens, max_tokens=args.tokens, temperature=0, stream=True)
        row = _timed((p["choices"][0]["text"] for p in parts), started, args.budget)
        if i:  # the first answer warms up
            results.append(row)
    return results


def _engine(args: argparse.Namespace) -> Any:
    from engine import Engine, EngineConfig, LocalConfig

    local = LocalConfig(n_ctx=args.n_ctx, **json.loads(args.policy))
    return Engine(EngineConfig(local=local), discover=False)


def _answer(engine: Any, model: Path, i: int, tokens: int, budget: float) -> dict[str, Any]:
    from engine import Message

    backend = engine.backend_for(engine.resolve(str(model)))
    loaded = backend.pool.acquire(model.resolve())
    loaded.llm.reset()  # a cold cache, like the raw loop
    backend.pool.release(loaded)
    notices: list[str] = []
    started = time.perf_counter()

    def pieces() -> Any:
        for chunk in engine.stream_sync(str(model), [Message("user", PROMPTS[i % len(PROMPTS)])],
                                        {"max_tokens": tokens, "temperature": 0}):
            if chunk.notice:
                notices.append(chunk.notice)
            yield chunk.text

    stream = pieces()
    try:
        row = {**_timed(stream, started, budget), "notices": notices}
    finally:
        stream.close()  # an answer cut at the budget stops its decode here
    return {**row, "threads": _mean_threads(backend.threads.history, row["n"])}


def _mean_threads(history: tuple[tuple[int, int], ...], tokens: int) -> float:
    """The threads an answer decoded with, averaged over its tokens."""
    if not history:
        return 0.0
    end = max(tokens, history[-1][0] + 1)
    spans = zip(history, [*(token for token, _ in history[1:]), end], strict=True)
    total = sum(threads * (stop - start) for (start, threads), stop in spans)
    return total / (end - history[0][0])


def worker_engine(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The same prompts through Engine.stream_sync under one policy."""
    engine = _engine(args)
    results = [_answer(engine, args.model, i, args.tokens, args.budget)
               for i in range(args.reps + 1)][1:]
    engine.close()
    return results


def worker_pair(args: argparse.Namespace) -> dict[str, Any]:
    """Load and warm up, say "ready", wait for "go" on stdin, answer once."""
    engine = _engine(args)
    _answer(engine, args.model, 1, 4, args.budget)
    print("ready", flush=True)
    sys.stdin.readline()
    row = _answer(engine, args.model, 0, args.pair_tokens, args.pair_budget)
    engine.close()
    return row


# ---- the parent ----------------------------------------------------------------------------

def _busy_seconds() -> float:
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _cpu_of(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """The CPU that processes other than ours took while a block ran, in cores.

    Ours: this process, the `neighbours` (still running after the block) and the children
    that end within it (`children`: those already running when it starts).
    """

    def __init__(self, neighbours: list[int], children: list[int] | None = None) -> None:
        self.neighbours = neighbours
        self.children = children or []

    def __enter__(self) -> OtherLoad:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._start = (time.monotonic(), _busy_seconds(), _cpu_of(self.neighbours),
                       usage.ru_utime + usage.ru_stime + time.process_time()
                       + _cpu_of(self.children))
        return self

    def __exit__(self, *exc: object) -> None:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, busy, neighbours, ours = self._start
        mine = usage.ru_utime + usage.ru_stime + time.process_time() - ours
        other = (_busy_seconds() - busy) - (_cpu_of(self.neighbours) - neighbours) - mine
        self.cores = max(0.0, other) / (time.monotonic() - wall)


def _child_cmd(kind: str, args: argparse.Namespace, threads: int,
               policy: dict[str, Any]) -> list[str]:
    return [sys.executable, __file__, "--worker", kind, "--model", str(args.model),
            "--reps", str(args.thread_reps), "--tokens", str(args.thread_tokens),
            "--n-ctx", str(args.n_ctx),
            "--threads", str(threads), "--policy", json.dumps(policy),
            "--budget", str(args.budget), "--pair-tokens", str(args.pair_tokens),
            "--pair-budget", str(args.pair_budget)]


def _run(cmd: list[str], env: dict[str, str]) -> Any:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def _spread(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    return (f"{statistics.median(values) * scale:.{digits}f} "
            f"({min(values) * scale:.{digits}f}–{max(values) * scale:.{digits}f})")


def _neighbour(duty: float) -> subprocess.Popen[bytes]:
    code = BUSY if duty >= 1 else PART_TIME.format(busy=duty / 100, idle=(1 - duty) / 100)
    return subprocess.Popen([sys.executable, "-c", code])


def busy_section(args: argparse.Namespace, counts: list[tuple[int, float]]) -> None:
    """Every policy and raw setting with 0, 1, 2… busy neighbours; print the tables."""
    cores = available_cores()
    raws = raw_settings(cores)
    configs: list[tuple[str, str, int, dict[str, Any], dict[str, str]]] = [
        *((name, "raw", threads, {}, env) for name, (threads, env) in raws.items()),
        *((name, "engine", cores, policy, {}) for name, policy in POLICIES.items()),
    ]
    print(f"\n== thread policy under load: {args.thread_rounds} rounds x {args.thread_reps} "
          f"answers x {args.thread_tokens} tokens, {cores} cores, cut at {args.budget:.0f} s; "
          "median (min–max) ==")
    for count, duty in counts:
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in configs}
        loads: dict[str, list[float]] = {name: [] for name, *_ in configs}
        neighbours = [_neighbour(duty) for _ in range(count)]
        try:
            time.sleep(0.5)
            with tempfile.TemporaryDirectory(prefix="talu-threads-bench-") as runtime:
                for rnd in range(args.thread_rounds):
                    order = configs if rnd % 2 == 0 else configs[::-1]
                    for name, kind, threads, policy, extra in order:
                        env = {**os.environ, **extra, "TALU_CHAT_RUNTIME_DIR": runtime}
                        with OtherLoad([p.pid for p in neighbours]) as load:
                            rows[name] += _run(_child_cmd(kind, args, threads, policy), env)
                        loads[name].append(load.cores)
        finally:
            for p in neighbours:
                p.kill()
                p.wait()
        _print_busy(count, duty, rows, loads, list(raws))


def _print_busy(count: int, duty: float, rows: dict[str, list[dict[str, Any]]],
                loads: dict[str, list[float]], raw_names: list[str]) -> None:
    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in rows[name])

    best_tps = max(raw_names, key=lambda n: med(n, "tps"))
    best_ttft = min(raw_names, key=lambda n: med(n, "ttft"))
    label = "idle" if count == 0 else f"{count} busy neighbour{'s' * (count > 1)}"
    if count and duty < 1:
        label += f", busy {duty:.0%} of the time"
    print(f"\n-- {label}: best raw decode = {best_tps}, best raw TTFT = {best_ttft} --")
    print(f"{'':26} {'decode tok/s':>20} {'x best':>6} {'TTFT ms':>17} {'x best':>6} "
          f"{'threads':>7} {'other load':>10}")
    for name in rows:
        tps = [r["tps"] for r in rows[name]]
        ttft = [r["ttft"] for r in rows[name]]
        threads = [r["threads"] for r in rows[name] if "threads" in r]
        used = f"{statistics.median(threads):.2f}" if threads else ""
        print(f"{name:26} {_spread(tps):>20} {med(name, 'tps') / med(best_tps, 'tps'):6.2f} "
              f"{_spread(ttft, 1000, 0):>17} {med(name, 'ttft') / med(best_ttft, 'ttft'):6.2f} "
              f"{used:>7} {_spread(loads[name], digits=2):>10}")
    print("(threads: the engine's threads averaged over each answer's tokens, median; other load:"
          " cores taken by processes not this bench's, per run)")


def _pair_once(args: argparse.Namespace, policy: dict[str, Any], runtime: str,
               together: int) -> tuple[list[dict[str, Any]], float]:
    """`together` engine processes answering at once; their rows and the other load."""
    env = {**os.environ, "TALU_CHAT_RUNTIME_DIR": runtime}
    cmd = _child_cmd("pair", args, available_cores(), policy)
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=env) for _ in range(together)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    with OtherLoad([], [p.pid for p in procs]) as load:
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate()[0] for p in procs]
    return [json.loads(out.strip().splitlines()[-1]) for out in outs], load.cores


def pair_section(args: argparse.Namespace) -> None:
    """Two processes at once against one alone, per policy; print the table."""
    policies = {k: POLICIES[k] for k in ("adaptive (default)", "fixed all cores (before)")}
    rate: dict[tuple[str, str], list[float]] = {}
    loads: dict[tuple[str, str], list[float]] = {}
    notices: dict[str, int] = dict.fromkeys(policies, 0)
    with tempfile.TemporaryDirectory(prefix="talu-pair-bench-") as runtime:
        for rnd in range(args.thread_rounds):
            order = list(policies.items()) if rnd % 2 == 0 else list(policies.items())[::-1]
            for name, policy in order:
                for together in ((1, 2) if rnd % 2 == 0 else (2, 1)):
                    rows, load = _pair_once(args, policy, runtime, together)
                    key = (name, "alone" if together == 1 else "pair")
                    rate.setdefault(key, []).extend(r["n"] / r["wall"] for r in rows)
                    loads.setdefault(key, []).append(load)
                    notices[name] += sum(bool(r["notices"]) for r in rows)
    print(f"\n== two processes at once: {args.thread_rounds} rounds, {args.pair_tokens} tokens "
          f"each, cut at {args.pair_budget:.0f} s; tokens ÷ wall from sending, median (min–max) ==")
    print(f"{'':28} {'alone tok/s':>20} {'each of a pair':>20} {'x alone':>7} {'other load':>10}"
          f" {'waited':>6}")
    for name in policies:
        alone, pair = rate[(name, "alone")], rate[(name, "pair")]
        print(f"{name:28} {_spread(alone):>20} {_spread(pair):>20} "
              f"{statistics.median(pair) / statistics.median(alone):7.2f} "
              f"{statistics.median(loads[(name, 'pair')]):10.2f} {notices[name]:6d}")
    print("(x alone: median of each pair member's rate / median alone; the worst member "
          "of every pair is in the min)")


def _counts(text: str) -> list[tuple[int, float]]:
    """"0,1,2,1@0.5" -> [(0, 1.0), (1, 1.0), (2, 1.0), (1, 0.5)]: neighbours, busy fraction."""
    try:
        return [(int(n), float(duty or 1)) for n, _, duty in
                (item.partition("@") for item in text.split(","))]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 0,1,2 or 1@0.5, not {text!r}"
                                         ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sections' options (shared with bench/engine.py)."""
    parser.add_argument("--busy", type=_counts, metavar="N[,N…]",
                        help="run the thread-policy section with these numbers of busy "
                             "neighbours, e.g. 0,1,2; 1@0.5: one busy half of every 10 ms")
    parser.add_argument("--pair", action="store_true",
                        help="run the two-processes-at-once section")
    parser.add_argument("--thread-rounds", type=int, default=5,
                        help="interleaved rounds of the --busy and --pair sections")
    parser.add_argument("--thread-reps", type=int, default=2,
                        help="answers per child process in the --busy section")
    parser.add_argument("--thread-tokens", type=int, default=64,
                        help="tokens per answer in the --busy section")
    parser.add_argument("--budget", type=float, default=6.0,
                        help="seconds after which an answer of the --busy section is cut")
    parser.add_argument("--pair-tokens", type=int, default=128)
    parser.add_argument("--pair-budget", type=float, default=30.0)
    parser.add_argument("--policy", default="{}", help=argparse.SUPPRESS)


def run_sections(args: argparse.Namespace) -> None:
    """The sections asked for on the command line."""
    if args.busy is not None:
        busy_section(args, args.busy)
    if args.pair:
        pair_section(args)


WORKERS = {"raw": worker_raw, "engine": worker_engine, "pair": worker_pair}


def main() -> None:
    parser = argparse.ArgumentParser(description="talu-chat: thread policy and core sharing")
    parser.add_argument("--model", type=Path, default=bundled_model_path())
    parser.add_argument("--reps", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=available_cores())
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    add_arguments(parser)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return
    if args.busy is None and not args.pair:
        args.busy, args.pair = _counts("0,1,2"), True
    run_sections(args)
    print("\nreproduce: .venv/bin/python bench/threads.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
