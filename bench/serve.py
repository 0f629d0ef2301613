"""`talu-chat serve` against `llama_cpp.server` on the same GGUF: 1, 4 and 16 concurrent
streaming clients, one server after the other in the same run.

Each client streams one raw completion (`/v1/completions`, a counting prompt that does not
stop on its own, temperature 0) of `--tokens` tokens. Per level: TTFT p50/p95 (send → first
piece), tokens/s per client (tokens ÷ first piece → last), total tokens/s (all tokens ÷ the
round's wall time) and errors — a failed request, or a stream that ends before `--tokens`
pieces with finish_reason "length" (a stream shorter than requested is an error). Medians of
`--rounds` rounds, each server started twice in the order A B B A (its rounds split between
its two runs) so that a load drifting during the run weighs on both alike. Both servers get
the same threads and context; llama_cpp.server runs with `--interrupt_requests false`
(otherwise a new request cuts the running stream short), talu-chat serve with `--queue 16`.
Target: no errors, total tokens/s ≥ 0.95× llama_cpp.server.

    .venv/bin/python bench/serve.py [--threads 1] [--tokens 48] [--rounds 4] [--levels 1,4,16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.refs import bundled_model_path  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

PROMPT = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"
N_CTX = 2048


@dataclass
class Result:
    """One streamed request."""

    ttft_s: float | None
    tokens: int
    decode_s: float
    error: str | None


@contextmanager
def talu_server(threads: int, queue: int) -> Iterator[tuple[str, str]]:
    port = free_port()
    env = {**os.environ, "TALU_CHAT_LOCAL__N_THREADS": str(threads),
           "TALU_CHAT_LOCAL__N_CTX": str(N_CTX)}
    command = [str(ROOT / ".venv" / "bin" / "talu-chat"), "serve", "--port", str(port),
               "--model", "local::smollm2", "--queue", str(queue)]
    with _process(command, env, port) as url:
        yield url, "local::smollm2"


@contextmanager
def llama_server(threads: int) -> Iterator[tuple[str, str]]:
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()),
               "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
               "--n_threads", str(threads), "--n_threads_batch", str(threads),
               "--n_ctx", str(N_CTX), "--interrupt_requests", "false"]
    with _process(command, dict(os.environ), port) as url:
        yield url, "smollm2"


@contextmanager
def _process(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{command[0]} exited with {process.returncode}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{' '.join(command[:3])} did not start")
            time.sleep(0.3)
        yield url
    finally:
        if process.poll() is not None:  # it died: say why
            log.seek(0)
            tail = log.read().decode(errors="replace").splitlines()[-5:]
            print(f"{command[2]} exited with {process.returncode}:", *tail, sep="\n  ",
                  file=sys.stderr)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def one(client: httpx.AsyncClient, model: str, tokens: int) -> Result:
    body = {"model": model, "prompt": PROMPT, "max_tokens": tokens, "temperature": 0,
            "stream": True}
    sent = time.perf_counter()
    first = last = None
    pieces = 0
    finish = None
    try:
        async with client.stream("POST", "/v1/completions", json=body) as response:
            if response.status_code != 200:
                return Result(None, 0, 0.0, f"status {response.status_code}")
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if "error" in event:
                    return Result(None, pieces, 0.0, "error event")
                for choice in event.get("choices", []):
                    if choice.get("text"):
                        now = time.perf_counter()
                        first = first or now
                        last = now
                        pieces += 1
                    finish = choice.get("finish_reason") or finish
    except httpx.HTTPError as exc:
        return Result(None, pieces, 0.0, type(exc).__name__)
    ttft = (first - sent) if first else None
    decode = (last - first) if first and last else 0.0
    short = None if pieces >= tokens and finish == "length" else f"short ({pieces}, {finish})"
    return Result(ttft, pieces, decode, short)


async def level(url: str, model: str, clients: int, tokens: int) -> tuple[list[Result], float]:
    limits = httpx.Limits(max_connections=clients + 2)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        started = time.perf_counter()
        results = await asyncio.gather(*(one(client, model, tokens) for _ in range(clients)))
        return list(results), time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(url: str, model: str, levels: list[int], tokens: int,
            rounds: int) -> dict[int, list[dict[str, float]]]:
    """Per level, the figures of each round."""
    asyncio.run(level(url, model, 1, tokens))  # warm up: the model loaded, the prefix cached
    figures: dict[int, list[dict[str, float]]] = {}
    for clients in levels:
        per_round: list[dict[str, float]] = figures.setdefault(clients, [])
        for _ in range(rounds):
            results, wall = asyncio.run(level(url, model, clients, tokens))
            ttfts = [r.ttft_s for r in results if r.ttft_s is not None] or [float("nan")]
            rates = [r.tokens / r.decode_s for r in results if r.decode_s > 0] or [0.0]
            per_round.append({
                "ttft_p50_ms": percentile(ttfts, 0.5) * 1000,
                "ttft_p95_ms": percentile(ttfts, 0.95) * 1000,
                "client_tok_s": statistics.median(rates),
                "total_tok_s": sum(r.tokens for r in results) / wall,
                "errors": float(sum(r.error is not None for r in results)),
            })
            for bad in {r.error for r in results if r.error}:
                print(f"    error: {bad}", file=sys.stderr)
    return figures


def summary(per_round: list[dict[str, float]]) -> dict[str, float]:
    """Medians of the rounds (errors: their sum)."""
    return {key: (sum(r[key] for r in per_round) if key == "errors"
                  else statistics.median(r[key] for r in per_round)) for key in per_round[0]}


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--levels", default="1,4,16")
    parser.add_argument("--queue", type=int, default=16)
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    print(f"model {bundled_model_path().name}, {args.threads} thread(s), {args.tokens} tokens "
          f"a stream, {args.rounds} rounds; load average before: {load()}")
    servers = {"talu-chat serve": lambda: talu_server(args.threads, args.queue),
               "llama_cpp.server": lambda: llama_server(args.threads)}
    rounds: dict[str, dict[int, list[dict[str, float]]]] = {n: {} for n in servers}
    # A, B, B, A: a load that drifts during the run weighs on both servers alike.
    order = list(servers) + list(reversed(servers)) if args.rounds > 1 else list(servers)
    for index, name in enumerate(order):
        share = args.rounds // 2 + (args.rounds % 2 if index < 2 else 0) \
            if args.rounds > 1 else 1
        with servers[name]() as (url, model):
            for clients, figures in measure(url, model, levels, args.tokens, share).items():
                rounds[name].setdefault(clients, []).extend(figures)
    results = {name: {c: summary(r) for c, r in per.items()} for name, per in rounds.items()}
    print(f"load average after: {load()}")
    header = (f"{'server':<18}{'clients':>8}{'ttft p50 ms':>13}{'ttft p95 ms':>13}"
              f"{'tok/s/client':>14}{'tok/s total':>13}{'errors':>8}")
    print(header)
    for name, figures in results.items():
        for clients, f in figures.items():
            print(f"{name:<18}{clients:>8}{f['ttft_p50_ms']:>13.0f}{f['ttft_p95_ms']:>13.0f}"
                  f"{f['client_tok_s']:>14.1f}{f['total_tok_s']:>13.1f}{int(f['errors']):>8}")
    for clients in levels:
        ours = results["talu-chat serve"][clients]["total_tok_s"]
        theirs = results["llama_cpp.server"][clients]["total_tok_s"]
        print(f"{clients:>3} clients: total tok/s ratio talu-chat serve / llama_cpp.server = "
              f"{ours / theirs:.2f}× (target ≥ 0.95×)")


if __name__ == "__main__":
    main()
