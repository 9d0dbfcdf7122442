"""The vendor is part of the hardware class: an AMD and an NVIDIA card are never one rating group, whatever their
names, and the classes of existing NVIDIA results (and so their page slugs) do not move."""

from __future__ import annotations

import pytest

from harness.results.schema import ResultFile, hardware_name
from harness.results.store import default_result_path
from harness.testing.synthetic import make_result
from leaderboard.aggregate import aggregate, build_board, group_entries, record_from_result
from leaderboard.rating import rate_live


def _result(backend: str, gpu_name: str, model: str, seed: int, power_w: float = 300.0) -> ResultFile:
    return make_result(meter_backend=backend, gpu_name=gpu_name, model_id=model, seed=seed, mean_power_w=power_w)


def _with_vendor(result: ResultFile, vendor: str) -> ResultFile:
    data = result.model_dump()
    data["environment"]["gpus"][0]["vendor"] = vendor
    return ResultFile.model_validate(data)


@pytest.mark.parametrize(("name", "vendor", "shown"), [
    ("NVIDIA H100 80GB HBM3", "nvidia", "NVIDIA H100 80GB HBM3"),
    ("Tesla V100-SXM2-16GB", "nvidia", "Tesla V100-SXM2-16GB"),  # NVML's older names stay as they were
    ("Tesla V100-SXM2-16GB", None, "Tesla V100-SXM2-16GB"),     # files from before the vendor was recorded
    ("AMD Instinct MI300X", "amd", "AMD Instinct MI300X"),
    ("Instinct MI250X", "amd", "AMD Instinct MI250X"),
    ("Fake AMD Instinct MI300X", "amd", "Fake AMD Instinct MI300X"),
    ("NVIDIA H100 80GB HBM3", "amd", "AMD NVIDIA H100 80GB HBM3"),  # an odd name never takes the other's class
    ("AMD Instinct MI300X", "nvidia", "NVIDIA AMD Instinct MI300X"),
    ("AMDX 9000", "amd", "AMD AMDX 9000"),                          # the label must stand as a word of its own
])
def test_the_vendor_is_named_where_the_name_does_not_name_it(name, vendor, shown):
    assert hardware_name(name, vendor) == shown


def test_an_amd_and_an_nvidia_card_of_the_same_name_are_two_rating_groups():
    nvidia = [_result("nvml", "NVIDIA H100 80GB HBM3", f"org/model-{i}", i, 200.0 + 50 * i) for i in range(3)]
    amd = [_result("amdsmi", "NVIDIA H100 80GB HBM3", f"org/model-{i}", 10 + i, 250.0 + 50 * i) for i in range(3)]
    assert {r.hardware_class for r in nvidia} == {"1x NVIDIA H100 80GB HBM3"}  # unchanged for NVIDIA
    assert {r.hardware_class for r in amd} == {"1x AMD NVIDIA H100 80GB HBM3"}
    entries = group_entries(record_from_result(r, f"{r.run_id}.json") for r in [*nvidia, *amd])
    assert len(entries) == 6  # the same model on each vendor: never one entry
    groups = {entry.rating_group for entry in entries}
    assert {group.split(" | ")[1] for group in groups} == {"1x NVIDIA H100 80GB HBM3", "1x AMD NVIDIA H100 80GB HBM3"}
    ratings = rate_live(entries)
    assert all(rating.stars is not None for rating in ratings.values())  # each group of three is rated on its own
    stars = {entry.latest.model_id + entry.latest.hardware_class: ratings[entry.key].stars for entry in entries}
    assert stars["org/model-01x NVIDIA H100 80GB HBM3"] == 5 and stars["org/model-01x AMD NVIDIA H100 80GB HBM3"] == 5


def test_a_recorded_vendor_wins_over_the_backends():
    result = _with_vendor(_result("fake-nvml", "Instinct MI300X", "org/m", 1), "amd")
    assert result.hardware_class == "1x AMD Instinct MI300X"
    assert _result("fake-amdsmi", "Instinct MI300X", "org/m", 2).hardware_class == "1x AMD Instinct MI300X"


def test_existing_nvidia_results_keep_their_class_and_path(tmp_path):
    old = _result("nvml", "NVIDIA A100-SXM4-80GB", "org/m", 1)
    assert old.environment.gpus[0].vendor is None
    assert old.hardware_class == "1x NVIDIA A100-SXM4-80GB"
    assert default_result_path(tmp_path, old).parent.name == "1x-NVIDIA-A100-SXM4-80GB"


def test_the_built_board_keeps_the_vendors_apart(results_dir, add_result):
    for i in range(3):
        add_result(meter_backend="nvml", gpu_name="H100", model_id=f"org/m{i}", mean_power_w=200.0 + 10 * i)
        add_result(meter_backend="amdsmi", gpu_name="H100", model_id=f"org/m{i}", mean_power_w=200.0 + 10 * i)
    board = aggregate(results_dir)
    (task,) = board.tasks.values()
    assert sorted({entry.latest.hardware_class for entry in task.rated}) == ["1x AMD H100", "1x H100"]
    assert len({entry.rating_group for entry in task.rated}) == 2
    assert len(build_board([entry.latest for entry in task.rated]).tasks) == 1
