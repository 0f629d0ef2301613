"""`talu-chat search`: full-text, semantic and hybrid search over every session of a profile."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from storage import SNIPPET_CLOSE, SNIPPET_OPEN

from ..errors import UsageError
from .options import TEXT, json_option, limit_option, open_service, profile_option
from .output import echo_json, note, one_line

if TYPE_CHECKING:
    from ..service import ConversationService

_HELP = f"""Search messages and titles for QUERY: by its words, by its meaning, or both.

--text finds every word of QUERY (a trailing * matches a prefix); --semantic finds messages
that mean the same even in other words (an embedding model, `search.embedding_model`; the
history is indexed on first use, with progress on stderr); --hybrid fuses both rankings. The
default is `search.mode` (hybrid). Hits come best first, the matched words between
{SNIPPET_OPEN} and {SNIPPET_CLOSE}; a hit's [N] is the message number that `sessions show` and
`sessions fork --at` use.
"""
@click.command("search", help=_HELP)
@click.argument("query", type=TEXT, nargs=-1, required=True)
@click.option("--text", "mode", flag_value="text", help="Match the words (full-text, BM25).")
@click.option("--semantic", "mode", flag_value="semantic", help="Match the meaning (vectors).")
@click.option("--hybrid", "mode", flag_value="hybrid", help="Both, fused by rank.")
@click.option("--model", "model", type=TEXT, default=None, metavar="REF",
              help="Only messages of models whose reference contains REF.")
@click.option("--since", "since", type=TEXT, default=None, metavar="WHEN",
              help="Only messages since WHEN: a date, a time, or an age (30m, 12h, 3d, 2w).")
@click.option("--session", "session", type=TEXT, default=None, metavar="ID",
              help="Only this session (an id or unique prefix).")
@limit_option(20, 1, "Most hits to show.")
@click.option("--deleted", "include_deleted", is_flag=True,
              help="Search the trash too.")
@json_option
@profile_option
def search(query: tuple[str, ...], mode: str | None, model: str | None, since: str | None,
           session: str | None, limit: int, include_deleted: bool, as_json: bool,
           profile: str | None) -> None:
    """Search every session of the profile."""
    from ..service.search import search_filters

    text = " ".join(query)
    if not text.strip():
        raise UsageError("the search query is empty; type at least one word")
    filters = search_filters(None, model, since, include_deleted)  # --since checked first
    service = open_service(profile, create=False)
    mode = mode or (service.settings.search.mode if service is not None else "text")
    if service is None:
        hits, coverage, notice = [], None, None
    else:
        session_id = service.find_session(session).id if session else None
        filters = search_filters(session_id, model, since, include_deleted)
        if mode == "text":
            hits, coverage, notice = service.search(text, limit, filters=filters), None, None
        else:
            result = _search_by_meaning(service, text, mode, limit, filters)
            hits, coverage, notice, mode = (result.hits, result.coverage, result.notice,
                                            result.mode)
    if notice:
        note(notice)
    if as_json:
        echo_json({"query": text, "mode": mode,
                   "index": coverage.as_dict() if coverage is not None else None,
                   "hits": [{**hit.as_dict(),
                             "number": None if hit.position is None else hit.position + 1}
                            for hit in hits]})
        return
    if not hits:
        note(f"no matches for {text!r}")
        return
    assert service is not None
    short = service.short_ids({hit.session_id for hit in hits})
    for hit in hits:
        where = "title" if hit.position is None else f"[{hit.position + 1}] {hit.role}"
        title = one_line(hit.session_title) or "(untitled)"
        click.echo(f"{short[hit.session_id]}  {where}  {title}")
        click.echo(f"    {one_line(hit.snippet)}")


def _search_by_meaning(service: ConversationService, text: str, mode: str, limit: int,
                       filters: Any) -> Any:
    import asyncio

    progress = _Progress()

    async def run() -> Any:
        try:
            return await service.indexer.search(text, mode, limit, filters, progress=progress)
        finally:
            progress.done()
            await service.engine.aclose()

    return asyncio.run(run())


class _Progress:
    """Indexing progress on stderr: a line a second once indexing has run for a second."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.shown_at = 0.0
        self.shown = False

    def __call__(self, coverage: Any) -> None:
        now = time.monotonic()
        if now - self.started < 1.0 or now - self.shown_at < 1.0:
            return
        self.shown_at, self.shown = now, True
        end = "\r" if sys.stderr.isatty() else "\n"
        sys.stderr.write(f"indexing messages for search: {coverage.indexed} of "
                         f"{coverage.total}{end}")
        sys.stderr.flush()

    def done(self) -> None:
        if self.shown and sys.stderr.isatty():
            sys.stderr.write("\n")
