"""Which top-level blocks of a streamed Markdown text are final, and where to cut after them.

A block is final once the next block starts on a complete line, or once a blank line follows a
block that a blank line closes (paragraph, heading, table, quote, closed fence; not a list or
indented code, which may go on). Final blocks are frozen: never parsed or rendered again.
Pure functions over markdown-it tokens and the text they came from: no widget, no App.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from markdown_it.token import Token

CLOSED_BY_BLANK_LINE: Final = frozenset(
    {"paragraph_open", "heading_open", "table_open", "blockquote_open", "fence", "hr"}
)
"""Top-level blocks that a blank line ends for good (unlike lists and indented code)."""


@dataclass(frozen=True, slots=True)
class BlockSpan:
    """A top-level block found by the parser: its lines and its tokens."""

    first_line: int
    last_line: int
    """The line after the block's last line."""
    first_token: int
    last_token: int
    """The index after the block's last token."""


def top_level_blocks(tokens: Sequence[Token]) -> list[BlockSpan]:
    """Split a token stream into its top-level blocks."""
    blocks: list[BlockSpan] = []
    depth = 0
    start = 0
    first_line = 0
    for index, token in enumerate(tokens):
        if depth == 0:
            start = index
            first_line = token.map[0] if token.map else 0
        depth += token.nesting
        if depth == 0:
            opening = tokens[start].map
            last_line = opening[1] if opening else first_line + 1
            blocks.append(BlockSpan(first_line, last_line, start, index + 1))
    return blocks


class Lines:
    """A text seen by line: where each line starts, and how many lines are complete."""

    __slots__ = ("_starts", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0]
        find = text.find
        position = find("\n")
        while position != -1:
            starts.append(position + 1)
            position = find("\n", position + 1)
        self._starts = starts

    @property
    def complete(self) -> int:
        """Number of lines ended by a newline."""
        return len(self._starts) - 1

    def offset(self, line: int) -> int:
        """Where `line` starts (the end of the text for a line past it)."""
        return self._starts[line] if line < len(self._starts) else len(self.text)

    def source(self, first: int, last: int) -> str:
        """The text of lines `first` up to (not including) `last`."""
        return self.text[self.offset(first) : self.offset(last)]

    def is_blank(self, line: int) -> bool:
        """Does `line` hold nothing but whitespace?"""
        return not self.source(line, line + 1).strip()


def final_blocks(tokens: Sequence[Token], blocks: Sequence[BlockSpan], lines: Lines) -> int:
    """How many leading `blocks` are final: no text appended to `lines` can change them."""
    final = 0
    # Every block followed by a block that starts on a complete line is final.
    for index in range(len(blocks) - 1, 0, -1):
        if blocks[index].first_line < lines.complete:
            final = index
            break
    # So is a paragraph, heading, table, quote or closed fence once a blank line follows it:
    # nothing after a blank line can join those (lists and indented code it can).
    if final < len(blocks):
        block = blocks[final]
        if (
            tokens[block.first_token].type in CLOSED_BY_BLANK_LINE
            and block.last_line < lines.complete
            and lines.is_blank(block.last_line)
        ):
            final += 1
    return final


@dataclass(frozen=True, slots=True)
class Cut:
    """Where the text is cut after its final blocks, and the source of each of them."""

    line: int
    """The first line after the cut."""
    offset: int
    """The first character after the cut."""
    sources: tuple[str, ...]
    """The source of each final block, blank lines after it included: together, the text
    before the cut."""


def cut_after(blocks: Sequence[BlockSpan], count: int, lines: Lines) -> Cut:
    """The cut after the first `count` (at least one) of `blocks`."""
    if not 0 < count <= len(blocks):
        raise ValueError(f"cannot cut after {count} of {len(blocks)} blocks")
    # A block runs up to where the next one starts (blank lines between them are its own);
    # the last block of the text runs to its last line.
    ends = [block.first_line for block in blocks[1 : count + 1]]
    if count == len(blocks):
        ends.append(blocks[-1].last_line)
    starts = [0, *ends[:-1]]
    sources = tuple(lines.source(start, end) for start, end in zip(starts, ends, strict=True))
    return Cut(ends[-1], lines.offset(ends[-1]), sources)


def list_item_sources(tokens: Sequence[Token], lines: Lines) -> list[str] | None:
    """The source of each item of a list block (None if the block is not a list)."""
    if not tokens or tokens[0].type not in ("bullet_list_open", "ordered_list_open"):
        return None
    level = tokens[0].level + 1
    return [
        lines.source(token.map[0], token.map[1])
        for token in tokens
        if token.type == "list_item_open" and token.level == level and token.map
    ]
