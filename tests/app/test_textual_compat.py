"""Canary: every Textual private that talu-chat uses still exists, and still means the same.

When a Textual upgrade fails here, the message names what went missing; fix its one use in
``app/tui/widgets/markdown/textual_compat.py`` (or ``app/tui/screen_compat.py``) before moving
the Textual pin.
"""

from __future__ import annotations

import importlib

import pytest
import textual
from textual.app import App, ComposeResult
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Markdown, TextArea

from app.tui import screen_compat
from app.tui.widgets.markdown import make_parser
from app.tui.widgets.markdown import textual_compat as compat

COMPAT = "app/tui/widgets/markdown/textual_compat.py"
SAMPLE = """# Title

A paragraph with `code`.

- one
- two

```python
x = 1
```

| a | b |
|---|---|
| 1 | 2 |
"""


def test_textual_is_the_minor_version_the_privates_were_checked_against() -> None:
    minor = ".".join(textual.__version__.split(".")[:2])
    assert minor == compat.TESTED_TEXTUAL, (
        f"Textual {textual.__version__} is installed; {COMPAT} was checked against "
        f"{compat.TESTED_TEXTUAL}: run this canary, then update TESTED_TEXTUAL and the pin"
    )


@pytest.mark.parametrize(("module", "name"), compat.PRIVATE_CLASSES,
                         ids=[f"{module}.{name}" for module, name in compat.PRIVATE_CLASSES])
def test_private_class_exists(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name), (
        f"Textual {textual.__version__} has no {module}.{name} any more (used in {COMPAT})"
    )


class Sampler(App[None]):
    def compose(self) -> ComposeResult:
        yield Markdown(SAMPLE, parser_factory=make_parser)
        yield TextArea("text")


def sample_of(app: App[None], cls: type[object]) -> object:
    """A live instance of `cls` (instance attributes exist only once `__init__` ran)."""
    if isinstance(app, cls):
        return app
    if isinstance(app.screen, cls):
        return app.screen
    if issubclass(cls, Message):
        return cls()
    assert issubclass(cls, Widget)
    return app.screen.query(cls).first()


async def test_private_attributes_exist() -> None:
    missing: list[str] = []
    async with Sampler().run_test() as pilot:
        await pilot.pause()
        app = pilot.app
        for cls, attribute in (*compat.PRIVATE_ATTRIBUTES, *screen_compat.PRIVATE_ATTRIBUTES):
            if not (hasattr(cls, attribute) or hasattr(sample_of(app, cls), attribute)):
                missing.append(f"{cls.__module__}.{cls.__qualname__}.{attribute}")
    assert not missing, (
        f"Textual {textual.__version__} no longer has {', '.join(missing)} (used in {COMPAT})"
    )


async def test_the_compat_functions_still_do_their_job() -> None:
    async with Sampler().run_test() as pilot:
        await pilot.pause()
        app = pilot.app
        document = app.query_one(Markdown)
        blocks = compat.parse_blocks(document, make_parser().parse(SAMPLE))
        heading, paragraph, bullets, fence, table = blocks
        assert isinstance(heading, compat.MarkdownHeader)
        assert isinstance(paragraph, compat.MarkdownParagraph)
        assert compat.block_content(paragraph).plain == "A paragraph with code."
        assert isinstance(bullets, compat.MarkdownList)
        items = compat.child_blocks(bullets)
        assert len(items) == 2
        assert all(isinstance(item, compat.MarkdownListItem) for item in items)
        assert isinstance(fence, compat.MarkdownFence)
        fresh = compat.parse_blocks(document, make_parser().parse("```js\ny = 2\n```\n"))[0]
        assert isinstance(fresh, compat.MarkdownFence)
        assert compat.adopt_fence(fence, fresh).plain.strip() == "y = 2" == fence.code.strip()
        other = compat.parse_blocks(document, make_parser().parse("New *words*\n"))[0]
        assert compat.adopt_text(paragraph, other).plain == "New words"
        assert compat.block_content(paragraph).plain == "New words"
        assert isinstance(table, compat.MarkdownTable)
        headers, rows = compat.table_cells(table)
        assert [cell.plain for cell in headers] == ["a", "b"]
        assert [[cell.plain for cell in row] for row in rows] == [["1", "2"]]
        assert all(isinstance(cell, Content) for cell in headers)

        mounted = app.query_one(Markdown)
        assert not compat.is_closing(mounted)
        assert isinstance(compat.layout_pending(mounted), bool)
        strips = compat.render_offscreen(mounted, mounted.region.size)
        assert len(strips) == mounted.region.height
        assert any("Title" in strip.text for strip in strips)
        assert any("Title" in strip.text for strip in compat.screen_strips(app.screen))
        app.notify("hello")
        await pilot.pause()
        assert [str(n.message) for n in compat.notifications(app)] == ["hello"]
        assert compat.message_sender(Message().set_sender(mounted)) is mounted


def test_cached_lexers_highlight_exactly_as_pygments_own_lookup(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pygments import lexers
    from textual import highlight as textual_highlight

    compat.cache_lexers()  # done when the Markdown widget is imported; twice is harmless
    cached = textual_highlight.get_lexer_by_name  # type: ignore[attr-defined]
    assert getattr(cached, "talu_cached", False), "textual.highlight no longer looks lexers up"
    code = 'def f(x):\n    return "[bold]x[/]"  # not markup\n'
    fast = textual_highlight.highlight(code, language="python")
    assert cached("python", stripnl=False) is cached("python", stripnl=False)  # looked up once
    with pytest.raises(lexers.ClassNotFound):
        cached("no-such-language")
    with pytest.raises(lexers.ClassNotFound):
        cached("pyth")  # a fence's language half streamed in
    assert type(cached("PyThOn")) is type(lexers.get_lexer_by_name("python"))  # any case
    unknown = textual_highlight.highlight("plain", language="no-such-language")
    monkeypatch.setattr(textual_highlight, "get_lexer_by_name", lexers.get_lexer_by_name)
    assert fast.spans == textual_highlight.highlight(code, language="python").spans
    assert fast.plain == code.rstrip("\n")
    assert unknown.plain == "plain"
