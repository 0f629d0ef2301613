"""Import of ChatGPT data exports (conversations.json, or the zip holding it)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from storage import Store, import_file

CHATGPT = [
    {
        "title": "Packing for Iceland",
        "create_time": 1700000000.5,
        "update_time": 1700000300.25,
        "conversation_id": "conv-1",
        "default_model_slug": "gpt-4o",
        "current_node": "a2b",
        "mapping": {
            "root": {"id": "root", "message": None, "parent": None, "children": ["sys"]},
            "sys": {
                "id": "sys",
                "message": {
                    "id": "sys",
                    "author": {"role": "system"},
                    "content": {"content_type": "text", "parts": [""]},
                    "metadata": {"is_visually_hidden_from_conversation": True},
                    "create_time": None,
                    "recipient": "all",
                },
                "parent": "root",
                "children": ["ctx"],
            },
            "ctx": {
                "id": "ctx",
                "message": {
                    "id": "ctx",
                    "author": {"role": "user"},
                    "content": {"content_type": "user_editable_context", "user_profile": "x"},
                    "metadata": {"is_visually_hidden_from_conversation": True},
                },
                "parent": "sys",
                "children": ["u1"],
            },
            "u1": {
                "id": "u1",
                "message": {
                    "id": "u1",
                    "author": {"role": "user"},
                    "create_time": 1700000010.0,
                    "content": {
                        "content_type": "text",
                        "parts": ["What should I pack for Iceland in March?"],
                    },
                    "metadata": {},
                    "recipient": "all",
                },
                "parent": "ctx",
                "children": ["a1", "a1b"],
            },
            "a1": {
                "id": "a1",
                "message": {
                    "id": "a1",
                    "author": {"role": "assistant"},
                    "create_time": 1700000020.0,
                    "content": {
                        "content_type": "text",
                        "parts": ["An older answer (regenerated)."],
                    },
                    "metadata": {"model_slug": "gpt-4o"},
                    "recipient": "all",
                },
                "parent": "u1",
                "children": [],
            },
            "a1b": {
                "id": "a1b",
                "message": {
                    "id": "a1b",
                    "author": {"role": "assistant"},
                    "create_time": 1700000030.0,
                    "content": {
                        "content_type": "text",
                        "parts": ["Layers, a shell jacket, and wool socks."],
                    },
                    "metadata": {"model_slug": "gpt-4o", "finish_details": {"type": "stop"}},
                    "recipient": "all",
                },
                "parent": "u1",
                "children": ["u2"],
            },
            "u2": {
                "id": "u2",
                "message": {
                    "id": "u2",
                    "author": {"role": "user"},
                    "create_time": 1700000100.0,
                    "content": {
                        "content_type": "multimodal_text",
                        "parts": [
                            {
                                "content_type": "image_asset_pointer",
                                "asset_pointer": "file-service://x",
                            },
                            "What about this jacket?",
                        ],
                    },
                    "metadata": {},
                    "recipient": "all",
                },
                "parent": "a1b",
                "children": ["think"],
            },
            "think": {
                "id": "think",
                "message": {
                    "id": "think",
                    "author": {"role": "assistant"},
                    "content": {"content_type": "thoughts", "thoughts": [{"content": "hmm"}]},
                    "metadata": {},
                    "recipient": "all",
                },
                "parent": "u2",
                "children": ["call"],
            },
            "call": {
                "id": "call",
                "message": {
                    "id": "call",
                    "author": {"role": "assistant"},
                    "content": {"content_type": "code", "language": "python", "text": "print(1)"},
                    "metadata": {},
                    "recipient": "python",
                },
                "parent": "think",
                "children": ["tool"],
            },
            "tool": {
                "id": "tool",
                "message": {
                    "id": "tool",
                    "author": {"role": "tool", "name": "python"},
                    "content": {"content_type": "execution_output", "text": "1"},
                    "metadata": {},
                    "recipient": "all",
                },
                "parent": "call",
                "children": ["blank"],
            },
            "blank": {
                "id": "blank",
                "message": {
                    "id": "blank",
                    "author": {"role": "assistant"},
                    "content": {"content_type": "text", "parts": ["   "]},
                    "metadata": {},
                    "recipient": "all",
                },
                "parent": "tool",
                "children": ["a2b"],
            },
            "a2b": {
                "id": "a2b",
                "message": {
                    "id": "a2b",
                    "author": {"role": "assistant"},
                    "create_time": 1700000200.0,
                    "content": {
                        "content_type": "text",
                        "parts": ["That jacket looks warm enough."],
                    },
                    "metadata": {
                        "model_slug": "gpt-4o-mini",
                        "finish_details": {"type": "max_tokens"},
                    },
                    "recipient": "all",
                },
                "parent": "blank",
                "children": [],
            },
        },
    },
    {
        "title": None,
        "create_time": 1710000000,
        "update_time": None,
        "mapping": {
            "r": {"id": "r", "message": None, "parent": None, "children": ["q"]},
            "q": {
                "id": "q",
                "message": {
                    "id": "q",
                    "author": {"role": "user"},
                    "content": {"content_type": "text", "parts": ["Untitled question here"]},
                },
                "parent": "r",
                "children": ["x"],
            },
            "x": {
                "id": "x",
                "message": {
                    "id": "x",
                    "author": {"role": "assistant"},
                    "content": {"content_type": "text", "parts": ["Reply"]},
                },
                "parent": "q",
                "children": [],
            },
        },
    },
    {"title": "Only hidden", "mapping": {"r": {"message": None, "parent": None, "children": []}}},
]


def test_chatgpt_import(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(CHATGPT), encoding="utf-8")
    ids = import_file(store, path)
    assert len(ids) == 2  # the conversation with nothing visible is skipped

    first = store.get_session(ids[0])
    assert (first.title, first.title_is_custom) == ("Packing for Iceland", True)
    assert first.created_at == "2023-11-14T22:13:20.500000Z"
    assert first.updated_at == "2023-11-14T22:18:20.250000Z"
    assert first.model_ref == "openai::gpt-4o"
    assert first.metadata == {"source": "chatgpt", "chatgpt_id": "conv-1"}
    assert first.system_prompt is None
    messages = store.get_messages(first.id)
    assert [(m.role, m.content) for m in messages] == [
        ("user", "What should I pack for Iceland in March?"),
        ("assistant", "Layers, a shell jacket, and wool socks."),
        ("user", "What about this jacket?"),
        ("assistant", "That jacket looks warm enough."),
    ]
    assert [m.position for m in messages] == [0, 1, 2, 3]
    assert (messages[1].model_ref, messages[1].finish_reason) == ("openai::gpt-4o", "stop")
    assert (messages[3].model_ref, messages[3].finish_reason) == ("openai::gpt-4o-mini", "length")
    assert messages[0].created_at == "2023-11-14T22:13:30.000000Z"
    assert messages[0].metadata == {"chatgpt_id": "u1"}

    second = store.get_session(ids[1])
    assert (second.title, second.title_is_custom) == ("Untitled question here", False)
    assert [m.content for m in store.get_messages(second.id)] == ["Untitled question here", "Reply"]
    assert store.search("jacket")


def test_chatgpt_zip(tmp_path: Path, store: Store) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("chat.html", "<html></html>")
        zf.writestr("conversations.json", json.dumps(CHATGPT))
    assert len(import_file(store, archive, fmt="chatgpt")) == 2


def test_chatgpt_unknown_finish_details_are_ignored(tmp_path: Path, store: Store) -> None:
    # Once a TypeError ("unhashable type") that aborted the whole import.
    conversations = json.loads(json.dumps(CHATGPT[1]))
    for odd in (["stop"], {"nested": 1}, 7):
        message = conversations["mapping"]["x"]["message"]
        message["metadata"] = {"finish_details": {"type": odd}}
        path = tmp_path / "conversations.json"
        path.write_text(json.dumps([conversations]), encoding="utf-8")
        [session_id] = import_file(store, path)
        assert [m.finish_reason for m in store.get_messages(session_id)] == [None, None]
