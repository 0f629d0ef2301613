"""TUI benchmark: start-up to first paint with a 10,000-session profile, and the whole app's
throughput while a scripted backend streams 10,000 tokens of mixed Markdown as fast as it can.

Both run the real TaluApp headless (120 x 40) on a real SQLite profile. Baselines measured in
the same run: start-up on an empty profile; for streaming, the per-1,000-token cost of the
first block. The answer widget on its own (and Textual's `Markdown.get_stream` baseline) is
measured by bench/tui_render.py. Figures, not a pass/fail test.

    .venv/bin/python bench/tui.py [--sessions 10000] [--tokens 10000] [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from engine import Backend, Capabilities, Chunk, GenerationConfig, Message, Usage
from engine.registry import register_backend
from storage import Session, StoredMessage, new_id, open_profile, utc_now

SIZE = (120, 40)
BLOCK = 1_000


class ScriptedBackend(Backend):
    """Streams a fixed list of tokens as fast as the event loop allows."""

    name = "script"
    tokens: list[str] = []
    rate: float | None = None  # tokens per second; None: as fast as the event loop allows

    def __init__(self, endpoint: str = "script", config: object = None) -> None:
        self.endpoint = endpoint

    async def stream(self, model: str, messages: Sequence[Message],
                     config: GenerationConfig) -> AsyncIterator[Chunk]:
        started = time.perf_counter()
        for i, token in enumerate(self.tokens):
            yield Chunk(text=token)
            if self.rate is not None:
                delay = started + (i + 1) / self.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif i % 4 == 3:
                await asyncio.sleep(0)  # a real stream arrives in network/decode-sized pieces
        yield Chunk(done=True, finish_reason="stop", usage=Usage(10, len(self.tokens)))

    async def list_models(self) -> list:
        return []

    async def health(self) -> dict:
        return {"ok": True, "detail": "scripted"}

    async def capabilities(self, model: str) -> Capabilities:
        return Capabilities()


def fill_profile(data_dir: Path, sessions: int) -> None:
    """A profile of `sessions` sessions with four short messages each (bulk insert)."""
    store = open_profile(data_dir)
    rng = random.Random(1)
    now = utc_now()
    rows, messages = [], []
    for i in range(sessions):
        sid = new_id()
        rows.append(Session(id=sid, title=f"session {i} about {rng.choice(['cats', 'ships'])}",
                            title_is_custom=False, created_at=now, updated_at=now,
                            marker="pinned" if i % 500 == 0 else "normal",
                            model_ref="local::smollm2"))
        for position in range(4):
            messages.append(StoredMessage(
                id=new_id(), session_id=sid, position=position,
                role="user" if position % 2 == 0 else "assistant",
                content=f"message {position} of session {i}", created_at=now))
    store.bulk_insert(rows, messages)
    store.close()


async def startup(data_dir: Path) -> tuple[float, float]:
    """Seconds from constructing the app to its first paint, and until the sidebar and the
    last session's messages are on screen."""
    from app.context import AppContext
    from app.settings import load_settings
    from app.tui.app import TaluApp
    from app.tui.screens.chat import ChatScreen

    started = time.perf_counter()
    app = TaluApp(AppContext(settings=load_settings(data_dir=data_dir)))
    async with app.run_test(size=SIZE) as pilot:
        while not isinstance(app.screen, ChatScreen):
            await pilot.pause(0.001)
        screen = app.screen
        await pilot.pause(0)  # one refresh: the screen is composed and painted
        first_paint = time.perf_counter() - started
        while not (len(screen.sidebar.session_tree.root.children) == 4
                   and (screen.session_id is None or screen.log_view.views())):
            await pilot.pause(0.001)
        ready = time.perf_counter() - started
    return first_paint, ready


