"""`talu-chat ask` and `talu-chat models`: the engine from the command line."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click
from pydantic import ValidationError

from engine import Chunk, GenerationConfig, ModelInfo

from .cli import app_context, profile_option
from .errors import EXIT_INTERRUPTED, UsageError, exit_code_for_kind, fail
from .sanitize import visible_controls


def _human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def generation_options(options: tuple[tuple[str, str], ...], **named: Any) -> dict[str, Any]:
    """Sampling settings from `-o KEY VALUE` pairs and named flags, validated."""
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
        prompt = sys.stdin.read()
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    return prompt


class AnswerPrinter:
    """Writes streamed text to stdout; control sequences are made visible on a terminal."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stdout.isatty()
        self.last = ""

    def text(self, text: str) -> None:
        if self.quiet or not text:
            return
        shown = visible_controls(text) if self.tty else text
        sys.stdout.write(shown)
        sys.stdout.flush()
        self.last = text

    def notice(self, text: str) -> None:
        click.echo(f"talu-chat: note: {text}", err=True)

    def end(self) -> None:
        if not self.quiet and self.last and not self.last.endswith("\n"):
            sys.stdout.write("\n")
            sys.stdout.flush()


def sampling_flags(func: Any) -> Any:
    """--temperature, --max-tokens, --seed and -o KEY VALUE."""
    func = click.option("-o", "--option", "options", type=(str, str), multiple=True,
                        metavar="KEY VALUE",
                        help="Any generation setting, e.g. -o top_k 40 -o stop '###'.")(func)
    func = click.option("--seed", type=int, default=None, help="Sampling seed.")(func)
    func = click.option("--max-tokens", type=int, default=None,
                        help="Longest answer in tokens.")(func)
    func = click.option("-t", "--temperature", type=float, default=None,
                        help="Sampling temperature.")(func)
    return func


def answer_json(text: str, model: str, final: Chunk, **extra: Any) -> str:
    """The one JSON document `ask --json` prints."""
    return json.dumps({
        "text": text,
        "model": model,
        "finish_reason": final.finish_reason,
        "usage": final.usage.as_dict() if final.usage else None,
        "metrics": final.metrics.as_dict() if final.metrics else None,
        **extra,
    }, ensure_ascii=False)


def finish_ask(text: str, model: str, final: Chunk, as_json: bool, **extra: Any) -> None:
    """Report the end of an answer: JSON, the error line, or the Ctrl+C exit code."""
    if final.finish_reason == "error":
        fail(final.error or "the answer failed", exit_code_for_kind(final.error_kind))
    if as_json:
        click.echo(answer_json(text, model, final, **extra))
    if final.finish_reason == "cancelled":
        sys.exit(EXIT_INTERRUPTED)


@click.command()
@click.argument("prompt", required=False)
@click.option("-m", "--model", "model_ref", default=None, metavar="REF",
              help="Model reference (default: the settings' default_model).")
@click.option("-s", "--system", default=None, help="System prompt.")
@click.option("--session", "session_id", default=None, metavar="ID",
              help="Continue this session (an id or a unique prefix).")
@click.option("-c", "--continue", "continue_", is_flag=True,
              help="Continue the most recent session.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@sampling_flags
@profile_option
def ask(prompt: str | None, model_ref: str | None, system: str | None, session_id: str | None,
        continue_: bool, as_json: bool, temperature: float | None, max_tokens: int | None,
        seed: int | None, options: tuple[tuple[str, str], ...], profile: str | None) -> None:
    """Ask one question and stream the answer (reads stdin when PROMPT is '-' or absent)."""
    from .ask import run_ask

    ctx = app_context(profile)
    config = generation_options(options, temperature=temperature, max_tokens=max_tokens,
                                seed=seed)
    run_ask(ctx, read_prompt(prompt), model_ref=model_ref, system=system, config=config,
            session_id=session_id, continue_=continue_, as_json=as_json)


def _models_table(models: list[ModelInfo]) -> list[str]:
    rows = [("REF", "SOURCE", "SIZE", "QUANT", "CONTEXT")]
    for m in models:
        rows.append((m.ref, m.source, _human_size(m.size_bytes),
                     str(m.details.get("quantization") or "-"),
                     str(m.details.get("context") or "-")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def models(click_ctx: click.Context, as_json: bool) -> None:
    """List the models talu-chat can use: local GGUF files and endpoint models."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = app_context()

    async def gather() -> tuple[list[ModelInfo], dict[str, str]]:
        try:
            return await ctx.engine.list_models()
        finally:
            await ctx.engine.aclose()

    found, errors = asyncio.run(gather())
    if as_json:
        click.echo(json.dumps({"models": [m.as_dict() for m in found], "errors": errors}))
        return
    for line in _models_table(found):
        click.echo(line)
    for endpoint, error in errors.items():
        click.echo(f"talu-chat: warning: endpoint {endpoint}: {error}", err=True)


@models.command("plan")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def plan(ref: str, as_json: bool) -> None:
    """Explain what model reference REF resolves to and how it would run."""
    details = app_context().engine.plan(ref)
    if as_json:
        click.echo(json.dumps(details))
        return
    if "size_bytes" in details:
        details = {**details, "size_bytes": _human_size(details["size_bytes"])}
        details["size"] = details.pop("size_bytes")
    width = max(len(k) for k in details)
    for key, value in details.items():
        click.echo(f"{key.ljust(width)}  {value}")
