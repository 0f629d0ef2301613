"""`talu-chat export` and `talu-chat import`: sessions to and from files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from storage import EXPORT_FORMATS, IMPORT_FORMATS

from ..errors import UsageError
from .options import TEXT, app_context, json_option, open_service, profile_option
from .output import echo_json, note, one_line, shown

#: Export formats by file name suffix, for `-o` without `--format`.
_SUFFIX_FORMATS = {"md": "md", "markdown": "md", "json": "json", "jsonl": "jsonl",
                   "html": "html", "htm": "html"}


def _format_for(fmt: str | None, output: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(output).suffix.lstrip(".").lower() if output else ""
    return _SUFFIX_FORMATS.get(suffix, "md")


@click.command("export")
@click.argument("session_ids", type=TEXT, nargs=-1, metavar="[ID]...")
@click.option("--all", "all_", is_flag=True,
              help="Every session of the profile, archived and trashed ones included.")
@click.option("-f", "--format", "fmt", type=click.Choice(EXPORT_FORMATS), default=None,
              help="md (default), json (lossless, for import), jsonl (fine-tuning), html. "
                   "Without it, taken from the -o file name.")
@click.option("-o", "--output", default=None, metavar="PATH",
              help="Write to PATH (atomically) instead of standard output.")
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@profile_option
def export(session_ids: tuple[str, ...], all_: bool, fmt: str | None, output: str | None,
           force: bool, profile: str | None) -> None:
    """Export sessions (IDs, or --all) to standard output or to a file."""
    if bool(session_ids) == all_:
        raise UsageError("export takes session IDs or --all (one of them)")
    fmt = _format_for(fmt, output)
    service = open_service(profile, create=False)
    if service is None:
        name = app_context(profile).profile
        raise UsageError(f"profile {name!r} has no sessions to export")
    ids = [service.find_session(prefix).id for prefix in session_ids] if session_ids else None
    if output is None or output == "-":
        text = service.export(ids, fmt)
        assert isinstance(text, str)
        # On a terminal, stored model output must not drive it; files and pipes get it exact.
        click.echo(shown(text) if sys.stdout.isatty() else text, nl=False)
        return
    written = service.export(ids, fmt, Path(output).expanduser(), force=force)
    count = len(ids) if ids is not None else service.count_sessions("all")
    note(f"exported {count} session{'' if count == 1 else 's'} to {written}")


@click.command("import")
@click.argument("path", metavar="PATH")
@click.option("-f", "--format", "fmt", type=click.Choice(IMPORT_FORMATS), default=None,
              help="talu (a talu-chat JSON export) or chatgpt (conversations.json or the "
                   "export zip). Default: detected.")
@json_option
@profile_option
def import_(path: str, fmt: str | None, as_json: bool, profile: str | None) -> None:
    """Import the sessions of a file into the profile: all of them, or none on any error."""
    from ..service import read_import_file

    # The file is read and checked before the profile is opened: a bad file creates none.
    records = read_import_file(Path(path).expanduser(), fmt, app_context(profile).settings)
    service = open_service(profile, create=True)
    assert service is not None
    imported = service.import_records(records)
    if as_json:
        echo_json({"sessions": [s.as_dict() for s in imported]})
        return
    name = app_context(profile).profile
    click.echo(f"imported {len(imported)} session{'' if len(imported) == 1 else 's'} into "
               f"profile {name!r}")
    for session in imported:
        click.echo(f"{session.id}  {one_line(session.title) or '(untitled)'}")
