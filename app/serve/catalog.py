"""The models a server answers for: public ids (never file paths) and their references."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from engine import Engine

from .errors import ApiError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Served:
    """One served model: the id clients send, the reference the engine resolves."""

    id: str
    ref: str
    backend: str
    concurrent: bool
    """Whether requests may run at once (an HTTP endpoint) rather than one at a time."""
    key: str
    """What requests queue on: the model file, or the reference."""


def _public_id(ref: str) -> str:
    prefix, sep, name = ref.partition("::")
    if not sep:  # a bare path or alias
        prefix, name = "local", ref
    if name.lower().endswith(".gguf") or os.sep in name:
        name = Path(name).stem  # a path never leaves the server
    return f"{prefix}::{name}"


class Catalog:
    """Served models by id; a request names one by id or by its unique short name."""

    def __init__(self, served: list[Served]) -> None:
        self.models = {s.id: s for s in served}

    @classmethod
    async def build(cls, engine: Engine, refs: tuple[str, ...]) -> Catalog:
        """The models of `refs`, or (none given) every discovered model and alias."""
        if not refs:
            found, errors = await engine.list_models()
            for where, error in errors.items():
                log.warning("serve: models of %s not listed: %s", where, error)
            refs = tuple(m.ref for m in found)
        served = []
        for ref in refs:
            resolved = engine.resolve(ref)  # ModelReferenceError: the person's mistake
            concurrent = resolved.backend == "openai"
            key = str(resolved.path) if resolved.path is not None else resolved.ref
            served.append(Served(_public_id(ref), ref, resolved.backend, concurrent, key))
        return cls(served)

    def ids(self) -> list[str]:
        return list(self.models)

    def lookup(self, name: str) -> Served:
        """The served model `name` names, or 404 (paths and unserved models alike)."""
        found = self.models.get(name)
        if found is None:
            short = [s for s in self.models.values() if s.id.partition("::")[2] == name]
            if len(short) == 1:
                found = short[0]
        if found is None:
            raise ApiError(404, f"model {name[:200]!r} is not served here; GET /v1/models "
                                "lists the served models", code="model_not_found",
                           param="model")
        return found

