"""The marker verbs (pin, archive, trash and their undos): one table for every interface."""

from __future__ import annotations

from dataclasses import dataclass

from storage import Session


@dataclass(frozen=True, slots=True)
class MarkerVerb:
    """A verb that sets a session's marker: `unpin` acts only on a pinned session, and so on."""

    name: str
    marker: str
    """The marker the session gets."""
    only_from: str | None
    """The marker the verb acts on (None: any)."""
    past: str
    """The verb in the past tense, as the command line prints it."""
    done: str
    """What the chat says once it is done."""
    help: str


MARKER_VERBS: dict[str, MarkerVerb] = {v.name: v for v in (
    MarkerVerb("pin", "pinned", None, "pinned", "Pinned to the top.",
               "Pin a session: it lists first."),
    MarkerVerb("unpin", "normal", "pinned", "unpinned", "Unpinned.", "Unpin a pinned session."),
    MarkerVerb("archive", "archived", None, "archived", "Archived.",
               "Archive a session: hidden from the list, still searchable."),
    MarkerVerb("unarchive", "normal", "archived", "unarchived", "Back from the archive.",
               "Bring an archived session back to the list."),
    MarkerVerb("delete", "deleted", None, "deleted", "Moved to the trash.",
               "Move a session to the trash (restorable)."),
    MarkerVerb("restore", "normal", "deleted", "restored", "Restored from the trash.",
               "Take a session out of the trash."),
)}

#: Toggles of the chat: (marker when on, verb that turns it on, verb that turns it off).
TOGGLES: dict[str, tuple[str, str, str]] = {
    "pin": ("pinned", "pin", "unpin"),
    "archive": ("archived", "archive", "unarchive"),
    "trash": ("deleted", "delete", "restore"),
}

#: How the command line names a marker: "is not pinned", "is not in the trash".
MARKER_WORDS = {"pinned": "pinned", "archived": "archived", "deleted": "in the trash"}


@dataclass(frozen=True, slots=True)
class MarkResult:
    """A marker verb applied: the session before and after, and the verb."""

    verb: MarkerVerb
    before: Session
    after: Session

    @property
    def changed(self) -> bool:
        """False when the verb did not apply (e.g. `unpin` on a session that is not pinned)."""
        return self.verb.only_from is None or self.before.marker == self.verb.only_from
