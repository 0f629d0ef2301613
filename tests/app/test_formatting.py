"""How an answer's figures read: energy where it was counted, CPU time (said so) where not."""

from __future__ import annotations

from app.formatting import answer_facts
from storage import StoredMessage


def answer(**fields: object) -> StoredMessage:
    base: dict[str, object] = {"id": "m", "session_id": "s", "position": 1,
                               "role": "assistant", "content": "x", "created_at": "t",
                               "model_ref": "local::smollm2", "backend": "local",
                               "tokens_per_s": 100.0, "completion_tokens": 50}
    return StoredMessage(**{**base, **fields})  # type: ignore[arg-type]


def test_joules_and_tokens_per_joule_when_counted() -> None:
    facts = answer_facts(answer(energy_j=2.5, energy_source="RAPL (whole CPU package)",
                                cpu_s=0.7))
    assert facts[-2:] == ["2.5 J", "20.0 tok/J"]


def test_cpu_time_when_no_counter() -> None:
    assert answer_facts(answer(cpu_s=0.74))[-1] == "CPU 0.7 s"


def test_nothing_claimed_for_a_server_model() -> None:
    facts = answer_facts(answer(backend="ls", model_ref="ls::m", cpu_s=0.1))
    assert not any("J" in f or "CPU" in f for f in facts)
