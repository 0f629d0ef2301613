"""Freeze and cut logic of the Markdown widget, without an App: frozen blocks never change."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it.token import Token

from app.tui.widgets.markdown import make_parser
from app.tui.widgets.markdown.freeze import (
    BlockSpan,
    Lines,
    cut_after,
    final_blocks,
    list_item_sources,
    top_level_blocks,
)

PARSER = make_parser()


def parse(text: str) -> tuple[list[Token], list[BlockSpan], Lines]:
    tokens = PARSER.parse(text)
    return tokens, top_level_blocks(tokens), Lines(text)


def final_of(text: str) -> int:
    return final_blocks(*parse(text))


def shape(tokens: Sequence[Token], shift: int = 0) -> list[tuple[object, ...]]:
    """What a token means for the screen (line maps moved down by `shift`)."""
    result: list[tuple[object, ...]] = []
    for token in tokens:
        where = (token.map[0] + shift, token.map[1] + shift) if token.map else None
        inline = shape(token.children) if token.children else None
        result.append((token.type, token.tag, token.nesting, token.content, token.info,
                       token.markup, where, inline))
    return result


def test_lines_know_offsets_and_complete_lines() -> None:
    lines = Lines("ab\n\ncd")
    assert lines.complete == 2
    assert [lines.offset(n) for n in range(5)] == [0, 3, 4, 6, 6]
    assert lines.source(0, 2) == "ab\n\n"
    assert lines.is_blank(1) and not lines.is_blank(2)


def test_top_level_blocks_span_nested_tokens() -> None:
    tokens, blocks, _ = parse("# Title\n\n- a\n  - b\n\n```\ncode\n```\n")
    assert [tokens[block.first_token].type for block in blocks] == [
        "heading_open", "bullet_list_open", "fence"]
    assert [(block.first_line, block.last_line) for block in blocks] == [(0, 1), (2, 5), (5, 8)]
    assert tokens[blocks[1].last_token - 1].type == "bullet_list_close"


@pytest.mark.parametrize(
    ("text", "final"),
    [
        ("", 0),
        ("one paragraph", 0),
        ("one paragraph\n", 0),  # the next line may continue it
        ("one paragraph\n\n", 1),  # a blank line ends a paragraph for good
        ("# Title\nwords", 0),  # the paragraph's line is not complete: it may become a heading
        ("# Title\nwords\n", 1),  # a block starts on a complete line after the heading
        ("- a\n\n", 0),  # a list may go on after a blank line
        ("- a\n\n- b\n", 0),
        ("- a\n\nnot in the list\n", 1),
        ("```\ncode\n\n", 0),  # an open fence goes on over blank lines
        ("```\ncode\n```\n", 0),  # closed, but the next line is not known yet
        ("```\ncode\n```\n\n", 1),
        ("    indented\n\n", 0),  # indented code may go on after a blank line
        ("| a | b |\n|---|---|\n| 1 | 2 |\n", 0),  # the next line may be a row
        ("| a | b |\n|---|---|\n| 1 | 2 |\n\n", 1),
        ("> quote\n\n", 1),
        ("p1\n\np2\n\np3", 2),
    ],
)
def test_final_blocks(text: str, final: int) -> None:
    assert final_of(text) == final


def test_the_cut_gives_each_final_block_its_source_and_the_blank_lines_after_it() -> None:
    text = "# Title\n\nfirst\n\n\n- item\n\ntail\n"
    tokens, blocks, lines = parse(text)
    final = final_blocks(tokens, blocks, lines)
    assert final == 3
    cut = cut_after(blocks, final, lines)
    assert cut.sources == ("# Title\n\n", "first\n\n\n", "- item\n\n")
    assert "".join(cut.sources) == text[: cut.offset]
    assert text[cut.offset :] == "tail\n" and cut.line == 7


def test_a_cut_after_every_block_ends_at_the_last_line() -> None:
    text = "a\n\nb\n\n"
    _tokens, blocks, lines = parse(text)
    cut = cut_after(blocks, len(blocks), lines)
    assert cut.sources == ("a\n\n", "b\n") and cut.line == 3


def test_a_cut_needs_at_least_one_block() -> None:
    _tokens, blocks, lines = parse("a\n\nb\n")
    with pytest.raises(ValueError, match="cannot cut"):
        cut_after(blocks, 0, lines)
    with pytest.raises(ValueError, match="cannot cut"):
        cut_after(blocks, 3, lines)


def test_list_item_sources() -> None:
    text = "- one\n- two\n  more\n  - nested\n\npara\n"
    tokens, blocks, lines = parse(text)
    first = blocks[0]
    items = list_item_sources(tokens[first.first_token : first.last_token], lines)
    assert items == ["- one\n", "- two\n  more\n  - nested\n\n"]  # with its blank line
    para = blocks[1]
    assert list_item_sources(tokens[para.first_token : para.last_token], lines) is None
    assert list_item_sources([], lines) is None


# What is frozen never changes, whatever follows ----------------------------------------------

LINES = [
    "Some words here.", "more *emphasis* and `code`", "# Heading", "## Sub heading", "===",
    "- item", "- item two", "  continued", "  - nested", "1. first", "2. second", "10. tenth",
    "```python", "```", "x = 1", "    indented code", "> quote", "> > deeper", "| a | b |",
    "|---|---|", "| 1 | 2 |", "---", "***", "#hashtag, not a heading", "", "", "",
]


def split_render(text: str, cut_at: int) -> list[tuple[object, ...]]:
    """Tokens as the widget shows `text` after freezing what was final at `text[:cut_at]`."""
    tokens, blocks, lines = parse(text[:cut_at])
    final = final_blocks(tokens, blocks, lines)
    if not final:
        return shape(PARSER.parse(text))
    cut = cut_after(blocks, final, lines)
    frozen = tokens[: blocks[final - 1].last_token]
    return shape(frozen) + shape(PARSER.parse(text[cut.offset :]), shift=cut.line)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=14))
def test_freezing_a_prefix_renders_like_the_whole_text(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    whole = shape(PARSER.parse(text))
    ends = [index + 1 for index, char in enumerate(text) if char == "\n"]
    for start, end in zip([0, *ends], ends, strict=False):  # each line: begun, half, done
        for cut_at in (start + 1, (start + end) // 2, end):
            assert split_render(text, cut_at) == whole, f"streamed so far: {text[:cut_at]!r}"


def streamed_render(text: str, step: int) -> list[tuple[object, ...]]:
    """Tokens as the widget shows `text` streamed `step` characters at a time, cut after cut."""
    frozen: list[tuple[object, ...]] = []
    start = line = 0
    for end in [*range(step, len(text), step), len(text)]:
        tokens, blocks, lines = parse(text[start:end])
        final = final_blocks(tokens, blocks, lines)
        if final:
            cut = cut_after(blocks, final, lines)
            frozen += shape(tokens[: blocks[final - 1].last_token], shift=line)
            start += cut.offset
            line += cut.line
    return frozen + shape(PARSER.parse(text[start:]), shift=line)


@pytest.mark.parametrize("step", [1, 2, 7, 40])
def test_streaming_cut_after_cut_renders_like_the_whole_text(step: int) -> None:
    text = "\n".join([
        "# Streaming", "", "Words *here*", "#hashtag, not a heading", "", "- one", "", "- two",
        "  more",
        "", "1. a", "2. b", "", "```js", "let a = 1;", "", "", "let b = 2;", "```", "",
        "> quoted", "lazy line", "", "| h | i |", "|---|---|", "| 1 | 2 |", "", "    code",
        "", "    more code", "", "The end.", "",
    ])
    assert streamed_render(text, step) == shape(PARSER.parse(text))
