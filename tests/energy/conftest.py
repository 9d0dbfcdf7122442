"""Shared helpers for the energy tests: a meter on a scripted FakeNvml driven by a manual clock."""

from __future__ import annotations

import pytest

from harness.energy import open_meter
from harness.testing.fake_nvml import FakeNvml, ManualClock


class Driven:
    """A meter whose time moves only when the test says, sampling at `hz` as the background thread would."""

    def __init__(self, script: dict, tmp_path, *, indices=(0,), hz: float = 20.0, **options) -> None:
        self.clock = ManualClock()
        self.fake = FakeNvml(script, clock=self.clock)
        self.hz = hz
        self.meter = open_meter(list(indices), nvml=self.fake, sample_hz=hz, background_sampling=False,
                                sleep=self.run, rapl_root=tmp_path / "no-powercap", **options)

    def run(self, seconds: float) -> None:
        """Advance the clock by `seconds`, taking a sample every 1/hz (the last step may be shorter)."""
        step = 1.0 / self.hz
        left = seconds
        while left > 1e-12:
            dt = min(step, left)
            self.clock.advance(dt)
            self.meter.sample()
            left -= dt

    def window(self, key: str, seconds: float):
        self.meter.begin(key)
        self.run(seconds)
        return self.meter.end(key)


@pytest.fixture
def driven(tmp_path):
    """Factory: `driven(script, **open_meter_options)` -> Driven (the caller enters `.meter`)."""
    made = []

    def make(script: dict, **options) -> Driven:
        made.append(Driven(script, tmp_path, **options))
        return made[-1]

    yield make
    for item in made:
        item.meter.close()


class PowercapTree:
    """Writes a powercap folder laid out like Linux's (`intel-rapl:N/{name,energy_uj,max_energy_range_uj}`)."""

    RANGE_UJ = 262_143_328_850

    @classmethod
    def zone(cls, path, name: str, energy_uj: int):
        path.mkdir(parents=True)
        (path / "name").write_text(f"{name}\n")
        (path / "max_energy_range_uj").write_text(f"{cls.RANGE_UJ}\n")
        (path / "energy_uj").write_text(f"{energy_uj}\n")
        return path

    @staticmethod
    def set_uj(path, energy_uj: int) -> None:
        (path / "energy_uj").write_text(f"{energy_uj}\n")


@pytest.fixture
def powercap_tree():
    return PowercapTree
