"""How the main screens look, in each talu theme (pytest-textual-snapshot)."""

from __future__ import annotations

import pytest
from rich.style import Style
from textual.pilot import Pilot

from app.tui.app import TaluApp
from app.tui.screens.chat import ChatScreen
from app.tui.screens.model_picker import ModelPicker
from app.tui.screens.search import SearchScreen
from app.tui.widgets.chat_log import ChatLog
from app.tui.widgets.markdown import MarkdownDocument, StreamingMarkdown
from app.tui.widgets.markdown.document import BlankFence
from app.tui.widgets.markdown.textual_compat import screen_strips
from tests.app.tui_support import make_app, session_tree, wait_until
from tests.support.profiles import open_store
from themes import TALU_THEMES

SIZE = (120, 36)
ANSWER = """Here is a **short** answer with a list and some code:

1. Boil the water.
2. Add the pasta.

```python
def cook(minutes: int) -> str:
    return f"ready after {minutes} minutes"
```

> Taste before you serve."""


def seeded_app(theme: str):
    """Two sessions (one pinned) and a fork, seeded before the app opens the profile."""
    with open_store() as store:
        older = store.create_session(model_ref="local::smollm2")
        store.add_message(older.id, "user", "What is a zebra crossing?")
        store.add_message(older.id, "assistant", "A striped pedestrian crossing.",
                          model_ref="local::smollm2", finish_reason="stop", ttft_s=0.12,
                          tokens_per_s=130.0, completion_tokens=6, total_s=0.2)
        store.pin(older.id)
        session = store.create_session(model_ref="local::smollm2")
        store.add_message(session.id, "user", "How do I cook pasta?")
        store.add_message(session.id, "assistant", ANSWER, model_ref="local::smollm2",
                          finish_reason="stop", ttft_s=0.31, tokens_per_s=132.4,
                          completion_tokens=58, total_s=0.75)
        store.fork(session.id)
    return make_app(theme=theme)


async def settle(pilot: Pilot) -> ChatScreen:
    app = pilot.app
    await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
    screen = app.screen
    tree = session_tree(screen)
    await wait_until(pilot, lambda: screen.status.health == "● ready"
                     and len(screen.log_view.views()) == 2
                     and len(tree.root.children) == 4 and tree.cursor_node is not None
                     and tree.cursor_node.data == screen.session_id)
    screen.prompt.cursor_blink = False
    await pilot.pause()
    return screen


THEMES = sorted(TALU_THEMES)


@pytest.mark.parametrize("theme", THEMES)
def test_main_screen(snap_compare, theme: str) -> None:
    assert snap_compare(seeded_app(theme), terminal_size=SIZE, run_before=settle)


@pytest.mark.parametrize("theme", THEMES)
def test_model_picker(snap_compare, theme: str) -> None:
    async def open_picker(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ModelPicker))
        picker = pilot.app.screen
        await wait_until(pilot, lambda: bool(picker.models))
        await wait_until(pilot, lambda: "quantization" in str(
            picker.query_one("#model-details").render()))
        for box in picker.query("Input"):
            box.cursor_blink = False  # a blinking cursor makes the picture depend on timing
        await pilot.pause()

    assert snap_compare(seeded_app(theme), terminal_size=SIZE, run_before=open_picker)


@pytest.mark.parametrize("theme", THEMES)
def test_search(snap_compare, theme: str) -> None:
    async def search(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, SearchScreen))
        await pilot.press(*"zebra")
        await wait_until(pilot, lambda: len(pilot.app.screen.hits) == 2)
        pilot.app.screen.query_one("#search-input").cursor_blink = False
        await pilot.pause()

    assert snap_compare(seeded_app(theme), terminal_size=SIZE, run_before=search)


@pytest.mark.parametrize("theme", THEMES)
def test_export(snap_compare, theme: str) -> None:
    async def export(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("f5")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "ExportScreen")
        path = pilot.app.screen.query_one("#export-path")
        path.value = "/home/me/exports/how-do-i-cook-pasta.md"
        path.cursor_blink = False
        await pilot.pause()

    assert snap_compare(seeded_app(theme), terminal_size=SIZE, run_before=export)


async def drawn_cells(app: TaluApp) -> list[list[tuple[object, ...]]]:
    """Every cell of the settled main screen as the person sees it: the character, its
    background, and its colour and attributes where there is a glyph to colour."""
    async with app.run_test(size=SIZE) as pilot:
        screen = await settle(pilot)
        rows = []
        for strip in screen_strips(screen):
            row: list[tuple[object, ...]] = []
            for segment in strip:
                style = segment.style or Style()
                for char in segment.text:
                    ink = (style.color, style.bold, style.italic, style.underline,
                           style.strike) if char.strip() else ()
                    row.append((char, style.bgcolor, style.reverse, *ink))
            rows.append(row)
        return rows


#: Widgets drawn as blank lines (`BLANK = True`: nothing of their own to draw) instead of
#: through Textual's per-line style cache, to make a streaming frame cheaper.
BLANK_WIDGETS = (ChatLog, StreamingMarkdown, MarkdownDocument, BlankFence)


@pytest.mark.parametrize("theme", THEMES)
async def test_blank_widgets_draw_the_screen_cell_for_cell_as_textual_would(
        theme: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert all(widget.BLANK for widget in BLANK_WIDGETS)
    blank = await drawn_cells(seeded_app(theme))
    for widget in BLANK_WIDGETS:
        monkeypatch.setattr(widget, "BLANK", False)
    drawn = await drawn_cells(make_app(theme=theme))  # the same profile, opened again
    assert sum(len(row) for row in drawn) == SIZE[0] * SIZE[1]
    assert any(char == "d" for row in drawn for char, *_ in row)  # the answer is on screen
    assert blank == drawn
