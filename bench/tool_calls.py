"""Tool-call benchmark: what the engine adds to one step of the model → tool → model loop.

- MCP: a tool call's round trip to a real MCP server over stdio (tests/support/mcp_server.py)
  against the tool's own run time (it sleeps S seconds), beside the same sleep as an
  in-process function tool (`tool_from_function`): overhead = median wall time - S.
- Assembly: joining a streamed call's pieces and checking its arguments against the schema.
- Local: building and compiling the GBNF grammar of a required call (once per forced step).

Prints medians; the ratios compare against the function tool measured in this same run. Not a
pass/fail test.

    .venv/bin/python bench/tool_calls.py [--reps 30] [--sleep 0.05]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import timed  # noqa: E402
from engine import (  # noqa: E402 - after the path insert above
    MCPClient,
    MCPServerConfig,
    Tool,
    ToolCallAssembler,
    tool_from_function,
)


def sleep_for(seconds: float) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return "slept"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--sleep", type=float, default=0.05)
    args = parser.parse_args()

    local = tool_from_function(sleep_for)
    config = MCPServerConfig(command=sys.executable, args=("-m", "tests.support.mcp_server"),
                             cwd=str(ROOT))
    with MCPClient({"t": config}, log_dir=Path("/tmp/talu-bench-mcp")) as client:
        start = time.perf_counter()
        client.list_tools()
        started = time.perf_counter() - start
        client.call_tool("t__add", {"a": 1, "b": 2})  # warm
        print(f"MCP server start + tools/list: {started * 1000:.0f} ms (once per server)")
        print(f"{'tool run time':>14} | {'function tool':>14} | {'MCP over stdio':>14} | "
              f"{'MCP overhead':>12} | ratio")
        for seconds in (0.0, args.sleep):
            fn_times = timed(lambda s=seconds: local.run({"seconds": s}), args.reps)
            mcp_times = timed(lambda s=seconds: client.call_tool("t__sleep", {"seconds": s}),
                              args.reps)
            fn_ms, mcp_ms = median_ms(fn_times), median_ms(mcp_times)
            print(f"{seconds * 1000:>11.0f} ms | {fn_ms:>11.2f} ms | {mcp_ms:>11.2f} ms | "
                  f"{mcp_ms - seconds * 1000:>9.2f} ms | {mcp_ms / fn_ms:.2f}x")

    schema = {"type": "object", "properties": {"city": {"type": "string"},
                                               "days": {"type": "integer"}},
              "required": ["city"]}
    tool = Tool("forecast", "The forecast.", schema)
    arguments = '{"city": "Paris", "days": 3}'

    def assemble() -> None:
        calls = ToolCallAssembler()
        calls.add(0, "call_1", "forecast", "")
        for i in range(0, len(arguments), 4):
            calls.add(0, None, None, arguments[i:i + 4])
        assert calls.finish([tool])[0].valid

    assemble()
    print(f"assembling + checking one streamed call ({len(arguments) // 4 + 1} pieces): "
          f"{median_ms(timed(assemble, args.reps * 10)) * 1000:.0f} µs")

    from llama_cpp.llama_grammar import LlamaGrammar

    from engine.tool_prompt import call_grammar

    grammar_times = timed(lambda: LlamaGrammar.from_string(call_grammar([tool], "required"),
                                                           verbose=False), args.reps)
    print(f"local: grammar of a required call, built and compiled: "
          f"{median_ms(grammar_times):.2f} ms")


if __name__ == "__main__":
    main()
