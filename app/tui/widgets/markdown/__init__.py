"""The chat's Markdown widget: streamed answers rendered at a flat cost per token.

Modules, from the bottom up: `textual_compat` (every Textual private used), `stream_text`
(deltas in, clean text out), `freeze` (which blocks are final, where to cut: pure), `throttle`
(when to render), `document` (parser and `Markdown` document), `live_tail` (updating the live
blocks' widgets), `baked` and `baker` (frozen blocks drawn from captured lines), `widget`
(`StreamingMarkdown`, which joins them).
"""

from .baked import BakedBlocks
from .document import MarkdownDocument, make_parser
from .widget import StreamingMarkdown

__all__ = ["BakedBlocks", "MarkdownDocument", "StreamingMarkdown", "make_parser"]
