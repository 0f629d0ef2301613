"""Model output is untrusted: make terminal control sequences visible instead of live."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and C1 controls (0x80-0x9f; 0x9b is a CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␛ for ESC, ␇ for BEL, …
    if code == 0x7F:
        return "␡"
    return f"\\x{code:02x}"


def visible_controls(text: str) -> str:
    """`text` with every control character but tab and newline shown as a visible symbol."""
    return _CONTROL.sub(_picture, text)
