"""Tool-loop benchmark: what one model → tool → model step costs beyond the tool itself.

The conversation service runs a real turn against the scripted OpenAI-compatible server: the
model calls a function tool that sleeps S seconds, then answers. Measured per step: the time
from the call's final chunk (the step's `TurnFinished`) to the server reading the next request,
minus the tool's own run time — storing the call, approving (preapproved here), running the
tool on a worker thread, storing the result and sending the next request. Medians (min–max) of
`--reps` turns, for S = 0 and S = --sleep. Not a pass/fail test.

    .venv/bin/python bench/tool_loop.py [--reps 20] [--sleep 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.context import AppContext  # noqa: E402 - after the path insert above
from app.service import TurnFinished, TurnToolResult  # noqa: E402
from app.service.toolbox import Toolbox  # noqa: E402
from app.settings import load_settings  # noqa: E402
from engine import tool_from_function  # noqa: E402
from tests.support.openai_server import CallReply, Reply, openai_server  # noqa: E402


def sleep_for(seconds: float) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return "slept"


async def one_turn(ctx: AppContext, server: object, seconds: float) -> tuple[float, float]:
    """(seconds from the call's final chunk to the next request, the tool's run time)."""
    service = ctx.service()
    session = service.new_session(model_ref="peer::echo")
    tool = tool_from_function(sleep_for)
    toolbox = Toolbox({tool.name: tool}, preapproved=frozenset({tool.name}))
    server.enqueue(  # type: ignore[attr-defined]
        Reply(text="", tool_calls=(CallReply("sleep_for", f'{{"seconds": {seconds}}}'),)),
        Reply(text="Done."))
    finished_at = ran_at = 0.0
    async for event in service.send(session.id, "Sleep, please.", toolbox=toolbox).events():
        if isinstance(event, TurnFinished) and not finished_at:
            finished_at = time.monotonic()
        elif isinstance(event, TurnToolResult):
            ran_at = time.monotonic()
    next_request = server.chat_requests[-1].received_at  # type: ignore[attr-defined]
    return next_request - finished_at, ran_at - finished_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--sleep", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="talu-tool-loop-") as root, openai_server() as server:
        for name, value in server.env("peer").items():
            os.environ[name] = value
        ctx = AppContext(settings=load_settings(data_dir=Path(root)))
        print(f"== one tool step through the conversation service: {args.reps} turns, "
              "median (min–max) ==")
        print(f"{'tool sleeps':>11} | {'final chunk → next request':>27} | "
              f"{'of which the tool + storing':>28} | {'loop overhead':>14}")
        for seconds in (0.0, args.sleep):
            gaps, runs = [], []
            for _ in range(args.reps):
                gap, ran = asyncio.run(one_turn(ctx, server, seconds))
                gaps.append(gap)
                runs.append(ran)
            overhead = [g - seconds for g in gaps]
            print(f"{seconds * 1000:>8.0f} ms | {_ms(gaps):>27} | {_ms(runs):>28} | "
                  f"{statistics.median(overhead) * 1000:>11.1f} ms")
        ctx.service().close()
    print("\nreproduce: .venv/bin/python bench/tool_loop.py " + " ".join(sys.argv[1:]))


def _ms(values: list[float]) -> str:
    return (f"{statistics.median(values) * 1000:.1f} ({min(values) * 1000:.1f}–"
            f"{max(values) * 1000:.1f}) ms")


if __name__ == "__main__":
    main()
