"""The compact and full texts of tool calls and results: any stored text, shown safely."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from app.tool_lines import (
    arguments_summary,
    call_detail,
    call_line,
    exchanges,
    result_detail,
    result_line,
    result_state,
)
from storage import StoredMessage

CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _result(content: str, call_id: str = "c1", metadata: dict[str, object] | None = None
            ) -> StoredMessage:
    return StoredMessage(f"r-{content}", "s", 2, "tool", content, "now", tool_call_id=call_id,
                         tool_name="t\x1b[2J", metadata=metadata or {})


@given(st.text(), st.text(), st.text())
def test_any_text_is_shown_without_live_controls(name: str, arguments: str, content: str) -> None:
    call = {"id": "c1", "name": name, "arguments": arguments}
    result = _result(content)
    for text in (call_line(call, result), result_line(result, call)):
        assert not CONTROLS.search(text) and "\n" not in text
    for text in (call_detail(call), result_detail(result, call)):
        assert not CONTROLS.search(text)
    assert len(arguments_summary(arguments)) <= 60


def test_states_from_metadata_or_text() -> None:
    assert result_state(_result("12:00")) == "ran"
    assert result_state(_result("Error: the person did not allow this tool call")) == "denied"
    assert result_state(_result("Error: stopped by the person before it ran")) == "stopped"
    assert result_state(_result("Error: boom")) == "failed"
    assert result_state(_result("Error: bad", metadata={"tool_state": "invalid"})) == "invalid"
    assert result_state(_result("ok", metadata={"tool_state": "[red]x"})) == "ran"


def test_exchanges_pair_calls_and_results_in_order() -> None:
    calls = [{"id": "c1", "name": "a", "arguments": "{}"},
             {"id": "c2", "name": "b", "arguments": "{}"}]
    assistant = StoredMessage("m1", "s", 1, "assistant", "", "now", tool_calls=calls)
    orphan = _result("x", call_id="gone")
    found = exchanges([assistant, _result("r1"), orphan])
    assert [(e.number, e.call, e.result) for e in found] == [
        (1, calls[0], found[0].result), (2, calls[1], None), (3, None, orphan)]
    assert found[0].result is not None and found[0].result.content == "r1"


def test_a_repeated_call_id_pairs_with_the_latest_call_before_it() -> None:
    first = StoredMessage("a1", "s", 1, "assistant", "", "now",
                          tool_calls=[{"id": "call_0", "name": "a", "arguments": "{}"}])
    second = StoredMessage("a2", "s", 3, "assistant", "", "now",
                           tool_calls=[{"id": "call_0", "name": "b", "arguments": "{}"}])
    r1, r2 = _result("one", "call_0"), _result("two", "call_0")
    found = exchanges([first, r1, second, r2])
    assert [(e.call["name"] if e.call else None, e.result.content if e.result else None)
            for e in found] == [("a", "one"), ("b", "two")]
