"""Short session and message ids: the shortest prefix that still names one record."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

#: Shortest id prefix shown; longer where that is needed to tell ids apart.
SHORT_ID_MIN = 8


def common_prefix_length(a: str, b: str | None) -> int:
    """How many leading characters `a` and `b` share (0 when `b` is None)."""
    if not b:
        return 0
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def unique_prefixes(ids: Sequence[str], among: Sequence[str] | None = None,
                    minimum: int = SHORT_ID_MIN) -> dict[str, str]:
    """The shortest prefix (at least `minimum` long) telling each id apart from `among`."""
    ordered = sorted(set(among if among is not None else ids) | set(ids))
    index = {value: i for i, value in enumerate(ordered)}
    out = {}
    for value in ids:
        i = index[value]
        before = ordered[i - 1] if i > 0 else None
        after = ordered[i + 1] if i + 1 < len(ordered) else None
        out[value] = _shortest(value, before, after, minimum)
    return out


def prefixes_by_neighbours(ids: Iterable[str],
                           neighbours: Callable[[str], tuple[str | None, str | None]],
                           minimum: int = SHORT_ID_MIN) -> dict[str, str]:
    """Unique prefixes where `neighbours(id)` gives the ids sorting just before and after it."""
    return {value: _shortest(value, *neighbours(value), minimum) for value in ids}


def _shortest(value: str, before: str | None, after: str | None, minimum: int) -> str:
    need = max(common_prefix_length(value, before), common_prefix_length(value, after)) + 1
    return value[:max(minimum, need)]
