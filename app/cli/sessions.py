"""`talu-chat sessions …`: list, show, mark, rename, fork and purge stored sessions; usage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import UsageError
from ..service.markers import MARKER_VERBS, MARKER_WORDS
from .options import TEXT, json_option, limit_option, open_service, profile_option, session_service
from .output import echo_json, note, one_line, session_table, session_view, tree_lines

if TYPE_CHECKING:
    from storage import Session, StoredMessage

    from ..service import ConversationService

#: `--at` values of at most this many digits are message numbers, longer ones id prefixes.
MESSAGE_NUMBER_DIGITS = 6
_VIEW_NAMES = {"recent": "", "pinned": "pinned ", "archived": "archived ",
               "deleted": "trashed ", "all": ""}
_LIST_HELP = {"archive": " (list --archived)", "delete": " (list --deleted, restore, purge)"}


@click.group("sessions")
def sessions() -> None:
    """List and manage stored chat sessions (IDs may be any unique prefix)."""


def _label(service: ConversationService, session: Session) -> str:
    return f"{service.short_id(session.id)} ({one_line(session.title) or 'untitled'})"


@sessions.command("list")
@click.option("--pinned", "view", flag_value="pinned", help="Only pinned sessions.")
@click.option("--archived", "view", flag_value="archived", help="Only archived sessions.")
@click.option("--deleted", "view", flag_value="deleted", help="Only sessions in the trash.")
@click.option("--all", "view", flag_value="all", help="Every session, whatever its marker.")
@limit_option(50, 0, "Most sessions to list (0: no limit).")
@json_option
@profile_option
def list_sessions(view: str | None, limit: int, as_json: bool, profile: str | None) -> None:
    """List sessions: pinned first, then the most recently updated (not archived or trashed)."""
    view = view or "recent"
    service = open_service(profile, create=False)
    found: list[Session] = []
    total = 0
    if service is not None:
        found = service.list_sessions(view, limit=limit or None)
        total = service.count_sessions(view) if limit and len(found) == limit else len(found)
    if total > len(found):
        note(f"showing {len(found)} of {total} sessions; --limit 0 lists them all")
    if as_json:
        echo_json({"sessions": [s.as_dict() for s in found]})
    elif service is None or not found:
        hint = " (start one with: talu-chat ask PROMPT)" if view == "recent" else ""
        note(f"no {_VIEW_NAMES[view]}sessions{hint}")
    else:
        for line in session_table(service, found):
            click.echo(line)


@sessions.command("usage")
@json_option
@profile_option
def usage(as_json: bool, profile: str | None) -> None:
    """Show what the profile holds and takes on disk (attachments are inside its database)."""
    from ..formatting import human_size

    service = open_service(profile, create=False)
    found = service.usage() if service is not None else {
        "sessions": 0, "messages": 0, "attachments": 0, "attachment_bytes": 0,
        "database_bytes": 0}
    if as_json:
        echo_json(found)
        return
    click.echo(f"sessions     {found['sessions']}")
    click.echo(f"messages     {found['messages']}")
    click.echo(f"attachments  {found['attachments']} files, "
               f"{human_size(found['attachment_bytes'])}")
    click.echo(f"on disk      {human_size(found['database_bytes'])}")


@sessions.command("show")
@click.argument("session_id", type=TEXT, metavar="ID")
@json_option
@profile_option
def show(session_id: str, as_json: bool, profile: str | None) -> None:
    """Show a session: its facts, parent and forks, and every message with its metrics."""
    service, session = session_service(profile, session_id)
    messages = service.messages(session.id)
    children = service.children(session.id)
    if as_json:
        echo_json({"session": session.as_dict(), "messages": [m.as_dict() for m in messages],
                   "children": [c.as_dict() for c in children]})
        return
    for line in session_view(service, session, messages, children):
        click.echo(line)


@sessions.command("tree")
@click.argument("session_id", type=TEXT, metavar="ID")
@json_option
@profile_option
def tree(session_id: str, as_json: bool, profile: str | None) -> None:
    """Show the fork tree a session belongs to, from its root; '*' marks the session."""
    service, session = session_service(profile, session_id)
    root = service.session_tree(session.id)
    if as_json:
        echo_json({"tree": root.as_dict()})
        return
    for line in tree_lines(service, root, session.id):
        click.echo(line)


def _marker_command(verb: str) -> click.Command:
    marker_verb = MARKER_VERBS[verb]

    @click.argument("session_id", type=TEXT, metavar="ID")
    @json_option
    @profile_option
    def run(session_id: str, as_json: bool, profile: str | None) -> None:
        service, session = session_service(profile, session_id)
        result = service.mark(session.id, verb)
        if as_json:
            echo_json({"session": result.after.as_dict()})
            return
        label = _label(service, result.after)
        if not result.changed:
            assert marker_verb.only_from is not None
            click.echo(f"{label} is not {MARKER_WORDS[marker_verb.only_from]}; nothing changed")
        elif verb == "delete":
            click.echo(f"moved {label} to the trash; undo with: talu-chat sessions restore "
                       f"{service.short_id(session.id)}")
        else:
            click.echo(f"{marker_verb.past} {label}")

    help_text = marker_verb.help.rstrip(".") + _LIST_HELP.get(verb, "") + "."
    return click.command(verb, help=help_text)(run)


for _verb in MARKER_VERBS:
    sessions.add_command(_marker_command(_verb))


@sessions.command("rename")
@click.argument("session_id", type=TEXT, metavar="ID")
@click.argument("title", type=TEXT, nargs=-1, required=True)
@json_option
@profile_option
def rename(session_id: str, title: tuple[str, ...], as_json: bool, profile: str | None) -> None:
    """Give a session a new TITLE (the words are joined with spaces)."""
    text = " ".join(title).strip()
    if not text:
        raise UsageError("the title is empty")
    service, session = session_service(profile, session_id)
    renamed = service.rename(session.id, text)
    if as_json:
        echo_json({"session": renamed.as_dict()})
        return
    click.echo(f"renamed {_label(service, renamed)}")


@sessions.command("model")
@click.argument("session_id", type=TEXT, metavar="ID")
@click.argument("ref", type=TEXT, metavar="REF")
@json_option
@profile_option
def model(session_id: str, ref: str, as_json: bool, profile: str | None) -> None:
    """Switch a session to model REF (checked first); its next answer uses it."""
    service, session = session_service(profile, session_id)
    changed = service.set_model(session.id, ref)
    if as_json:
        echo_json({"session": changed.as_dict()})
        return
    click.echo(f"{_label(service, changed)} now uses {one_line(changed.model_ref)} "
               "from the next answer on")


def resolve_message(messages: list[StoredMessage], at: str, session_label: str) -> StoredMessage:
    """The message `--at` names: a 1-based number (up to 6 digits) or a message id prefix."""
    text = at.strip().lower()
    if text.isdigit() and len(text) <= MESSAGE_NUMBER_DIGITS:
        number = int(text)
        if not messages:
            raise UsageError(f"session {session_label} has no messages to fork at")
        if not 1 <= number <= len(messages):
            raise UsageError(f"--at {number}: session {session_label} has messages 1 to "
                             f"{len(messages)}")
        return messages[number - 1]
    found = [m for m in messages if text and m.id.startswith(text)]
    if not found:
        raise UsageError(f"--at {at!r}: no message of session {session_label} has that id; "
                         "give a message number (1 is the first) or a message id")
    if len(found) > 1:
        raise UsageError(f"--at {at!r} matches {len(found)} messages; type more characters")
    return found[0]


@sessions.command("fork")
@click.argument("session_id", type=TEXT, metavar="ID")
@click.option("--at", "at", type=TEXT, default=None, metavar="MESSAGE",
              help="Last message to copy: its number as `sessions show` prints it (1 is the "
                   "first) or its id (a prefix of 7+ characters). Default: the last message.")
@json_option
@profile_option
def fork(session_id: str, at: str | None, as_json: bool, profile: str | None) -> None:
    """Copy a session up to a message into a new session; print the new session's id."""
    service, session = session_service(profile, session_id)
    at_id = None
    if at is not None:
        at_id = resolve_message(service.messages(session.id), at,
                                service.short_id(session.id)).id
    child = service.fork(session.id, at_id)
    if as_json:
        echo_json({"session": child.as_dict()})
        return
    click.echo(child.id)


@sessions.command("purge")
@click.argument("session_id", type=TEXT, metavar="ID", required=False)
@click.option("--trash", is_flag=True, help="Purge every session in the trash.")
@click.option("--force", is_flag=True, help="Purge a session even if it is not in the trash.")
@profile_option
def purge(session_id: str | None, trash: bool, force: bool, profile: str | None) -> None:
    """Remove a session in the trash and its messages for good (this cannot be undone)."""
    from storage import NotInTrashError

    if bool(session_id) == trash:
        raise UsageError("purge takes a session ID or --trash (one of them)")
    if trash:
        service = open_service(profile, create=False)
        count = service.purge_trash() if service is not None else 0
        click.echo(f"purged {count} session{'' if count == 1 else 's'} from the trash")
        return
    assert session_id is not None
    service, session = session_service(profile, session_id)
    label = _label(service, session)
    try:
        service.purge(session.id, force=force)
    except NotInTrashError:
        raise UsageError(f"{label} is not in the trash: delete it first, or purge it with "
                         "--force") from None
    click.echo(f"purged {label}")

