"""What a search asks for, from a person's words: the filters and the `--since` bound."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from storage import SearchFilters
from storage.ids import format_timestamp

from ..errors import UsageError
from ..sanitize import visible_line

_AGO = re.compile(r"^(\d{1,6})\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> str:
    """A stored-timestamp bound from "2025-01-31", an ISO time, or "3d" / "12h" / "2w" / "30m"."""
    value = text.strip()
    now = now or datetime.now(UTC)
    match = _AGO.match(value.lower())
    if match:
        return format_timestamp(now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {visible_line(text)[:40]!r} is not a date (2025-01-31), a time "
                         "(2025-01-31T12:00) or an age (30m, 12h, 3d, 2w)") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a local date or time, as a person means it
    return format_timestamp(moment.astimezone(UTC))


def search_filters(session_id: str | None = None, model: str | None = None,
                   since: str | None = None, include_deleted: bool = False) -> SearchFilters:
    """Filters for `ConversationService.search` and `Indexer.search` (`since` as typed)."""
    return SearchFilters(session_id, model or None,
                         parse_since(since) if since is not None else None, include_deleted)
