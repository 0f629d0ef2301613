"""Render benchmark: a scripted backend streams mixed Markdown into the chat's answer widget.

Headless Textual app (120 x 40): the widget in a VerticalScroll anchored to the bottom, below a
screenful of earlier text, as in the chat pane. 10,000 LLM-like tokens of one answer (headings,
prose with inline styles, bullet and numbered lists, python and js fences) are fed twice:

- as fast as the event loop allows (yielding after every token, as a stream would): displayed
  tok/s, with the clock stopped once the last token is on screen;
- on a fixed schedule (``--rate``, 2,000 tok/s by default, the issue's target): whether the feed
  stays on schedule and the screen keeps up, and the CPU time of every 1,000-token block, which
  is what "the last 1,000 tokens against the first 1,000" measures for a widget whose renders are
  decoupled from the feed.

Baseline in the same run: one Textual ``Markdown`` fed through ``Markdown.get_stream()``.
Medians over ``--reps``; headless means every frame is composited but none is written to a
terminal. Figures, not a pass/fail test. ``measure_render()`` is importable.

    .venv/bin/python bench/tui_render.py [--tokens 10000] [--rate 2000] [--reps 3]
        [--baseline-tokens N (default: --tokens; 0 skips the baseline)]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import __version__ as textual_version
from textual.app import App, ComposeResult
from textual.await_complete import AwaitComplete
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Markdown, Static

from app.tui.widgets.markdown import StreamingMarkdown

SIZE = (120, 40)
BLOCK = 1_000
VARIANTS = ("talu", "stream")

_PROSE = (
    "the model streams tokens into a terminal widget while the person reads along and the "
    "renderer keeps pace with every delta because finished blocks are frozen and only the tail "
    "is parsed again which keeps the cost of one token flat however long the answer grows so "
    "a reply of ten thousand tokens feels as quick at its end as at its start"
)
_WORDS = [word for word in _PROSE.split() if len(word) <= 7]  # one token each
_PY = [
    "def {n}(items: list[int]) -> int:",
    '    """Sum the even items."""',
    "    total = 0",
    "    for item in items:",
    "        if item % 2 == 0:",
    "            total += item",
    "",
    "    return total",
    "",
    "print({n}([1, 2, 3, 4]))",
]
_JS = [
    "function {n}(items) {{",
    "  // keep the odd ones",
    "  const out = items.filter((x) => x % 2 === 1);",
    "  return out.map((x) => x * 2);",
    "}}",
    "",
    "console.log({n}([1, 2, 3]));",
]
_TOKEN = re.compile(r"\n|[ ]?[A-Za-z]{1,7}|[ ]?\d{1,3}|[ ]+|[ ]?[^\sA-Za-z\d]")


def _sentence(shape: random.Random, words: random.Random) -> str:
    chosen = [words.choice(_WORDS) for _ in range(shape.randint(8, 16))]
    pick, where = shape.random(), shape.randrange(len(chosen))
    if pick < 0.2:
        chosen[where] = f"**{chosen[where]}**"
    elif pick < 0.4:
        chosen[where] = f"`{chosen[where]}()`"
    elif pick < 0.5:
        chosen[where] = f"*{chosen[where]}*"
    return " ".join(chosen).capitalize() + "."


def _paragraph(shape: random.Random, words: random.Random) -> str:
    return " ".join(_sentence(shape, words) for _ in range(shape.randint(2, 4)))


def _unit(number: int) -> list[str]:
    """BLOCK tokens of one section with every kind of block, the same shape every time.

    Only the words change from one section to the next, so every 1,000-token block of the
    answer costs the same to show unless the widget slows down as the answer grows.
    """
    shape, words = random.Random(7), random.Random(number)
    parts: list[str] = []
    for half in "ab":
        name = f"{words.choice(_WORDS)}_{number}"
        bullets = [f"- {_sentence(shape, words)}" for _ in range(4)]
        bullets.insert(2, f"  - {_sentence(shape, words)}")
        parts += [
            f"## Part {number}{half}: {words.choice(_WORDS)} and {words.choice(_WORDS)}",
            _paragraph(shape, words),
            "\n".join(bullets),
            _paragraph(shape, words),
            "```python\n" + "\n".join(_PY).format(n=name) + "\n```"
            if half == "a"
            else "```js\n" + "\n".join(_JS).format(n=name) + "\n```",
            "\n".join(f"{i}. {_sentence(shape, words)}" for i in range(1, 5)),
        ]
    tokens = _TOKEN.findall("\n\n".join(parts) + "\n\n")
    filler = BLOCK - len(tokens) - 3  # a last paragraph brings the section to BLOCK tokens
    assert filler > 0, "the section outgrew BLOCK tokens"
    tokens += [words.choice(_WORDS).capitalize()]
    tokens += [" " + words.choice(_WORDS) for _ in range(filler - 1)]
    return [*tokens, ".", "\n", "\n"]


def make_tokens(count: int, seed: int = 0) -> list[str]:
    """`count` LLM-like tokens of one long mixed-Markdown answer (the same for the same seed)."""
    tokens: list[str] = []
    number = 1 + seed * 1_000
    while len(tokens) < count:
        tokens.extend(_unit(number))
        number += 1
    return tokens[:count]


class _TimedStreaming(StreamingMarkdown):
    """`StreamingMarkdown` that notes how much text was on screen after each render."""

    def __init__(self) -> None:
        super().__init__()
        self.renders: list[tuple[int, float]] = []

    async def _render_tail(self) -> float:
        cost = await super()._render_tail()
        # Frozen text plus live blocks: a burst shown a slice at a time leaves the rest waiting.
        self.renders.append((self.rendered_length, time.perf_counter()))
        return cost


class _TimedMarkdown(Markdown):
    """`Markdown` that notes how much text was on screen after each append."""

    def __init__(self) -> None:
        super().__init__()
        self.renders: list[tuple[int, float]] = []

    def append(self, markdown: str) -> AwaitComplete:
        inner = super().append(markdown)
        shown = len(self.source)

        async def timed() -> None:
            await inner
            self.renders.append((shown, time.perf_counter()))

        return AwaitComplete(timed())


class _BenchApp(App[None]):
    def __init__(self, widget: _TimedStreaming | _TimedMarkdown) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            # Earlier messages fill the screen, so the answer scrolls the view from its first line
            # (as in a chat) and the first block is not cheaper for drawing on a half-empty screen.
            yield Static(Content("\n".join(f"an earlier message, line {n}" for n in range(60))))
            yield self.widget

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).anchor()


class _Feeder:
    """Hands tokens to a widget as fast as the loop allows, or on a fixed-rate schedule."""

    def __init__(self, tokens: list[str], rate: float | None) -> None:
        self.tokens = tokens
        self.rate = rate
        self.fed_at: list[float] = []  # wall clock at each 1,000-token mark
        self.cpu_at: list[float] = []  # process CPU time at each mark

    def _mark(self, index: int) -> None:
        if index % BLOCK == 0:
            self.fed_at.append(time.perf_counter())
            self.cpu_at.append(time.process_time())

    async def run(self, write: Callable[[str], Any]) -> None:
        """Feed every token through `write` (awaited when it returns an awaitable)."""
        start = time.perf_counter()
        for index, token in enumerate(self.tokens, 1):
            if self.rate is not None:
                due = start + index / self.rate
                if due > time.perf_counter():
                    await asyncio.sleep(due - time.perf_counter())
            result = write(token)
            if result is not None:
                await result
            else:
                await asyncio.sleep(0)
            self._mark(index)


async def _feed(widget: _TimedStreaming | _TimedMarkdown, feeder: _Feeder) -> None:
    if isinstance(widget, StreamingMarkdown):
        await feeder.run(widget.append)
        widget.finish()
        await widget.flush()
        return
    stream = Markdown.get_stream(widget)
    try:
        await feeder.run(stream.write)  # write() sleeps 0 after every fragment
    finally:
        await stream.stop()


async def measure_render_async(
    tokens: int = 10_000, variant: str = "talu", rate: float | None = None
) -> dict[str, Any]:
    """Stream `tokens` tokens into `variant` ("talu" or "stream") headless; return the figures.

    `rate` None feeds as fast as the loop allows; a number feeds on that tok/s schedule.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: choose from {', '.join(VARIANTS)}")
    stream = make_tokens(tokens)
    widget: _TimedStreaming | _TimedMarkdown
    widget = _TimedStreaming() if variant == "talu" else _TimedMarkdown()
    app = _BenchApp(widget)
    feeder = _Feeder(stream, rate)
    async with app.run_test(headless=True, size=SIZE) as pilot:
        # Warm up (highlighter lexers, CSS) so that the first block pays no one-off costs.
        warm_up = Markdown("".join(make_tokens(400, seed=1)))
        await app.query_one(VerticalScroll).mount(warm_up, before=widget)
        await pilot.pause()
        await warm_up.remove()
        await pilot.pause()
        start, start_cpu = time.perf_counter(), time.process_time()
        await _feed(widget, feeder)
        await pilot.pause()  # the last screen update is done
        end = time.perf_counter()
        text = "".join(stream)
        source = widget.text if isinstance(widget, StreamingMarkdown) else widget.source
        assert source == text, "the widget lost text"
        scroll = app.query_one(VerticalScroll)
        pinned = scroll.scroll_y >= scroll.max_scroll_y - 1
        widgets = len(list(widget.walk_children()))
    fed = feeder.fed_at
    wall = [b - a for a, b in zip([start, *fed], fed, strict=False)]
    cpu = [b - a for a, b in zip([start_cpu, *feeder.cpu_at], feeder.cpu_at, strict=False)]
    # How long after its 1,000th token was fed was each block on screen?
    offsets, total = [], 0
    for index, token in enumerate(stream, 1):
        total += len(token)
        if index % BLOCK == 0:
            offsets.append(total)
    shown = [next((t for n, t in widget.renders if n >= offset), end) for offset in offsets]
    return {
        "variant": variant,
        "tokens": tokens,
        "rate": rate,
        "seconds": end - start,
        "fed_seconds": fed[-1] - start if fed else float("nan"),
        "tok_s": tokens / (end - start),
        "wall": wall,
        "cpu": cpu,
        "lag": [max(0.0, s - f) for s, f in zip(shown, fed, strict=False)],
        "renders": len(widget.renders),
        "widgets": widgets,
        "pinned": pinned,
    }


