"""`/alt` and `/compare` arguments are typed by people: any text is a valid choice or one
clear line, never another exception (fuzzed with hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.commands import COMMANDS
from app.errors import UsageError
from app.sanitize import visible_line
from app.service.alternatives import alternative_target
from app.service.compare import MAX_COMPARED


@given(st.text(max_size=30), st.integers(0, 5), st.integers(2, 6))
def test_alt_argument_is_an_index_or_one_line(arg: str, current: int, count: int) -> None:
    current = min(current, count - 1)
    try:
        index = alternative_target(arg, current, count)
    except UsageError as exc:
        message = str(exc)
        assert "\n" not in message and message.isprintable(), message
    else:
        assert 0 <= index < count


@given(st.text(max_size=120))
def test_compare_argument_is_references_or_one_line(arg: str) -> None:
    handler = COMMANDS["compare"].handler
    try:
        result = handler(None, "s", arg)  # type: ignore[arg-type]  # needs no service
    except UsageError as exc:
        message = str(exc)
        assert "\n" not in message and message.isprintable(), message
    else:
        assert visible_line(result.message) == result.message  # one line, controls shown
        refs = result.data
        assert refs in (None, []) or (2 <= len(refs) <= MAX_COMPARED
                                      and all(r and r == r.strip() for r in refs))
