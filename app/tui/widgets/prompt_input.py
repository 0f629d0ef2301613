"""The multi-line prompt: Enter sends, Ctrl+J inserts a newline, Up/Down walk the history,
Tab completes slash commands and `/attach` paths."""

from __future__ import annotations

import re
from collections.abc import Callable

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from ... import commands

#: A paste longer than this becomes a `[pasted text #N: … characters]` placeholder in the
#: prompt, replaced by the pasted text when the message is sent: the editor stays fast (it
#: re-wraps every line it holds) and the person sees what they are sending.
LARGE_PASTE_CHARS = 20_000
_PLACEHOLDER = re.compile(r"\[pasted text #(\d+): [\d,]+ characters\]")


class PromptInput(TextArea):
    """Where the person types. Posts `Submitted` on Enter and `Changed` hints for commands."""

    BINDINGS = [
        Binding("ctrl+j,shift+enter,alt+enter", "newline", "Newline", show=False,
                tooltip="Insert a newline"),
        Binding("tab", "complete", "Complete", show=False,
                tooltip="Complete a slash command or an /attach path (// sends a literal "
                        "slash)"),
    ]
    #: Keys handled in `on_key` rather than by bindings, listed for the keys help.
    KEYS = [
        Binding("enter", "", "Send", tooltip="Send the message"),
        Binding("up,down", "", "History",
                tooltip="Earlier prompts of this session (from the first / last line)"),
    ]

    class Submitted(Message):
        """The person sent `text`."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Pasted(Message):
        """Short `text` was pasted (the screen offers to attach it when it names a file)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Hint(Message):
        """Slash commands that match what is typed (empty: hide the hint)."""

        def __init__(self, matches: list[str]) -> None:
            super().__init__()
            self.matches = matches

    def __init__(self, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         **kwargs)  # type: ignore[arg-type]
        self.prompt_history: list[str] = []
        self._history_index: int | None = None
        self._draft = ""
        self.pastes: dict[int, str] = {}
        """Large pastes held outside the editor, by placeholder number."""
        self.completions: dict[str, Callable[[], list[str]]] = {}
        """Tab completion of a command's argument: command name → its current values."""

    async def on_paste(self, event: events.Paste) -> None:
        """A large paste goes in as a placeholder (see `LARGE_PASTE_CHARS`)."""
        if len(event.text) <= LARGE_PASTE_CHARS or self.read_only:
            if not self.read_only:
                self.post_message(self.Pasted(event.text))
            return
        event.prevent_default()
        event.stop()
        number = max(self.pastes, default=0) + 1
        self.pastes[number] = event.text
        self.insert(f"[pasted text #{number}: {len(event.text):,} characters]")

    def message_text(self) -> str:
        """What the prompt sends: its text with each paste placeholder replaced by the paste."""
        return _PLACEHOLDER.sub(
            lambda m: self.pastes.get(int(m.group(1)), m.group(0)), self.text)

    def set_history(self, prompts: list[str]) -> None:
        """The session's earlier prompts, oldest first."""
        self.prompt_history = prompts
        self._history_index = None

    async def on_key(self, event: events.Key) -> None:
        """Enter sends; Up / Down on the first / last line walk the history (the other keys
        go on to the TextArea)."""
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            typed = self.text
            if typed.strip():
                text = self.message_text()
                if len(text) <= LARGE_PASTE_CHARS:  # a huge paste is not worth recalling
                    self.prompt_history.append(text)
                self._history_index = None
                self.clear()
                self.pastes.clear()
                self.post_message(self.Submitted(text))
            return
        if event.key == "up" and self.cursor_location[0] == 0 and self.prompt_history:
            event.stop()
            event.prevent_default()
            self._walk_history(-1)
            return
        if (event.key == "down" and self._history_index is not None
                and self.cursor_location[0] == self.document.line_count - 1):
            event.stop()
            event.prevent_default()
            self._walk_history(1)

    def _walk_history(self, step: int) -> None:
        if self._history_index is None:
            if step > 0:
                return
            self._draft = self.text
            index = len(self.prompt_history) - 1
        else:
            index = self._history_index + step
        if index >= len(self.prompt_history):
            self._history_index = None
            self.load_text(self._draft)
        else:
            self._history_index = max(0, index)
            self.load_text(self.prompt_history[self._history_index])
        self.move_cursor(self.document.end)

    def action_newline(self) -> None:
        self.insert("\n")

    def action_complete(self) -> None:
        text = self.text
        if text.startswith("/attach ") and "\n" not in text:
            self._complete_path(text)
            return
        name, space, arg = text[1:].partition(" ")
        source = self.completions.get(name.lower()) if space else None
        if text.startswith("/") and source is not None and " " not in arg and "\n" not in arg:
            self._complete_to(f"/{name} ", [v for v in source() if v.startswith(arg)])
            return
        if not text.startswith("/") or " " in text:
            self.app.action_focus_next()
            return
        self._complete_to("", commands.complete(text))

    def _complete_to(self, before: str, matches: list[str]) -> None:
        """Complete to the one match (and a space), or to what the matches share."""
        if len(matches) == 1:
            self.load_text(before + matches[0] + " ")
        elif matches:
            self.load_text(before + _common_prefix(matches))
        self.move_cursor(self.document.end)

    def _complete_path(self, text: str) -> None:
        """Tab after `/attach`: complete the last path from the disk (its longest common
        part; a quoted name when it holds spaces)."""
        import shlex

        from ...attachments import complete_path

        head, _, last = text.rpartition(" ")
        matches = complete_path(last)
        if matches:
            done = _common_prefix(matches)
            if len(matches) == 1 and done != shlex.quote(done) and not done.endswith("/"):
                done = shlex.quote(done)
            self.load_text(f"{head} {done}")
            self.move_cursor(self.document.end)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        text = self.text
        if text.startswith("/") and "\n" not in text:
            name = text.split(" ", 1)[0]
            found = [c for c in commands.COMMANDS.values() if f"/{c.name}".startswith(name)]
            if " " in text:
                found = [c for c in found if f"/{c.name}" == name]
            self.post_message(self.Hint([f"{c.usage}  —  {c.help}" for c in found]))
        else:
            self.post_message(self.Hint([]))


def _common_prefix(matches: list[str]) -> str:
    common = matches[0]
    for match in matches[1:]:
        while not match.startswith(common):
            common = common[:-1]
    return common
