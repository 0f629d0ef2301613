"""Config file edits: comments and layout kept, any value round-trips, broken files untouched."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import locations
from app.config_file import ConfigFileError, set_config_value
from app.settings import load_settings

COMMENTED = """\
# talu-chat settings
default_model = "local::smollm2"   # the model new sessions use
theme = "talu-dark"

# local inference
[local]
n_ctx = 2048  # small machine
model_dirs = ["~/models"]

[endpoints.ollama]
base_url = "http://127.0.0.1:11434/v1"
"""

AWKWARD_NAMES = [
    'my "quoted" theme',
    "back\\slash\\",
    "two\nlines",
    "tab\there and\r\ncarriage",
    "ünïcödé ✨ テーマ",
    "'single' and \"double\" and '''triple'''",
    '"""',
    "trailing space ",
    "",
    "\x00nul and \x1f control \x7f del",
    "[not] = a table",
    "# not a comment",
]


def read(path: Path) -> dict[str, object]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_replacing_a_key_keeps_comments_layout_and_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    set_config_value(path, "theme", "nord")
    assert path.read_text(encoding="utf-8") == COMMENTED.replace('"talu-dark"', '"nord"')


def test_a_new_top_level_key_goes_above_the_tables(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED.replace('theme = "talu-dark"\n', ""), encoding="utf-8")
    set_config_value(path, "theme", "nord")
    text = path.read_text(encoding="utf-8")
    assert text.index('theme = "nord"') < text.index("[local]")
    for line in COMMENTED.splitlines():
        if "talu-dark" not in line:
            assert line in text
    assert read(path)["theme"] == "nord"
    assert read(path)["local"] == {"n_ctx": 2048, "model_dirs": ["~/models"]}


def test_dotted_keys_reach_existing_and_new_tables(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    set_config_value(path, "local.n_ctx", 4096)
    set_config_value(path, "endpoints.vllm.base_url", "http://gpu:8000/v1")
    set_config_value(path, ("endpoints", "my.server", "base_url"), "http://my.server/v1")
    text = path.read_text(encoding="utf-8")
    assert "n_ctx = 4096  # small machine" in text
    assert "# local inference" in text
    assert "\n[endpoints]\n" not in text  # only the innermost tables get headers
    assert read(path)["endpoints"] == {
        "ollama": {"base_url": "http://127.0.0.1:11434/v1"},
        "vllm": {"base_url": "http://gpu:8000/v1"},
        "my.server": {"base_url": "http://my.server/v1"},
    }


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_any_theme_name_round_trips(tmp_path: Path, name: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    set_config_value(path, "theme", name)
    document = read(path)
    assert document["theme"] == name
    assert document["default_model"] == "local::smollm2"
    assert document["local"] == {"n_ctx": 2048, "model_dirs": ["~/models"]}


def test_the_settings_read_back_a_theme_name_with_quotes() -> None:
    path = locations.config_file()
    name = 'say "hi" \\ \n ✨'
    set_config_value(path, "theme", name)
    assert load_settings().theme == name


def test_a_missing_file_and_its_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "config.toml"
    set_config_value(path, "theme", "nord")
    assert path.read_text(encoding="utf-8") == 'theme = "nord"\n'
    assert os.listdir(path.parent) == ["config.toml"]  # no temporary file left behind


@pytest.mark.parametrize(
    "broken",
    [
        b'theme = "unterminated\n[local]\nn_ctx = 1\n',
        b"[local]\nn_ctx = 1\n[local]\nn_ctx = 2\n",  # a table defined twice
        b'theme = "\xff\xfe not utf-8"\n',
    ],
)
def test_a_broken_file_is_left_untouched_with_an_error(tmp_path: Path, broken: bytes) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(broken)
    with pytest.raises(ConfigFileError, match="config.toml") as raised:
        set_config_value(path, "theme", "nord")
    assert "fix it by hand" in str(raised.value)
    assert isinstance(raised.value, OSError)  # reported where I/O errors already are
    assert path.read_bytes() == broken
    assert os.listdir(tmp_path) == ["config.toml"]


def test_an_unreadable_file_gives_a_config_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    path.chmod(0)
    try:
        with pytest.raises(ConfigFileError, match="cannot read"):
            set_config_value(path, "theme", "nord")
    finally:
        path.chmod(0o644)
    assert path.read_text(encoding="utf-8") == COMMENTED


def test_a_key_that_would_replace_a_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    with pytest.raises(ConfigFileError, match="is a table"):
        set_config_value(path, "local", "x")
    with pytest.raises(ConfigFileError, match="theme is not a table"):
        set_config_value(path, "theme.name", "x")
    with pytest.raises(ValueError, match="invalid config key"):
        set_config_value(path, "local..n_ctx", 1)
    assert path.read_text(encoding="utf-8") == COMMENTED


def test_the_file_mode_and_a_symlink_are_kept(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "talu.toml"
    real.parent.mkdir()
    real.write_text(COMMENTED, encoding="utf-8")
    real.chmod(0o640)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    set_config_value(link, "theme", "nord")
    assert link.is_symlink()
    assert read(real)["theme"] == "nord"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


# tmp_path is shared by the examples: each one rewrites the whole file first.
@settings(max_examples=50, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text())
def test_property_any_text_round_trips_and_keeps_the_rest(tmp_path: Path, name: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(COMMENTED, encoding="utf-8")
    set_config_value(path, "theme", name)
    document = read(path)
    assert document["theme"] == name
    assert {k: v for k, v in document.items() if k != "theme"} == {
        k: v for k, v in tomllib.loads(COMMENTED).items() if k != "theme"
    }
    assert "# talu-chat settings" in path.read_text(encoding="utf-8")
