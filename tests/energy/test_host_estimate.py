"""The labelled CPU/RAM estimate: this process's CPU time x TDP per logical core, TDP from the table or the
environment, RAM by size."""

from __future__ import annotations

from collections import namedtuple

import pytest

from harness.energy.host_estimate import (
    DEFAULT_TDP_W_PER_SOCKET,
    RAM_W_PER_GIB,
    CpuTimes,
    HostEstimate,
    cpu_socket_count,
    cpu_tdp_w,
    lookup_tdp_w,
    read_cpu_times,
)

ProcTimes = namedtuple("ProcTimes", "user system children_user children_system iowait")


def test_process_cpu_time_counts_children_not_iowait():
    measured = read_cpu_times(lambda: ProcTimes(3.0, 1.0, 0.5, 0.25, 9.0))
    assert measured.process_s == pytest.approx(4.75)


@pytest.mark.parametrize(("cpu_s", "expected_j"), [(0.0, 0.0), (2.0, 2.0 * 200.0 / 8), (16.0, 16.0 * 25.0)])
def test_cpu_energy_is_process_cpu_seconds_times_core_power(cpu_s, expected_j):
    estimate = HostEstimate(tdp_w=200.0, ram_total_gib=64.0, logical_cores=8)
    assert estimate.core_w == pytest.approx(25.0)
    assert estimate.cpu_energy_j(CpuTimes(10.0), CpuTimes(10.0 + cpu_s), 2.0) == pytest.approx(expected_j)


def test_other_processes_load_does_not_count():
    """The old model charged machine-wide load: the same run gave 0.09, 1.0 and 1.6 Wh/1k on a shared machine.
    Now only this process's CPU seconds count, however busy the rest of the machine is."""
    estimate = HostEstimate(tdp_w=100.0, ram_total_gib=8.0, logical_cores=4)
    start = estimate.cpu_times()
    sum(i * i for i in range(300_000))  # some work of our own
    end = estimate.cpu_times()
    assert end.process_s > start.process_s
    assert estimate.cpu_energy_j(start, end, 999.0) == pytest.approx((end.process_s - start.process_s) * 25.0)


def test_ram_energy_by_size():
    assert HostEstimate(tdp_w=1.0, ram_total_gib=64.0).ram_energy_j(10.0) == pytest.approx(RAM_W_PER_GIB * 640)


def test_tdp_from_the_environment(monkeypatch):
    monkeypatch.setenv("HARNESS_CPU_TDP_W", "280")
    assert cpu_tdp_w() == (280.0, "HARNESS_CPU_TDP_W=280")
    monkeypatch.setenv("HARNESS_CPU_TDP_W", "lots")
    tdp_w, source = cpu_tdp_w(cpu_model="Some Unknown CPU", sockets=1)
    assert source.startswith("default") and tdp_w == DEFAULT_TDP_W_PER_SOCKET


@pytest.mark.parametrize(("model", "tdp_w"), [
    ("Intel(R) Xeon(R) Platinum 8480+", 350.0),
    ("Intel(R) Xeon(R) Gold 6338N CPU @ 2.20GHz", 185.0),  # the longest name wins over `Gold 6338`
    ("AMD EPYC 7763 64-Core Processor", 280.0),
    ("13th Gen Intel(R) Core(TM) i9-13900K", 125.0),
])
def test_tdp_from_codecarbons_table(model, tdp_w, monkeypatch):
    monkeypatch.delenv("HARNESS_CPU_TDP_W", raising=False)
    assert lookup_tdp_w(model)[0] == tdp_w
    total, source = cpu_tdp_w(cpu_model=model, sockets=2)
    assert total == 2 * tdp_w and source.startswith("CodeCarbon table")


def test_an_unknown_cpu_falls_back_to_the_default(monkeypatch):
    monkeypatch.delenv("HARNESS_CPU_TDP_W", raising=False)
    assert lookup_tdp_w("Intel(R) Xeon(R) Processor") is None  # a family name alone says nothing
    assert lookup_tdp_w(None) is None
    assert cpu_tdp_w(cpu_model="Intel(R) Xeon(R) Processor", sockets=1)[0] == DEFAULT_TDP_W_PER_SOCKET


def test_inputs_are_recorded():
    inputs = HostEstimate(tdp_w=120.0, ram_total_gib=16.0, logical_cores=12).inputs()
    assert inputs["method"] == "process CPU time x TDP per logical core"
    assert (inputs["tdp_w"], inputs["logical_cores"], inputs["core_w"]) == (120.0, 12, 10.0)


def test_socket_count(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nphysical id\t: 0\n\nprocessor\t: 1\nphysical id\t: 1\n\n"
                       "processor\t: 2\nphysical id\t: 1\n")
    assert cpu_socket_count(cpuinfo) == 2
    assert cpu_socket_count(tmp_path / "missing") == 1
