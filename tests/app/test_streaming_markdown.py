"""StreamingMarkdown: streamed answers render like one-shot Markdown, cheaply and safely."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pytest
from markdown_it.token import Token
from rich.style import Style as RichStyle
from textual.app import App, ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.pilot import Pilot
from textual.selection import Selection
from textual.strip import Strip
from textual.widgets import Markdown

from app.tui.widgets.markdown import BakedBlocks, StreamingMarkdown, make_parser
from app.tui.widgets.markdown.textual_compat import (
    MarkdownBlock,
    MarkdownTableCellContents,
    block_content,
    message_sender,
    screen_strips,
)

SIZE = (80, 120)

DOCUMENT = """# Streaming answers

Some *prose* with `inline code`, **bold** text and a [link](https://example.com/docs) that is
long enough to wrap once the terminal is eighty columns wide, or so we hope today.

## A list with blank lines

- first item

- second item, with a continuation paragraph:

  still the second item
  - nested one
  - nested two

- third item

1. one
2. two
3. three

```python
def answer() -> int:

    # a blank line above, still inside the fence
    return 42
```

> a quote
> over two lines

| name | value |
|------|-------|
| a    | 1     |

Last words.
"""


class Unbaked(StreamingMarkdown):
    """Keeps every block a widget, to look at the widgets themselves."""

    BAKE = False


def tokens_of(text: str) -> list[str]:
    """LLM-like deltas: a word with its leading space, or a run of whitespace."""
    return re.findall(r"\s*\S{1,5}|\s+", text)


class Harness(App[None]):
    """One widget in a scrolling pane, as in the chat."""

    def __init__(self, widget: Markdown | StreamingMarkdown) -> None:
        super().__init__()
        self.widget = widget
        self.messages: list[Markdown.LinkClicked] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="pane"), Vertical(id="box"):
            yield self.widget

    def on_markdown_link_clicked(self, message: Markdown.LinkClicked) -> None:
        self.messages.append(message)


async def settle(pilot: Pilot[None], widget: StreamingMarkdown) -> None:
    """Wait until everything given is rendered and the finished blocks are baked."""
    await widget.flush()
    for _ in range(100):
        await pilot.pause()
        if not widget.baking:
            break
    await pilot.pause()


async def stream(pilot: Pilot[None], widget: StreamingMarkdown, deltas: Iterable[str]) -> None:
    """Append deltas with the event loop running in between, then finish and settle."""
    for index, delta in enumerate(deltas):
        widget.append(delta)
        if index % 3 == 0:
            await pilot.pause()
    widget.finish()
    await settle(pilot, widget)


def screen_lines(app: App[None], widget: StreamingMarkdown | Markdown) -> list[Strip]:
    """What the terminal shows in the widget's region."""
    strips = screen_strips(app.screen)
    region = widget.region
    return [strip.crop(region.x, region.right) for strip in strips[region.y : region.bottom]]


def cells(lines: list[Strip]) -> list[list[tuple[object, ...]]]:
    """Every cell as the eye sees it: character, colours and text style (not hidden metadata)."""
    result = []
    for line in lines:
        row: list[tuple[object, ...]] = []
        for segment in line.discard_meta():
            style = segment.style or RichStyle()
            for char in segment.text:
                ink = char.strip() != ""
                row.append((char, style.bgcolor, style.color if ink else None,
                            bool(style.bold) and ink, bool(style.italic) and ink,
                            bool(style.underline), bool(style.reverse)))
        result.append(row)
    return result


def text_of(lines: list[Strip]) -> str:
    return "\n".join(line.text.rstrip() for line in lines)


async def render_markdown(text: str, size: tuple[int, int] = SIZE) -> list[Strip]:
    """Textual's own Markdown widget, given the whole text at once (the reference)."""
    widget = Markdown(text, parser_factory=make_parser)
    app = Harness(widget)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        return screen_lines(app, widget)


async def render_streaming(
    text: str, *, streamed: bool, size: tuple[int, int] = SIZE
) -> tuple[list[Strip], StreamingMarkdown]:
    widget = StreamingMarkdown("" if streamed else text)
    app = Harness(widget)
    async with app.run_test(size=size) as pilot:
        if streamed:
            await stream(pilot, widget, tokens_of(text))
        else:
            await settle(pilot, widget)
        return screen_lines(app, widget), widget


async def test_streamed_tokens_render_exactly_like_textual_markdown_of_the_whole_text() -> None:
    reference = await render_markdown(DOCUMENT)
    streamed, widget = await render_streaming(DOCUMENT, streamed=True)
    one_shot, _ = await render_streaming(DOCUMENT, streamed=False)

    assert widget.text == DOCUMENT
    assert cells(streamed) == cells(reference)
    assert cells(one_shot) == cells(reference)
    shown = text_of(streamed)
    for expected in ("Streaming answers", "A list with blank lines", "• first item",
                     "• second item, with a continuation paragraph:", "still the second item",
                     "▪ nested one", "1. one", "3. three", "def answer() -> int:",
                     "# a blank line above, still inside the fence", "return 42", "│ a",
                     "Last words."):
        assert expected in shown, expected
    assert "```" not in shown
    code = next(row for row in cells(streamed) if "def answer" in "".join(str(c[0]) for c in row))
    assert len({cell[2] for cell in code if cell[2] is not None}) >= 2  # highlighted


async def test_finished_blocks_are_baked_into_few_widgets() -> None:
    widget = StreamingMarkdown(DOCUMENT)
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, widget)
        kinds = [type(child).__name__ for child in widget.document.children]
        baked = widget.document.children[0]
        assert isinstance(baked, BakedBlocks)
        selected = baked.get_selection(Selection(None, None))
    # Everything before the table is one baked widget; the table keeps its widgets (tooltips);
    # the last block stays live for more text. Baked lines can still be selected as text.
    assert kinds == ["BakedBlocks", "SafeTable", "MarkdownParagraph"]
    assert selected is not None
    assert "Streaming answers" in selected[0] and "return 42" in selected[0]


