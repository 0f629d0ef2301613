"""What the chat does with a slash command: run it through the shared definition
(`app.commands`) and carry out the `Action` it returns, the TUI's way.

A mixin of `ChatScreen` (its methods take the screen as `self`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding

from .. import commands
from ..commands import Action, CommandResult
from .key_help import key_help
from .screens.dialogs import TextEditor
from .turns import USER_ERRORS
from .widgets.compare_view import CompareColumn
from .widgets.message_view import MessageView
from .widgets.prompt_input import PromptInput
from .widgets.tool_block import ToolBlock

if TYPE_CHECKING:
    from .screens.chat import ChatScreen


class SlashCommands:
    """Slash commands and the keys help, for the chat screen.

    Each method takes the screen as `self: ChatScreen` (see `AlternativeActions`).
    """

    async def run_command(self: ChatScreen, text: str) -> None:  # type: ignore[misc]
        """Run a slash command through the shared definition and carry out its action."""
        try:
            found, arg = commands.parse(text)
            # These open a dialog here where the REPL prints or asks on a line.
            if found.name in ("model", "models") and not arg:
                self.action_pick_model()
                return
            if found.name == "search" and arg:
                self.action_search(arg)
                return
            if found.name == "export" and not arg:
                self.action_export()
                return
            session_id = await self._ensure_session()
            result = await self._db(commands.execute, self.service, session_id, text)
        except USER_ERRORS as exc:
            self._error(exc)
            return
        await self.carry_out(result)

    async def carry_out(self: ChatScreen, result: CommandResult) -> None:  # type: ignore[misc]
        """Do what a command's `Action` asks for, the TUI's way."""
        action = result.action
        if action is Action.QUIT:
            self.app.exit()
        elif action is Action.REGENERATE:
            await self.action_regenerate()
        elif action is Action.CONTINUE:
            await self.continue_answer()
        elif action is Action.COMPARE:
            if result.data == []:
                self.action_compare()
                return
            self.arm_compare(list(result.data) if result.data else None)
            self._say(result.message)
        elif action is Action.OPEN_SESSION:
            await self.show_session(str(result.data), result.message)
        elif action in (Action.MCP_PROMPT, Action.MCP_RESOURCE):
            self.run_worker(self.tools.bring_into(self.prompt, action, str(result.data)),
                            group="mcp")
        elif action is Action.TOOLS_CHANGED:
            self.tools.tools_changed(result.data.metadata, result.message)
        elif action is Action.SHOW_TEXT:
            await self.app.push_screen(TextEditor(str(result.data), result.message,
                                                  help="Esc closes"))
        elif action is Action.ATTACH:
            await self.attachments.add(result.data)
        elif action is Action.DETACH:
            await self.attachments.detach(str(result.data))
        elif action is Action.PICK_FILE:
            self.attachments.pick()
        elif action is Action.SHOW_HELP:
            await self.app.push_screen(TextEditor("Slash commands and keys",
                                                  f"{result.message}\n\n{self.keys_help()}",
                                                  help="Esc closes"))
        else:
            if action is Action.MODEL_CHANGED:
                self.status.model_ref = str(result.data)
                self.status.prepare(self.service.engine, str(result.data))
            if action is Action.SESSION_CHANGED and self.session_id is not None:
                session = await self._db(self.service.get_session, self.session_id)
                if session.model_ref and session.model_ref != self.status.model_ref:
                    self.status.model_ref = session.model_ref  # `/keep each` follows an answer
                    self.status.prepare(self.service.engine, session.model_ref)
            if action in (Action.SESSION_CHANGED, Action.MODEL_CHANGED):
                self.refresh_sidebar()
            if result.message:
                self.notify(result.message, timeout=8 if action is Action.EXPORTED else 4)

    def keys_help(self: ChatScreen) -> str:  # type: ignore[misc]
        """Every key of the chat, from the bindings of the screen and its widgets."""
        palette = Binding(self.app.COMMAND_PALETTE_BINDING, "command_palette",
                          "Command palette: every action, and “Use model: …”")
        prompt = [*PromptInput.KEYS, *PromptInput.BINDINGS]
        return key_help([("Chat", self.BINDINGS), ("Prompt", prompt),
                         ("A focused message", MessageView.BINDINGS),
                         ("A focused tool block (Tab reaches it)", ToolBlock.BINDINGS),
                         ("A compared answer", CompareColumn.BINDINGS),
                         ("Anywhere", [palette, *self.app.BINDINGS])])
