"""`talu-chat search`: full-text search over every session of a profile."""

from __future__ import annotations

import click

from storage import SNIPPET_CLOSE, SNIPPET_OPEN

from ..errors import UsageError
from .options import TEXT, json_option, limit_option, open_service, profile_option
from .output import echo_json, note, one_line

_HELP = f"""Search messages and titles for every word of QUERY (a trailing * matches a prefix).

Hits come best first, with the matched words between {SNIPPET_OPEN} and {SNIPPET_CLOSE}; a hit's
[N] is the message number that `sessions show` and `sessions fork --at` use.
"""


@click.command("search", help=_HELP)
@click.argument("query", type=TEXT, nargs=-1, required=True)
@limit_option(20, 1, "Most hits to show.")
@click.option("--deleted", "include_deleted", is_flag=True,
              help="Search the trash too.")
@json_option
@profile_option
def search(query: tuple[str, ...], limit: int, include_deleted: bool, as_json: bool,
           profile: str | None) -> None:
    """Search every session of the profile."""
    text = " ".join(query)
    if not text.strip():
        raise UsageError("the search query is empty; type at least one word")
    service = open_service(profile, create=False)
    hits = service.search(text, limit=limit, include_deleted=include_deleted) \
        if service is not None else []
    if as_json:
        echo_json({"query": text, "hits": [
            {**hit.as_dict(), "number": None if hit.position is None else hit.position + 1}
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
