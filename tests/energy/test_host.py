"""Host energy per window: RAPL where readable, the labelled estimate where not, per kind."""

from __future__ import annotations

import pytest

from harness.energy.host import HostMeter
from harness.energy.host_estimate import HostEstimate


def test_rapl_package_and_dram(tmp_path, powercap_tree):
    zone, set_uj = powercap_tree.zone, powercap_tree.set_uj
    pkg = zone(tmp_path / "intel-rapl:0", "package-0", 0)
    dram = zone(tmp_path / "intel-rapl:0" / "intel-rapl:0:1", "dram", 0)
    host = HostMeter(rapl_root=tmp_path)
    start = host.snapshot(0.0)
    set_uj(pkg, 30_000_000)
    set_uj(dram, 2_000_000)
    energy = host.energy(start, host.snapshot(1.0))
    assert (energy.cpu_energy_j, energy.cpu_method) == (pytest.approx(30.0), "rapl")
    assert (energy.ram_energy_j, energy.ram_method) == (pytest.approx(2.0), "rapl")
    assert host.estimate is None


def test_rapl_without_dram_estimates_ram_only(tmp_path, powercap_tree):
    zone, set_uj = powercap_tree.zone, powercap_tree.set_uj
    pkg = zone(tmp_path / "intel-rapl:0", "package-0", 0)
    host = HostMeter(rapl_root=tmp_path, estimate=HostEstimate(tdp_w=100.0, ram_total_gib=8.0))
    start = host.snapshot(0.0)
    set_uj(pkg, 5_000_000)
    energy = host.energy(start, host.snapshot(2.0))
    assert (energy.cpu_energy_j, energy.cpu_method) == (pytest.approx(5.0), "rapl")
    assert (energy.ram_energy_j, energy.ram_method) == (pytest.approx(0.375 * 8 * 2), "estimated")
    assert "RAM estimated" in host.describe()


def test_no_rapl_estimates_both_and_says_why(tmp_path):
    host = HostMeter(rapl_root=tmp_path / "absent", estimate=HostEstimate(tdp_w=100.0, ram_total_gib=8.0))
    energy = host.energy(host.snapshot(0.0), host.snapshot(1.0))
    assert energy.cpu_method == energy.ram_method == "estimated"
    assert 0.0 <= energy.cpu_energy_j <= 100.0  # this process's CPU seconds x 100 W / cores, within 1 s
    assert "does not exist" in host.rapl_unavailable_reason


def test_disabled_measures_nothing(tmp_path):
    host = HostMeter(enabled=False)
    energy = host.energy(host.snapshot(0.0), host.snapshot(1.0))
    assert (energy.cpu_energy_j, energy.cpu_method, energy.ram_energy_j, energy.ram_method) == (None, "none", None,
                                                                                               "none")