async def test_list_and_fence_spanning_blank_lines_stay_one_block_while_streaming() -> None:
    text = ("- alpha\n\n- beta\n\n  more beta\n\n- gamma\n\n"
            "```js\nconst a = 1;\n\n\nconst b = 2;\n```\n\nafter\n")
    reference = await render_markdown(text)
    widget = Unbaked()
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        for delta in tokens_of(text):
            widget.append(delta)
            await pilot.pause()
            kinds = [type(child).__name__ for child in widget.document.children]
            # Never a second list, never a paragraph made of fence text.
            assert kinds.count("MarkdownBulletList") <= 1
            assert kinds.count("BlankFence") <= 1
        widget.finish()
        await settle(pilot, widget)
        kinds = [type(child).__name__ for child in widget.document.children]
        assert kinds == ["MarkdownBulletList", "BlankFence", "MarkdownParagraph"]
        assert cells(screen_lines(app, widget)) == cells(reference)


async def test_a_growing_list_keeps_its_rows_and_numbers_like_a_one_shot_list() -> None:
    text = "".join(f"{n}. item number {n}\n" for n in range(1, 13))
    text += "   - nested under twelve\n   - and more\n\n- a bullet list\n- follows\n"
    reference = await render_markdown(text)
    widget = Unbaked()
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        first_rows: list[object] = []
        for delta in tokens_of(text):
            widget.append(delta)
            await pilot.pause()
            await pilot.pause(0.04)  # a render per delta or two
            lists = list(widget.document.query_children("MarkdownOrderedList"))
            if lists and not first_rows and len(lists[0].children) >= 3:
                first_rows = list(lists[0].children[:2])
        widget.finish()
        await settle(pilot, widget)
        ordered = widget.document.query_children("MarkdownOrderedList").first()
        assert list(ordered.children[:2]) == first_rows  # rows of earlier items were kept
        assert cells(screen_lines(app, widget)) == cells(reference)  # " 9." became "  9."


async def test_frozen_blocks_are_neither_parsed_nor_rendered_again() -> None:
    parsed: list[str] = []

    class Counting(Unbaked):
        async def _parse(self, source: str) -> tuple[list[Token], bool]:
            parsed.append(source)
            return await super()._parse(source)

    paragraph = "A paragraph of twenty words or so, " * 3 + "done.\n\n"
    widget = Counting()
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        await stream(pilot, widget, tokens_of("# Title\n\n" + paragraph))
        first = list(widget.document.children)
        contents = [block_content(block) for block in first if isinstance(block, MarkdownBlock)]
        parsed.clear()
        await stream(pilot, widget, tokens_of(paragraph * 30))
        later = list(widget.document.children)
        # The frozen widgets are the same objects, showing the same content objects.
        assert later[: len(first) - 1] == first[:-1]
        frozen = [block for block in first[:-1] if isinstance(block, MarkdownBlock)]
        assert len(frozen) == len(first) - 1
        assert [block_content(block) for block in frozen] == contents[:-1]
        # Only the tail was ever parsed again: never the title, never the whole answer (a
        # render sees the live block plus whatever arrived since the last render).
        assert not any("Title" in source for source in parsed)
        assert max(len(source) for source in parsed) <= 3 * len(paragraph)
        assert len(widget.text) > 30 * len(paragraph)


