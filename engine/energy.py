"""Energy per answer, where the host exposes a counter — and an honest fallback where not.

Counters read, first found wins:

- Linux powercap / RAPL (`/sys/class/powercap/intel-rapl:N/energy_uj`, also used by AMD CPUs on
  recent kernels): the energy of the whole CPU package, every process on it included. The
  counter wraps at `max_energy_range_uj`; a wrap between two readings is added back.
- The AMD `amd_energy` hwmon driver (`/sys/class/hwmon/hwmonN/energyN_input`, socket counters):
  the whole socket, likewise.
- NVML (NVIDIA's management library) when the model runs on a GPU: the GPU board's energy.

Where none is readable, a turn records the process's CPU time instead (`cpu_s`) and says so —
joules are never invented. Readers take a root path so tests can hand them a fake sysfs tree.
"""

from __future__ import annotations

import ctypes
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class EnergyCounter(Protocol):
    """A monotonic energy counter (joules since some origin)."""

    source: str
    """What is measured, for people: e.g. "RAPL (whole CPU package)"."""

    def joules(self) -> float:
        """The counter now; differences between two calls are the energy used between them."""
        ...


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@dataclass
class _Domain:
    energy: Path
    max_range_uj: int | None
    last_uj: int
    wraps: int = 0

    def read_uj(self) -> int:
        value = _read_int(self.energy)
        if value is None:
            raise OSError(f"cannot read {self.energy}")
        if value < self.last_uj and self.max_range_uj:  # the counter wrapped around
            self.wraps += 1
        self.last_uj = value
        return value + self.wraps * (self.max_range_uj or 0)


class RaplCounter:
    """The CPU packages' energy from Linux powercap (RAPL), summed over packages."""

    source = "RAPL (whole CPU package)"

    def __init__(self, domains: list[_Domain]) -> None:
        self._domains = domains

    @classmethod
    def find(cls, root: Path = Path("/sys/class/powercap")) -> RaplCounter | None:
        """The package domains under `root` that can be read now, or None."""
        domains = []
        for zone in sorted(root.glob("intel-rapl:*")):
            if zone.name.count(":") != 1:  # intel-rapl:0:0 is a sub-domain (core, dram…)
                continue
            name = (zone / "name").read_text().strip() if (zone / "name").exists() else ""
            if name and not name.startswith("package"):
                continue
            value = _read_int(zone / "energy_uj")
            if value is None:
                continue
            domains.append(_Domain(zone / "energy_uj", _read_int(zone / "max_energy_range_uj"),
                                   value))
        return cls(domains) if domains else None

    def joules(self) -> float:
        return sum(d.read_uj() for d in self._domains) / 1e6


class AmdHwmonCounter:
    """The sockets' energy from the `amd_energy` hwmon driver."""

    source = "amd_energy hwmon (whole CPU socket)"

    def __init__(self, files: list[Path]) -> None:
        self._files = files

    @classmethod
    def find(cls, root: Path = Path("/sys/class/hwmon")) -> AmdHwmonCounter | None:
        files = []
        for hwmon in sorted(root.glob("hwmon*")):
            name = hwmon / "name"
            if not name.exists() or name.read_text().strip() != "amd_energy":
                continue
            for label in sorted(hwmon.glob("energy*_label")):
                if label.read_text().strip().lower().startswith("esocket"):
                    value = hwmon / label.name.replace("_label", "_input")
                    if _read_int(value) is not None:
                        files.append(value)
        return cls(files) if files else None

    def joules(self) -> float:
        total = 0
        for path in self._files:
            value = _read_int(path)
            if value is None:
                raise OSError(f"cannot read {path}")
            total += value
        return total / 1e6


class NvmlCounter:
    """A GPU's total energy through NVML (`libnvidia-ml.so.1`), when one is present."""

    source = "NVML (whole GPU board)"

    def __init__(self, library: ctypes.CDLL, handle: ctypes.c_void_p) -> None:
        self._lib = library
        self._handle = handle

    @classmethod
    def find(cls, library_name: str = "libnvidia-ml.so.1", index: int = 0) -> NvmlCounter | None:
        try:
            lib = ctypes.CDLL(library_name)
        except OSError:
            return None
        handle = ctypes.c_void_p()
        if lib.nvmlInit_v2() != 0 or lib.nvmlDeviceGetHandleByIndex_v2(
                index, ctypes.byref(handle)) != 0:
            return None
        counter = cls(lib, handle)
        try:
            counter.joules()
        except OSError:
            return None
        return counter

    def joules(self) -> float:
        millijoules = ctypes.c_ulonglong()
        if self._lib.nvmlDeviceGetTotalEnergyConsumption(self._handle,
                                                         ctypes.byref(millijoules)) != 0:
            raise OSError("NVML gave no energy reading")
        return millijoules.value / 1e3


def find_counter(gpu: bool = False, powercap: Path = Path("/sys/class/powercap"),
                 hwmon: Path = Path("/sys/class/hwmon")) -> EnergyCounter | None:
    """The first readable energy counter for where the model runs (GPU or CPU), or None."""
    if gpu and (nvml := NvmlCounter.find()) is not None:
        return nvml
    return RaplCounter.find(powercap) or AmdHwmonCounter.find(hwmon)


@dataclass(frozen=True, slots=True)
class EnergyStart:
    """Readings at the start of a turn."""

    cpu_s: float
    joules: float | None


class EnergyMeter:
    """Measures one turn at a time: `start()`, then `stop(start)` gives (joules, cpu_s)."""

    def __init__(self, counter: EnergyCounter | None) -> None:
        self.counter = counter

    @property
    def source(self) -> str:
        """What the figures count: a counter's name, or the fallback's."""
        return self.counter.source if self.counter else "process CPU time (no energy counter)"

    def _joules(self) -> float | None:
        if self.counter is None:
            return None
        try:
            return self.counter.joules()
        except OSError as exc:
            log.info("energy counter %s stopped answering: %s", self.counter.source, exc)
            self.counter = None
            return None

    def start(self) -> EnergyStart:
        return EnergyStart(time.process_time(), self._joules())

    def stop(self, start: EnergyStart) -> tuple[float | None, float]:
        """Joules used since `start` (None without a counter) and this process's CPU seconds."""
        cpu_s = time.process_time() - start.cpu_s
        end = self._joules()
        joules = end - start.joules if end is not None and start.joules is not None else None
        return (joules if joules is None or joules >= 0 else None), cpu_s
