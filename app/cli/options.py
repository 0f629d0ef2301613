"""What the commands share: the app context, the profile's service, and common options.

The bottom module of the command line: it imports no other command module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..errors import UsageError

if TYPE_CHECKING:
    from storage import Session

    from ..context import AppContext
    from ..service import ConversationService


#: Most items a listing may ask for (`--limit`): bounded so a huge number is a usage error.
MAX_LIMIT = 1_000_000


class Utf8Text(click.ParamType[str, Any]):
    """Text that must be valid UTF-8: an argument holding undecodable bytes (which Python
    keeps as lone surrogates) is refused before anything is stored."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        text = str(value)
        bad = next((i for i, ch in enumerate(text) if "\ud800" <= ch <= "\udfff"), None)
        if bad is not None:
            byte = ord(text[bad]) - 0xDC00 if ord(text[bad]) >= 0xDC80 else None
            shown = f" (byte 0x{byte:02x})" if byte is not None else ""
            self.fail(f"is not valid UTF-8 text{shown} at character {bad + 1}", param, ctx)
        return text


TEXT = Utf8Text()


def limit_option(default: int, minimum: int, help_text: str) -> Callable[..., Any]:
    """`--limit N`, bounded to [minimum, MAX_LIMIT]."""
    return click.option("--limit", type=click.IntRange(min=minimum, max=MAX_LIMIT),
                        default=default, show_default=True, metavar="N", help=help_text)


def profile_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--profile NAME` on a subcommand (the group's `--profile` is the default)."""
    return click.option("--profile", "profile", type=TEXT, default=None, metavar="NAME",
                        help="Profile to use (default: 'default').")(func)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """`--json`: print one JSON document instead of text."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON document.")(func)


def sampling_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    """--temperature, --max-tokens, --seed and -o KEY VALUE."""
    func = click.option("-o", "--option", "options", type=(TEXT, TEXT), multiple=True,
                        metavar="KEY VALUE",
                        help="Any generation setting, e.g. -o top_k 40 -o stop '###'.")(func)
    func = click.option("--seed", type=int, default=None, help="Sampling seed.")(func)
    func = click.option("--max-tokens", type=int, default=None,
                        help="Longest answer in tokens.")(func)
    func = click.option("-t", "--temperature", type=float, default=None,
                        help="Sampling temperature.")(func)
    return func


def generation_options(options: tuple[tuple[str, str], ...], **named: Any) -> dict[str, Any]:
    """Sampling settings from `-o KEY VALUE` pairs and named flags, validated."""
    from pydantic import ValidationError

    from engine import GenerationConfig

    values: dict[str, Any] = {k: v for k, v in named.items() if v is not None}
    for key, value in options:
        key = key.replace("-", "_")
        if key == "stop":
            values.setdefault("stop", []).append(value)
        else:
            values[key] = value
    try:
        return GenerationConfig(**values).model_dump(exclude_unset=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            known = ", ".join(GenerationConfig.model_fields)
            raise UsageError(f"unknown option {name!r} (known: {known})") from None
        raise UsageError(f"invalid option {name}: {err['msg']}") from None


def read_prompt(prompt: str | None) -> str:
    """The prompt argument, or standard input when it is '-' or absent and piped."""
    if prompt is None or prompt == "-":
        if sys.stdin is None or (sys.stdin.isatty() and prompt is None):
            raise UsageError("no prompt given: pass PROMPT or pipe text on standard input")
        prompt = read_stdin_text()
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    return prompt


def read_stdin_text() -> str:
    """All of standard input as text; input that is not UTF-8 is a usage error."""
    raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"standard input is not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                         f"offset {exc.start})") from None


def app_context(profile: str | None = None) -> AppContext:
    """The current AppContext, with a subcommand's `--profile` applied."""
    from ..context import AppContext
    from ..settings import load_settings

    ctx = click.get_current_context().find_object(AppContext)
    if ctx is None:  # a command invoked on its own (tests)
        ctx = AppContext(settings=load_settings())
    if profile:
        ctx.profile = profile
    return ctx


def open_service(profile: str | None, *, create: bool = True) -> ConversationService | None:
    """The profile's conversation service; None when the profile is missing and not `create`."""
    ctx = app_context(profile)
    if not create and not ctx.profile_exists():
        return None
    return ctx.service()


def session_service(profile: str | None, prefix: str) -> tuple[ConversationService, Session]:
    """The service and the session an id (or unique prefix) names, without creating a profile."""
    service = open_service(profile, create=False)
    if service is None:
        name = app_context(profile).profile
        raise UsageError(f"no session id starts with {prefix!r}: profile {name!r} has no "
                         "sessions yet")
    return service, service.find_session(prefix)
