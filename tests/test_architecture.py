"""The architecture's contracts, checked on the source (see docs/architecture.md).

Imports are read with `ast`, at module level and inside functions alike (a lazy import is still
a dependency); imports under `if TYPE_CHECKING:` are left out (they never run).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "engine", "storage", "themes")

#: What an interface (TUI, REPL, CLI, slash commands) may take from `storage`: plain data
#: types, constants and error types. Everything that opens or changes a database goes
#: through the conversation service.
STORAGE_DATA_NAMES = {
    "Session", "StoredMessage", "SearchHit", "SessionNode", "Record",
    "EXPORT_FORMATS", "IMPORT_FORMATS", "MARKERS", "VIEWS", "SNIPPET_OPEN", "SNIPPET_CLOSE",
    "StorageError", "NotInTrashError", "SessionNotFoundError", "MessageNotFoundError",
    "AmbiguousIdError", "ImportFormatError", "ExportExistsError", "CorruptDatabaseError",
    "DatabaseBusyError", "ProfileNameError", "SearchQueryError",
}
TEXTUAL_COMPAT = "app.tui.widgets.markdown.textual_compat"
#: Where Textual's privates may be used: the Markdown widget's compat module, and the screen's
#: (apart, so that the chat's first frame does not load the Markdown stack).
TEXTUAL_COMPAT_MODULES = {TEXTUAL_COMPAT, "app.tui.screen_compat"}
SQL = re.compile(r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b",
                 re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Import:
    """One import statement: the module importing, the module imported, the names taken."""

    source: str
    target: str
    names: tuple[str, ...]
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> Iterator[tuple[str, Path, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield module_name(path), path, ast.parse(path.read_text(encoding="utf-8"))


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imports_of(name: str, path: Path, tree: ast.Module) -> Iterator[Import]:
    skipped = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names = tuple(alias.name for alias in node.names)
            # `from . import commands` imports the module app.commands
            modules = [f"{target}.{n}" for n in names if _is_module(f"{target}.{n}")]
            if modules:
                yield from (Import(name, m, (), node.lineno) for m in modules)
            else:
                yield Import(name, target, names, node.lineno)


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


ALL = [imp for name, path, tree in source_files() for imp in imports_of(name, path, tree)]


def top(module: str) -> str:
    return module.split(".")[0]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_walker_sees_known_imports() -> None:
    """Guards the checks below against a walker that finds nothing."""
    found = {(i.source, i.target) for i in ALL}
    assert ("app.service.conversation", "storage") in found
    assert ("app.tui.screens.chat", "app.commands") in found
    assert ("app.cli.ask", "app.cli.options") in found


@pytest.mark.parametrize(("package", "forbidden"), [
    ("engine", ("storage", "app", "themes")),
    ("storage", ("engine", "app", "themes")),
    ("themes", ("engine", "storage", "app")),
])
def test_lower_layers_do_not_import_upwards(package: str, forbidden: tuple[str, ...]) -> None:
    bad = [i for i in ALL if top(i.source) == package and top(i.target) in forbidden]
    assert not bad, f"{package} must not import {forbidden}: {bad}"


def test_nothing_in_app_imports_the_command_line() -> None:
    bad = [i for i in ALL if within(i.target, "app.cli") and not within(i.source, "app.cli")]
    assert not bad, f"only app.cli imports app.cli: {bad}"


def test_interfaces_reach_storage_only_through_the_service() -> None:
    faces = ("app.tui", "app.repl", "app.cli", "app.commands")
    bad = [i for i in ALL if any(within(i.source, f) for f in faces) and top(i.target) == "storage"
           and (i.target != "storage" or not set(i.names) <= STORAGE_DATA_NAMES)]
    assert not bad, f"interfaces take only plain data from storage: {bad}"


def test_no_store_access_outside_the_service() -> None:
    bad = []
    for name, path, tree in source_files():
        if not within(name, "app") or within(name, "app.service"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "store":
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, f"`.store` is the service's own: {bad}"


def test_no_sql_outside_storage() -> None:
    bad = []
    for name, path, tree in source_files():
        if top(name) == "storage":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and SQL.search(node.value):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, f"SQL belongs to storage: {bad}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_inside_app() -> None:
    graph: dict[str, set[str]] = {}
    for i in ALL:
        if within(i.source, "app") and within(i.target, "app") and i.source != i.target:
            graph.setdefault(i.source, set()).add(i.target)
    assert not _cycles(graph), _cycles(graph)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_textual_privates_only_in_the_compat_module() -> None:
    bad = []
    for name, path, tree in source_files():
        if name in TEXTUAL_COMPAT_MODULES:
            continue
        for i in imports_of(name, path, tree):
            if i.target.startswith("textual") and any(
                    part.startswith("_") for part in i.target.split(".")):
                bad.append(f"{path.relative_to(ROOT)}:{i.line} {i.target}")
    assert not bad, f"Textual internals go through {TEXTUAL_COMPAT}: {bad}"
