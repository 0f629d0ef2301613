"""`talu-chat mcp list`: the configured MCP servers, their state, tools, prompts and resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .options import app_context, json_option
from .output import echo_json, one_line

if TYPE_CHECKING:
    from engine import MCPClient

DESCRIPTION_CHARS = 100  # of a tool's description in the listing


@click.group("mcp")
def mcp() -> None:
    """Show the MCP servers configured in [mcp.servers.NAME] and what they offer."""


@mcp.command("list")
@json_option
@click.option("--no-start", is_flag=True,
              help="Show the configured servers without starting them.")
def list_(as_json: bool, no_start: bool) -> None:
    """Start each configured MCP server and list its state, tools, prompts and resources.

    A server that fails to start, crashes or times out is listed as failed with its reason;
    the others are listed as usual. Descriptions come from the servers: shown as plain text.
    """
    from engine import MCPClient

    from ..locations import log_file

    servers = app_context().settings.mcp.servers
    with MCPClient(servers, log_dir=log_file().parent) as client:
        report = _report(client, start=not no_start)
    if as_json:
        echo_json({"servers": report})
        return
    if not report:
        click.echo("no MCP servers configured: add [mcp.servers.NAME] to the settings file "
                   "(see README, Tools)")
        return
    for entry in report:
        state = entry["state"] + (f": {entry['error']}" if entry.get("error") else "")
        click.echo(f"{entry['name']}  ({entry['transport']})  {one_line(state)}")
        for tool in entry.get("tools", []):
            click.echo(f"  tool      {tool['name']}  {tool['description'][:DESCRIPTION_CHARS]}")
        for prompt in entry.get("prompts", []):
            arguments = " ".join(a["name"] + "=…" + ("" if a["required"] else "?")
                                 for a in prompt["arguments"])
            click.echo(f"  prompt    {prompt['name']}{' ' + arguments if arguments else ''}  "
                       f"{prompt['description'][:DESCRIPTION_CHARS]}")
        for resource in entry.get("resources", []):
            click.echo(f"  resource  {resource['uri']}  {resource['name']}")


def _report(client: MCPClient, *, start: bool) -> list[dict[str, Any]]:
    """One entry per server: state and error, and (started) its tools, prompts, resources."""
    from engine import MCPError

    listed: dict[str, dict[str, Any]] = {}
    if start:
        tools, _errors = client.list_tools()
        for status in client.status():
            if status.state == "running":
                listed[status.name] = {"tools": [], "prompts": [], "resources": []}
        for found in tools:
            if found.server in listed:
                listed[found.server]["tools"].append(
                    {"name": one_line(found.name), "offered_as": found.tool.name,
                     "description": one_line(found.tool.description)})
        for name, found_lists in listed.items():
            try:
                found_lists["prompts"] = [
                    {"name": one_line(p.name), "use_as": one_line(f"{name}.{p.name}"),
                     "description": one_line(p.description),
                     "arguments": [{"name": one_line(a), "required": required,
                                    "description": one_line(about)}
                                   for a, required, about in p.arguments]}
                    for p in client.list_prompts(name)]
                found_lists["resources"] = [
                    {"uri": one_line(r.uri), "name": one_line(r.name)}
                    for r in client.list_resources(name)]
            except MCPError:
                pass  # no prompts or resources, or the server went away: its state says
    report = []
    for status in client.status():
        entry: dict[str, Any] = {"name": status.name, "transport": status.transport,
                                 "state": status.state,
                                 "error": one_line(status.error) if status.error else None}
        entry.update(listed.get(status.name, {}))
        report.append(entry)
    return report
