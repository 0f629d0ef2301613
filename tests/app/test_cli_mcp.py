"""`talu-chat mcp list` against a real MCP server (tests/support/mcp_server.py over stdio)
declared in the settings file, beside one that cannot start."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run
from tests.support.profiles import mcp_server_config, write_config

SERVERS = f"""
{mcp_server_config()}

{mcp_server_config("broken", "--crash")}
"""


def test_mcp_list_shows_each_server_its_tools_prompts_and_resources(
        isolated_env: Path) -> None:
    write_config(isolated_env, SERVERS)
    report = {s["name"]: s for s in run("mcp", "list", "--json").json()["servers"]}
    good, bad = report["tests"], report["broken"]
    assert good["state"] == "running"
    tools = {t["name"]: t for t in good["tools"]}
    assert {"add", "echo", "sleep"} <= set(tools)
    assert tools["add"]["offered_as"] == "tests__add"
    assert "\x1b" not in tools["add"]["description"]  # a server's text is untrusted
    assert [p["name"] for p in good["prompts"]] == ["greet"]
    assert good["prompts"][0]["use_as"] == "tests.greet"  # as /prompt takes it
    assert good["prompts"][0]["arguments"] == [{"name": "name", "required": True,
                                                "description": ""}]
    assert [r["uri"] for r in good["resources"]] == ["notes://today"]
    assert bad["state"] == "failed" and bad["error"]


def test_mcp_list_as_text_and_without_servers(isolated_env: Path) -> None:
    assert "no MCP servers configured" in run("mcp", "list").ok()
    write_config(isolated_env, SERVERS)
    text = run("mcp", "list").ok()
    assert "tests  (stdio)  running" in text and "tool      add" in text
    assert "broken  (stdio)  failed" in text
    assert "resource  notes://today" in text
    assert "prompt    greet name=…  A greeting prompt." in text
    listed = run("mcp", "list", "--no-start", "--json").json()["servers"]
    assert {s["state"] for s in listed} == {"stopped"}


def test_a_bad_server_entry_is_one_line(isolated_env: Path) -> None:
    write_config(isolated_env, "[mcp.servers.x]\nargs = ['a']\n")
    outcome = run("mcp", "list")
    assert outcome.code != 0 and len(outcome.stderr.strip().splitlines()) == 1
    assert "command or a url" in outcome.stderr
