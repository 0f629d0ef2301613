"""Checks on what a backend or server sends: text, token counts, model ids.

A server is outside our control: it may send numbers where text belongs, `1e308` tokens, text
that is not valid Unicode, or never stop. These helpers turn what it sent into values the rest
of talu-chat can rely on, or into None where a value cannot be trusted.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .types import Usage

#: Token counts above this are not believed (no model has a context anywhere near it).
MAX_TOKEN_COUNT = 100_000_000
#: Longest model id accepted from a server's model list.
MAX_MODEL_ID_LENGTH = 256
#: Most characters one answer may hold before it is cut (finish reason "length").
MAX_ANSWER_CHARS = 8_000_000

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """`text` with lone surrogates (a `\\ud800` JSON escape, undecodable bytes) replaced by
    U+FFFD, so it can be stored, printed and exported."""
    return _SURROGATE.sub("\ufffd", text)


def token_count(value: Any) -> int | None:
    """A token count a server sent, if it is believable: a whole number from 0 to
    `MAX_TOKEN_COUNT` (an integral float is accepted); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_TOKEN_COUNT:
        return value
    return None


def checked_usage(usage: Usage | None) -> Usage | None:
    """`usage` with unbelievable counts dropped (None when nothing believable is left)."""
    if usage is None:
        return None
    prompt, completion = token_count(usage.prompt_tokens), token_count(usage.completion_tokens)
    if prompt is None and completion is None:
        return None
    return Usage(prompt, completion, usage.estimated)


def model_id(value: Any) -> str | None:
    """A model id from a server's list, if it is usable as a reference: text, not too long,
    without control characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_MODEL_ID_LENGTH:
        return None
    if _CONTROL.search(value) or _SURROGATE.search(value):
        return None
    return value
