"""How an answer's model and metrics read, the same in the TUI, the REPL and the CLI."""

from __future__ import annotations

from storage import StoredMessage


def answer_facts(message: StoredMessage) -> list[str]:
    """`local::smollm2`, `TTFT 0.31 s`, `132 tok/s`, `45 tokens`, then how it ended if unusual."""
    parts = [" ".join((message.model_ref or "assistant").split())]
    if message.ttft_s is not None:
        parts.append(f"TTFT {message.ttft_s:.2f} s")
    if message.tokens_per_s is not None:
        parts.append(f"{message.tokens_per_s:.0f} tok/s")
    if message.completion_tokens is not None:
        parts.append(f"{message.completion_tokens} tokens")
    if message.status == "streaming":
        parts.append("streaming…")
    elif message.status in ("cancelled", "interrupted", "error"):
        parts.append(message.status)
    elif message.finish_reason == "length":
        parts.append("cut at max tokens")
    return parts
