"""`talu-chat serve`: the OpenAI-compatible server (see app/serve)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import click

from ..errors import UsageError
from .options import TEXT, app_context

MAX_KEY_FILE_BYTES = 1024 * 1024


def read_key_file(path: Path) -> list[str]:
    """The keys of a file, one a line (blank lines and # comments skipped)."""
    try:
        data = path.read_bytes()[:MAX_KEY_FILE_BYTES + 1]
    except OSError as exc:
        raise UsageError(f"cannot read the API key file {path}: {exc.strerror}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise UsageError(f"the API key file {path} is larger than 1 MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"the API key file {path} is not UTF-8 text") from None
    keys = [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    if not keys:
        raise UsageError(f"the API key file {path} holds no key")
    return keys


def _checked_keys(keys: list[str]) -> tuple[str, ...]:
    for key in keys:
        if len(key) < 8 or any(ch.isspace() or not ch.isprintable() for ch in key):
            raise UsageError("an API key must be at least 8 printable characters without "
                             "spaces")
    return tuple(dict.fromkeys(keys))


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("talu-chat serve: %(message)s"))
    logger = logging.getLogger("talu_chat.serve")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@click.command("serve")
@click.option("--host", type=TEXT, default=None, metavar="ADDRESS",
              help="Address to listen on [default: 127.0.0.1; anything else needs a key].")
@click.option("--port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Port to listen on [default: 8421].")
@click.option("--api-key", "api_keys", type=TEXT, multiple=True, metavar="KEY",
              help="A key clients must send (repeatable). Visible to other users in `ps`: "
                   "prefer --api-key-file or the settings.")
@click.option("--api-key-file", type=click.Path(path_type=Path, dir_okay=False),
              default=None, metavar="FILE", help="Read the keys from FILE, one a line.")
@click.option("--model", "models", type=TEXT, multiple=True, metavar="REF",
              help="A model to serve (repeatable) [default: the discovered models and the "
                   "configured aliases].")
@click.option("--cors", "cors", type=TEXT, multiple=True, metavar="ORIGIN",
              help="A browser origin allowed to call the server (repeatable; none: no CORS).")
@click.option("--queue", "queue_limit", type=click.IntRange(1, 10_000), default=None,
              metavar="N", help="Requests that may wait for one in-process model "
                                "[default: 16]; more are answered 429.")
@click.option("--profile", type=TEXT, default=None, metavar="NAME",
              help="Profile that --store keeps the conversations in.")
@click.option("--store", is_flag=True, help="Keep every answered request as a session.")
@click.option("--log-prompts", is_flag=True,
              help="Also log each request's messages and answer (off: no content is logged).")
def serve(host: str | None, port: int | None, api_keys: tuple[str, ...],
          api_key_file: Path | None, models: tuple[str, ...], cors: tuple[str, ...],
          queue_limit: int | None, profile: str | None, store: bool, log_prompts: bool) -> None:
    """Serve every model talu-chat reaches over an OpenAI-compatible HTTP API.

    Endpoints: GET /v1/models, POST /v1/chat/completions, POST /v1/completions,
    POST /v1/embeddings, GET /health. Keys come from --api-key, --api-key-file, the [serve]
    settings or TALU_CHAT_SERVE__API_KEYS; a request's model must be one of the served ids.
    """
    from ..net import is_loopback
    from ..serve.options import ServeOptions

    ctx = app_context(profile)
    settings = ctx.settings.serve
    if api_keys and api_key_file is not None:
        raise UsageError("give --api-key or --api-key-file, not both")
    if api_key_file is not None:
        keys = _checked_keys(read_key_file(api_key_file))
    elif api_keys:
        keys = _checked_keys(list(api_keys))
    else:
        keys = _checked_keys([k.get_secret_value() for k in settings.api_keys])
    host = (host if host is not None else settings.host).strip()
    if not is_loopback(host) and not keys:
        raise UsageError(f"refusing to listen on {host!r} without an API key: anyone who can "
                         "reach it could use your models (give --api-key-file, or listen on "
                         "127.0.0.1)")
    if profile and not store:
        raise UsageError("--profile names where --store keeps conversations: add --store")
    options = ServeOptions(
        host=host, port=port if port is not None else settings.port, api_keys=keys,
        models=models or tuple(settings.models), cors_origins=cors or tuple(settings.cors_origins),
        queue_limit=queue_limit or settings.queue_limit,
        log_prompts=log_prompts or settings.log_prompts,
        store_profile=ctx.profile if store else None)
    run(options)


def run(options: object) -> None:
    """Check the models, bind the port, and serve until Ctrl+C."""
    from engine import Engine
    from engine.redact import Redactor, endpoint_secrets, redact_logs

    from ..serve.app import bind, create_app, server
    from ..serve.options import ServeOptions
    from ..serve.store import Keeper

    assert isinstance(options, ServeOptions)
    ctx = app_context()
    engine: Engine = ctx.engine
    for ref in options.models:
        engine.resolve(ref)  # an unknown model is the person's mistake: one line, exit 2
    _log_to_stderr()
    config = engine.config
    secrets = [*endpoint_secrets(config.openai), *options.api_keys,
               *(s for e in config.endpoints.values() for s in endpoint_secrets(e))]
    for logger in (logging.getLogger(), logging.getLogger("talu_chat.serve")):
        redact_logs(Redactor(secrets), logger)
    keeper = None
    if options.store_profile is not None:
        keeper = Keeper(ctx, options.store_profile)
        keeper.open()
    try:
        sock = bind(options.host, options.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {options.host}:{options.port}: "
                         f"{exc.strerror or exc}") from None
    shown = f"[{options.host}]" if ":" in options.host else options.host
    click.echo(f"talu-chat serve: listening on http://{shown}:{sock.getsockname()[1]}/v1 "
               f"({'API key required' if options.api_keys else 'no API key'}); Ctrl+C stops",
               err=True)
    # Ctrl+C and SIGTERM both stop the server gracefully (uvicorn finishes the open requests,
    # then raises the signal again: it ends here as a normal exit, status 0).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server(create_app(engine, options, keeper)).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if keeper is not None:
            keeper.close()
