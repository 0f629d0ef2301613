"""Untrusted text made safe to show: the one boundary every output goes through.

Model output, server errors, model ids, titles, file names and GGUF metadata come from outside.
On a terminal (CLI, REPL, stderr) and in the TUI they are shown with terminal control sequences
made visible instead of live, lone surrogates (text that is not valid Unicode) replaced, and —
in one-line places such as titles — the invisible characters that reorder or hide text (bidi
overrides, zero-width characters) shown as visible marks.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls (0x80-0x9f; 0x9b is a CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Bidi embeddings, overrides and isolates; zero-width and invisible formatting characters.
_INVISIBLE = re.compile(r"[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␛ for ESC, ␇ for BEL, …
    if code == 0x7F:
        return "␡"
    return f"\\x{code:02x}"


def valid_unicode(text: str) -> str:
    """`text` with lone surrogates (undecodable bytes, bad JSON escapes) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def visible_controls(text: str) -> str:
    """`text` with every control character but tab and newline shown as a visible symbol."""
    return _CONTROL.sub(_picture, valid_unicode(text))


def visible_line(text: str | None) -> str:
    """Untrusted text as one safe line: controls and invisible characters shown, whitespace
    (line breaks included) collapsed to single spaces."""
    shown = _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", visible_controls(text or ""))
    return " ".join(shown.split())
