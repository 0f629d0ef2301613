"""What every request of one server shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine import Engine

from .catalog import Catalog
from .gate import Gates
from .options import ServeOptions

if TYPE_CHECKING:
    from .store import Keeper


@dataclass
class ServerState:
    """The engine, the served models, their queues, the options and the optional keeper."""

    engine: Engine
    options: ServeOptions
    catalog: Catalog
    gates: Gates
    keeper: Keeper | None = None
