"""What a server or a model file sends is checked before the app sees it: token counts,
text, model ids, GGUF headers; configured secrets never appear in an error."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from engine.config import EndpointConfig, EngineConfig
from engine.errors import BackendUnavailable, ModelFileError
from engine.gguf import MAX_ARRAY_DEPTH, read_gguf
from engine.redact import MASK, Redactor, safe_url
from engine.types import Usage
from engine.untrusted import (
    MAX_TOKEN_COUNT,
    checked_usage,
    clean_text,
    model_id,
    token_count,
)

# -- token counts, text, model ids ---------------------------------------------------------


@pytest.mark.parametrize(("sent", "kept"), [
    (12, 12), (0, 0), (12.0, 12), (-5, None), (1e308, None), (math.inf, None),
    (math.nan, None), (2.5, None), (True, None), ("12", None), (None, None),
    (MAX_TOKEN_COUNT + 1, None), (2**70, None)])
def test_token_counts_are_believed_only_when_plausible(sent: object, kept: int | None) -> None:
    assert token_count(sent) == kept


def test_usage_with_nothing_believable_is_dropped() -> None:
    assert checked_usage(Usage(1e308, -5)) is None  # type: ignore[arg-type]
    assert checked_usage(Usage(10, -5)) == Usage(10, None)


@given(st.text())
def test_clean_text_is_always_encodable(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # never raises: no lone surrogate survives
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        assert cleaned == text


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    assert clean_text("ok \ud800 ok") == "ok \ufffd ok"


@pytest.mark.parametrize("bad", [None, 5, "", "  ", "a" * 300, "evil\x1b]0;title\x07",
                                 "x\ud800", ["list"]])
def test_unusable_model_ids_are_dropped(bad: object) -> None:
    assert model_id(bad) is None


def test_ordinary_model_ids_are_kept() -> None:
    assert model_id("llama-3.1-8b-instruct:Q4_K_M") == "llama-3.1-8b-instruct:Q4_K_M"


# -- secrets ----------------------------------------------------------------------------------


def config_with_secrets() -> EngineConfig:
    return EngineConfig(
        openai=EndpointConfig(api_key=SecretStr("sk-live-ABCDEF123456")),
        endpoints={"home": EndpointConfig(base_url="http://alice:pa%24%24word@10.0.0.2/v1",
                                          api_key=SecretStr("home-key-987"))})


def test_configured_secrets_are_masked_wherever_they_appear() -> None:
    redact = Redactor.from_config(config_with_secrets())
    echoed = ('401: {"error": "bad key sk-live-ABCDEF123456", "headers": {"Authorization": '
              '"Bearer sk-live-ABCDEF123456"}} from http://alice:pa%24%24word@10.0.0.2/v1 '
              'home-key-987 pa$$word')
    out = redact(echoed)
    for secret in ("sk-live-ABCDEF123456", "pa%24%24word", "pa$$word", "home-key-987"):
        assert secret not in out
    assert "http://alice:***@10.0.0.2/v1" in out


def test_unknown_credentials_in_urls_and_headers_are_masked_too() -> None:
    redact = Redactor()
    out = redact("GET https://bob:hunter2@example.com/v1 Authorization: Bearer tok_9f8e7d "
                 "authorization=Basic dXNlcjpwYXNz")
    assert "hunter2" not in out and "tok_9f8e7d" not in out and "dXNlcjpwYXNz" not in out
    assert out.count(MASK) == 3


def test_safe_url_keeps_everything_but_the_password() -> None:
    assert safe_url("http://u:p%40ss@host:8080/v1") == "http://u:***@host:8080/v1"
    assert safe_url("http://host/v1") == "http://host/v1"


@given(st.text(min_size=4, alphabet=st.characters(blacklist_categories=("Cs",))),
       st.text(), st.text())
def test_a_secret_never_survives_redaction(secret: str, before: str, after: str) -> None:
    redact = Redactor([secret])
    assert secret not in redact(before + secret + after) or secret in MASK


async def test_an_engine_error_reaching_the_app_is_redacted() -> None:
    """The turn's error chunk carries no secret even when the backend's message has one."""
    from engine import Engine, Message

    config = EngineConfig(endpoints={"leaky": EndpointConfig(
        base_url="http://user:s3cr3t-pw@127.0.0.1:9/v1", api_key=SecretStr("key-123456"),
        timeout=2, max_retries=0)})
    engine = Engine(config, discover=False)
    chunks = [c async for c in engine.stream("leaky::m", [Message("user", "hi")])]
    await engine.aclose()
    final = chunks[-1]
    assert final.finish_reason == "error" and final.error_kind == BackendUnavailable.kind
    assert final.error and "s3cr3t-pw" not in final.error and "key-123456" not in final.error
    assert "user:***@127.0.0.1" in final.error


# -- GGUF headers --------------------------------------------------------------------------

def _str(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def gguf(*entries: bytes, kv_count: int | None = None, pad: int = 64) -> bytes:
    """A GGUF v3 header with the given metadata entries (key + type + value bytes)."""
    count = len(entries) if kv_count is None else kv_count
    return b"GGUF" + struct.pack("<IQQ", 3, 0, count) + b"".join(entries) + b"\0" * pad


def entry(key: bytes, vtype: int, value: bytes) -> bytes:
    return _str(key) + struct.pack("<I", vtype) + value


def nested_array(depth: int) -> bytes:
    inner = struct.pack("<IQ", 4, 1) + struct.pack("<I", 7)  # array of one uint32
    for _ in range(depth - 1):
        inner = struct.pack("<IQ", 9, 1) + inner
    return inner


CRAFTED = {
    "deeply nested arrays": gguf(entry(b"a", 9, nested_array(50_000))),
    "a string longer than the file": gguf(entry(b"a", 8, struct.pack("<Q", 2**62))),
    "a key longer than the file": gguf(_str(b"x")[:0] + struct.pack("<Q", 2**40)),
    "an array count beyond the file": gguf(entry(b"a", 9, struct.pack("<IQ", 8, 2**61))),
    "an array of scalars beyond the file": gguf(entry(b"a", 9, struct.pack("<IQ", 12, 2**61))),
    "an unknown value type": gguf(entry(b"a", 77, b"")),
    "an unknown array item type": gguf(entry(b"a", 9, struct.pack("<IQ", 99, 3))),
    "billions of keys": gguf(kv_count=2**63),
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_headers_are_a_clear_model_file_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / "crafted.gguf"
    path.write_bytes(CRAFTED[name])
    with pytest.raises(ModelFileError) as caught:
        read_gguf(path)
    assert str(path) in str(caught.value)


def test_nesting_up_to_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "nested.gguf"
    path.write_bytes(gguf(entry(b"a", 9, nested_array(MAX_ARRAY_DEPTH))))
    assert read_gguf(path).metadata["a"]["length"] == 1


def test_wrong_value_types_read_as_unknown(tmp_path: Path) -> None:
    path = tmp_path / "types.gguf"
    path.write_bytes(gguf(entry(b"general.architecture", 4, struct.pack("<I", 7)),
                          entry(b"general.file_type", 8, _str(b"Q4")),
                          entry(b"tokenizer.chat_template", 6, struct.pack("<f", 1.5)),
                          entry(b"7.context_length", 12, struct.pack("<d", math.nan))))
    info = read_gguf(path)
    assert (info.architecture, info.quantization, info.chat_template, info.context_length) == (
        None, None, None, None)


@given(st.binary(max_size=2048))
def test_any_bytes_after_the_magic_are_read_or_refused(tmp_path_factory: pytest.TempPathFactory,
                                                       body: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<I", 3) + body)
    try:
        info = read_gguf(path)
    except ModelFileError:
        return
    # whatever was read, its properties have the promised types
    assert info.architecture is None or isinstance(info.architecture, str)
    assert info.context_length is None or isinstance(info.context_length, int)
    assert info.quantization is None or isinstance(info.quantization, str)


def test_one_bad_file_does_not_hide_the_other_models(tmp_path: Path, model_path: Path) -> None:
    import asyncio

    from engine.config import LocalConfig
    from engine.local import LocalBackend

    (tmp_path / "bad.gguf").write_bytes(CRAFTED["deeply nested arrays"])
    (tmp_path / "good.gguf").symlink_to(model_path)
    backend = LocalBackend(LocalConfig(model_dirs=[tmp_path]))
    models = asyncio.run(backend.list_models())
    good = [m for m in models if m.details.get("architecture") == "llama"]
    bad = [m for m in models if Path(m.path or "").name == "bad.gguf"]
    assert good and Path(good[0].path or "").resolve() == model_path.resolve()
    assert bad and bad[0].size_bytes is None  # listed, but not described
