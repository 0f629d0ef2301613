"""The keys help is generated from the bindings, so a new binding shows up in it."""

from __future__ import annotations

from textual.binding import Binding

from app.tui.key_help import key_help, key_name
from app.tui.screens.chat import ChatScreen


def test_key_names_read_as_people_write_them() -> None:
    assert [key_name(k) for k in ("ctrl+f", "escape", "f3", "c", "ctrl+c", "up", "home")] == [
        "Ctrl+F", "Esc", "F3", "c", "Ctrl+C", "↑", "Home"]


def test_every_described_binding_of_the_chat_is_in_the_help() -> None:
    text = key_help([("Chat", ChatScreen.BINDINGS)])
    for binding in ChatScreen.BINDINGS:
        assert isinstance(binding, Binding)
        first_key = key_name(binding.key.split(",")[0])
        line = next(line for line in text.splitlines()
                    if line.strip().split("  ")[0].split(" · ")[0] == first_key)
        assert (binding.tooltip or binding.description) in line


def test_a_new_binding_appears_without_editing_the_help() -> None:
    extra = Binding("ctrl+y", "yank", "Yank", tooltip="Yank the answer")
    assert "Ctrl+Y  Yank the answer" in key_help([("Chat", [extra])])
