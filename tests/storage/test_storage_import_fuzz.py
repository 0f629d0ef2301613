"""Property-based fuzzing of the import parsers with hostile documents and bytes.

The invariant for every generated file: import_file either succeeds, and then the imported
sessions export as strict JSON that re-imports into a fresh store with an identical export, or
it raises ImportFormatError with one printable line naming the file and leaves the store
exactly as it was. Nothing else escapes (no RecursionError, TypeError, OverflowError,
UnicodeEncodeError, sqlite3 error...), and each example finishes within a few seconds.

tests/conftest.py registers no hypothesis profile, so each test is derandomized here: CI runs
the same examples every time, and the counts keep the file within a few seconds.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from storage import ImportFormatError, ImportLimits, Store, export_sessions, import_file
from storage.models import FINISH_REASONS, MARKERS, ROLES, STATUSES

#: Seconds one example may take (import, export, re-import); far above the usual ~20 ms.
EXAMPLE_BUDGET_S = 5.0

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies ----------------------------------------------------------------------------

LONE_SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "\ud83d"])
TEXT = st.one_of(
    st.text(max_size=20),
    st.lists(st.one_of(st.text(max_size=5), LONE_SURROGATES), max_size=4).map("".join),
    st.sampled_from(["", " ", "\x1b]52;c;AAAA\x07", "\u202e", "\x00", "[[{{", '"\\']),
)
EDGE_INTS = st.sampled_from(
    [0, -1, -5, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, 10**300]
)
INTS = st.one_of(st.integers(), EDGE_INTS)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, 1e30]),
)
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)


def maybe_fields(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict holding any subset of the fields."""
    return st.fixed_dictionaries({}, optional=fields)


def with_fields(
    required: dict[str, st.SearchStrategy[Any]], **optional: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional=optional)


# Plausible documents: every field has the right JSON type, but the values are hostile where
# the type allows (lone surrogates, escapes, NaN, 1e308, -5, 2**64, cycles between nodes).
# Then hostile_spots() replaces a few values anywhere in them with any JSON value at all.

METRIC = st.one_of(st.integers(0, 10**6), EDGE_INTS, FLOATS)
# Alternatives of a turn (export version 3): numbers with gaps, huge or negative, and any
# number of rows marked chosen (none, several, on user messages).
ALTERNATIVE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "alternative": st.integers(0, 3) | EDGE_INTS,
    "chosen": st.booleans(),
}


@st.composite
def attachment(draw: st.DrawFn) -> dict[str, Any]:
    """An attachment record (export version 3): right, or with its size, sha256 or base64
    wrong, or its name a path that must not escape an md export's folder."""
    data = draw(st.binary(max_size=40))
    record: dict[str, Any] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "name": draw(st.sampled_from(["a.py", "../../etc/passwd", ".hidden", "/abs/x.png",
                                      "a\\b", "C:\\x"]) | TEXT),
        "media_type": draw(st.sampled_from(["text/plain", "image/png", "audio/wav"]) | TEXT),
        "size": len(data),
        "data": base64.b64encode(data).decode(),
    }
    spoil = draw(st.sampled_from([None, None, None, "size", "sha256", "data", "drop"]))
    if spoil == "size":
        record["size"] = draw(INTS)
    elif spoil == "sha256":
        record["sha256"] = draw(st.sampled_from(["0" * 64, "ABC", "g" * 64]) | TEXT)
    elif spoil == "data":
        record["data"] = draw(st.sampled_from(["!!!", "AAA", "=", ""]) | TEXT)
    elif spoil == "drop":
        record.pop(draw(st.sampled_from(sorted(record))))
    return record


