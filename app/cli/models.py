"""`talu-chat models` and `talu-chat models plan`: what the engine can run, and how."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import click

from ..formatting import human_size
from .options import TEXT, app_context
from .output import one_line, table

if TYPE_CHECKING:
    from engine import ModelInfo


def models_table(models: list[ModelInfo]) -> list[str]:
    """`models` lines: reference, source, size, quantization, context."""
    rows = [("REF", "SOURCE", "SIZE", "QUANT", "CONTEXT")]
    for m in models:
        rows.append((one_line(m.ref), m.source, human_size(m.size_bytes),
                     one_line(str(m.details.get("quantization") or "-")),
                     one_line(str(m.details.get("context") or "-"))))
    return table(rows)


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
    for line in models_table(found):
        click.echo(line)
    for endpoint, error in errors.items():
        click.echo(f"talu-chat: warning: endpoint {one_line(endpoint)}: {one_line(error)}",
                   err=True)


@models.command("plan")
@click.argument("ref", type=TEXT)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def plan(ref: str, as_json: bool) -> None:
    """Explain what model reference REF resolves to and how it would run."""
    details = app_context().engine.plan(ref)
    if as_json:
        click.echo(json.dumps(details))
        return
    if "size_bytes" in details:
        details = {**details, "size_bytes": human_size(details["size_bytes"])}
        details["size"] = details.pop("size_bytes")
    width = max(len(k) for k in details)
    for key, value in details.items():
        click.echo(f"{key.ljust(width)}  {one_line(str(value))}")
