"""The thread policy's decisions (engine.threads), as pure functions and with scripted loads."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from engine import threads as policy
from engine.cpu_share import CoreShare
from engine.threads import (
    CpuSample,
    DecodeThreads,
    ThreadPolicy,
    describe,
    describe_wait,
    fitting_threads,
    foreign_cores,
    openmp_environment,
    parse_proc_stat,
    prompt_threads,
)


@pytest.mark.parametrize(("current", "foreign", "expected"), [
    (2, 0.0, 2),    # idle: every core
    (2, 0.2, 2),    # a little background work is tolerated
    (2, 0.67, 1),   # a busy neighbour, as measured while it shares our cores
    (2, 1.0, 1),    # a busy neighbour on its own core
    (2, 2.0, 1),    # two of them: never below one thread
    (1, 0.15, 1),   # stepping back up waits for the others to (nearly) stop
    (1, 0.05, 2),
    (1, 1.0, 1),
])
def test_two_cores(current: int, foreign: float, expected: int) -> None:
    assert fitting_threads(current, limit=2, cores=2, foreign=foreign) == expected


def test_a_prompt_tolerates_more_load_than_an_answer() -> None:
    assert prompt_threads(limit=2, cores=2, foreign=0.6) == 2
    assert prompt_threads(limit=2, cores=2, foreign=1.0) == 1
    assert prompt_threads(limit=8, cores=8, foreign=2.0) == 6


def test_many_cores_give_up_one_thread_per_busy_core() -> None:
    assert fitting_threads(8, limit=8, cores=8, foreign=1.0) == 7
    assert fitting_threads(8, limit=8, cores=8, foreign=2.6) == 5
    assert fitting_threads(5, limit=8, cores=8, foreign=0.0) == 8
    assert fitting_threads(4, limit=4, cores=8, foreign=3.0) == 4  # room beside them: the limit


def test_proc_stat_counts_our_cpus_without_idle_and_iowait() -> None:
    text = ("cpu  900 0 900 9000 90 0 0 0 0 0\n"
            "cpu0 100 5 100 1000 50 3 2 10 0 0\n"
            "cpu1 400 0 200 2000 40 0 0 0 0 0\n"
            "cpu2 999 0 999 0 0 0 0 0 0 0\n"
            "intr 1 2 3\nprocs_running 3\nprocs_blocked 0\n")
    busy, running = parse_proc_stat(text, {0, 1}, ticks_per_s=100)
    assert busy == pytest.approx((100 + 5 + 100 + 3 + 2 + 10 + 400 + 200) / 100)
    assert running == 3


def test_foreign_load_is_the_busy_cpu_that_was_not_ours() -> None:
    before = CpuSample(wall=10.0, busy=100.0, own=5.0)
    assert foreign_cores(before, CpuSample(10.5, 101.0, 5.9)) == pytest.approx(0.2)
    assert foreign_cores(before, CpuSample(10.5, 100.8, 5.9)) == 0.0  # never below nothing
    assert foreign_cores(before, CpuSample(10.05, 101.0, 5.0)) is None  # too short to tell


def test_wait_policy_environment() -> None:
    assert openmp_environment("auto", {}) == {}
    assert openmp_environment("passive", {}) == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert openmp_environment("active", {}) == {"OMP_WAIT_POLICY": "ACTIVE"}
    assert openmp_environment("passive", {"GOMP_SPINCOUNT": "1000"}) == {}  # the person's wins
    assert describe_wait({}).startswith("OpenMP default")
    assert describe_wait({"OMP_WAIT_POLICY": "passive"}).startswith("passive")
    assert describe_wait({"GOMP_SPINCOUNT": "0"}) == "GOMP_SPINCOUNT=0"


def test_plan_description() -> None:
    shown = describe(None, True, None, "passive", environ={})
    assert shown["thread_policy"].startswith("adaptive")
    assert shown["wait_policy"].startswith("passive")
    assert "shared" in shown["core_sharing"]
    fixed = describe(3, False, 0, "auto", environ={"OMP_WAIT_POLICY": "PASSIVE"})
    assert fixed["threads"] == 3 and fixed["thread_policy"] == "fixed"
    assert fixed["core_sharing"] == "off" and fixed["wait_policy"].startswith("passive")


class ScriptedLoad:
    """A LoadMonitor whose measurements the test writes."""

    def __init__(self, cores: int) -> None:
        self.cpus = set(range(cores))
        self.window: float | None = 0.0
        self.now = 0
        self.idle_for = 0.5

    def age(self) -> float:
        return self.idle_for

    def since_last(self) -> float | None:
        return self.window

    def running_now(self) -> int:
        return self.now


def _policy(load: ScriptedLoad, limit: int = 2, share: CoreShare | None = None) -> ThreadPolicy:
    return ThreadPolicy(limit, True, load, share, limit)  # type: ignore[arg-type]


class Applied(list[tuple[int, int]]):
    """The (answer threads, prompt threads) a decode applied to its llama.cpp context."""

    def __call__(self, threads: int, batch: int) -> None:
        self.append((threads, batch))


def _begin(decode: DecodeThreads, cancel: threading.Event | None = None) -> list[str]:
    return list(decode.begin(cancel or threading.Event()))


def test_a_decode_steps_down_beside_a_busy_process_and_back_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "CHECK_EVERY_S", 0.0)
    load = ScriptedLoad(cores=2)
    applied = Applied()
    decode = _policy(load).decode(applied)
    assert _begin(decode) == [] and applied == [(2, 2)]
    load.window = 0.7  # a neighbour starts
    decode.tick()
    load.window = 1.0
    decode.tick()
    load.window = 0.02  # it stops
    decode.tick()
    assert applied == [(2, 2), (1, 1), (2, 2)]
    assert decode.changes == [(0, 2), (1, 1), (3, 2)]


def test_the_prompt_keeps_both_cores_beside_a_part_time_neighbour(tmp_path: Path) -> None:
    share = CoreShare(tmp_path, cores=2)
    load = ScriptedLoad(cores=2)
    load.window = 0.5
    applied = Applied()
    decode = _policy(load, share=share).decode(applied)
    _begin(decode)
    decode.tick()  # the prompt is read: the second core goes back to the share
    assert applied == [(1, 2), (1, 1)]
    decode.end()
    load.window = 1.0  # a neighbour busy all the time: one thread reads the prompt too
    applied.clear()
    _begin(_policy(load).decode(applied))
    assert applied == [(1, 1)]


def test_after_an_idle_spell_a_decode_also_looks_at_what_runs_now() -> None:
    load = ScriptedLoad(cores=2)
    load.window, load.now = 0.05, 1  # a long quiet average, but a neighbour started just now
    load.idle_for = 60.0
    applied = Applied()
    _begin(_policy(load).decode(applied))
    assert applied == [(1, 1)]
    load.idle_for = 0.5  # a fresh window says enough on its own
    applied.clear()
    _begin(_policy(load).decode(applied))
    assert applied == [(2, 2)]


def test_the_next_decode_starts_from_where_the_last_ended() -> None:
    load = ScriptedLoad(cores=2)
    p = _policy(load)
    load.window = 1.0
    first = p.decode(Applied())
    _begin(first)
    first.end()
    load.window = None  # back to back: nothing new measured
    applied = Applied()
    _begin(p.decode(applied))
    assert applied == [(1, 1)]


def test_fixed_threads_ignore_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "CHECK_EVERY_S", 0.0)
    applied = Applied()
    decode = ThreadPolicy(2, False, None, None, 2).decode(applied)
    _begin(decode)
    decode.tick()
    assert applied == [(2, 2)]


def test_a_holder_gives_a_core_to_a_waiting_decode(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "CHECK_EVERY_S", 0.0)
    share = CoreShare(tmp_path, cores=2)
    load = ScriptedLoad(cores=2)
    first_applied = Applied()
    first = _policy(load, share=share).decode(first_applied)
    _begin(first)
    assert first_applied == [(2, 2)]

    second_applied = Applied()
    second = _policy(load, share=share).decode(second_applied)
    waiter = threading.Thread(target=_begin, args=(second,))
    waiter.start()
    while not share.others_waiting():  # the second decode flags that it waits
        waiter.join(0.01)
    first.tick()  # between two tokens of the first decode
    waiter.join()
    assert first_applied == [(2, 2), (1, 1)] and second_applied == [(1, 1)]
    first.end()
    second.tick()  # the first is gone and the load is nil: the second takes both cores
    assert second_applied == [(1, 1), (2, 2)]
    second.end()


def test_models_plan_shows_the_thread_policy() -> None:
    from engine import Engine, EngineConfig, LocalConfig

    engine = Engine(EngineConfig(local=LocalConfig(wait_policy="passive", shared_cores=0)),
                    discover=False)
    plan = engine.plan("smollm2")
    assert plan["thread_policy"].startswith("adaptive") or plan["threads"] == 1
    assert plan["wait_policy"].startswith("passive") or "OMP_WAIT_POLICY" in os.environ
    assert plan["core_sharing"] == "off"