TEXT_MESSAGE = with_fields(
    {"role": st.sampled_from(ROLES), "content": TEXT},
    id=st.sampled_from(["m1", "m2", "", "m1\ud800"]) | TEXT,
    position=INTS,
    created_at=TEXT,
    status=st.sampled_from(STATUSES),
    model_ref=TEXT,
    backend=TEXT,
    finish_reason=st.sampled_from([*FINISH_REASONS, None]),
    prompt_tokens=METRIC,
    completion_tokens=METRIC,
    ttft_s=METRIC,
    total_s=METRIC,
    tokens_per_s=METRIC,
    error=TEXT,
    metadata=st.dictionaries(TEXT, JSON, max_size=3),
    # Mostly absent; when present on a role that may not carry it, the import refuses it.
    tool_call_id=st.none() | TEXT,
    **ALTERNATIVE_FIELDS,
    attachments=st.lists(attachment(), max_size=3),
)
# Tool steps (export version 2): an assistant's calls, with arguments as JSON text (or not),
# and tool results answering them, or naming calls that do not exist.
TOOL_CALL = with_fields(
    {
        "id": st.sampled_from(["call_1", "call_2", ""]) | TEXT,
        "name": st.sampled_from(["now", "read_file"]) | TEXT,
        "arguments": JSON.map(json.dumps) | TEXT,
    },
    error=st.none() | TEXT,
    type=st.just("function"),
)
TOOL_CALLS_MESSAGE = with_fields(
    {"role": st.just("assistant"), "content": TEXT, "tool_calls": st.lists(TOOL_CALL, max_size=3)},
    finish_reason=st.sampled_from(["tool_calls", "stop", None]),
    status=st.sampled_from(STATUSES),
    model_ref=TEXT,
    **ALTERNATIVE_FIELDS,
)
TOOL_RESULT_MESSAGE = with_fields(
    {
        "role": st.just("tool"),
        "content": TEXT,
        "tool_call_id": st.sampled_from(["call_1", "call_2"]) | TEXT,
    },
    tool_name=st.none() | TEXT,
    status=st.sampled_from(STATUSES),
    **ALTERNATIVE_FIELDS,
)
TALU_MESSAGE = st.one_of(TEXT_MESSAGE, TEXT_MESSAGE, TOOL_CALLS_MESSAGE, TOOL_RESULT_MESSAGE)
TALU_SESSION = with_fields(
    {"messages": st.lists(TALU_MESSAGE, max_size=4)},
    id=st.sampled_from(["s1", "s2", ""]) | TEXT,
    title=TEXT,
    title_is_custom=st.booleans(),
    created_at=TEXT,
    updated_at=TEXT,
    marker=st.sampled_from(MARKERS),
    parent_session_id=st.sampled_from(["s1", "s2"]) | TEXT,
    forked_from_message_id=st.sampled_from(["m1", "m2"]) | TEXT,
    model_ref=TEXT,
    system_prompt=TEXT,
    generation_config=st.dictionaries(TEXT, JSON, max_size=3),
    metadata=st.dictionaries(TEXT, JSON, max_size=3),
)
TALU_PLAUSIBLE = with_fields(
    {
        "format": st.just("talu-chat"),
        "version": st.sampled_from([1, 2, 3]),
        "sessions": st.lists(TALU_SESSION, max_size=3),
    },
    exported_at=JSON,
)

NODE_IDS = st.sampled_from(["a", "b", "c", "d", "e"])
CHATGPT_MESSAGE = with_fields(
    {
        "author": with_fields(
            {"role": st.sampled_from(["user", "assistant", "user", "assistant", "system", "tool"])}
        ),
        "content": with_fields(
            {
                "content_type": st.sampled_from(
                    ["text", "text", "text", "multimodal_text", "code"]
                ),
                "parts": st.lists(st.one_of(st.just("some text"), TEXT, TEXT, JSON), max_size=3),
            }
        ),
    },
    id=TEXT,
    create_time=FLOATS | INTS,
    recipient=st.sampled_from(["all", "all", "browser"]),
    metadata=maybe_fields(
        is_visually_hidden_from_conversation=st.sampled_from([False, False, False, True]),
        model_slug=TEXT,
        finish_details=maybe_fields(type=st.sampled_from(["stop", "max_tokens", "other"])),
    ),
)
CHATGPT_NODE = with_fields(
    {
        # Random links: parents and children loop, point nowhere, or disagree.
        "parent": st.none() | NODE_IDS,
        "children": st.lists(NODE_IDS, max_size=3),
        "message": st.none() | CHATGPT_MESSAGE | CHATGPT_MESSAGE,
    },
    id=NODE_IDS,
)
CHATGPT_CONVERSATION = with_fields(
    {"mapping": st.dictionaries(NODE_IDS, CHATGPT_NODE, min_size=1, max_size=5)},
    title=TEXT,
    create_time=FLOATS | INTS,
    update_time=FLOATS | INTS,
    current_node=st.sampled_from(["a", "b", "c", "a", "b", "c", "d", "e", None]) | TEXT,
    conversation_id=TEXT,
    id=TEXT,
    default_model_slug=TEXT,
)
CHATGPT_PLAUSIBLE = st.lists(CHATGPT_CONVERSATION, min_size=1, max_size=3)


