"""Full-text search over message contents and session titles (FTS5, ranked by bm25)."""

from __future__ import annotations

from typing import Any

from .errors import SearchQueryError
from .models import SNIPPET_CLOSE, SNIPPET_OPEN, SearchHit
from .sessions import SessionOps

#: Words of context a snippet keeps around the matches.
SNIPPET_TOKENS = 16


def fts_query(text: str) -> str:
    """Turn free text into an FTS5 query that matches every word; a trailing * keeps a prefix.

    Each whitespace-separated word becomes a quoted FTS5 string (inner quotes doubled), so
    operators, parentheses and quotes typed by a person search as plain words.
    """
    terms = []
    for word in text.split():
        prefix = word.endswith("*") and len(word.rstrip("*")) > 0
        word = word.rstrip("*") if prefix else word
        terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    if not terms:
        raise SearchQueryError("the search query is empty; type at least one word")
    return " ".join(terms)


def _snippet_args(fts: str) -> str:
    return f"snippet({fts}, 0, '{SNIPPET_OPEN}', '{SNIPPET_CLOSE}', '…', {SNIPPET_TOKENS})"


class SearchOps(SessionOps):
    """Search (mixed into Store)."""

    def search(self, query: str, limit: int = 20, include_deleted: bool = False) -> list[SearchHit]:
        """Return the best matches for a free-text query, best first, with marked snippets."""
        match = fts_query(query)
        trash_filter = "" if include_deleted else "AND s.marker != 'deleted'"
        with self.reading():
            hits = [
                SearchHit(
                    session_id=row[1],
                    session_title=row[4] or "",
                    message_id=row[0],
                    position=row[2],
                    role=row[3],
                    snippet=row[5],
                    rank=row[6],
                )
                for row in self._message_hits(match, trash_filter, limit)
            ]
            hits += [
                SearchHit(
                    session_id=row[0],
                    session_title=row[1] or "",
                    message_id=None,
                    position=None,
                    role=None,
                    snippet=row[2],
                    rank=row[3],
                )
                for row in self.query(
                    f"SELECT s.id, s.title, {_snippet_args('sessions_fts')}, sessions_fts.rank "
                    "FROM sessions_fts JOIN sessions s ON s.seq = sessions_fts.rowid "
                    f"WHERE sessions_fts MATCH ? {trash_filter} "
                    "ORDER BY sessions_fts.rank LIMIT ?",
                    (match, limit),
                )
            ]
        hits.sort(key=lambda hit: hit.rank)
        return hits[:limit]

    def _message_hits(self, match: str, trash_filter: str, limit: int) -> list[Any]:
        return self.query(
            f"SELECT m.id, m.session_id, m.position, m.role, s.title, "
            f"{_snippet_args('messages_fts')}, messages_fts.rank "
            "FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid "
            "JOIN sessions s ON s.id = m.session_id "
            f"WHERE messages_fts MATCH ? {trash_filter} "
            "ORDER BY messages_fts.rank LIMIT ?",
            (match, limit),
        )
