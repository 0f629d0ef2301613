"""Frame pacing while an answer streams: the answer and the status bar repaint a few times a
second however many tokens arrive, fewer still when the process's other threads (a local
decode) are busy, and nothing streamed is lost or shown differently for it."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from app.tui.screens.chat import ChatScreen
from app.tui.widgets.markdown import StreamingMarkdown
from app.tui.widgets.markdown import widget as widget_module
from app.tui.widgets.status_bar import StatusBar
from tests.app.test_streaming_markdown import (
    DOCUMENT,
    SIZE,
    Harness,
    cells,
    render_markdown,
    screen_lines,
    settle,
    tokens_of,
)
from tests.app.tui_support import chat, make_app, messages, send
from tests.support.scripted_backend import tokens


class BusyMeter:
    """A process whose event loop and other threads (a decode on every core) are all busy."""

    cpus = 2

    def sample(self) -> tuple[float, float]:
        return 1.0, 2.0

    def share(self, share: float, others: float) -> float:
        return share * 0.2

    def longest(self, longest: float, others: float) -> float:
        return longest * 2


async def test_skipped_frames_lose_nothing_and_the_answer_ends_like_a_one_shot_render(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(widget_module, "CpuMeter", BusyMeter)
    reference = await render_markdown(DOCUMENT)
    widget = StreamingMarkdown("")
    renders = 0
    update = widget._update

    async def counted() -> float | None:
        nonlocal renders
        renders += 1
        return await update()

    widget._throttle._render = counted
    deltas = tokens_of(DOCUMENT)
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        for index, delta in enumerate(deltas):
            widget.append(delta)
            if index % 3 == 0:
                await pilot.pause()
        streamed_renders = renders
        interval = widget._throttle.interval
        widget.finish()
        await settle(pilot, widget)
        shown = screen_lines(app, widget)
    # The busy process stretched the wait between frames to the longest the busy meter allows,
    # so the deltas arrived far faster than frames were made...
    assert interval == pytest.approx(StreamingMarkdown.MAX_INTERVAL * 2)
    assert 1 <= streamed_renders < len(deltas) / 10
    # ...and the answer that ends is every delta, drawn exactly like Textual's own Markdown.
    assert widget.text == DOCUMENT
    assert cells(shown) == cells(reference)


async def test_the_status_bar_repaints_a_few_times_a_second_not_per_token(
        scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = " ".join(f"word{i}" for i in range(1500))
    ref = scripted.use("long", chunks=tokens(answer), delay_s=0.001)
    renders = 0
    render = StatusBar.render

    def counted(self: StatusBar) -> object:
        nonlocal renders
        renders += 1
        return render(self)

    monkeypatch.setattr(StatusBar, "render", counted)
    app = make_app(default_model=ref)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Write at length.")
        screen = chat(pilot)
        await _settled(pilot)
        stored = messages(screen.session_id)[-1]
        view = screen.log_view.views()[-1]
        status = str(screen.status.render())
    pieces = len(tokens(answer))
    assert stored.content == answer and view.text == answer  # every piece arrived and shows
    assert renders < pieces / 10  # repaints followed the clock, not the tokens
    assert renders >= 3  # it did show the stream: started, a live rate, ended
    assert "tok/s" in status and "streaming" not in status


async def _settled(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await pilot.pause()


async def test_each_render_of_a_growing_answer_lays_the_chat_out_once(
        scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    # Paragraphs and lists that wrap at the screen's width: nearly every render makes the answer
    # taller, which is when Textual used to lay the whole screen out a second time.
    answer = "".join(
        f"Part {n}: " + " ".join(f"word{n}x{i}" for i in range(40)) + "\n\n"
        + "".join(f"- item {n}.{i} " + "tail " * 8 + "\n" for i in range(3)) + "\n"
        for n in range(12)
    )
    ref = scripted.use("long", chunks=tokens(answer), delay_s=0.002)
    layouts = renders = 0
    refresh_layout = ChatScreen._refresh_layout
    update = StreamingMarkdown._update

    def counted_layout(self: ChatScreen, *args: object, **kwargs: object) -> None:
        nonlocal layouts
        if renders:  # from the answer's first render on
            layouts += 1
        refresh_layout(self, *args, **kwargs)  # type: ignore[arg-type]

    async def counted_render(self: StreamingMarkdown) -> float | None:
        nonlocal renders
        renders += 1
        return await update(self)

    monkeypatch.setattr(ChatScreen, "_refresh_layout", counted_layout)
    monkeypatch.setattr(StreamingMarkdown, "_update", counted_render)
    app = make_app(default_model=ref)
    async with app.run_test(size=(120, 40)) as pilot:
        await send(pilot, "Write at length.")
        await _settled(pilot)
        view = chat(pilot).log_view.views()[-1]
    assert view.text == answer
    assert renders >= 8  # the answer grew over many renders...
    # ...each laid out once (the answer's end adds its metrics line: a few more).
    assert layouts <= renders + 4, (layouts, renders)
