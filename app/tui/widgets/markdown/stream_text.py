"""The text of a streamed answer: kept exactly as given, and cleaned for the parser as it comes."""

from __future__ import annotations

from ....sanitize import visible_controls


class StreamText:
    """Deltas joined lazily, and each cleaned: line ends as the parser reads them, controls shown.

    A ``"\\r"`` that ends a delta is held back, since it may be half of a ``"\\r\\n"`` split
    across two deltas; `end` releases it.
    """

    __slots__ = ("_carriage_return", "_joined", "_raw")

    def __init__(self, text: str = "") -> None:
        self._raw: list[str] = [text]
        self._joined: str | None = text
        self._carriage_return = False

    @property
    def text(self) -> str:
        """Everything given so far, exactly as given."""
        if self._joined is None:
            self._joined = "".join(self._raw)
            self._raw = [self._joined]
        return self._joined

    def reset(self, text: str) -> str:
        """Start again from the complete `text`; its clean form."""
        self._raw = [text]
        self._joined = text
        self._carriage_return = False
        return self._clean(text) + self.end()

    def add(self, delta: str) -> str:
        """Append `delta`; its clean form (empty while only a held-back ``"\\r"`` came)."""
        self._raw.append(delta)
        self._joined = None
        if self._carriage_return or "\r" in delta:
            return self._clean(delta)
        return visible_controls(delta)  # the common case, once per token

    def end(self) -> str:
        """The text is complete: the clean form of a held-back ``"\\r"``, if any."""
        if self._carriage_return:
            self._carriage_return = False
            return "\n"
        return ""

    def _clean(self, delta: str) -> str:
        if self._carriage_return:
            delta = "\r" + delta
            self._carriage_return = False
        if delta.endswith("\r"):
            delta = delta[:-1]
            self._carriage_return = True
        if "\r" in delta:
            delta = delta.replace("\r\n", "\n").replace("\r", "\n")
        return visible_controls(delta)
