"""The device interface: the meter, sampler and conditions work over any `Gpu`, knowing no vendor's units or bits.

`TickGpu` is a made-up vendor (a 32-bit counter of microjoules, its own throttle bits) plugged in through the
backend table, so nothing NVML-shaped can leak through unnoticed.
"""

from __future__ import annotations

import os

import pytest

from harness.energy import GpuBackend, backends, open_meter
from harness.energy.gpu import Gpu, ThrottleReasons
from harness.testing.fake_nvml import ManualClock

_WRAP_UJ = 2**32
_HOT, _CAPPED = 0x100, 0x200


class TickGpu(Gpu):
    """A card drawing `power_w` (a function of time), with a counter in µJ that wraps at 2**32."""

    def __init__(self, index: int, clock: ManualClock, power_w, start_uj: int, pids=()) -> None:
        self.index, self._clock, self._power_w, self._start_uj = index, clock, power_w, start_uj
        self.has_energy_counter, self.power_source, self.counter_update_period_s = True, "instant", 0.05
        self.pids = list(pids)
        self.reasons = 0

    def energy_counter(self) -> int:
        t_s = self._clock()
        return (self._start_uj + round(self._power_w(0) * t_s * 1e6)) % _WRAP_UJ  # constant power in these tests

    def counter_delta_j(self, start: int, end: int) -> float:
        return ((end - start) % _WRAP_UJ) / 1e6

    def power_w(self) -> float:
        return self._power_w(self._clock())

    def power_limit_enforced_w(self) -> float:
        return 300.0

    def sm_clock_mhz(self) -> None:
        return None

    def memory_clock_mhz(self) -> None:
        return None

    def temperature_c(self) -> float:
        return 55.0

    def utilization_pct(self) -> None:
        return None

    def throttle_reasons(self) -> int:
        return self.reasons

    def describe_throttle_reasons(self, mask: int) -> ThrottleReasons:
        return ThrottleReasons(("too hot",) if mask & _HOT else (), bool(mask & _CAPPED))

    def other_process_pids(self, own_pids: frozenset[int]) -> list[int]:
        return sorted(set(self.pids) - own_pids)

    def info(self) -> dict:
        return {"index": self.index, "name": "Tick T1", "uuid": None, "memory_total_mib": None,
                "has_energy_counter": True, "power_limit_enforced_w": 300.0, "power_limit_default_w": 300.0,
                "persistence_mode": None, "mig_mode": None, "compute_capability": None}


class TickBackend(GpuBackend):
    name, library, vendor = "tick", "TickLib", "Tick"

    def __init__(self, gpus: list[TickGpu], clock: ManualClock) -> None:
        self.gpus, self.clock, self.closed = gpus, clock, False

    def device_count(self) -> int:
        return len(self.gpus)

    def open(self, index: int) -> TickGpu:
        return self.gpus[index]

    def system_versions(self) -> dict:
        return {"driver_version": "1.0", "nvml_version": None, "cuda_driver_version": None}

    def indices_for_uuids(self, uuids):
        return [None for _ in uuids]

    def shutdown(self) -> None:
        self.closed = True


@pytest.fixture
def tick(monkeypatch):
    """One Tick card at 200 W whose counter wraps 1 J after t=0, measured through the table (the fake declines)."""
    monkeypatch.delenv("HARNESS_FAKE_NVML", raising=False)
    clock = ManualClock()
    gpu = TickGpu(0, clock, lambda t_s: 200.0, start_uj=_WRAP_UJ - 1_000_000, pids=[4242])
    backend = TickBackend([gpu], clock)
    monkeypatch.setattr(backends, "GPU_BACKENDS", {"tick": lambda: backend})
    return clock, gpu, backend


def test_the_meter_reads_any_backend_from_the_table(tick, tmp_path):
    clock, gpu, backend = tick
    with open_meter([0], background_sampling=False, rapl_root=tmp_path) as meter:
        meter.begin("w")
        for _ in range(20):
            clock.advance(0.1)
            meter.sample()
        reading = meter.end("w")
        environment = meter.environment()
    assert backend.closed and meter.backend_name == "tick" and environment["meter_backend"] == "tick"
    assert environment["gpus"][0]["name"] == "Tick T1" and environment["driver_version"] == "1.0"
    assert reading.gpu_method == "counter"
    assert reading.gpu_energy_j[0] == pytest.approx(400.0)  # across the counter's wrap, in its own unit
    assert reading.gpu_sampled_energy_j[0] == pytest.approx(400.0)
    assert reading.gpu_edge_error_j[0] == pytest.approx(0.05 * 400.0 / 2.0)  # the card's own update period


def test_throttle_bits_are_decoded_by_the_card_and_worded_by_conditions(tick, tmp_path):
    clock, gpu, _ = tick
    with open_meter([0], background_sampling=False, rapl_root=tmp_path, own_pids=frozenset({4242})) as meter:
        meter.begin("w")
        gpu.reasons = _HOT | _CAPPED
        clock.advance(1.0)
        meter.sample()
        reading = meter.end("w")
    messages = [(w.severity, w.message) for w in reading.warnings if w.code == "throttling"]
    assert messages == [("warning", "GPU 0 clocks were held down in this window: too hot"),
                        ("info", "GPU 0 reached its power limit in this window (software power cap)")]


def test_processes_the_engine_owns_are_not_contention(tick, tmp_path):
    clock, _, _ = tick
    for own_pids, flagged in [(None, True), (frozenset({os.getpid(), 4242}), False)]:
        with open_meter([0], background_sampling=False, rapl_root=tmp_path, own_pids=own_pids) as meter:
            meter.begin("w")
            clock.advance(1.0)
            reading = meter.end("w")
            warnings = meter.run_warnings()
        assert ("contention" in [w.code for w in reading.warnings]) is flagged
        assert ("contention" in [w.code for w in warnings]) is flagged


def test_a_card_that_cannot_say_its_counter_period_gets_nvml_s(tick, tmp_path):
    clock, gpu, _ = tick
    gpu.counter_update_period_s = None
    with open_meter([0], background_sampling=False, rapl_root=tmp_path, own_pids=frozenset({4242})) as meter:
        meter.begin("w")
        clock.advance(2.0)
        reading = meter.end("w")
    assert reading.gpu_edge_error_j[0] == pytest.approx(0.1 * 400.0 / 2.0)
