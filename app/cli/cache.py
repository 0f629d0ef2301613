"""`talu-chat cache [show|clear]`: the saved model states that resume sessions quickly."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from ..formatting import human_size
from .options import app_context, json_option
from .output import echo_json, note, one_line, table

if TYPE_CHECKING:
    from engine.state_cache import CacheUsage


def _usage() -> CacheUsage:
    return app_context().engine.state_cache()


def cache_lines(usage: CacheUsage) -> list[str]:
    """`cache show` lines: one row per state, then the total against the cap."""
    if not usage.enabled:
        return ["the model state cache is off (local.kv_cache_mb = 0)"]
    where = one_line(str(usage.root))
    cap = human_size(usage.cap_bytes)
    if not usage.states:
        return [f"no saved model states in {where} (cap {cap})"]
    rows = [("SESSION", "MODEL", "TOKENS", "SIZE", "LAST USED")]
    for state in usage.states:
        rows.append((one_line(state.key)[:8] if state.key else "?",
                     one_line(state.model) or "?",
                     f"{state.n_tokens:,}" if state.n_tokens is not None else "?",
                     human_size(state.size_bytes),
                     datetime.fromtimestamp(state.used_at).strftime("%Y-%m-%d %H:%M")))
    count = len(usage.states)
    return [*table(rows), f"{count} saved state{'' if count == 1 else 's'}, "
                          f"{human_size(usage.total_bytes)} of {cap} in {where}"]


@click.group("cache", invoke_without_command=True)
@json_option
@click.pass_context
def cache(click_ctx: click.Context, as_json: bool) -> None:
    """Show or clear the saved model states that let sessions resume fast after a restart.

    After each answer of a local model, the model's state for that session is saved under
    the data dir (local.kv_cache_mb caps the space; the least recently used go first), so
    the first answer after reopening the session skips re-reading the history. A state holds
    the conversation: purging a session removes its states.
    """
    if click_ctx.invoked_subcommand is None:
        _show(as_json)


def _show(as_json: bool) -> None:
    usage = _usage()
    if as_json:
        echo_json(usage.as_dict())
        return
    for line in cache_lines(usage):
        click.echo(line)


@cache.command("show")
@json_option
def show(as_json: bool) -> None:
    """List the saved model states: session, model, tokens, size, last use; total vs cap."""
    _show(as_json)


@cache.command("clear")
@json_option
def clear(as_json: bool) -> None:
    """Remove every saved model state (the next answer of each session re-reads its history)."""
    engine = app_context().engine
    count, freed = engine.clear_state_cache()
    root = engine.state_cache().root
    if as_json:
        echo_json({"removed": count, "freed_bytes": freed,
                   "dir": str(root) if root else None})
        return
    if count == 0:
        note("no saved model states to remove")
        return
    click.echo(f"removed {count} saved state{'' if count == 1 else 's'} "
               f"({human_size(freed)}) from {one_line(str(root))}")