async def test_baked_lines_of_earlier_blocks_are_kept_as_the_answer_grows() -> None:
    paragraph = "Words that fill a line or two of the screen, " * 4 + "end.\n\n"
    widget = StreamingMarkdown()
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        await stream(pilot, widget, tokens_of(paragraph * 3))
        baked = widget.document.query_children(BakedBlocks).first()
        lines = list(baked.lines)
        await stream(pilot, widget, tokens_of(paragraph * 3))
        again = widget.document.query_children(BakedBlocks).first()
        assert again is baked
        assert baked.lines[: len(lines)] == lines


UNTRUSTED = (
    "Try [bold]x[/bold] and [@click=app.quit]quit[/] and [link=https://evil]y[/link]\n\n"
    "Escapes: \x1b[31mred\x1b[0m and \x1b]52;c;aGVsbG8=\x07 and \x9b2J\n\n"
    "| [bold]cell[/bold] | b |\n|---|---|\n| [@click=app.quit]q[/] | 2 |\n\n"
    "```\n[bold]in code[/bold] \x1b[2J\n```\n\n<script>alert(1)</script> tail\n"
)


@pytest.mark.parametrize("bake", [False, True])
async def test_untrusted_text_is_shown_literally_and_never_acts(bake: bool) -> None:
    widget = StreamingMarkdown() if bake else Unbaked()
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        await stream(pilot, widget, tokens_of(UNTRUSTED))
        assert any(isinstance(c, BakedBlocks) for c in widget.document.children) is bake
        lines = screen_lines(app, widget)
        shown = text_of(lines)
        for literal in ("[bold]x[/bold]", "[@click=app.quit]quit[/]", "[link=https://evil]y[/link]",
                        "␛[31mred␛[0m", "␛]52;c;aGVsbG8=␇", "\\x9b2J", "[bold]in code[/bold] ␛[2J",
                        "<script>alert(1)</script> tail", "[bold]cell[/bold]"):
            assert literal in shown, literal
        for line in lines:
            for segment in line:
                assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", segment.text)
                meta = segment.style.meta if segment.style else {}
                assert "app.quit" not in str(meta.get("@click", ""))
        # Nothing in the text became bold: the "x" between the tags is plain.
        row = next(line for line in lines if "[bold]x[/bold]" in line.text)
        x_at = row.text.index("[bold]x[/bold]") + len("[bold]")
        assert not cells([row])[0][x_at][3]
        # Clicking the would-be action does nothing.
        row_index = next(i for i, line in enumerate(lines) if "[@click=app.quit]" in line.text)
        column = lines[row_index].text.index("[@click=app.quit]") + 3
        await pilot.click(widget, offset=(column, row_index))
        await pilot.pause()
        assert app.is_running and app.return_code is None
        # Table tooltips are Content too (Textual gives them as markup strings).
        cells_widgets = list(widget.query(MarkdownTableCellContents))
        assert cells_widgets
        assert all(isinstance(cell.tooltip, Content) for cell in cells_widgets)
        assert "[bold]cell[/bold]" in [str(cell.tooltip) for cell in cells_widgets]


async def test_links_are_reported_not_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "See [the docs](https://example.com/a) here.\n\nAnd a second paragraph.\n"
    widget = StreamingMarkdown(text)
    app = Harness(widget)
    opened: list[str] = []
    monkeypatch.setattr(app, "open_url", lambda url, **_: opened.append(url))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, widget)
        assert isinstance(widget.document.children[0], BakedBlocks)
        lines = screen_lines(app, widget)
        row = next(i for i, line in enumerate(lines) if "the docs" in line.text)
        await pilot.click(widget, offset=(lines[row].text.index("the docs") + 2, row))
        await pilot.pause()
    assert [message.href for message in app.messages] == ["https://example.com/a"]
    assert opened == []


async def test_text_keeps_the_input_and_line_ends_split_across_deltas_render_once() -> None:
    deltas = ["Line one\r", "\nline two\r", "\r\n\r", "\nNext paragraph", "\r"]
    widget = StreamingMarkdown()
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        await stream(pilot, widget, deltas)
        shown = text_of(screen_lines(app, widget))
        assert widget.text == "".join(deltas)
        assert "␍" not in shown
        assert "Line one line two" in shown
        assert "Next paragraph" in shown


