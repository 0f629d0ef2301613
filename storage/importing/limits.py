"""How much an import file may hold; the app passes its own from the settings."""

from __future__ import annotations

from dataclasses import dataclass, fields

#: The deepest nesting ImportLimits accepts: parsing and copying stay far from Python's
#: recursion limit.
MAX_DEPTH_CEILING = 500
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Bounds an import file must stay within; exceeding one is an ImportLimitError."""

    max_file_bytes: int = 200 * _MIB
    """Largest import file read, in bytes (a .json file, or a zip archive as a whole)."""

    max_uncompressed_bytes: int = 200 * _MIB
    """Largest conversations.json read out of a zip, in bytes; decompression stops beyond it."""

    max_depth: int = 200
    """Deepest nesting of JSON arrays and objects, checked before the JSON is parsed."""

    max_sessions: int = 100_000
    """Most sessions (or ChatGPT conversations) in one file."""

    max_messages: int = 100_000
    """Most messages in one session (for ChatGPT, messages kept on the visible branch)."""

    max_tool_calls: int = 10_000
    """Most tool calls in one message."""

    max_alternatives: int = 1_000
    """Most alternatives (regenerated or compared answers) of one turn."""

    max_text_chars: int = 50_000_000
    """Longest text of any one field (a message, a title, an id...), in characters."""

    max_attachments: int = 1_000
    """Most attachments on one message."""

    max_attachment_bytes: int = 64 * _MIB
    """Largest attached file, in bytes (decoded)."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"import limit {item.name} must be a positive integer")
        if self.max_depth > MAX_DEPTH_CEILING:
            raise ValueError(f"import limit max_depth must be at most {MAX_DEPTH_CEILING}")


#: The limits used when the caller gives none.
DEFAULT_LIMITS = ImportLimits()
