"""talu-chat's themes: three of its own (dark, light, high contrast), user theme files, and
the shared TCSS. Every colour in the TCSS is a theme variable, so a theme restyles everything.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

TCSS_PATH = Path(__file__).with_name("talu.tcss")

TALU_THEMES: dict[str, Theme] = {
    theme.name: theme
    for theme in (
        Theme(
            name="talu-dark", primary="#7aa2f7", secondary="#bb9af7", accent="#e0af68",
            warning="#e0af68", error="#f7768e", success="#9ece6a", foreground="#c0caf5",
            background="#16161e", surface="#1a1b26", panel="#24283b", dark=True,
            variables={"footer-key-foreground": "#7aa2f7"},
        ),
        Theme(
            name="talu-light", primary="#2e5cb8", secondary="#7847bd", accent="#b15c00",
            warning="#b15c00", error="#c4314b", success="#2f7d32", foreground="#1f2330",
            background="#f4f5f8", surface="#ffffff", panel="#e3e6ee", dark=False,
        ),
        Theme(
            name="talu-contrast", primary="#ffff00", secondary="#00ffff", accent="#ff00ff",
            warning="#ffff00", error="#ff5555", success="#00ff00", foreground="#ffffff",
            background="#000000", surface="#000000", panel="#1c1c1c", dark=True,
            luminosity_spread=0.0, text_alpha=1.0,
            variables={"border": "#ffffff", "block-cursor-background": "#ffff00",
                       "block-cursor-foreground": "#000000", "text-muted": "#ffffff"},
        ),
    )
}

_THEME_FIELDS = {f.name for f in fields(Theme)} - {"name", "variables"}


class ThemeFileError(Exception):
    """A user theme file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class UserThemes:
    """Themes loaded from the user's theme folder, and one line per file that failed."""

    themes: list[Theme]
    errors: list[str]


def _color(value: Any, key: str, path: Path) -> str:
    try:
        Color.parse(str(value))
    except ColorParseError:
        raise ThemeFileError(f"theme file {path}: {key} = {value!r} is not a colour") from None
    return str(value)


def load_theme_file(path: Path) -> Theme:
    """One theme from a TOML file: name, primary, … and an optional [variables] table."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"cannot read theme file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"theme file {path} is not valid TOML: {exc}") from None
    unknown = set(data) - _THEME_FIELDS - {"name", "variables"}
    if unknown:
        raise ThemeFileError(f"theme file {path}: unknown key {sorted(unknown)[0]!r}")
    if not isinstance(data.get("primary"), str):
        raise ThemeFileError(f"theme file {path}: 'primary' (a colour) is required")
    options: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("name", "variables"):
            continue
        if key in ("dark", "ansi"):
            if not isinstance(value, bool):
                raise ThemeFileError(f"theme file {path}: {key} must be true or false")
            options[key] = value
        elif key in ("luminosity_spread", "text_alpha"):
            if not isinstance(value, int | float):
                raise ThemeFileError(f"theme file {path}: {key} must be a number")
            options[key] = float(value)
        else:
            options[key] = _color(value, key, path)
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeFileError(f"theme file {path}: [variables] must be a table")
    name = data.get("name") or path.stem
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"theme file {path}: name must be a non-empty string")
    return Theme(name=name, variables={str(k): str(v) for k, v in variables.items()}, **options)


def load_user_themes(folder: Path) -> UserThemes:
    """Every *.toml theme in `folder`; a bad file is reported, the others still load."""
    themes: list[Theme] = []
    errors: list[str] = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            try:
                themes.append(load_theme_file(path))
            except ThemeFileError as exc:
                errors.append(str(exc))
    return UserThemes(themes, errors)
