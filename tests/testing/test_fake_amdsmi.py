"""The fake amdsmi has the real package's calls, parameters, return shapes, enums and status codes, and follows its
script exactly.

The real `amdsmi` cannot be imported without ROCm's libamd_smi.so; where it is installed but cannot load, its source
is read instead (the `test` extra installs it, so CI checks the fake against it); where it can be imported (a ROCm
machine), its functions themselves are inspected.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import inspect
import io
import json
from pathlib import Path

import pytest

from harness.energy import amd
from harness.errors import ConfigError
from harness.testing import fake_amdsmi
from harness.testing.fake_amdsmi import (
    AMDSMI_STATUS_NOT_INIT,
    AMDSMI_STATUS_NOT_SUPPORTED,
    AmdSmiLibraryException,
    FakeAmdSmi,
)
from harness.testing.traces import ManualClock

FAKE_FUNCTIONS = sorted(name for name in dir(FakeAmdSmi) if name.startswith("amdsmi_"))
ENUMS = {"AmdSmiInitFlags": ["INIT_AMD_GPUS"], "AmdSmiClkType": ["GFX", "MEM"],
         "AmdSmiTemperatureType": ["HOTSPOT", "EDGE"], "AmdSmiTemperatureMetric": ["CURRENT"],
         "AmdSmiMemoryType": ["VRAM"]}
"""Every enum member the AMD backend passes to amdsmi."""
SUBSET_SHAPES = {"amdsmi_get_gpu_metrics_info", "amdsmi_get_gpu_process_list"}
"""Functions whose dicts the fake fills only in part (the real one has dozens of metrics, or nested usage dicts)."""


class RealSource:
    """The installed `amdsmi` package read as source: functions, dict keys they build, enums, status codes."""

    def __init__(self, folder: Path) -> None:
        self.modules = {name: ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
                        for name in ("__init__", "amdsmi_interface", "amdsmi_exception", "amdsmi_wrapper")}
        self.functions = {node.name: node for node in self.modules["amdsmi_interface"].body
                          if isinstance(node, ast.FunctionDef)}
        self.exported = {alias.asname or alias.name for node in ast.walk(self.modules["__init__"])
                         if isinstance(node, ast.ImportFrom) for alias in node.names}
        self.constants = {target.id: node.value.value for node in self.modules["amdsmi_wrapper"].body
                          if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                          for target in node.targets if isinstance(target, ast.Name)}

    def parameters(self, name: str) -> list[str]:
        args = self.functions[name].args
        return [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]

    def dict_keys(self, name: str) -> set[str]:
        return {key.value for node in ast.walk(self.functions[name]) if isinstance(node, ast.Dict)
                for key in node.keys if isinstance(key, ast.Constant) and isinstance(key.value, str)}

    def enum_values(self, name: str) -> dict[str, int]:
        (cls,) = [n for n in self.modules["amdsmi_interface"].body if isinstance(n, ast.ClassDef) and n.name == name]
        values = {}
        for node in cls.body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                value = node.value
                if isinstance(value, ast.Attribute):  # amdsmi_wrapper.AMDSMI_CLK_TYPE_GFX
                    values[node.targets[0].id] = self.constants.get(value.attr)
                elif isinstance(value, ast.Constant):
                    values[node.targets[0].id] = value.value
        return values


def _importable_amdsmi():
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import amdsmi
    except Exception:  # no ROCm library here (amdsmi raises KeyError or OSError, not ImportError)
        return None
    return amdsmi


def _installed_source() -> RealSource | None:
    spec = importlib.util.find_spec("amdsmi")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return RealSource(folder) if (folder / "amdsmi_interface.py").is_file() else None


@pytest.fixture(scope="module")
def real() -> RealSource:
    source = _installed_source()
    if source is None:
        pytest.skip("the amdsmi package is not installed (pip install -e '.[test]' installs it)")
    return source


def test_every_fake_function_is_the_real_packages_with_the_same_parameters(real):
    assert len(FAKE_FUNCTIONS) >= 20
    for name in FAKE_FUNCTIONS:
        assert name in real.functions and name in real.exported, f"amdsmi has no {name}"
        fake_params = list(inspect.signature(getattr(FakeAmdSmi, name)).parameters)[1:]  # less `self`
        assert fake_params == real.parameters(name), name


def test_the_fake_returns_the_real_packages_keys(real):
    fake = FakeAmdSmi({"gpus": [{"processes": [{"pid": 7}]}]})
    fake.amdsmi_init()
    (handle,) = fake.amdsmi_get_processor_handles()
    calls = {"amdsmi_get_clock_info": (handle, fake.AmdSmiClkType.GFX),
             "amdsmi_get_gpu_memory_total": (handle, fake.AmdSmiMemoryType.VRAM),
             "amdsmi_get_temp_metric": (handle, fake.AmdSmiTemperatureType.HOTSPOT,
                                        fake.AmdSmiTemperatureMetric.CURRENT)}
    checked = 0
    for name in FAKE_FUNCTIONS:
        if name in ("amdsmi_init", "amdsmi_shut_down", "amdsmi_get_processor_handles"):
            continue
        parameters = real.parameters(name)
        value = getattr(fake, name)(*calls.get(name, (handle,) if parameters else ()))
        shapes = value if isinstance(value, list) else [value]
        for shape in (s for s in shapes if isinstance(s, dict)):
            keys, real_keys = set(shape), real.dict_keys(name)
            assert keys <= real_keys, f"{name}: amdsmi has no {sorted(keys - real_keys)}"
            if name not in SUBSET_SHAPES:
                assert keys == real_keys, f"{name}: the fake lacks {sorted(real_keys - keys)}"
            checked += 1
    assert checked >= 12


def test_enums_exceptions_and_status_codes_are_the_real_packages(real):
    for enum, members in ENUMS.items():
        values = real.enum_values(enum)
        for member in members:
            assert getattr(getattr(fake_amdsmi, enum), member) == values[member], f"{enum}.{member}"
    for name in ("AmdSmiException", "AmdSmiLibraryException", "AmdSmiParameterException"):
        assert name in real.exported
    init = next(n for n in ast.walk(real.modules["amdsmi_exception"])
                if isinstance(n, ast.ClassDef) and n.name == "AmdSmiLibraryException")
    assert "self.err_code" in ast.unparse(init)  # the backend reads `err_code`
    for name in ("NOT_SUPPORTED", "FAIL_LOAD_MODULE", "NO_PERM", "NOT_INIT", "DRIVER_NOT_LOADED"):
        assert getattr(fake_amdsmi, f"AMDSMI_STATUS_{name}") == real.constants[f"AMDSMI_STATUS_{name}"], name
    for name in ("NOT_SUPPORTED", "FAIL_LOAD_MODULE", "NO_PERM", "INIT_ERROR", "DRIVER_NOT_LOADED"):
        assert getattr(amd, f"STATUS_{name}") == real.constants[f"AMDSMI_STATUS_{name}"], name


def test_where_amdsmi_can_be_imported_its_functions_take_the_fakes_parameters():
    amdsmi = _importable_amdsmi()
    if amdsmi is None:
        pytest.skip("amdsmi cannot be imported here: no ROCm library (libamd_smi.so); its source is checked instead")
    for name in FAKE_FUNCTIONS:
        real_params = list(inspect.signature(getattr(amdsmi, name)).parameters)
        assert list(inspect.signature(getattr(FakeAmdSmi, name)).parameters)[1:] == real_params, name


def test_the_counter_is_ticks_of_a_c_float_resolution_following_the_trace():
    clock = ManualClock()
    fake = FakeAmdSmi({"gpus": [{"power_w": [[0, 100], [1, 300]], "counter_offset": 7}]}, clock=clock)
    fake.amdsmi_init()
    (handle,) = fake.amdsmi_get_processor_handles()
    first = fake.amdsmi_get_energy_count(handle)
    assert first["energy_accumulator"] == 7 and first["counter_resolution"] == pytest.approx(15.259, rel=1e-6)
    assert first["counter_resolution"] != 15.259  # a C float, as amdsmi's ctypes gives it
    clock.advance(2.0)
    later = fake.amdsmi_get_energy_count(handle)
    joules = (later["energy_accumulator"] - 7) * later["counter_resolution"] / 1e6
    assert joules == pytest.approx(400.0, abs=2e-5) and later["timestamp"] == 2_000_000_000
    power = fake.amdsmi_get_power_info(handle)
    assert power["current_socket_power"] == 300 and power["average_socket_power"] == 300


def test_a_32_bit_counter_wraps_and_a_still_one_never_moves():
    clock = ManualClock()
    fake = FakeAmdSmi({"gpus": [{"counter_bits": 32, "counter_offset": 2**32 - 10, "power_w": 500},
                                {"counter_stands_still": True, "counter_offset": 99}]}, clock=clock)
    fake.amdsmi_init()
    wrapping, still = fake.amdsmi_get_processor_handles()
    clock.advance(1.0)
    assert fake.amdsmi_get_energy_count(wrapping)["energy_accumulator"] < 2**32 - 10
    assert fake.amdsmi_get_energy_count(still)["energy_accumulator"] == 99


def test_unsupported_calls_raise_not_supported_and_fields_say_n_a():
    fake = FakeAmdSmi({"gpus": [{"has_energy_counter": False, "current_power_supported": False,
                                 "compute_partition": None, "hip_id": None, "residency_supported": False}]})
    with pytest.raises(AmdSmiLibraryException) as before_init:
        fake.amdsmi_get_processor_handles()
    assert before_init.value.err_code == AMDSMI_STATUS_NOT_INIT
    fake.amdsmi_init()
    (handle,) = fake.amdsmi_get_processor_handles()
    for call in (fake.amdsmi_get_energy_count, fake.amdsmi_get_gpu_compute_partition,
                 fake.amdsmi_get_gpu_enumeration_info):
        with pytest.raises(AmdSmiLibraryException) as caught:
            call(handle)
        assert caught.value.get_error_code() == AMDSMI_STATUS_NOT_SUPPORTED
    assert fake.amdsmi_get_power_info(handle)["current_socket_power"] == "N/A"
    assert fake.amdsmi_get_gpu_metrics_info(handle)["ppt_residency_acc"] == "N/A"
    with pytest.raises(fake.AmdSmiParameterException):
        fake.amdsmi_get_power_info("not a handle")


def test_identity_follows_amdsmis_forms():
    fake = FakeAmdSmi({"gpus": [{"unique_id": "67C63AC3C3C637F9", "device_id": 0x740F}]})
    fake.amdsmi_init()
    (handle,) = fake.amdsmi_get_processor_handles()
    # The pair reported by amd-smi and rocm-smi for one MI210 (ROCm/legacy-rocm-build#5480).
    assert fake.amdsmi_get_gpu_device_uuid(handle) == "67ff740f-0000-1000-80c6-3ac3c3c637f9"
    assert fake.amdsmi_get_gpu_asic_info(handle)["asic_serial"] == "0x67C63AC3C3C637F9"
    assert fake.amdsmi_get_gpu_device_bdf(handle) == "0000:0c:00.0"


def test_script_file_errors_are_one_config_error_line(tmp_path):
    with pytest.raises(ConfigError, match="fake amdsmi script .*missing.json: no such file"):
        FakeAmdSmi.from_script(tmp_path / "missing.json")
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"gpus": [{"counter_bits": 48}]}))
    with pytest.raises(ConfigError, match="fake amdsmi script .* is invalid: gpus.0.counter_bits") as caught:
        FakeAmdSmi.from_script(typo)
    assert "\n" not in str(caught.value)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"gpus": [{"power_w": []}]}))
    with pytest.raises(ConfigError, match="a trace needs at least one"):
        FakeAmdSmi.from_script(empty)


def test_the_entry_point_declines_without_its_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(fake_amdsmi.FAKE_AMDSMI_ENV, raising=False)
    assert fake_amdsmi.backend_from_environment() is None
    script = tmp_path / "amd.json"
    script.write_text(json.dumps({"gpus": [{}, {}]}))
    monkeypatch.setenv(fake_amdsmi.FAKE_AMDSMI_ENV, str(script))
    with fake_amdsmi.backend_from_environment() as backend:
        assert backend.name == "fake-amdsmi" and backend.device_count() == 2
