"""Energy per answer: the counters read from a fake sysfs tree the test writes, the wrap-around
of RAPL, and the CPU-time fallback on this host (which exposes no counter)."""

from __future__ import annotations

from pathlib import Path

from engine import Engine, Message
from engine.energy import AmdHwmonCounter, EnergyMeter, RaplCounter, find_counter


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_rapl(root: Path, packages: dict[str, int], max_range: int = 1_000_000) -> Path:
    for index, (name, energy) in enumerate(packages.items()):
        zone = root / f"intel-rapl:{index}"
        write(zone / "name", name)
        write(zone / "energy_uj", str(energy))
        write(zone / "max_energy_range_uj", str(max_range))
        write(root / f"intel-rapl:{index}:0" / "energy_uj", "999999")  # a core sub-domain
        write(root / f"intel-rapl:{index}:0" / "name", "core")
    return root


def test_rapl_sums_packages_and_ignores_sub_domains(tmp_path: Path) -> None:
    root = fake_rapl(tmp_path, {"package-0": 100, "package-1": 200})
    counter = RaplCounter.find(root)
    assert counter is not None
    start = counter.joules()
    write(root / "intel-rapl:0" / "energy_uj", str(2_100))
    write(root / "intel-rapl:1" / "energy_uj", str(500))
    assert round((counter.joules() - start) * 1e6) == 2_000 + 300


def test_a_rapl_wrap_around_is_added_back(tmp_path: Path) -> None:
    root = fake_rapl(tmp_path, {"package-0": 999_000})
    counter = RaplCounter.find(root)
    assert counter is not None
    start = counter.joules()
    write(root / "intel-rapl:0" / "energy_uj", "500")  # wrapped past 1,000,000 µJ
    assert round((counter.joules() - start) * 1e6) == 1_500


def test_amd_hwmon_counts_sockets_only(tmp_path: Path) -> None:
    hwmon = tmp_path / "hwmon3"
    write(hwmon / "name", "amd_energy")
    write(hwmon / "energy1_label", "Ecore000")
    write(hwmon / "energy1_input", "5")
    write(hwmon / "energy17_label", "Esocket0")
    write(hwmon / "energy17_input", "1000000")
    write(tmp_path / "hwmon0" / "name", "k10temp")
    counter = AmdHwmonCounter.find(tmp_path)
    assert counter is not None and counter.joules() == 1.0


def test_no_counter_means_no_joules_but_cpu_time(tmp_path: Path) -> None:
    assert find_counter(powercap=tmp_path / "none", hwmon=tmp_path / "none") is None
    meter = EnergyMeter(None)
    start = meter.start()
    sum(i * i for i in range(200_000))
    joules, cpu_s = meter.stop(start)
    assert joules is None and cpu_s > 0
    assert "CPU time" in meter.source


def test_a_counter_that_stops_answering_falls_back(tmp_path: Path) -> None:
    root = fake_rapl(tmp_path, {"package-0": 100})
    meter = EnergyMeter(RaplCounter.find(root))
    start = meter.start()
    (root / "intel-rapl:0" / "energy_uj").unlink()
    joules, _ = meter.stop(start)
    assert joules is None and meter.counter is None


async def test_a_local_turn_carries_energy_figures(model_path: Path, tmp_path: Path) -> None:
    """On the real model: joules from a (fake) counter, and CPU time, in the last chunk."""
    from engine.config import EngineConfig, LocalConfig

    engine = Engine(EngineConfig(local=LocalConfig(n_ctx=512, n_threads=1)), discover=False)
    root = fake_rapl(tmp_path, {"package-0": 0}, max_range=10**12)
    engine.metrics_hook.meter = EnergyMeter(RaplCounter.find(root))
    stream = engine.stream(str(model_path), [Message("user", "Hi")], {"max_tokens": 4,
                                                                      "temperature": 0})
    chunks = []
    async for chunk in stream:
        chunks.append(chunk)
        write(root / "intel-rapl:0" / "energy_uj", str(2_500_000))  # 2.5 J during the turn
    await engine.aclose()
    metrics = chunks[-1].metrics
    assert metrics is not None
    assert metrics.energy_j == 2.5 and metrics.energy_source == "RAPL (whole CPU package)"
    assert metrics.cpu_s and metrics.cpu_s > 0
    assert metrics.tokens_per_j == (metrics.completion_tokens or 0) / 2.5
    assert metrics.as_dict()["energy_j"] == 2.5


async def test_this_host_records_cpu_time_and_no_joules(model_path: Path) -> None:
    from engine.config import EngineConfig, LocalConfig

    engine = Engine(EngineConfig(local=LocalConfig(n_ctx=512, n_threads=1)), discover=False)
    chunks = [c async for c in engine.stream(str(model_path), [Message("user", "Hi")],
                                             {"max_tokens": 3})]
    await engine.aclose()
    metrics = chunks[-1].metrics
    assert metrics is not None and metrics.cpu_s and metrics.cpu_s > 0
    if engine.metrics_hook.meter.counter is None:  # no RAPL or amd_energy here
        assert metrics.energy_j is None and metrics.energy_source is None
