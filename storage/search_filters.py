"""What a search may return: one session, one model's messages, recent ones, the trash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Limits on search hits; the default excludes the trash and nothing else."""

    session_id: str | None = None
    """Only this session (an exact id)."""
    model: str | None = None
    """Only messages written by, or sessions using, a model whose reference contains this."""
    since: str | None = None
    """Only messages created at or after this stored timestamp (ISO-8601 UTC)."""
    include_deleted: bool = False
    """Search the trash too."""

    @property
    def narrows(self) -> bool:
        """True when the filters keep only part of the live sessions."""
        return bool(self.session_id or self.model or self.since)


def filter_sql(filters: SearchFilters, *, titles: bool = False) -> tuple[str, list[Any]]:
    """An `AND …` clause over `m` (messages) and `s` (sessions) and its parameters; with
    `titles`, over `s` only (session-title hits)."""
    # Answers of a turn that are not its chosen alternative are out of view, search included.
    clauses: list[str] = [] if titles else ["m.chosen = 1"]
    params: list[Any] = []
    if not filters.include_deleted:
        clauses.append("s.marker != 'deleted'")
    if filters.session_id is not None:
        clauses.append("s.id = ?")
        params.append(filters.session_id)
    if filters.model:
        if titles:
            clauses.append("instr(coalesce(s.model_ref, ''), ?) > 0")
            params.append(filters.model)
        else:
            clauses.append("instr(coalesce(m.model_ref, s.model_ref, ''), ?) > 0")
            params.append(filters.model)
    if filters.since:
        clauses.append("s.updated_at >= ?" if titles else "m.created_at >= ?")
        params.append(filters.since)
    return "".join(f" AND {c}" for c in clauses), params
