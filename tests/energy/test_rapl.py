"""RAPL from a powercap tree laid out like Linux's: domains, microjoules to joules, wraparound, permissions."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.energy import rapl
from harness.energy.rapl import RaplReader, RaplUnavailable, rapl_status


@pytest.fixture
def powercap(tmp_path, powercap_tree):
    zone = powercap_tree.zone
    root = tmp_path / "powercap"
    zones = {
        "pkg0": zone(root / "intel-rapl:0", "package-0", 1_000_000),
        "core0": zone(root / "intel-rapl:0" / "intel-rapl:0:0", "core", 0),
        "dram0": zone(root / "intel-rapl:0" / "intel-rapl:0:1", "dram", 500_000),
        "pkg1": zone(root / "intel-rapl:1", "package-1", 2_000_000),
        "psys": zone(root / "intel-rapl:2", "psys", 0),
    }
    # Linux also lists subzones at the top level as symlinks; the reader must not count them twice.
    (root / "intel-rapl:0:1").symlink_to(zones["dram0"])
    return root, zones


def test_packages_and_dram_in_joules(powercap, powercap_tree):
    set_uj = powercap_tree.set_uj
    root, zones = powercap
    reader = RaplReader(root)
    assert [c.name for c in reader.packages] == ["package-0", "package-1"]
    assert [c.name for c in reader.dram] == ["dram"]
    set_uj(zones["pkg0"], 3_000_000)   # +2 J
    set_uj(zones["pkg1"], 2_500_000)   # +0.5 J
    set_uj(zones["dram0"], 800_000)    # +0.3 J
    snapshot = reader.snapshot()
    assert snapshot.cpu_j == pytest.approx(2.5)
    assert snapshot.dram_j == pytest.approx(0.3)


def test_wraparound_is_added_back_on_every_poll(powercap, powercap_tree):
    set_uj, range_uj = powercap_tree.set_uj, powercap_tree.RANGE_UJ
    root, zones = powercap
    reader = RaplReader(root)
    set_uj(zones["pkg0"], range_uj - 1_000_000)
    reader.poll()
    set_uj(zones["pkg0"], 4_000_000)   # wrapped: 1 J to the top, then 4 J
    reader.poll()
    set_uj(zones["pkg0"], range_uj - 1_000_000)
    reader.poll()
    set_uj(zones["pkg0"], 1_000_000)   # wrapped again
    snapshot = reader.snapshot()
    expected_uj = (range_uj - 2_000_000) + 5_000_000 + (range_uj - 5_000_000) + 2_000_000
    assert snapshot.cpu_j == pytest.approx(expected_uj / 1e6)
    assert reader.packages[0].wraps == 2


def test_unreadable_counter_is_one_line_with_the_reason(powercap, monkeypatch):
    root, _ = powercap

    def denied(path: Path) -> int:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(rapl, "_read_int", denied)
    with pytest.raises(RaplUnavailable, match="permission denied on .*max_energy_range_uj") as caught:
        RaplReader(root)
    assert "\n" not in str(caught.value)
    readable, why = rapl_status(root)
    assert not readable and "permission denied" in why


def test_missing_powercap_and_missing_packages(tmp_path, powercap_tree):
    assert rapl_status(tmp_path / "nothing") == (False, f"no RAPL counters: {tmp_path / 'nothing'} does not exist "
                                                        "(not Linux, or no powercap driver)")
    powercap_tree.zone(tmp_path / "pc" / "intel-rapl:2", "psys", 0)
    with pytest.raises(RaplUnavailable, match="no RAPL package domain"):
        RaplReader(tmp_path / "pc")


def test_status_when_readable(powercap):
    root, _ = powercap
    assert rapl_status(root) == (True, "2 package domain(s) and 1 DRAM domain(s)")