async def test_set_text_replaces_and_append_after_finish_continues() -> None:
    widget = StreamingMarkdown("# Old\n\nold text\n")
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, widget)
        widget.set_text("# New\n\nnew text")
        await settle(pilot, widget)
        shown = text_of(screen_lines(app, widget))
        assert "New" in shown and "Old" not in shown and "old text" not in shown
        widget.append(" continues")
        widget.finish()
        widget.finish()  # idempotent
        await settle(pilot, widget)
        assert widget.text == "# New\n\nnew text continues"
        assert "new text continues" in text_of(screen_lines(app, widget))


async def test_a_late_link_reference_definition_is_applied_on_finish() -> None:
    text = "Read [the guide][g] first.\n\nMore text.\n\n[g]: https://example.com/guide\n"
    reference = await render_markdown(text)
    widget = StreamingMarkdown()
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        await stream(pilot, widget, tokens_of(text))
        assert cells(screen_lines(app, widget)) == cells(reference)
        first = widget.document.children[0]
        widget.finish()  # again: the whole text was just rendered in one go, nothing to redo
        await settle(pilot, widget)
        assert widget.document.children[0] is first


async def test_a_change_of_inherited_style_rebakes_the_lines() -> None:
    class Red(Harness):
        CSS = "#box.red { background: darkred; }"

    widget = StreamingMarkdown(DOCUMENT)
    app = Red(widget)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, widget)
        baked = widget.document.query_children(BakedBlocks).first()
        before = baked.key
        app.query_one("#box").add_class("red")  # e.g. a focused message gets a tint
        for _ in range(20):
            await pilot.pause()
            if baked.key != before and not widget.baking:
                break
        await settle(pilot, widget)
        assert baked.key != before and baked.display
        restyled = cells(screen_lines(app, widget))
        app.query_one("#box").remove_class("red")  # and back: the first lines are reused
        await settle(pilot, widget)
        assert baked.key == before

    fresh = StreamingMarkdown(DOCUMENT)
    app = Red(fresh)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#box").add_class("red")
        await settle(pilot, fresh)
        assert restyled == cells(screen_lines(app, fresh))


async def test_a_new_width_renders_again_for_that_width() -> None:
    widget = StreamingMarkdown(DOCUMENT)
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, widget)
        await pilot.resize_terminal(60, SIZE[1])
        for _ in range(20):
            await pilot.pause()
        await settle(pilot, widget)
        resized = cells(screen_lines(app, widget))
    assert resized == cells(await render_markdown(DOCUMENT, size=(60, SIZE[1])))


async def test_streaming_posts_no_messages_and_leaves_the_scroll_position_alone() -> None:
    seen: list[Message] = []

    class Pane(VerticalScroll):
        def on_message(self, message: Message) -> None:
            seen.append(message)

    class ScrollHarness(App[None]):
        def compose(self) -> ComposeResult:
            with Pane(id="pane"):
                yield StreamingMarkdown(id="answer")

    app = ScrollHarness()
    async with app.run_test(size=(80, 20)) as pilot:
        widget = app.query_one("#answer", StreamingMarkdown)
        pane = app.query_one(Pane)
        pane.anchor()
        await pilot.pause()
        seen.clear()
        await stream(pilot, widget, tokens_of(DOCUMENT))
        assert pane.scroll_y == pane.max_scroll_y > 0  # followed the answer while anchored
        from_widget = [m for m in seen if message_sender(m) in (widget, widget.document)]
        assert from_widget == []
        pane.scroll_home(animate=False)  # the person scrolls up to read
        await pilot.pause()
        await stream(pilot, widget, tokens_of("\n\nmore " * 40))
        assert pane.scroll_y == 0


async def test_removing_the_widget_mid_stream_is_quiet() -> None:
    widget = StreamingMarkdown()
    app = Harness(widget)
    async with app.run_test(size=SIZE) as pilot:
        for delta in tokens_of(DOCUMENT * 3)[:400]:
            widget.append(delta)
        await pilot.pause(0.05)  # a render is under way or scheduled
        await widget.remove()
        widget.append(" more after removal")
        widget.finish()
        await widget.flush()  # returns: nothing waits on a removed widget
        await pilot.pause(0.1)
        assert app.is_running
    assert app.return_code is None
