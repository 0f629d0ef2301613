"""Continue benchmark: what continuing a cut answer costs on the bundled model.

A conversation of a few hundred prompt tokens gets an answer cut at N tokens (max_tokens),
then `Engine.stream(…, prefix=<the cut answer>)` continues it by N more. Compared in the same
run: the time to the first token of the continuation against that of the first answer (the
continuation's prompt is the first one plus the cut answer: the model's in-memory cache covers
it), and "cut at N + continue N" against one answer of 2N. Medians (min–max) of `--reps`.
Not a pass/fail test.

    .venv/bin/python bench/continue_answer.py [--reps 5] [--tokens 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import Engine, EngineConfig, LocalConfig, Message  # noqa: E402 - after the path

REF = "local::smollm2"
HISTORY = [Message("system", "You are a patient teacher. " * 20)] + [
    Message(role, f"{'Question' if role == 'user' else 'Answer'} {i}: " + "Tell me more. " * 12)
    for i in range(4) for role in ("user", "assistant")  # type: ignore[misc]
] + [Message("user", "Explain how a bicycle stays upright, step by step.")]


async def answer(engine: Engine, tokens: int, prefix: str = "") -> tuple[str, float, float]:
    """(text, seconds to the first token, total seconds) of one answer."""
    parts: list[str] = []
    ttft = total = 0.0
    async for chunk in engine.stream(REF, HISTORY, {"max_tokens": tokens, "temperature": 0},
                                     cache_key="bench-continue", prefix=prefix):
        parts.append(chunk.text)
        if chunk.done and chunk.metrics is not None:
            ttft, total = chunk.metrics.ttft_s or 0.0, chunk.metrics.total_s or 0.0
    return "".join(parts), ttft, total


async def run(reps: int, tokens: int) -> None:
    engine = Engine(EngineConfig(local=LocalConfig(n_threads=1)))
    try:
        await answer(engine, 2)  # load the model
        first_ttft, cont_ttft, split_total, whole_total = [], [], [], []
        for _ in range(reps):
            cut, ttft, total = await answer(engine, tokens)
            _, ttft2, total2 = await answer(engine, tokens, prefix=cut)
            _, _, whole = await answer(engine, 2 * tokens)
            first_ttft.append(ttft)
            cont_ttft.append(ttft2)
            split_total.append(total + total2)
            whole_total.append(whole)
    finally:
        await engine.aclose()
    print(f"== continuing a cut answer on {REF}: {reps} reps, N = {tokens} tokens, "
          "median (min–max) ==")
    print(f"time to first token, first answer     {_ms(first_ttft)}")
    print(f"time to first token, continuation     {_ms(cont_ttft)}  "
          f"(ratio {statistics.median(cont_ttft) / statistics.median(first_ttft):.2f})")
    print(f"cut at N + continue N, total          {_ms(split_total)}")
    print(f"one answer of 2N, total               {_ms(whole_total)}  "
          f"(ratio {statistics.median(split_total) / statistics.median(whole_total):.2f})")


def _ms(values: list[float]) -> str:
    return (f"{statistics.median(values) * 1000:7.1f} ms "
            f"({min(values) * 1000:.1f}–{max(values) * 1000:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(run(args.reps, args.tokens))


if __name__ == "__main__":
    main()
