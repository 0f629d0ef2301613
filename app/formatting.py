"""How an answer's model and metrics, and sizes, read: the same in the TUI, the REPL and the
CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage import StoredMessage


def answer_facts(message: StoredMessage) -> list[str]:
    """`local::smollm2`, `TTFT 0.31 s`, `132 tok/s`, `45 tokens`, then how it ended if unusual
    (`‹ 2/3 ›` first when the turn has alternatives)."""
    label = alternative_label(message)
    model = " ".join((message.model_ref or "assistant").split())
    return [*([label] if label else []), model, *answer_metrics(message)]


def answer_metrics(message: StoredMessage) -> list[str]:
    """`answer_facts` without the model and the alternative."""
    parts: list[str] = []
    if message.ttft_s is not None:
        parts.append(f"TTFT {message.ttft_s:.2f} s")
    if message.tokens_per_s is not None:
        parts.append(f"{message.tokens_per_s:.0f} tok/s")
    if message.completion_tokens is not None:
        parts.append(f"{message.completion_tokens} tokens")
    parts += energy_facts(message)
    if message.status == "streaming":
        parts.append("streaming…")
    elif message.status in ("cancelled", "interrupted", "error"):
        parts.append(message.status)
    elif message.finish_reason == "length":
        parts.append("cut at max tokens")
    return parts


def alternative_label(message: StoredMessage) -> str | None:
    """`‹ 2/3 ›` on an answer whose turn has alternatives (None otherwise)."""
    if message.alternatives < 2 or message.role == "user":
        return None
    return f"‹ {message.alternative + 1}/{message.alternatives} ›"


def energy_facts(message: StoredMessage) -> list[str]:
    """`2.4 J` and `13 tok/J` where joules were counted; else the CPU time, said as such."""
    if message.energy_j is not None:
        parts = [f"{message.energy_j:.1f} J"]
        if message.completion_tokens and message.energy_j > 0:
            parts.append(f"{message.completion_tokens / message.energy_j:.1f} tok/J")
        return parts
    if message.cpu_s is not None and message.backend == "local":
        return [f"CPU {message.cpu_s:.1f} s"]
    return []


def human_size(size: int | None) -> str:
    """A byte count as `512 B`, `1.5 MB`…"""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def counted(count: int, noun: str) -> str:
    """`count` and `noun`, plural unless it is one ("1 session", "3 sessions")."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
