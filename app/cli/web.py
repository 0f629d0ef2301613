"""`talu-chat web`: the chat in a browser tab (see app/web).

Run as `python -m app.cli.web …`, this module is also the app process of one tab, started
by the server with the same profile, model and theme (and the same environment, so the same
settings and data).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import UsageError
from .options import TEXT, app_context, profile_option


def _say(line: str) -> None:
    click.echo(f"talu-chat web: {line}", err=True)


def remote_warning(host: str, allowed_dirs: list[Path]) -> str:
    """The line printed when the server listens off loopback."""
    folders = ", ".join(str(p) for p in allowed_dirs) or "none: no file at all"
    return (f"warning: listening on {host}, not loopback: anyone who can reach it and gets "
            "the token can chat as you (plain http, not encrypted); files only inside "
            f"[web] allowed_dirs ({folders})")


@click.command("web")
@click.option("--host", type=TEXT, default="127.0.0.1", show_default=True, metavar="ADDRESS",
              help="Address to listen on. Anything but loopback lets other machines reach "
                   "the page (the token still guards it; the traffic is not encrypted).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Port to listen on [default: 8422, or port in [web]].")
@profile_option
def web(host: str, port: int | None, profile: str | None) -> None:
    """Open the chat in a browser tab: the same app, behind a secret token.

    Prints the page's address with a new random token; the first visit keeps the token in a
    cookie and drops it from the address. Each open tab runs its own app process (at most
    [web] max_sessions at once). Ctrl+C stops the server and every tab's process.
    """
    import asyncio
    import secrets

    from ..net import is_loopback
    from ..path_policy import web_environment
    from ..web.options import WebOptions
    from ..web.server import address, serve

    ctx = app_context(profile)
    settings = ctx.settings.web
    host = host.strip()
    if not host or any(ch.isspace() or not ch.isprintable() for ch in host):
        raise UsageError(f"--host {host!r} is not an address")
    remote = not is_loopback(host)
    command = [sys.executable, "-m", __name__, "--profile", ctx.profile]
    if ctx.model_ref:
        command += ["--model", ctx.model_ref]
    if ctx.theme:
        command += ["--theme", ctx.theme]
    options = WebOptions(host=host, port=settings.port if port is None else port,
                         token=secrets.token_urlsafe(32), command=tuple(command),
                         environment=web_environment(remote, settings.allowed_dirs),
                         max_sessions=settings.max_sessions)

    def ready(bound: int) -> None:
        if remote:
            _say(remote_warning(host, settings.allowed_dirs))
        tabs = "1 tab" if options.max_sessions == 1 else f"{options.max_sessions} tabs"
        _say(f"open {address(host, bound, options.token)} in a browser (the token then "
             f"lives in a cookie); at most {tabs} at once; Ctrl+C stops")

    asyncio.run(serve(options, ready))


@click.command("web-session", hidden=True)
@click.option("--profile", type=TEXT, default="default")
@click.option("--model", "model_ref", type=TEXT, default=None)
@click.option("--theme", type=TEXT, default=None)
def session(profile: str, model_ref: str | None, theme: str | None) -> None:
    """The app of one browser tab (started by `talu-chat web`, driven through its pipes)."""
    from ..context import AppContext
    from ..settings import load_settings
    from ..tui.run import run_tui

    run_tui(AppContext(profile=profile, model_ref=model_ref, theme=theme,
                       settings=load_settings()))


def _stderr_to_log() -> None:
    """Send this process's stderr (a crash's traceback, which may quote model output) to the
    log file: the server would copy it raw to its terminal."""
    import os

    from .. import locations

    try:
        path = locations.log_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError:
        return
    os.dup2(fd, 2)
    os.close(fd)


def _session_main() -> None:
    from . import _setup_logging
    from .output import report

    _setup_logging()
    _stderr_to_log()
    try:
        session.main(args=sys.argv[1:], prog_name="talu-chat web", standalone_mode=False)
    except Exception as exc:
        report(exc)


if __name__ == "__main__":
    _session_main()
