"""Which of the configured tools a session offers, kept in the session's metadata like its model.

A selection only narrows: it names tools (`current_time`, `files__read`) or whole MCP servers
(`files`), and never enables a tool the settings do not configure nor lets a call skip its
approval. With no selection a session offers every configured tool.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError

USE_KEY = "tools_use"
"""Session metadata: the names offered (absent: every configured tool)."""
DROP_KEY = "tools_drop"
"""Session metadata: the names not offered, even when `USE_KEY` would."""
MAX_NAMES = 200


def _names(value: object) -> tuple[str, ...] | None:
    """A stored list of names, or None when absent or not a list of valid names (metadata can
    come from anywhere: only well-formed names are taken)."""
    from engine.tools import TOOL_NAME

    if not isinstance(value, list):
        return None
    return tuple(dict.fromkeys(v for v in value[:MAX_NAMES]
                               if isinstance(v, str) and TOOL_NAME.match(v)))


@dataclass(frozen=True, slots=True)
class ToolSelection:
    """The tools and servers a session uses (`use` None: all) and drops."""

    use: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()

    @classmethod
    def of(cls, metadata: Mapping[str, Any] | None) -> ToolSelection:
        """The selection kept in a session's metadata."""
        meta = metadata if isinstance(metadata, Mapping) else {}
        return cls(_names(meta.get(USE_KEY)), _names(meta.get(DROP_KEY)) or ())

    @property
    def everything(self) -> bool:
        """Whether every configured tool is offered."""
        return self.use is None and not self.drop

    def allows(self, name: str, server: str | None = None) -> bool:
        """Whether the tool `name` (of MCP `server`, if any) is offered."""
        keys = {name, server} - {None}
        if keys & set(self.drop):
            return False
        return self.use is None or bool(keys & set(self.use))

    def using(self, names: Iterable[str]) -> ToolSelection:
        """Also offer `names` (with no selection yet: offer only them)."""
        added = tuple(names)
        return ToolSelection(tuple(dict.fromkeys((*(self.use or ()), *added))),
                             tuple(n for n in self.drop if n not in added))

    def dropping(self, names: Iterable[str]) -> ToolSelection:
        """No longer offer `names`."""
        removed = tuple(names)
        use = None if self.use is None else tuple(n for n in self.use if n not in removed)
        return ToolSelection(use, tuple(dict.fromkeys((*self.drop, *removed))))

    def stored_in(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """`metadata` with this selection in it (none kept when everything is offered)."""
        updated = {k: v for k, v in metadata.items() if k not in (USE_KEY, DROP_KEY)}
        if self.use is not None:
            updated[USE_KEY] = list(self.use)
        if self.drop:
            updated[DROP_KEY] = list(self.drop)
        return updated

    def describe(self) -> str:
        """`every configured tool`, or what is used and dropped."""
        if self.everything:
            return "every configured tool"
        parts = ["only " + (", ".join(self.use) or "nothing")] if self.use is not None else [
            "every configured tool"]
        if self.drop:
            parts.append("except " + ", ".join(self.drop))
        return " ".join(parts)


def parse_names(words: Iterable[str]) -> list[str]:
    """Tool or server names typed by a person (UsageError for one that cannot be a name)."""
    from engine.tools import TOOL_NAME

    names = [w.strip(",") for w in words if w.strip(",")]
    for name in names:
        if not TOOL_NAME.match(name):
            raise UsageError(f"{name[:40]!r} is not a tool or server name")
    if not names:
        raise UsageError("name at least one tool or MCP server")
    return names
