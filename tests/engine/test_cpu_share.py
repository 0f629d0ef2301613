"""Cores shared between talu-chat processes (engine.cpu_share) with the real bundled model."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import Engine, EngineConfig, LocalConfig, Message
from engine.cpu_share import WAIT_NOTICE, Claim, CoreShare, runtime_dir

ROOT = Path(__file__).resolve().parents[2]
#: A talu-chat decode in its own process, on one shared core; prints its notices and its end.
DECODE = """
from engine import Engine, EngineConfig, LocalConfig, Message
engine = Engine(EngineConfig(local=LocalConfig(n_ctx=512, n_threads=1, shared_cores=1)),
                discover=False)
for chunk in engine.stream_sync("smollm2", [Message("user", "Say hi.")],
                                {"max_tokens": 3, "temperature": 0}):
    if chunk.notice:
        print("notice:", chunk.notice, flush=True)
    if chunk.done:
        print("done:", chunk.finish_reason, chunk.usage.completion_tokens, flush=True)
engine.close()
"""
#: Another process holding the one shared core until a line arrives on its stdin.
HOLD = """
import sys
from engine.cpu_share import CoreShare
claim = CoreShare.open(1).claim()
assert claim.grow(1) == 1
print("holding", flush=True)
sys.stdin.readline()
"""


def _start(code: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def _line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def _finish(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate()
    assert proc.returncode == 0
    return out.strip()


@pytest.fixture
def one_core_held() -> Iterator[Claim]:
    """This test process holds the only shared core."""
    share = CoreShare.open(1)
    assert share is not None
    claim = share.claim()
    assert claim.grow(1) == 1
    yield claim
    claim.release()
    share.close()


def test_runtime_dir_is_private_and_overridable(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_RUNTIME_DIR", str(tmp_path / "run"))
    folder = runtime_dir()
    assert folder == tmp_path / "run"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_decode_waits_for_another_process_and_says_so() -> None:
    holder = _start(HOLD)
    assert _line(holder) == "holding"
    decode = _start(DECODE)
    assert _line(decode) == f"notice: {WAIT_NOTICE}"
    assert holder.stdin is not None
    holder.stdin.write("release\n")
    holder.stdin.flush()
    assert _finish(decode) == "done: length 3"
    _finish(holder)


def test_a_killed_holder_frees_its_core() -> None:
    holder = _start(HOLD)
    assert _line(holder) == "holding"
    decode = _start(DECODE)
    assert _line(decode) == f"notice: {WAIT_NOTICE}"
    holder.send_signal(signal.SIGKILL)  # no clean-up: the kernel drops its lock
    holder.wait()
    assert _finish(decode) == "done: length 3"


def test_two_waiting_decodes_both_complete_taking_turns(one_core_held: Claim) -> None:
    first, second = _start(DECODE), _start(DECODE)
    assert _line(first) == _line(second) == f"notice: {WAIT_NOTICE}"
    one_core_held.release()
    assert _finish(first) == _finish(second) == "done: length 3"


async def test_cancel_while_waiting_for_a_core(one_core_held: Claim) -> None:
    engine = Engine(EngineConfig(local=LocalConfig(n_ctx=512, n_threads=1, shared_cores=1)),
                    discover=False)
    try:
        turn = engine.stream("smollm2", [Message("user", "Say hi.")], {"max_tokens": 3})
        chunks = []
        async for chunk in turn:
            chunks.append(chunk)
            if chunk.notice == WAIT_NOTICE:
                turn.cancel()  # Esc / Ctrl+C while waiting
        assert chunks[-1].finish_reason == "cancelled"
        assert not "".join(c.text for c in chunks)
    finally:
        await engine.aclose()  # waits for the decode thread: it must have let go
