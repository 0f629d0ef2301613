"""Tool types: definitions checked, hostile call pieces assembled without a crash (hypothesis),
results cleaned and capped, tools refused by a backend without them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import (
    Engine,
    MalformedResponse,
    Message,
    Tool,
    ToolCall,
    ToolCallAssembler,
    ToolError,
    ToolResult,
)
from engine.tools import MAX_TOOL_CALLS, check_tool_choice, tool_message, validate_call

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
COUNT = Tool("count", "Count to n.", SCHEMA)


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "naïve", "a/b", "a.b", None])
def test_unusable_names_are_refused(name: Any) -> None:
    with pytest.raises(ToolError, match="not usable"):
        Tool(name, "", SCHEMA)


@pytest.mark.parametrize("schema, why", [
    ({"type": "string"}, "must describe an object"),
    ([1, 2], "not a JSON object"),
    ({"type": "object", "properties": {"n": {"type": "integr"}}}, "invalid"),
    ({"type": "object", "x": float("nan")}, "not plain JSON"),
    ({"type": "object", "x": object()}, "not plain JSON"),
])
def test_schemas_must_be_object_schemas(schema: Any, why: str) -> None:
    with pytest.raises(ToolError, match=why):
        Tool("t", "", schema)


def test_descriptions_are_untrusted_text() -> None:
    tool = Tool("t", "Reads \x1b]8;;http://evil\x07files\x1b[0m\u202e.\x00" + "x" * 5000, SCHEMA)
    assert "\x1b" not in tool.description and "\x07" not in tool.description
    assert "\u202e" not in tool.description and "\x00" not in tool.description
    assert len(tool.description) == 2000
    assert tool.as_openai()["function"]["parameters"] == SCHEMA


def test_tool_choice_is_checked() -> None:
    assert check_tool_choice(None, [COUNT]) == "auto"
    assert check_tool_choice("count", [COUNT]) == "count"
    with pytest.raises(ToolError, match="neither auto"):
        check_tool_choice("other", [COUNT])
    with pytest.raises(ToolError, match="offered twice"):
        Engine(discover=False).stream("scripted::x", [], tools=[COUNT, COUNT])


def test_validate_call() -> None:
    assert validate_call("c", "count", '{"n": 3}', [COUNT]).arguments == {"n": 3}
    assert "NaN is not JSON" in validate_call("c", "count", '{"n": NaN}', [COUNT]).error
    assert "not an object" in validate_call("c", "count", "[1]", [COUNT]).error
    assert "nested too deeply" in validate_call("c", "count", "[" * 100_000, [COUNT]).error
    assert validate_call("c", "count", "", [COUNT]).error.startswith("the arguments do not fit")


def test_results_are_cleaned_capped_and_become_tool_messages() -> None:
    result = ToolResult.of("ok\x1b[2J\n\tdone" + "z" * 100, limit=20)
    assert result.truncated and "\x1b" not in result.content
    assert result.content.startswith("ok[2J\n\tdone") and "[result cut: " in result.content
    call = ToolCall("call_1", "count", '{"n": 1}', {"n": 1})
    message = tool_message(call, ToolResult("boom", is_error=True))
    assert message == Message("tool", "Error: boom", tool_call_id="call_1", name="count")
    assert message.as_dict() == {"role": "tool", "content": "Error: boom",
                                 "tool_call_id": "call_1", "name": "count"}


def test_a_backend_without_tools_ends_the_turn_with_a_typed_error(scripted: Any) -> None:
    ref = scripted.use("plain", chunks=["hi"])
    engine = Engine(discover=False)
    final = list(engine.stream_sync(ref, [Message("user", "x")], tools=[COUNT]))[-1]
    assert final.finish_reason == "error" and final.error_kind == "tools_unsupported"
    # tool_choice "none" with such a backend: the tools are simply not offered.
    final = list(engine.stream_sync(ref, [Message("user", "x")], tools=[COUNT],
                                    tool_choice="none"))[-1]
    assert final.finish_reason == "stop"


# hostile pieces -----------------------------------------------------------------------------

_json_text = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8).map(lambda v: json.dumps(v, allow_nan=True))
_anything = st.one_of(st.none(), st.booleans(), st.integers(-5, 200), st.floats(),
                      st.text(max_size=20), st.lists(st.integers(), max_size=2),
                      st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_piece = st.tuples(
    st.one_of(st.integers(0, 3), _anything),                         # index
    st.one_of(st.none(), st.text(max_size=12), _anything),           # id
    st.one_of(st.none(), st.sampled_from(["count", "cou", "nt", ""]), _anything),  # name
    st.one_of(st.none(), _json_text, st.text(max_size=12), _anything),  # arguments
)


@given(st.lists(_piece, max_size=25))
def test_hostile_pieces_give_calls_or_a_typed_error(pieces: list[tuple[Any, ...]]) -> None:
    assembler = ToolCallAssembler()
    try:
        for piece in pieces:
            delta = assembler.add(*piece)
            assert isinstance(delta.arguments, str) and "\x1b" not in delta.arguments
    except MalformedResponse as exc:
        assert "\n" not in str(exc)
        return
    calls = assembler.finish([COUNT])
    assert len(calls) <= MAX_TOOL_CALLS
    assert len({c.id for c in calls}) == len(calls)
    for call in calls:
        assert call.valid == (call.error is None)
        if call.valid:
            assert call.name == "count" and isinstance(call.arguments["n"], int)
        else:
            assert call.arguments is None and call.error and "\n" not in call.error


@given(st.lists(st.tuples(st.integers(0, 2), st.text(max_size=6)), max_size=30))
def test_fragments_join_in_order_per_index(fragments: list[tuple[int, str]]) -> None:
    assembler = ToolCallAssembler()
    for index, text in fragments:
        assembler.add(index, f"id{index}", "count", text)
    calls = assembler.finish([COUNT])
    for call in calls:
        index = int(call.id.removeprefix("id"))
        raw = "".join(t for i, t in fragments if i == index)
        clean = "".join(ch for ch in raw if ch.isprintable() or ch in "\n\t")
        assert call.arguments_json in (raw, clean) or call.error


def test_pieces_without_an_index_follow_their_ids() -> None:
    assembler = ToolCallAssembler()
    assembler.add(None, "a", "count", '{"n":')
    assembler.add(None, None, None, " 1}")
    assembler.add(None, "b", "count", '{"n": 2}')
    first, second = assembler.finish([COUNT])
    assert (first.id, first.arguments) == ("a", {"n": 1})
    assert (second.id, second.arguments) == ("b", {"n": 2})