def measure_render(
    tokens: int = 10_000, variant: str = "talu", rate: float | None = None
) -> dict[str, Any]:
    """Synchronous `measure_render_async`: displayed tok/s and per-1,000-token block costs."""
    return asyncio.run(measure_render_async(tokens, variant, rate))


def _ratio(values: list[float]) -> float:
    return values[-1] / values[0] if len(values) > 1 and values[0] else float("nan")


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median-throughput run, with every per-block figure replaced by its median."""
    runs = sorted(runs, key=lambda run: run["tok_s"])
    middle = dict(runs[len(runs) // 2])
    for key in ("wall", "cpu", "lag"):
        columns = zip(*(run[key] for run in runs), strict=True)
        middle[key] = [statistics.median(column) for column in columns]
    return middle


def _row(label: str, values: list[float]) -> str:
    return f"  {label:<30}" + " ".join(f"{v * 1000:6.0f}" for v in values)


def _print(result: dict[str, Any], reps: int) -> None:
    feed = "as fast as possible" if result["rate"] is None else f"at {result['rate']:,.0f} tok/s"
    name = {"talu": "StreamingMarkdown", "stream": "Markdown.get_stream"}[result["variant"]]
    print(f"\n{name}: {result['tokens']:,} tokens fed {feed} (median of {reps})")
    print(f"  displayed {result['tok_s']:,.0f} tok/s: last token on screen after"
          f" {result['seconds']:.2f} s; {result['renders']} renders; {result['widgets']} widgets"
          f" at the end; view pinned to the bottom: {result['pinned']}")
    print(_row("ms wall per 1,000 tokens fed", result["wall"]))
    print(_row("ms CPU per 1,000 tokens", result["cpu"]))
    print(_row("ms until on screen", result["lag"]))
    print(f"  last 1,000 / first 1,000: wall {_ratio(result['wall']):.2f},"
          f" CPU {_ratio(result['cpu']):.2f}")


def _median(tokens: int, variant: str, rate: float | None, reps: int) -> dict[str, Any]:
    return _median_run([measure_render(tokens, variant, rate) for _ in range(reps)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000, help="tokens per run")
    parser.add_argument("--rate", type=float, default=2_000,
                        help="tok/s of the sustained runs (the issue's target)")
    parser.add_argument("--baseline-tokens", type=int, default=None,
                        help="tokens for the Markdown.get_stream baseline (default: --tokens;"
                             " 0 skips it)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (medians are printed)")
    args = parser.parse_args()
    base_tokens = args.tokens if args.baseline_tokens is None else args.baseline_tokens
    print(f"reproduce: .venv/bin/python bench/tui_render.py --tokens {args.tokens} --rate "
          f"{args.rate:g} --baseline-tokens {base_tokens} --reps {args.reps}")
    print(f"headless {SIZE[0]}x{SIZE[1]}, Textual {textual_version}, {os.cpu_count()} cores."
          " CPU = this process's CPU time: other load on the machine shows in wall times only.")

    flood = _median(args.tokens, "talu", None, args.reps)
    _print(flood, args.reps)
    print("  (the feed outruns the 1/30 s render throttle, so these wall times only show where"
          " the renders landed; the sustained run measures the cost of each block)")
    sustained = _median(args.tokens, "talu", args.rate, args.reps)
    _print(sustained, args.reps)
    cpu_ratio = _ratio(sustained["cpu"])
    on_time = sustained["fed_seconds"] <= 1.05 * args.tokens / args.rate
    kept_up = on_time and max(sustained["lag"]) < 0.5
    met = flood["tok_s"] >= 2_000 and kept_up and cpu_ratio <= 1.2
    print(f"\nTARGET >= 2,000 tok/s, last 1,000 <= 1.2 x first 1,000: {'MET' if met else 'NOT MET'}"
          f" (as fast as possible: {flood['tok_s']:,.0f} tok/s; at {args.rate:,.0f} tok/s: feed"
          f" on schedule and screen < 0.5 s behind it: {kept_up}, CPU last/first"
          f" {cpu_ratio:.2f})")
    if not base_tokens:
        return

    base_flood = _median(base_tokens, "stream", None, args.reps)
    _print(base_flood, args.reps)
    base_sustained = _median(base_tokens, "stream", args.rate, args.reps)
    _print(base_sustained, args.reps)
    if base_tokens != args.tokens:
        flood = _median(base_tokens, "talu", None, args.reps)
        sustained = _median(base_tokens, "talu", args.rate, args.reps)
    print(f"\nStreamingMarkdown / Markdown.get_stream on the same {base_tokens:,} tokens:")
    print(f"  displayed tok/s, as fast as possible: {flood['tok_s']:,.0f} / "
          f"{base_flood['tok_s']:,.0f} = {flood['tok_s'] / base_flood['tok_s']:.2f} x")
    for label, index in (("first", 0), ("last", -1)):
        ours, theirs = sustained["cpu"][index], base_sustained["cpu"][index]
        print(f"  CPU for the {label} 1,000 tokens at {args.rate:,.0f} tok/s: {ours * 1000:.0f} /"
              f" {theirs * 1000:.0f} ms = {ours / theirs:.2f} x")
    ours_ratio, theirs_ratio = _ratio(sustained["cpu"]), _ratio(base_sustained["cpu"])
    print(f"  CPU last/first: {ours_ratio:.2f} vs {theirs_ratio:.2f}; widgets at the end:"
          f" {sustained['widgets']} vs {base_sustained['widgets']}")


if __name__ == "__main__":
    main()
