"""Property: any session content survives export json -> import -> export json unchanged."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import STATUSES, Store, export_sessions, import_file

ODD = st.sampled_from(
    [
        "",
        "\x00",
        "nul\x00inside",
        "\x01\x07\x1b[31mred\x1b[0m\x7f",
        "🦜👩🏽‍💻🇮🇸",
        "مرحبا بالعالم \u202eevil\u202c",
        "שלום",
        "\u2028\u2029\x85\r\n\r",
        "[bold red]markup[/] **md** `code` <script>x</script>",
        "# heading\n\n- list\n\n```python\nprint('x')\n```",
        "\ufeffbom",
        "\U0010ffff\ue000",
        "'; DROP TABLE messages; --",
    ]
)
TEXT = st.one_of(
    ODD,
    st.text(max_size=200),
    st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=10), st.integers(1, 20_000)),
)
JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "user", "assistant"]),
        "content": TEXT,
        "status": st.sampled_from(STATUSES),
        "model_ref": st.none() | TEXT,
        "ttft_s": st.none() | st.floats(0, 1e6),
        "completion_tokens": st.none() | st.integers(0, 2**31),
        "error": st.none() | TEXT,
        "metadata": st.dictionaries(st.text(max_size=8), JSON_VALUE, max_size=3),
    }
)
SESSION = st.fixed_dictionaries(
    {
        "title": st.none() | TEXT,
        "system_prompt": st.none() | TEXT,
        "generation_config": st.dictionaries(st.text(max_size=8), JSON_VALUE, max_size=3),
        "marker": st.sampled_from(["normal", "pinned", "archived", "deleted"]),
        "messages": st.lists(MESSAGE, max_size=4),
    }
)


def without_timestamp(text: str) -> dict[str, Any]:
    document = json.loads(text)
    document.pop("exported_at")
    return document


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SESSION, min_size=1, max_size=3))
def test_json_export_import_is_lossless(sessions: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with Store.open(root / "a.db") as source:
            for spec in sessions:
                session = source.create_session(
                    title=spec["title"],
                    system_prompt=spec["system_prompt"],
                    generation_config=spec["generation_config"],
                )
                for message in spec["messages"]:
                    source.add_message(session.id, **message)
                source.set_marker(session.id, spec["marker"])
            text = export_sessions(source, None, "json")
        first = without_timestamp(text)
        dump = root / "dump.json"
        dump.write_text(text, encoding="utf-8")
        with Store.open(root / "b.db") as target:
            ids = import_file(target, dump)
            assert ids == [s["id"] for s in first["sessions"]]
            assert without_timestamp(export_sessions(target, None, "json")) == first
        # The content itself went through SQLite unchanged.
        originals = [m["content"] for spec in sessions for m in spec["messages"]]
        stored = [m["content"] for s in first["sessions"] for m in s["messages"]]
        assert sorted(originals) == sorted(stored)
