"""Search: full text (FTS5, ranked by bm25), by meaning (vectors) and both fused (hybrid).

Hybrid search fuses the two rankings by reciprocal rank fusion: a hit's score is the sum over
the rankings it appears in of 1 / (RRF_K + its rank there), which needs no calibration between
bm25 and cosine scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import SearchQueryError
from .models import SNIPPET_CLOSE, SNIPPET_OPEN, SearchHit
from .search_filters import SearchFilters, filter_sql
from .snippets import highlight
from .vectors import VectorHit, VectorModel, VectorOps, _index_errors

#: Words of context a snippet keeps around the matches.
SNIPPET_TOKENS = 16
#: Reciprocal rank fusion's constant (the usual 60: later ranks still count, gently).
RRF_K = 60
#: How deep each ranking is read before fusing.
FUSION_DEPTH = 50


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


def _key(hit: SearchHit) -> tuple[str, str]:
    return ("m", hit.message_id) if hit.message_id else ("t", hit.session_id)


def fuse(rankings: Sequence[Sequence[SearchHit]], limit: int) -> list[SearchHit]:
    """Reciprocal rank fusion of rankings (best first each); a hit found by several rankings
    keeps the first ranking's snippet and is marked as matched by both."""
    scores: dict[tuple[str, str], float] = {}
    first: dict[tuple[str, str], SearchHit] = {}
    how: dict[tuple[str, str], set[str]] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            key = _key(hit)
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
            first.setdefault(key, hit)
            how.setdefault(key, set()).add(hit.matched)
    order = sorted(scores, key=lambda k: -scores[k])[:limit]
    out = []
    for key in order:
        hit = first[key]
        matched = how[key]
        out.append(SearchHit(
            session_id=hit.session_id, session_title=hit.session_title,
            message_id=hit.message_id, position=hit.position, role=hit.role,
            snippet=hit.snippet, rank=-scores[key],
            matched="both" if len(matched) > 1 else next(iter(matched)),
        ))
    return out


class SearchOps(VectorOps):
    """Search (mixed into Store)."""

    def search(self, query: str, limit: int = 20, include_deleted: bool = False,
               filters: SearchFilters | None = None) -> list[SearchHit]:
        """Return the best matches for a free-text query, best first, with marked snippets."""
        return [hit for _seq, hit in self._text_hits(query, limit, include_deleted, filters)]

    def _text_hits(self, query: str, limit: int, include_deleted: bool = False,
                   filters: SearchFilters | None = None) -> list[tuple[int | None, SearchHit]]:
        match = fts_query(query)
        filters = filters or SearchFilters(include_deleted=include_deleted)
        if include_deleted and not filters.include_deleted:
            filters = SearchFilters(filters.session_id, filters.model, filters.since, True)
        where, params = filter_sql(filters)
        title_where, title_params = filter_sql(filters, titles=True)
        with self.reading():
            hits: list[tuple[int | None, SearchHit]] = [
                (row[7], SearchHit(session_id=row[1], session_title=row[4] or "",
                                   message_id=row[0], position=row[2], role=row[3],
                                   snippet=row[5], rank=row[6]))
                for row in self._message_hits(match, where, params, limit)
            ]
            hits += [
                (None, SearchHit(session_id=row[0], session_title=row[1] or "", message_id=None,
                                 position=None, role=None, snippet=row[2], rank=row[3]))
                for row in self.query(
                    f"SELECT s.id, s.title, {_snippet_args('sessions_fts')}, sessions_fts.rank "
                    "FROM sessions_fts JOIN sessions s ON s.seq = sessions_fts.rowid "
                    f"WHERE sessions_fts MATCH ? {title_where} "
                    "ORDER BY sessions_fts.rank LIMIT ?",
                    (match, *title_params, limit),
                )
            ]
        hits.sort(key=lambda pair: pair[1].rank)
        return hits[:limit]

    def _message_hits(self, match: str, where: str, params: list[Any], limit: int) -> list[Any]:
        return self.query(
            f"SELECT m.id, m.session_id, m.position, m.role, s.title, "
            f"{_snippet_args('messages_fts')}, messages_fts.rank, m.seq "
            "FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid "
            "JOIN sessions s ON s.id = m.session_id "
            f"WHERE messages_fts MATCH ? {where} "
            "ORDER BY messages_fts.rank LIMIT ?",
            (match, *params, limit),
        )

    @_index_errors
    def meaning_search(self, query: str, model: VectorModel, vector: Sequence[float],
                       limit: int = 20, filters: SearchFilters | None = None,
                       hybrid: bool = False, min_score: float = -1.0) -> list[SearchHit]:
        """Messages closest in meaning to `query` (whose embedding is `vector`), best first.

        Hits by meaning need a cosine similarity of `min_score`. With `hybrid`, fused with
        the full-text ranking. Messages the index lacks yet are
        found by their words: their full-text hits are fused in too.
        """
        filters = filters or SearchFilters()
        depth = max(limit, FUSION_DEPTH)
        found = self.vector_search(model, vector, depth, filters, min_score)
        meaning = self._hits_for(found, query)
        missing = None if hybrid else self.unindexed_seqs(model)
        if not hybrid and not missing:
            return meaning[:limit]
        try:
            words = self._text_hits(query, depth, filters=filters)
        except SearchQueryError:
            words = []  # nothing searchable as words (punctuation only): meaning alone
        if missing is not None:
            words = [(seq, hit) for seq, hit in words if seq is not None and seq in missing]
        return fuse([[hit for _s, hit in words], meaning] if hybrid
                     else [meaning, [hit for _s, hit in words]], limit)

    def _hits_for(self, found: list[VectorHit], query: str) -> list[SearchHit]:
        if not found:
            return []
        seqs = [hit.message_seq for hit in found]
        rows = {row[0]: row for row in self.query(
            "SELECT m.seq, m.id, m.session_id, m.position, m.role, s.title, m.content "
            "FROM messages m JOIN sessions s ON s.id = m.session_id "
            f"WHERE m.seq IN ({', '.join('?' * len(seqs))})", seqs)}
        hits = []
        for hit in found:
            row = rows.get(hit.message_seq)
            if row is None:
                continue
            hits.append(SearchHit(
                session_id=row[2], session_title=row[5] or "", message_id=row[1],
                position=row[3], role=row[4],
                snippet=highlight((row[6] or "")[hit.start:hit.end] or (row[6] or ""), query),
                rank=-hit.score, matched="meaning"))
        return hits
