"""The command line loads only what a command uses: `--help` imports no command module."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

from app.cli import COMMANDS, load_command

#: What `talu-chat --help` must not load: the engine's, storage's and the faces' dependencies.
HEAVY = ("openai", "llama_cpp", "textual", "prompt_toolkit", "sqlite_utils", "pydantic",
         "pydantic_settings", "engine", "storage", "app.service", "app.tui", "app.repl",
         "app.context", "app.settings", *(f"app.cli.{COMMANDS[n][0].split(':')[0]}"
                                          for n in COMMANDS))

_PROBE = """
import json, sys
from app.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by(*args: str) -> tuple[str, set[str]]:
    """Run the command line in a fresh interpreter; its stdout and the modules it loaded."""
    result = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True,
                            text=True, timeout=60)
    modules = json.loads(result.stderr.strip().splitlines()[-1])
    return result.stdout, set(modules)


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_lists_every_command_without_importing_them() -> None:
    out, modules = loaded_by("--help")
    for name in COMMANDS:
        assert f"  {name} " in out
    assert heavy(modules) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_help_table_matches_each_command(name: str) -> None:
    command = load_command(name)
    first = inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ")
    assert COMMANDS[name][1] == first


def test_a_command_loads_its_own_module_only() -> None:
    out, modules = loaded_by("search", "--help")
    assert "QUERY" in out
    assert "app.cli.search" in modules
    assert not {"app.cli.ask", "app.cli.transfer", "app.tui", "textual", "llama_cpp"} & modules


def test_session_commands_load_no_backend_or_ui_library() -> None:
    from tests.support.profiles import open_store

    open_store().close()  # the profile exists, so the command reads it
    _, modules = loaded_by("sessions", "list")
    assert not {"openai", "llama_cpp", "textual", "prompt_toolkit"} & modules
    assert "sqlite_utils" in modules  # it did read the profile
