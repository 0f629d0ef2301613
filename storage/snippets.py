"""Snippets of vector hits: the best-matching chunk, the query's words marked where they occur."""

from __future__ import annotations

import re

from .models import SNIPPET_CLOSE, SNIPPET_OPEN

#: Characters a snippet keeps around its first marked word.
SNIPPET_CHARS = 200
_WORD = re.compile(r"\w+", re.UNICODE)
#: Words too common to be worth marking.
_COMMON = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "do", "does", "for", "from", "has",
    "have", "how", "i", "if", "in", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or",
    "so", "that", "the", "then", "there", "this", "to", "was", "we", "what", "when", "where",
    "which", "who", "why", "will", "with", "you", "your", "can", "could", "should", "would",
    "won", "don",
))


def query_words(query: str) -> list[str]:
    """The words of a query worth marking (two letters or more), lower-cased, longest first."""
    words = {w.lower() for w in _WORD.findall(query) if len(w) >= 2} - _COMMON
    return sorted(words, key=len, reverse=True)


def highlight(text: str, query: str, width: int = SNIPPET_CHARS) -> str:
    """`text` on one line, cut to about `width` characters around the first query word, with
    every word that starts like a query word between SNIPPET_OPEN and SNIPPET_CLOSE."""
    text = " ".join(text.split())
    words = query_words(query)
    pattern = (re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\w*", re.IGNORECASE)
               if words else None)
    first = pattern.search(text) if pattern else None
    start = 0
    if first is not None and first.start() > width // 3:
        start = text.rfind(" ", 0, first.start() - width // 3) + 1
    end = min(len(text), start + width)
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    piece = text[start:end]
    if pattern is not None:
        piece = pattern.sub(lambda m: f"{SNIPPET_OPEN}{m.group(0)}{SNIPPET_CLOSE}", piece)
    return ("…" if start > 0 else "") + piece + ("…" if end < len(text) else "")
