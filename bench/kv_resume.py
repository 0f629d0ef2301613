"""Resume after a restart: TTFT of a session's first turn in a new process, with the session's
saved KV state, against the warm turn in the process that wrote it and a cold new process.

Each round runs three child processes on one ~2,000-token conversation:
  save    loads the model, answers the history with the session's cache key (the state is
          saved), then asks the next question in the same process: the warm TTFT;
  resume  a new process on a copy of that cache: loads the model (model load, reported
          beside), then asks the same next question: the resumed TTFT;
  cold    a new process with no cache: the same question, the whole history evaluated.
TTFT is counted from the loaded model (the engine's metrics: turn start to first token).
Target: resumed ≤ 1.5 × warm. Figures, not a pass/fail test. Part of bench/engine.py's run;
also runs alone:

    .venv/bin/python bench/kv_resume.py [--rounds 3] [--history-tokens 2000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import Engine, EngineConfig, LocalConfig, Message
from engine.config import available_cores
from engine.refs import bundled_model_path

KEY = "bench-session"
TOPICS = ["lighthouses", "tides", "bread", "clocks", "deserts", "rivers", "bees", "glass",
          "maps", "violins", "salt", "kites", "volcanoes", "owls", "paper", "trains"]
NEXT_QUESTION = "Thanks. Which of these topics should I read about first, and why?"


def _engine(args: argparse.Namespace, cache: Path | None) -> Engine:
    return Engine(EngineConfig(local=LocalConfig(
        n_ctx=args.n_ctx, n_threads=args.threads, kv_cache_dir=cache,
        kv_cache_mb=4096 if cache else 0)))


def _loaded(engine: Engine, model: Path) -> Any:
    backend: Any = engine.backend_for(engine.resolve(str(model)))
    loaded = backend.pool.acquire(model.resolve())
    backend.pool.release(loaded)
    return loaded


def _prepare(engine: Engine, model: Path) -> float:
    """Load the model; seconds taken."""
    import asyncio

    started = time.perf_counter()
    asyncio.run(engine.prepare(str(model)))
    return time.perf_counter() - started


def build_history(engine: Engine, model: Path, tokens: int) -> list[Message]:
    """A system prompt and alternating turns whose prompt is about `tokens` tokens."""
    loaded = _loaded(engine, model)
    messages = [Message("system", "You are a patient assistant who answers in detail.")]
    i = 0
    while True:
        topic = TOPICS[i % len(TOPICS)]
        question = Message("user", f"Question {i + 1}: tell me about {topic}, briefly.")
        answer = Message("assistant", f"About {topic}: " + " ".join(
            f"Point {j + 1} on {topic} is that people have studied them for centuries, "
            f"and each study of {topic} added something new." for j in range(4)))
        size = len(loaded.render([*messages, question, answer])[0])
        if size > tokens:
            break
        messages += [question, answer]
        i += 1
    return [*messages, Message("user", f"Question {i + 1}: and what about {TOPICS[0]}?")]


def _turn(engine: Engine, model: Path, messages: list[Message], key: str | None,
          max_tokens: int) -> tuple[str, Any]:
    chunks = list(engine.stream_sync(str(model), messages,
                                     {"max_tokens": max_tokens, "temperature": 0},
                                     cache_key=key))
    final = chunks[-1]
    if final.finish_reason not in ("stop", "length"):
        raise SystemExit(f"turn failed: {final.error}")
    return "".join(c.text for c in chunks), final


def worker_save(args: argparse.Namespace) -> dict[str, Any]:
    """Answer the history (state saved), then the next question warm in this process."""
    from engine import kv_state

    cache = Path(args.cache)
    engine = _engine(args, cache)
    load_s = _prepare(engine, args.model)
    history = build_history(engine, args.model, args.history_tokens)
    answer, first = _turn(engine, args.model, history, KEY, 16)
    loaded = _loaded(engine, args.model)
    with loaded.lock:  # the state is written after the last chunk, holding the model
        pass
    follow = [*history, Message("assistant", answer), Message("user", NEXT_QUESTION)]
    # The warm turn passes no key, so the saved state stays the one a restart would find.
    _, warm = _turn(engine, args.model, follow, None, 8)
    [state] = list(cache.glob("*.kvstate"))
    size = state.stat().st_size
    with loaded.lock:  # time one more save of the same size, for the table
        started = time.perf_counter()
        kv_state.save(loaded.llm, engine.states, KEY + "-timing", loaded.fingerprint)
        save_s = time.perf_counter() - started
    engine.close()
    (cache.parent / "conversation.json").write_text(json.dumps(
        [[m.role, m.content] for m in follow]))
    return {"load": load_s, "warm": warm.metrics.ttft_s, "first": first.metrics.ttft_s,
            "prompt": warm.usage.prompt_tokens, "history": first.usage.prompt_tokens,
            "state_bytes": size, "save": save_s}


def _follow(args: argparse.Namespace) -> list[Message]:
    rows = json.loads((Path(args.cache).parent / "conversation.json").read_text())
    return [Message(role, content) for role, content in rows]


def worker_resume(args: argparse.Namespace) -> dict[str, Any]:
    """A new process: load the model, then the next question from the saved state."""
    from engine import kv_state

    restore = kv_state.restore
    timing: dict[str, float] = {}

    def timed_restore(*a: Any, **kw: Any) -> int:
        started = time.perf_counter()
        covered = restore(*a, **kw)
        timing.update(restore=time.perf_counter() - started, covered=covered)
        return covered

    kv_state.restore = timed_restore  # type: ignore[assignment]
    engine = _engine(args, Path(args.cache))
    load_s = _prepare(engine, args.model)
    _, final = _turn(engine, args.model, _follow(args), KEY, 8)
    engine.close()
    return {"load": load_s, "ttft": final.metrics.ttft_s, "prompt": final.usage.prompt_tokens,
            "restore": timing.get("restore"), "covered": timing.get("covered")}


def worker_cold(args: argparse.Namespace) -> dict[str, Any]:
    """A new process without a cache: the whole history is evaluated."""
    engine = _engine(args, None)
    load_s = _prepare(engine, args.model)
    _, final = _turn(engine, args.model, _follow(args), KEY, 8)
    engine.close()
    return {"load": load_s, "ttft": final.metrics.ttft_s, "prompt": final.usage.prompt_tokens}


WORKERS = {"save": worker_save, "resume": worker_resume, "cold": worker_cold}


def _child(kind: str, args: argparse.Namespace, cache: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", kind, "--model", str(args.model),
           "--n-ctx", str(args.n_ctx), "--threads", str(args.threads),
           "--history-tokens", str(args.history_tokens), "--cache", str(cache)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_section(args: argparse.Namespace) -> None:
    """Run the rounds in child processes and print the table."""
    rows: dict[str, list[dict[str, Any]]] = {"save": [], "resume": [], "cold": []}
    for rnd in range(args.resume_rounds):
        with tempfile.TemporaryDirectory(prefix="talu-kv-bench-") as tmp:
            saved = Path(tmp) / "saved" / "kv-cache"
            rows["save"].append(_child("save", args, saved))
            for kind in (("resume", "cold") if rnd % 2 == 0 else ("cold", "resume")):
                # Each resume starts from the state the save child wrote (a resumed turn
                # saves its own state at the end).
                run_dir = Path(tmp) / f"{kind}-{rnd}" / "kv-cache"
                shutil.copytree(saved.parent, run_dir.parent)
                rows[kind].append(_child(kind, args, run_dir))

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in rows[kind])

    def spread(kind: str, key: str) -> str:
        values = [r[key] * 1000 for r in rows[kind]]
        return f"{min(values):.0f}–{max(values):.0f}"

    warm = med("save", "warm")
    print(f"\n== resume after a restart: {med('save', 'prompt'):.0f}-token prompt "
          f"({med('save', 'history'):.0f}-token history), medians of {args.resume_rounds} "
          "rounds ==")
    print(f"{'':34} {'TTFT ms':>8} {'range':>12} {'x warm':>7}")
    for label, kind, key in (("warm (same process)", "save", "warm"),
                             ("resumed (new process, saved state)", "resume", "ttft"),
                             ("cold (new process, no state)", "cold", "ttft")):
        print(f"{label:34} {med(kind, key) * 1000:8.0f} {spread(kind, key):>12} "
              f"{med(kind, key) / warm:7.2f}")
    print(f"model load (new process, beside the TTFT): {med('resume', 'load') * 1000:.0f} ms; "
          f"state file {med('save', 'state_bytes') / 2**20:.1f} MiB, read + loaded in "
          f"{med('resume', 'restore') * 1000:.0f} ms ({med('resume', 'covered'):.0f} prompt "
          f"tokens covered), written in {med('save', 'save') * 1000:.0f} ms after the answer")
    ratio = med("resume", "ttft") / warm
    print(f"target resumed <= 1.5 x warm: x{ratio:.2f} "
          f"({'met' if ratio <= 1.5 else 'NOT met'})")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The section's options (shared with bench/engine.py)."""
    parser.add_argument("--resume-rounds", type=int, default=3,
                        help="rounds of the resume-after-restart section (0: skip it)")
    parser.add_argument("--history-tokens", type=int, default=2000,
                        help="history size of the resume section, in tokens")


def main() -> None:
    parser = argparse.ArgumentParser(description="talu-chat: resume after a restart")
    parser.add_argument("--model", type=Path, default=bundled_model_path())
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=available_cores())
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    add_arguments(parser)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return
    print(f"model {args.model.name}, n_ctx {args.n_ctx}, threads {args.threads}")
    run_section(args)


if __name__ == "__main__":
    main()
