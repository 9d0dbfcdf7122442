"""The labelled CPU/RAM estimate: load model, TDP source, RAM by size."""

from __future__ import annotations

from collections import namedtuple

import pytest

from harness.energy.host_estimate import (
    IDLE_FRACTION,
    RAM_W_PER_GIB,
    HostEstimate,
    cpu_socket_count,
    cpu_tdp_w,
    read_cpu_times,
)

Times = namedtuple("Times", "user nice system idle iowait irq softirq steal guest guest_nice")


def times(busy: float, idle: float, guest: float = 0.0):
    return Times(busy, 0, 0, idle, 0, 0, 0, 0, guest, 0)


def test_cpu_times_do_not_count_guest_twice():
    measured = read_cpu_times(lambda: times(busy=10.0, idle=30.0, guest=4.0))
    assert measured.busy_s == pytest.approx(10.0)
    assert measured.total_s == pytest.approx(40.0)


@pytest.mark.parametrize(("busy_s", "share"), [(0.0, IDLE_FRACTION), (10.0, 1.0), (5.0, IDLE_FRACTION + 0.35)])
def test_cpu_energy_follows_load(busy_s, share):
    estimate = HostEstimate(tdp_w=200.0, ram_total_gib=64.0)
    start = read_cpu_times(lambda: times(busy=0.0, idle=0.0))
    end = read_cpu_times(lambda: times(busy=busy_s, idle=10.0 - busy_s))
    assert estimate.cpu_energy_j(start, end, 2.0) == pytest.approx(200.0 * share * 2.0)


def test_ram_energy_by_size():
    assert HostEstimate(tdp_w=1.0, ram_total_gib=64.0).ram_energy_j(10.0) == pytest.approx(RAM_W_PER_GIB * 640)


def test_tdp_from_the_environment(monkeypatch):
    monkeypatch.setenv("HARNESS_CPU_TDP_W", "280")
    assert cpu_tdp_w() == (280.0, "HARNESS_CPU_TDP_W=280")
    monkeypatch.setenv("HARNESS_CPU_TDP_W", "lots")
    tdp_w, source = cpu_tdp_w()
    assert source.startswith("default") and tdp_w > 0


def test_socket_count(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nphysical id\t: 0\n\nprocessor\t: 1\nphysical id\t: 1\n\n"
                       "processor\t: 2\nphysical id\t: 1\n")
    assert cpu_socket_count(cpuinfo) == 2
    assert cpu_socket_count(tmp_path / "missing") == 1
