"""`engine`'s public names load on first use, each from the module that defines it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import engine


def test_every_public_name_resolves_from_its_module() -> None:
    assert sorted(engine.__all__) == sorted(engine._EXPORTS)
    for name in engine.__all__:
        value = getattr(engine, name)
        assert value is getattr(sys.modules[f"engine.{engine._EXPORTS[name]}"], name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        engine.Nope  # noqa: B018
    assert not hasattr(engine, "Nope")


def test_the_config_types_load_without_the_client() -> None:
    probe = ("import json, sys\n"
             "from engine import DEFAULT_MODEL_REF, EngineConfig, GenerationConfig, EngineError\n"
             "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True)
    modules = set(json.loads(result.stdout))
    assert {"engine.config", "engine.types", "engine.refs", "engine.errors"} <= modules
    assert not {"engine.client", "engine.turn_stream", "engine.hooks", "engine.registry",
                "engine.local", "engine.openai_backend", "openai", "llama_cpp"} & modules
