"""The keys help, generated from the bindings themselves so it cannot drift from them."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding, BindingType

_NAMES = {"escape": "Esc", "enter": "Enter", "tab": "Tab", "up": "↑", "down": "↓",
          "left": "←", "right": "→", "pageup": "PgUp", "pagedown": "PgDn"}


def key_name(key: str) -> str:
    """`ctrl+f` as `Ctrl+F`, `escape` as `Esc`, `f3` as `F3`."""
    parts = key.split("+")
    *mods, last = parts
    if last in _NAMES:
        shown = _NAMES[last]
    elif len(last) == 1:  # a letter key: `c`, or `C` with Shift
        shown = last.upper() if mods else last
    else:  # f3, home
        shown = last.upper() if len(last) <= 3 else last.capitalize()
    return "+".join([*(m.capitalize() for m in mods), shown])


def binding_line(binding: Binding) -> tuple[str, str]:
    """(keys, what they do) for one binding: `F3 · Ctrl+F`, `Search every session`."""
    keys = " · ".join(key_name(k.strip()) for k in binding.key.split(","))
    return keys, binding.tooltip or binding.description


def key_help(sections: Iterable[tuple[str, Iterable[BindingType]]]) -> str:
    """A plain-text table of keys, one titled block per group of bindings."""
    blocks = []
    for title, bindings in sections:
        lines = [binding_line(b) for b in bindings if isinstance(b, Binding) and b.description]
        width = max((len(keys) for keys, _ in lines), default=0)
        blocks.append("\n".join([title, *(f"  {keys.ljust(width)}  {what}"
                                          for keys, what in lines)]))
    return "\n\n".join(blocks)