@st.composite
def hostile_spots(draw: st.DrawFn, plausible: st.SearchStrategy[Any]) -> Any:
    """A plausible document with 0-3 values, anywhere in it, replaced by any JSON value."""
    document = draw(plausible)
    for _ in range(draw(st.integers(0, 3), label="spots")):
        document = _replace(draw, document, 0)
    return document


def _replace(draw: st.DrawFn, value: Any, depth: int) -> Any:
    children = (
        list(value)
        if isinstance(value, dict)
        else list(range(len(value)))
        if isinstance(value, list)
        else []
    )
    # The top two levels are left to the other fuzzers: replacing them mostly tests detection.
    if not children or (depth > 1 and draw(st.integers(0, 3)) == 0):
        return draw(JSON)
    key = draw(st.sampled_from(children))
    value[key] = _replace(draw, value[key], depth + 1)
    return value


TALU_DOCUMENT = hostile_spots(TALU_PLAUSIBLE)
CHATGPT_DOCUMENT = hostile_spots(CHATGPT_PLAUSIBLE)

SMALL_LIMITS = st.one_of(
    st.just(ImportLimits()),
    st.just(ImportLimits()),
    st.builds(
        ImportLimits,
        max_file_bytes=st.sampled_from([ImportLimits().max_file_bytes]) | st.integers(1, 4000),
        max_uncompressed_bytes=st.sampled_from([10**6]) | st.integers(1, 4000),
        max_depth=st.integers(1, 12),
        max_sessions=st.integers(1, 3),
        max_messages=st.integers(1, 4),
        max_text_chars=st.integers(1, 30),
        max_tool_calls=st.integers(1, 3),
        max_alternatives=st.integers(1, 3),
        max_attachments=st.integers(1, 3),
        max_attachment_bytes=st.integers(1, 64),
    ),
)

# --- the invariant -------------------------------------------------------------------------


@contextmanager
def workspace() -> Iterator[Path]:
    # Not tmp_path: a function-scoped fixture would be shared by every example.
    with tempfile.TemporaryDirectory(prefix="talu-fuzz-") as folder:
        yield Path(folder)


def snapshot(store: Store) -> dict[str, Any]:
    document = json.loads(export_sessions(store, None, "json"))
    document.pop("exported_at")
    return document


def strict_loads(text: str) -> Any:
    def refuse(literal: str) -> None:
        raise AssertionError(f"the export holds the non-standard literal {literal}")

    return json.loads(text, parse_constant=refuse)


def encode(document: Any) -> bytes:
    """JSON as another tool might write it: NaN/Infinity literals, \\ud800 escapes, big ints."""
    return json.dumps(document).encode()


def check_import(
    content: bytes, name: str = "import.json", limits: ImportLimits | None = None
) -> str:
    """Import content into a store that already holds a session; check the invariant."""
    limits = limits or ImportLimits()
    started = time.monotonic()
    with workspace() as folder, Store.open(folder / "store.db") as store:
        kept = store.create_session(title="kept")
        store.add_message(kept.id, "user", "already here", prompt_tokens=3)
        before = snapshot(store)
        path = folder / name
        path.write_bytes(content)
        try:
            ids = import_file(store, path, limits=limits)
        except ImportFormatError as error:
            message = str(error)
            assert str(path) in message, message
            assert "\n" not in message and message.isprintable(), message
            assert len(message) < 500 + len(str(path)), message
            assert snapshot(store) == before
            outcome = f"refused: {type(error).__name__}"
        else:
            for fmt in ("md", "html", "jsonl"):  # every renderer takes what import accepted
                export_sessions(store, ids, fmt, files_dir="x_files")
            check_md_files(store, ids, folder)
            exported = export_sessions(store, ids, "json")
            first = strict_loads(exported)
            again = folder / "again.json"
            again.write_text(exported, encoding="utf-8")
            with Store.open(folder / "fresh.db") as fresh:
                assert import_file(fresh, again) == ids
                second = strict_loads(export_sessions(fresh, ids, "json"))
            first.pop("exported_at")
            second.pop("exported_at")
            assert first == second
            after = snapshot(store)["sessions"]
            assert [s for s in after if s["id"] == kept.id] == before["sessions"]
            outcome = f"imported: {'some' if ids else 'no'} sessions"
            kept_messages = [m for s in first["sessions"] for m in s["messages"]]
            if any(m["tool_calls"] or m["role"] == "tool" for m in kept_messages):
                event("imported tool steps")
            for session in first["sessions"]:
                check_alternatives(session["messages"])
    assert time.monotonic() - started < EXAMPLE_BUDGET_S
    event(outcome)
    return outcome