async def stream_through_app(data_dir: Path, tokens: list[str],
                             rate: float | None = None) -> dict[str, float | list[float]]:
    """Send one prompt to the scripted backend in the real app: seconds until the whole answer
    is on screen and stored, and this process's CPU time for every 1,000 tokens."""
    from app.context import AppContext
    from app.settings import load_settings
    from app.tui.app import TaluApp
    from app.tui.screens.chat import ChatScreen
    from app.tui.widgets.message_view import MessageView

    ScriptedBackend.tokens, ScriptedBackend.rate = tokens, rate
    app = TaluApp(AppContext(settings=load_settings(data_dir=data_dir,
                                                    default_model="script::bench")))
    marks: list[float] = []
    original = MessageView.append

    def timed_append(view: MessageView, text: str) -> None:
        original(view, text)
        if view._pieces % BLOCK == 0:
            marks.append(time.process_time())
        view._pieces += 1
        if view._pieces == len(tokens):
            marks.append(time.process_time())

    MessageView._pieces = 0  # type: ignore[attr-defined]
    MessageView.append = timed_append  # type: ignore[method-assign]
    try:
        async with app.run_test(size=SIZE) as pilot:
            while not isinstance(app.screen, ChatScreen):
                await pilot.pause(0.01)
            screen = app.screen
            await pilot.pause(0.2)
            screen.prompt.load_text("Write a long answer.")
            started = time.perf_counter()
            await pilot.press("enter")
            while screen.runs or len(screen.log_view.views()) < 2:
                await pilot.pause(0.001)
            view = screen.log_view.views()[-1]
            await view._body.flush()
            await pilot.pause(0)
            done, cpu_done = time.perf_counter(), time.process_time()
            assert view.message.status == "complete", view.message.status
            assert view.text == "".join(tokens)
    finally:
        MessageView.append = original  # type: ignore[method-assign]
    blocks = [b - a for a, b in itertools.pairwise(marks)]
    return {"seconds": done - started, "tok_s": len(tokens) / (done - started),
            "blocks": blocks, "finish": cpu_done - marks[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description="talu-chat TUI benchmark")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--rate", type=float, default=2_000,
                        help="tok/s of the sustained run (the issue's target)")
    args = parser.parse_args()
    os.environ.setdefault("TALU_CHAT_CONFIG_DIR", tempfile.mkdtemp())
    register_backend("script", ScriptedBackend)
    from bench.tui_render import make_tokens

    with tempfile.TemporaryDirectory() as tmp:
        big, empty = Path(tmp) / "big", Path(tmp) / "empty"
        t = time.perf_counter()
        fill_profile(big, args.sessions)
        print(f"profile of {args.sessions:,} sessions ({args.sessions * 4:,} messages) built in "
              f"{time.perf_counter() - t:.1f} s")
        runs = {"empty": [], "big": []}
        for _ in range(args.reps):
            for name, folder in (("empty", empty), ("big", big)):
                runs[name].append(asyncio.run(startup(folder)))
        print(f"\n== start-up, headless {SIZE[0]}x{SIZE[1]} (median of {args.reps}) ==")
        for name, label in (("empty", "empty profile"),
                            ("big", f"{args.sessions:,}-session profile")):
            paint = statistics.median(r[0] for r in runs[name])
            ready = statistics.median(r[1] for r in runs[name])
            print(f"  {label:28} first paint {paint * 1000:7.1f} ms   sidebar + messages "
                  f"{ready * 1000:7.1f} ms")
        ratio = (statistics.median(r[1] for r in runs["big"])
                 / statistics.median(r[1] for r in runs["empty"]))
        print(f"  {args.sessions:,} sessions / empty, until ready: x{ratio:.2f}")

        tokens = make_tokens(args.tokens)
        reps = max(1, args.reps // 2)
        print(f"\n== one {args.tokens:,}-token answer of mixed Markdown from a scripted backend, "
              f"through the whole app: service, SQLite flushes, chat pane (median of {reps}) ==")
        for rate in (None, args.rate):
            results = [asyncio.run(stream_through_app(Path(tmp) / f"s{rate}{i}", tokens, rate))
                       for i in range(reps)]
            results.sort(key=lambda r: r["tok_s"])
            mid = results[len(results) // 2]
            blocks = [statistics.median(col) for col in zip(*(r["blocks"] for r in results),
                                                            strict=False)]
            label = "as fast as it can" if rate is None else f"at {rate:,.0f} tok/s"
            print(f"  fed {label}: displayed {mid['tok_s']:,.0f} tok/s ({mid['seconds']:.2f} s "
                  "until the last token is on screen and stored)")
            if rate is not None:
                print("    CPU ms per 1,000 tokens: " + " ".join(f"{b * 1000:.0f}" for b in blocks))
                print(f"    last 1,000 / first 1,000 (CPU): x{blocks[-1] / blocks[0]:.2f}; then "
                      f"{mid['finish'] * 1000:.0f} ms to finish (final render, stored row)")
    print("\nreproduce: .venv/bin/python bench/tui.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
