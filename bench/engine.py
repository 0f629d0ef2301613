"""Engine benchmark: decode speed and time to first token of talu-chat's engine against a raw
llama-cpp-python loop on the same GGUF file and threads, and TTFT by turn over a 10-turn chat;
then TTFT of a session's first turn after a restart, from its saved KV state (bench/kv_resume.py).

Prints medians; ratios compare against the raw loop measured in this same run. Each side runs
in its own child process, alternating, because llama.cpp's OpenMP thread teams slow each other
down when two threads of one process decode in turn (the app only ever decodes on its worker
thread). Not a pass/fail test.

    .venv/bin/python bench/engine.py [--model PATH] [--rounds 3] [--reps 3] [--tokens 128]
                                     [--resume-rounds 3] [--history-tokens 2000]

With --busy N[,N…] and/or --pair, only the thread-policy sections run instead (bench/threads.py:
every policy against the raw loop beside N busy processes; two processes decoding at once).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import kv_resume
from bench import threads as thread_sections
from engine import Engine, EngineConfig, LocalConfig, Message
from engine.config import available_cores
from engine.refs import bundled_model_path

PROMPTS = [
    "Write a long story about a lighthouse keeper and a storm.",
    "Explain in detail how bread is made, step by step.",
    "Describe a journey across a desert, at length.",
    "Tell a long tale about a clockmaker's apprentice.",
]
QUESTIONS = ["Name a fruit.", "What colour is it?", "Where does it grow?", "Name another fruit.",
             "Which is sweeter?", "Give a recipe idea.", "How long does it take?",
             "What drink goes with it?", "Name a vegetable.", "Summarise our chat."]


def engine_for(args: argparse.Namespace) -> Engine:
    return Engine(EngineConfig(local=LocalConfig(n_ctx=args.n_ctx, n_threads=args.threads)))


def worker_raw(args: argparse.Namespace) -> list[dict]:
    """A plain create_completion loop on the main thread: the baseline."""
    from llama_cpp import Llama

    engine = engine_for(args)  # only to render prompts with the same chat template
    resolved = engine.resolve(str(args.model))
    loaded = engine.backend_for(resolved).pool.acquire(Path(resolved.model))
    llm = Llama(model_path=str(args.model), n_ctx=args.n_ctx, n_threads=args.threads,
                n_threads_batch=args.threads, verbose=False)
    results = []
    for i in range(args.reps + 1):
        tokens, stop = loaded.render([Message("user", PROMPTS[i % len(PROMPTS)])])
        llm.reset()
        start = time.perf_counter()
        first, n = None, 0
        for part in llm.create_completion(tokens, max_tokens=args.tokens, temperature=0,
                                          stop=stop, stream=True):
            if part["choices"][0]["text"]:
                n += 1
                first = first or time.perf_counter()
        end = time.perf_counter()
        if i and first:  # the first run warms up
            results.append({"ttft": first - start, "tps": (n - 1) / (end - first), "n": n})
    return results


def _engine_turn(engine: Engine, messages: list[Message], max_tokens: int) -> tuple[str, object]:
    text, final = [], None
    for chunk in engine.stream_sync(str(engine.model_ref), messages,  # type: ignore[attr-defined]
                                    {"max_tokens": max_tokens, "temperature": 0}):
        text.append(chunk.text)
        final = chunk
    return "".join(text), final


def _reset_cache(engine: Engine) -> None:
    backend = engine.backend_for(engine.resolve(engine.model_ref))  # type: ignore[attr-defined]
    for path in backend.pool.loaded():
        model = backend.pool.acquire(path)
        model.llm.reset()
        backend.pool.release(model)


def worker_engine(args: argparse.Namespace) -> list[dict]:
    """The same prompts through Engine.stream_sync (decode on the engine's worker thread)."""
    engine = engine_for(args)
    engine.model_ref = str(args.model)  # type: ignore[attr-defined]
    results = []
    for i in range(args.reps + 1):
        _reset_cache(engine)
        _, final = _engine_turn(engine, [Message("user", PROMPTS[i % len(PROMPTS)])], args.tokens)
        m = final.metrics  # type: ignore[union-attr]
        if i:
            results.append({"ttft": m.ttft_s, "tps": m.tokens_per_s,
                            "n": final.usage.completion_tokens})  # type: ignore[union-attr]
    engine.close()
    return results


def worker_turns(args: argparse.Namespace) -> list[dict]:
    """TTFT by turn of a growing chat: with the KV prefix reused, and cold (cache reset)."""
    engine = engine_for(args)
    engine.model_ref = str(args.model)  # type: ignore[attr-defined]
    _engine_turn(engine, [Message("user", "Hi")], 2)
    history = [Message("system", "You are a concise assistant.")]
    rows = []
    for turn in range(args.turns):
        history.append(Message("user", QUESTIONS[turn % len(QUESTIONS)]))
        _reset_cache(engine)
        _engine_turn(engine, [*history[:-1], Message("user", "x")], 1)  # cache the history only
        text, warm = _engine_turn(engine, history, 48)
        _reset_cache(engine)
        _, cold = _engine_turn(engine, history, 1)
        rows.append({"turn": turn + 1, "prompt": warm.usage.prompt_tokens,  # type: ignore
                     "warm": warm.metrics.ttft_s, "cold": cold.metrics.ttft_s})  # type: ignore
        history.append(Message("assistant", text))
    engine.close()
    return rows


def child(kind: str, args: argparse.Namespace) -> list[dict]:
    cmd = [sys.executable, __file__, "--worker", kind, "--model", str(args.model), "--reps",
           str(args.reps), "--tokens", str(args.tokens), "--turns", str(args.turns),
           "--n-ctx", str(args.n_ctx), "--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description="talu-chat engine benchmark")
    parser.add_argument("--model", type=Path, default=bundled_model_path())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=available_cores())
    kv_resume.add_arguments(parser)
    thread_sections.add_arguments(parser)
    parser.add_argument("--worker", choices=["raw", "engine", "turns"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work = {"raw": worker_raw, "engine": worker_engine, "turns": worker_turns}
        print(json.dumps(work[args.worker](args)))
        return
    if args.busy is not None or args.pair:
        thread_sections.run_sections(args)
        print("\nreproduce: .venv/bin/python bench/engine.py " + " ".join(sys.argv[1:]))
        return

    print(f"model {args.model.name}, n_ctx {args.n_ctx}, threads {args.threads}, "
          f"{args.rounds} rounds x {args.reps} reps x {args.tokens} tokens, temperature 0")
    results: dict[str, list[dict]] = {"raw": [], "engine": []}
    for rnd in range(args.rounds):
        for kind in (("raw", "engine") if rnd % 2 == 0 else ("engine", "raw")):
            results[kind] += child(kind, args)

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind])

    print("\n== one turn, cold cache (medians) ==")
    print(f"{'':28} {'TTFT ms':>9} {'decode tok/s':>13} {'tokens':>7}")
    for kind, label in (("raw", "raw llama-cpp-python loop"), ("engine", "talu-chat engine")):
        print(f"{label:28} {med(kind, 'ttft') * 1000:9.1f} {med(kind, 'tps'):13.1f} "
              f"{med(kind, 'n'):7.0f}")
    print(f"engine / raw: TTFT x{med('engine', 'ttft') / med('raw', 'ttft'):.2f}, "
          f"decode tok/s x{med('engine', 'tps') / med('raw', 'tps'):.2f}")

    rows = child("turns", args)
    print(f"\n== TTFT by turn over a {args.turns}-turn chat: KV prefix reused vs cold cache ==")
    print(f"{'turn':>4} {'prompt tok':>10} {'reused ms':>10} {'cold ms':>9} {'ratio':>6}")
    for row in rows:
        print(f"{row['turn']:4d} {row['prompt']:10d} {row['warm'] * 1000:10.1f} "
              f"{row['cold'] * 1000:9.1f} {row['warm'] / row['cold']:6.2f}")
    if args.resume_rounds:
        kv_resume.run_section(args)
    print("\nreproduce: .venv/bin/python bench/engine.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