def check_alternatives(messages: list[dict[str, Any]]) -> None:
    """Each turn's alternatives are numbered 0..n-1 and exactly one of them is chosen."""
    turns: list[list[dict[str, Any]]] = [[]]
    for message in messages:
        if message["role"] == "user":
            assert (message["alternative"], message["chosen"]) == (0, True)
            turns.append([])
        else:
            turns[-1].append(message)
    for turn in filter(None, turns):
        numbers = {m["alternative"] for m in turn}
        assert numbers == set(range(len(numbers)))
        assert len({m["alternative"] for m in turn if m["chosen"]}) == 1
        if len(numbers) > 1:
            event("imported alternatives")
def check_md_files(store: Store, ids: list[str], folder: Path) -> None:
    """An md export writes each attachment inside its NAME_files folder, whatever its name."""
    from storage.export import load_transcripts
    from storage.export_attachments import write_files

    files = folder / "out_files"
    written = write_files(files, store, load_transcripts(store, ids))
    if written:
        event("exported attachments to md files")
        inside = sorted(p.resolve().parent for p in files.iterdir())
        assert inside == [files.resolve()] * written
        assert not any(p.name.startswith(".") for p in files.iterdir())


# --- the fuzzers ---------------------------------------------------------------------------


@pytest.mark.timeout(120)
@FUZZ
@given(document=TALU_DOCUMENT, limits=SMALL_LIMITS)
def test_fuzz_talu_documents(document: Any, limits: ImportLimits) -> None:
    check_import(encode(document), limits=limits)


@pytest.mark.timeout(120)
@FUZZ
@given(document=CHATGPT_DOCUMENT, limits=SMALL_LIMITS)
def test_fuzz_chatgpt_documents(document: Any, limits: ImportLimits) -> None:
    check_import(encode(document), "conversations.json", limits)


@pytest.mark.timeout(120)
@FUZZ
@given(document=st.one_of(TALU_DOCUMENT, CHATGPT_DOCUMENT, JSON), data=st.data())
def test_fuzz_mutated_bytes(document: Any, data: st.DataObject) -> None:
    """Valid-looking JSON with a slice replaced by random bytes (truncations, stray brackets)."""
    content = encode(document)
    start = data.draw(st.integers(0, len(content)), label="start")
    end = data.draw(st.integers(start, len(content)), label="end")
    filler = data.draw(
        st.one_of(
            st.binary(max_size=8),
            st.sampled_from([b"[" * 300, b"{" * 300, b'"', b"\\", b"NaN", b"1e999", b"9" * 5000]),
        ),
        label="filler",
    )
    check_import(content[:start] + filler + content[end:])


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=150)
@given(
    content=st.one_of(
        st.binary(max_size=300),
        st.text(alphabet='[]{}",:0123456789.eE-+ \\untrfalsNIiy', max_size=300).map(str.encode),
        st.binary(max_size=300).map(lambda tail: b"PK\x03\x04" + tail),
        st.binary(max_size=300).map(lambda tail: b"\xef\xbb\xbf" + tail),
    )
)
def test_fuzz_raw_bytes(content: bytes) -> None:
    check_import(content)


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=60)
@given(
    document=st.one_of(CHATGPT_DOCUMENT, st.binary(max_size=200)),
    compression=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2]),
    member=st.sampled_from(["conversations.json", "export/conversations.json", "other.json"]),
    limit=st.one_of(st.none(), st.integers(1, 2000)),
)
def test_fuzz_zip_archives(document: Any, compression: int, member: str, limit: int | None) -> None:
    buffer = io.BytesIO()
    content = document if isinstance(document, bytes) else encode(document)
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr(member, content)
    limits = ImportLimits() if limit is None else ImportLimits(max_uncompressed_bytes=limit)
    check_import(buffer.getvalue(), "export.zip", limits)


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=60)
@given(
    depth=st.integers(1, 3000),
    opener=st.sampled_from(["[", '{"k":', '[{"k":']),
    closed=st.booleans(),
    max_depth=st.integers(1, 500),
)
def test_fuzz_nesting(depth: int, opener: str, closed: bool, max_depth: int) -> None:
    closer = {"[": "]", '{"k":': "}", '[{"k":': "}]"}[opener]
    inner = opener * depth + "1" + (closer * depth if closed else "")
    document = '{"format": "talu-chat", "version": 1, "sessions": [], "x": ' + inner + "}"
    check_import(document.encode(), limits=ImportLimits(max_depth=max_depth))
