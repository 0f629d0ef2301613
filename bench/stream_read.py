"""What reading an endpoint's streamed answer costs the process, and its event loop.

The scripted OpenAI-compatible server (tests/support/openai_server.py, in this process) streams
a ~1,500-piece answer at fixed rates; a child process reads it, interleaved, in two ways:

- ``engine``: `OpenAIBackend.stream`, as every talu-chat command reads an answer (the SDK's
  blocking client on a thread of its own, pieces handed to the event loop a few at a time);
- ``async-sdk``: the SDK's async client read on the event loop (how talu-chat read answers
  before), the same raw JSON events.

Reported per way and rate: the child's CPU seconds per 1,000 pieces (all its threads), the
event loop thread's share of them, and how late the pieces reach the loop (median and max of
arrival on the loop minus the server's send time). CPU is counted from the first piece to the
end. Medians of --reps runs (min–max).

    .venv/bin/python bench/stream_read.py [--reps 5] [--rates 100,300,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.openai_server import OpenAIServer, Reply, openai_server

MODEL = "m"
WAYS = ("engine", "async-sdk")


def answer(pieces: int = 1500) -> str:
    """The streamed answer: `pieces` short words, one SSE event each."""
    return " ".join(f"w{i}" for i in range(pieces))


async def _read_engine(base_url: str) -> list[float]:
    from pydantic import SecretStr

    from engine import EndpointConfig, GenerationConfig, Message
    from engine.openai_backend import OpenAIBackend

    backend = OpenAIBackend("bench", EndpointConfig(base_url=base_url, api_key=SecretStr("k"),
                                                    max_retries=0))
    arrived = []
    async for chunk in backend.stream(MODEL, [Message("user", "hi")], GenerationConfig()):
        if chunk.text:
            arrived.append(time.monotonic())
            if len(arrived) == 1:
                _start_clocks()
    await backend.aclose()
    return arrived


async def _read_async_sdk(base_url: str) -> list[float]:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    stream = await client.post("/chat/completions", cast_to=object, body=body, stream=True,
                               stream_cls=openai.AsyncStream[object])
    arrived = []
    async for event in stream:
        choices = event.get("choices") if isinstance(event, dict) else None
        if choices and choices[0].get("delta", {}).get("content"):
            arrived.append(time.monotonic())
            if len(arrived) == 1:
                _start_clocks()
    await client.close()
    return arrived


_clocks: list[float] = []


def _start_clocks() -> None:
    _clocks[:] = [time.process_time(), time.thread_time()]


def child(way: str, base_url: str) -> None:
    """Read one answer; print {"cpu": …, "loop": …, "arrived": […]} (seconds)."""
    read = _read_engine if way == "engine" else _read_async_sdk
    arrived = asyncio.run(read(base_url))
    print(json.dumps({"cpu": time.process_time() - _clocks[0],
                      "loop": time.thread_time() - _clocks[1], "arrived": arrived}))


def run(way: str, server: OpenAIServer, rate: float) -> dict[str, float]:
    """One answer read in a child process `way`: its CPU and lateness per 1,000 pieces."""
    server.script(MODEL, Reply(text=answer(), rate=rate))
    out = subprocess.run([sys.executable, __file__, "--child", way, server.base_url],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    sent = server.chat_requests[-1].sent_at
    pieces = len(result["arrived"])
    late = [a - s for a, s in zip(result["arrived"], sent, strict=False)]
    return {"cpu": result["cpu"] / pieces * 1000, "loop": result["loop"] / pieces * 1000,
            "late_median": statistics.median(late), "late_max": max(late)}


def spread(values: list[float], fmt: str = "{:.3f}") -> str:
    return (f"{fmt.format(statistics.median(values))} "
            f"({fmt.format(min(values))}–{fmt.format(max(values))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--rates", default="100,300,1000")
    parser.add_argument("--child", nargs=2, metavar=("WAY", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rates = [float(r) for r in args.rates.split(",") if r]
    results: dict[tuple[float, str], list[dict[str, float]]] = {}
    with openai_server((MODEL,)) as server:
        for rep in range(args.reps):
            for rate in rates:
                for way in WAYS:
                    results.setdefault((rate, way), []).append(run(way, server, rate))
            print(f"  rep {rep + 1} done", file=sys.stderr)
    print(f"Reading a {len(answer().split())}-piece streamed answer; median of {args.reps} "
          "(min–max)")
    print(f"{'rate':>7} {'way':>10} {'CPU s / 1k pieces':>22} {'loop s / 1k':>22} "
          f"{'late median s':>22} {'late max s':>22}")
    for (rate, way), runs in results.items():
        print(f"{rate:>6.0f}/s {way:>10} {spread([r['cpu'] for r in runs]):>22} "
              f"{spread([r['loop'] for r in runs]):>22} "
              f"{spread([r['late_median'] for r in runs]):>22} "
              f"{spread([r['late_max'] for r in runs]):>22}")


if __name__ == "__main__":
    main()
