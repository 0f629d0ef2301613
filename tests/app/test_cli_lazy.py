"""The command line loads only what a command uses: `--help` imports no command module."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

from app.cli import COMMANDS, load_command

#: What `talu-chat --help` must not load: the engine's, storage's and the faces' dependencies
#: (asyncio and sqlite3 too: only commands that use them pay for them).
HEAVY = ("openai", "llama_cpp", "textual", "prompt_toolkit", "sqlite_utils", "pydantic",
         "pydantic_core", "pydantic_settings", "asyncio", "sqlite3", "numpy", "engine",
         "storage", "app.service", "app.tui", "app.repl",
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


#: What `talu-chat sessions list` must not load: backends, the engine's client and hooks, the
#: faces, and sqlite-utils (it pulls numpy in; an up-to-date profile needs no migration).
NOT_FOR_SESSIONS = ("openai", "llama_cpp", "textual", "prompt_toolkit", "sqlite_utils", "numpy",
                    "markdown_it", "pygments", "tomlkit", "engine.client", "engine.turn_stream",
                    "engine.hooks", "engine.local", "engine.openai_backend", "engine.registry",
                    "app.tui", "app.repl", "app.commands", "app.cli.ask", "app.cli.transfer")


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_session_commands_load_no_backend_or_ui_library() -> None:
    from tests.support.profiles import open_store

    with open_store() as store:  # the profile exists (and is migrated), so the command reads it
        store.create_session(title="kept")
    out, modules = loaded_by("sessions", "list")
    assert "kept" in out  # it did read the profile
    assert loaded(modules, NOT_FOR_SESSIONS) == []


def test_the_chat_loads_no_markdown_engine_client_or_backend_before_its_first_frame() -> None:
    """What the full-screen chat imports to draw its first frame (the Markdown renderer, the
    engine's client and the backends come with the first message or the first turn)."""
    probe = ("import json, sys\nimport app.tui.app\n"
             "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    modules = set(json.loads(result.stdout))
    assert "textual.app" in modules
    assert loaded(modules, ("openai", "llama_cpp", "prompt_toolkit", "sqlite_utils",
                            "markdown_it", "pygments", "tomlkit", "app.tui.widgets.markdown",
                            "engine.client", "engine.turn_stream", "engine.hooks",
                            "engine.registry", "app.repl", "app.cli")) == []


def test_an_up_to_date_profile_opens_without_sqlite_utils() -> None:
    from tests.support.profiles import open_store

    open_store().close()  # created and migrated here
    probe = ("import json, os, sys\nfrom pathlib import Path\n"
             "from storage import open_profile\n"
             "open_profile(Path(os.environ['TALU_CHAT_DATA_DIR'])).close()\n"
             "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    assert loaded(set(json.loads(result.stdout)), ("sqlite_utils", "numpy")) == []
