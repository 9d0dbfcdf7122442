"""AMD Instinct GPUs through amdsmi (ROCm): the only module that calls amdsmi, where its units and bits are converted.

Everything here talks to an *amdsmi-like object*: the real `amdsmi` package (ROCm's Python wrapper over
libamd_smi.so) or a stand-in with the same function, enum and exception names (the fake in `harness.testing` plugs
in through the backend table). Values leave this module in SI units with the unit in the name: the energy counter's
ticks x its resolution (µJ) become J, the power cap's µW become W, bytes become MiB. A call a card or driver does not
support (`AMDSMI_STATUS_NOT_SUPPORTED`, a function an older amdsmi lacks, a field it reports as "N/A") becomes
`None` here, so measurement code above never sees an amdsmi exception for a missing feature.

Energy comes from `amdsmi_get_energy_count`: an accumulator of ticks since the driver loaded, and the resolution of
one tick in µJ (15.3 µJ on the cards seen so far). It is a 64-bit count on current firmware and was 32 bits in the
first gpu_metrics format (a wrap every ~65 kJ: minutes at full power), so every read is unwrapped here and the count
is read at each power sample while it is small enough to wrap at 32 bits. On some cards and drivers the counter does
not move at all (ROCm/amdsmi#38): each card is probed when opened, and one whose counter stands still is measured by
integrating sampled power (`has_energy_counter` False, `counter_note` says why). amdsmi documents no update period
for the counter: it is None here, and the meter assumes NVML's 100 ms.

Partitions: an MI300-class card in a compute partition mode other than SPX shows one device per partition, but its
counter, power and power cap cover the whole card and are read on its first partition. Every partition of a card
reads that one counter, so the meter refuses to measure two partitions of one card (the energy would count twice).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.energy.gpu import Gpu, GpuBackend, PowerSource, ThrottleReasons
from harness.errors import ConfigError, MeasurementError

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install amdsmi, or the copy that matches this ROCm: pip install /opt/rocm/share/amd_smi"

# amdsmi_status_t values (amdsmi.h): the same in every amdsmi release.
STATUS_NOT_SUPPORTED = 2
STATUS_FAIL_LOAD_MODULE = 4
STATUS_NO_PERM = 10
STATUS_INIT_ERROR = 18
STATUS_DRIVER_NOT_LOADED = 34

COUNTER_PROBE_S = 1.0
"""A card whose energy counter does not move within this long of being opened has a counter that stands still."""
COUNTER_PROBE_STEP_S = 0.005
PLAUSIBLE_MAX_W = 3000.0
"""No single accelerator draws more: a counter that went back is taken as a wrap only if the energy that implies is
within this power over the time since the last read (plus a second), else it is a reset (an error)."""
_WRAP_32 = 2**32

# This module's own throttle bits: amdsmi reports throttling as residency accumulators (MI300 and newer) or as
# the kernel's ASIC-independent bitmask (older wrappers); both are decoded into these.
THROTTLE_POWER_CAP = 1 << 0
THROTTLE_THERMAL = 1 << 1
THROTTLE_PROCHOT = 1 << 2
THROTTLE_VR_THERMAL = 1 << 3
THROTTLE_HBM_THERMAL = 1 << 4
THROTTLE_CURRENT = 1 << 5
THROTTLE_PLATFORM = 1 << 6
THROTTLE_SLOWDOWNS = {
    THROTTLE_THERMAL: "thermal slowdown",
    THROTTLE_PROCHOT: "PROCHOT (processor hot) slowdown",
    THROTTLE_VR_THERMAL: "voltage-regulator thermal slowdown",
    THROTTLE_HBM_THERMAL: "HBM thermal slowdown",
    THROTTLE_CURRENT: "current-limit slowdown (TDC/EDC)",
    THROTTLE_PLATFORM: "platform power or reliability limit (PPM/FIT)",
}
"""Reasons that mean the card ran slower than it should have; the package power limit (PPT) is the power cap."""
RESIDENCY_BITS = {"ppt_residency_acc": THROTTLE_POWER_CAP, "socket_thm_residency_acc": THROTTLE_THERMAL,
                  "prochot_residency_acc": THROTTLE_PROCHOT, "vr_thm_residency_acc": THROTTLE_VR_THERMAL,
                  "hbm_thm_residency_acc": THROTTLE_HBM_THERMAL}
"""gpu_metrics residency accumulators: a limit was active between two reads where its accumulator grew."""
INDEPENDENT_THROTTLER_GROUPS = ((0x00000000000000FF, THROTTLE_POWER_CAP), (0x0000000000FF0000, THROTTLE_CURRENT),
                                (0x0000FFFF00000000, THROTTLE_THERMAL), (0x0300000000000000, THROTTLE_PLATFORM))
"""The kernel's ASIC-independent throttler bits (`SMU_THROTTLER_*_BIT`) by group: power 0-7, current 16-23,
temperature, VR hot and PROCHOT 32-47, PPM and FIT 56-57."""


def _import_amdsmi() -> Any:
    # amdsmi prints to stdout when it cannot find libamd_smi.so, which would spoil `harness env --json`.
    with contextlib.redirect_stdout(io.StringIO()):
        import amdsmi
    return amdsmi


def load_amdsmi(amdsmi: Any | None = None) -> Any:
    """The amdsmi object to use, without initialising it: an explicit stand-in, else the `amdsmi` package.

    Raises MeasurementError (one line) when the package is missing or cannot load ROCm's library: importing amdsmi
    raises KeyError, OSError or AttributeError, not ImportError, when libamd_smi.so is absent or of another version.
    """
    if amdsmi is not None:
        return amdsmi
    try:
        return _import_amdsmi()
    except ModuleNotFoundError as error:
        if error.name == "amdsmi":
            raise MeasurementError(f"cannot measure the GPU: the amdsmi package is not installed ({INSTALL_HINT})"
                                   ) from None
        raise MeasurementError(f"cannot measure the GPU: amdsmi could not be imported ({error})") from None
    except Exception as error:  # whatever a broken ROCm install raises, it is one line
        raise MeasurementError(f"cannot measure the GPU: amdsmi cannot load ROCm's libamd_smi.so "
                               f"({type(error).__name__}: {error}); is ROCm installed, and does amdsmi's version "
                               "match it?") from None


def open_amdsmi_backend(amdsmi: Any | None = None) -> AmdSmiBackend:
    """Load and initialise amdsmi (`GPU_BACKENDS["amdsmi"]`); every failure, no AMD GPU included, is one
    MeasurementError line. A stand-in names itself with `backend_name` and may bring its `clock` and `sleep`."""
    smi = load_amdsmi(amdsmi)
    try:
        smi.amdsmi_init(smi.AmdSmiInitFlags.INIT_AMD_GPUS)
    except smi.AmdSmiException as error:
        raise MeasurementError(f"cannot measure the GPU: {_init_failure(error)}") from None
    backend = AmdSmiBackend(smi, getattr(smi, "backend_name", "amdsmi"), getattr(smi, "clock", time.monotonic),
                            getattr(smi, "sleep", time.sleep))
    try:
        if backend.device_count() == 0:
            raise MeasurementError("cannot measure the GPU: amdsmi sees no AMD GPU on this machine")
    except MeasurementError:
        backend.shutdown()
        raise
    return backend


def _status(error: Exception) -> int | None:
    return getattr(error, "err_code", None)


def _init_failure(error: Exception) -> str:
    code = _status(error)
    if code == STATUS_DRIVER_NOT_LOADED:
        return "the amdgpu driver is not loaded (no AMD GPU, or the driver is not running)"
    if code == STATUS_NO_PERM:
        return "no permission to use amdsmi (check access to /dev/kfd and /dev/dri; the render and video groups)"
    if code == STATUS_FAIL_LOAD_MODULE:
        return "amdsmi could not load its library (libamd_smi.so); is ROCm installed?"
    return f"amdsmi failed to initialise ({str(error).strip().replace(chr(10), ' ')})"


def _call(smi: Any, name: str, *args: Any) -> Any:
    """Call an amdsmi function; None where this card, driver or amdsmi release does not support it."""
    function = getattr(smi, name, None)
    if function is None:
        return None
    try:
        return function(*args)
    except smi.AmdSmiException as error:
        if _status(error) != STATUS_NOT_SUPPORTED:
            logger.debug("amdsmi %s failed: %s", name, error)
        return None


def _number(value: Any) -> float | None:
    """A reported number, or None for amdsmi's "N/A" (and anything else that is not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _field(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, Mapping) else None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() and value.strip() != "N/A" else None


def _bare_hex(text: str) -> str:
    return text.strip().lower().removeprefix("gpu-").removeprefix("0x").replace("-", "")


def uuid_keys(uuid: str) -> set[str]:
    """What a framework's GPU UUID can be matched on. torch on ROCm prints HIP's UUID, whose 16 bytes are the ASCII
    of the card's unique ID in hex (`36376336-...` for unique ID `67c6...`); `GPU-<unique id>` is how HIP and ROCr
    name a card in the visible-devices variables; anything else is compared as it is, bare of dashes."""
    digits = _bare_hex(uuid)
    keys = {digits}
    if len(digits) == 32:
        try:
            text = bytes.fromhex(digits).decode("ascii").lower()
        except (ValueError, UnicodeDecodeError):
            text = ""
        if len(text) == 16 and all(c in "0123456789abcdef" for c in text):
            keys.add(text)
    return keys


@dataclass(frozen=True)
class _Facts:
    """What identifies one amdsmi device and places it: its card (PCI domain:bus:device) and partition."""

    card: str | None
    partition: int | None
    keys: frozenset[str]
    hip_id: int | None
    node_id: int | None


def _facts(smi: Any, handle: Any) -> _Facts:
    bdf = _text(_call(smi, "amdsmi_get_gpu_device_bdf", handle))
    kfd = _call(smi, "amdsmi_get_gpu_kfd_info", handle)
    partition = _number(_field(kfd, "current_partition_id"))
    function = bdf.rsplit(".", 1)[1] if bdf and "." in bdf else ""
    if partition is None and function.isdigit():  # amdsmi numbers a card's partitions by PCI function
        partition = float(function)
    keys: set[str] = set()
    serial = _text(_field(_call(smi, "amdsmi_get_gpu_asic_info", handle), "asic_serial"))
    if serial:
        keys.add(_bare_hex(serial))  # the unique ID HIP's UUID encodes
    uuid = _text(_call(smi, "amdsmi_get_gpu_device_uuid", handle))
    if uuid:
        digits = _bare_hex(uuid)
        keys.add(digits)
        if len(digits) == 32:  # amdsmi builds it as <id byte 0>ff<device id>-0000-1000-80<id bytes 1..7>
            keys.add(digits[:2] + digits[18:])
    enumeration = _call(smi, "amdsmi_get_gpu_enumeration_info", handle)  # ROCm 6.4 and newer
    hip_uuid = _text(_field(enumeration, "hip_uuid"))
    if hip_uuid:
        keys |= uuid_keys(hip_uuid)
    hip_id, node_id = _number(_field(enumeration, "hip_id")), _number(_field(kfd, "node_id"))
    return _Facts(card=bdf.rsplit(".", 1)[0].lower() if bdf else None,
                  partition=None if partition is None else int(partition), keys=frozenset(k for k in keys if k),
                  hip_id=None if hip_id is None else int(hip_id), node_id=None if node_id is None else int(node_id))


def visible_devices(environ: Mapping[str, str], count: int, unique_ids: Sequence[str | None]) -> list[int]:
    """The HIP devices (physical numbering, 0..count-1) that `cuda:0`, `cuda:1`, ... are, as HIP applies the
    variables PyTorch's ROCm build follows: ROCR_VISIBLE_DEVICES picks among the physical devices, then
    HIP_VISIBLE_DEVICES (CUDA_VISIBLE_DEVICES where it is unset) among those. An entry is a position or
    `GPU-<unique id>` (`unique_ids` by physical device); one that matches nothing ends its list, a repeat empties it.
    """
    visible = list(range(count))
    hip = environ.get("HIP_VISIBLE_DEVICES", environ.get("CUDA_VISIBLE_DEVICES"))
    for spec in (environ.get("ROCR_VISIBLE_DEVICES"), hip):
        if spec is None:
            continue
        chosen: list[int] = []
        for item in (part.strip() for part in spec.split(",")):
            if item.lower().startswith("gpu-"):
                matches = [d for d in visible if unique_ids[d] and unique_ids[d] == _bare_hex(item)]
                pick = matches[0] if matches else None
            else:
                position = int(item) if item.isdigit() else -1
                pick = visible[position] if 0 <= position < len(visible) else None
            if pick is None:
                break
            if pick in chosen:
                return []
            chosen.append(pick)
        visible = chosen
    return visible


class AmdSmiBackend(GpuBackend):
    """An initialised amdsmi (real or a stand-in): the object to call, the name a result records, its clock."""

    library = "amdsmi"
    vendor = "AMD"

    def __init__(self, smi: Any, name: str = "amdsmi", clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.smi = smi
        self.name = name
        self.clock = clock
        self.sleep = sleep
        self._handles: list[Any] | None = None
        self._facts: list[_Facts] | None = None

    def shutdown(self) -> None:
        try:
            self.smi.amdsmi_shut_down()
        except self.smi.AmdSmiException as error:  # a failed shutdown loses no measurement
            logger.debug("amdsmi_shut_down failed: %s", error)

    def handles(self) -> list[Any]:
        """amdsmi's processor handles, one per device (per partition), in amdsmi's order (the backend's indices)."""
        if self._handles is None:
            try:
                self._handles = list(self.smi.amdsmi_get_processor_handles())
            except self.smi.AmdSmiException as error:
                raise MeasurementError(f"cannot list GPUs: amdsmi failed ({error})") from None
        return self._handles

    def device_count(self) -> int:
        return len(self.handles())

    def facts(self) -> list[_Facts]:
        if self._facts is None:
            self._facts = [_facts(self.smi, handle) for handle in self.handles()]
        return self._facts

    def open(self, index: int) -> AmdGpu:
        if not 0 <= index < self.device_count():
            raise MeasurementError(f"cannot open GPU {index}: amdsmi sees {self.device_count()} GPU(s)")
        return AmdGpu(self, index)

    # --- cards and partitions ---------------------------------------------------------------------------

    def card_indices(self, index: int) -> list[int]:
        """Every device on the same card as `index` (its partitions), `index` included."""
        card = self.facts()[index].card
        if card is None:
            return [index]
        return [i for i, facts in enumerate(self.facts()) if facts.card == card]

    def primary_index(self, index: int) -> int:
        """The device whose readings cover the card of `index`: its first partition (or itself)."""
        partitions = {self.facts()[i].partition: i for i in self.card_indices(index)}
        return partitions.get(0, index)

    def check_indices(self, indices: Sequence[int]) -> None:
        """As every backend, and refuse two partitions of one card: they read one counter, which covers both."""
        super().check_indices(indices)
        seen: dict[str, int] = {}
        for index in indices:
            card = self.facts()[index].card
            if card is not None and card in seen:
                raise ConfigError(f"GPUs {seen[card]} and {index} are partitions of one AMD card ({card}): its energy "
                                  "counter covers the whole card, so measure it once (--measure-gpus with one of them)")
            if card is not None:
                seen[card] = index

    # --- versions -----------------------------------------------------------------------------------------

    def system_versions(self) -> dict[str, str | None]:
        driver = _call(self.smi, "amdsmi_get_gpu_driver_info", self.handles()[0]) if self.handles() else None
        return {"driver_version": _text(_field(driver, "driver_version")), "nvml_version": None,
                "cuda_driver_version": None}

    def rocm_version(self) -> str | None:
        """The machine's ROCm version (amdsmi reads it from librocm-core); None where it cannot say."""
        found = _call(self.smi, "amdsmi_get_rocm_version")
        if isinstance(found, tuple) and len(found) == 2 and found[0]:
            return _text(found[1])
        return None

    def library_version(self) -> str | None:
        """amdsmi's own version, `major.minor.release`."""
        found = _call(self.smi, "amdsmi_get_lib_version")
        parts = [_field(found, key) for key in ("major", "minor", "release")]
        return None if any(part is None for part in parts) else ".".join(str(part) for part in parts)

    def summary(self) -> str:
        return (f"AMD driver {self.system_versions()['driver_version'] or '?'}, ROCm {self.rocm_version() or '?'}, "
                f"amdsmi {self.library_version() or '?'}")

    # --- which card is which ------------------------------------------------------------------------------

    def indices_for_uuids(self, uuids: Sequence[str | None]) -> list[int | None]:
        """torch on ROCm reports HIP's UUID (the card's unique ID in ASCII, see `uuid_keys`), amdsmi the unique ID
        and its own UUID form: both are matched. Partitions of one card can share a unique ID: such a UUID maps to
        the card's first partition, whose counter covers them all. amdsmi trouble leaves every index None."""
        try:
            facts = self.facts()
        except MeasurementError as error:
            logger.debug("amdsmi could not list GPUs: %s", error)
            return [None] * len(uuids)
        found: list[int | None] = []
        for uuid in uuids:
            matches = [] if uuid is None else [i for i, f in enumerate(facts) if f.keys & uuid_keys(uuid)]
            if len(matches) > 1:
                matches = [self.primary_index(matches[0])]
            found.append(matches[0] if matches else None)
        return found

    def hip_order(self) -> list[int]:
        """amdsmi's index of each HIP device in HIP's physical order: amdsmi's own HIP IDs (ROCm 6.4+), else KFD
        node order (which HIP enumerates in), else amdsmi's order."""
        facts = self.facts()
        for key in ("hip_id", "node_id"):
            values = [getattr(f, key) for f in facts]
            if values and all(v is not None for v in values) and len(set(values)) == len(values):
                return sorted(range(len(facts)), key=lambda i: values[i])
        return list(range(len(facts)))

    def index_for_visible_device(self, device: int) -> int | None:
        """torch's `cuda:N` on ROCm is the Nth HIP device left visible by ROCR_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES
        and CUDA_VISIBLE_DEVICES (`visible_devices`); mapped to amdsmi's numbering through `hip_order`."""
        try:
            order = self.hip_order()
        except MeasurementError:
            return None
        unique_ids = [next((k for k in sorted(self.facts()[i].keys) if len(k) == 16), None) for i in order]
        visible = visible_devices(os.environ, len(order), unique_ids)
        return order[visible[device]] if 0 <= device < len(visible) else None


class AmdGpu(Gpu):
    """One AMD device by amdsmi index: energy counter, power, clocks and the conditions a result records.

    The counter, power and power cap are read on the card's first partition (`energy_handle`); what the card
    supports is probed once here, so the sampler's hot path makes only calls that work.
    """

    def __init__(self, backend: AmdSmiBackend, index: int) -> None:
        self.backend = backend
        self.smi = backend.smi
        self.index = index
        handles = backend.handles()
        self.handle = handles[index]
        self.card_indices = backend.card_indices(index)
        self.energy_handle = handles[backend.primary_index(index)]
        self._lock = threading.Lock()
        self._offset = 0
        self._last_raw: int | None = None
        self._last_t_s = 0.0
        self.counter_resolution_uj: float | None = None
        self._residency: dict[str, float] | None = None
        self.counter_update_period_s = None  # amdsmi documents none: the meter assumes NVML's 100 ms
        self.has_energy_counter = self._counter_moves()
        self.power_source: PowerSource | None = None
        if self._power("current_socket_power") is not None:
            self.power_source = "instant"
        elif self._power("average_socket_power") is not None:
            self.power_source = "average"
        self._sensor = next((sensor for sensor in ("HOTSPOT", "EDGE") if self._temperature(sensor) is not None), None)

    def _call(self, name: str, *args: Any) -> Any:
        return _call(self.smi, name, *args)

    # --- energy and power -------------------------------------------------------------------------------

    def _read_counter(self) -> int | None:
        """The raw accumulator (ticks); None where the card cannot say. Older amdsmi named it `power`."""
        reading = self._call("amdsmi_get_energy_count", self.energy_handle)
        raw = _field(reading, "energy_accumulator")
        raw = _field(reading, "power") if raw is None else raw
        resolution = _number(_field(reading, "counter_resolution"))
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0 or not resolution or resolution <= 0:
            return None
        if self.counter_resolution_uj is None:
            self.counter_resolution_uj = resolution
        return raw

    def _counter_moves(self) -> bool:
        """Whether the counter moves: read it until it changes, for at most `COUNTER_PROBE_S`."""
        first = self._read_counter()
        if first is None:
            return False
        start_s = self.backend.clock()
        for _ in range(int(COUNTER_PROBE_S / COUNTER_PROBE_STEP_S) + 1):
            if self.backend.clock() - start_s >= COUNTER_PROBE_S:
                break
            self.backend.sleep(COUNTER_PROBE_STEP_S)
            now = self._read_counter()
            if now is None:
                return False
            if now != first:
                return True
        self.counter_note = (f"its energy counter did not move in {COUNTER_PROBE_S:g} s (a fault of some cards and "
                             "drivers): its energy is the integral of sampled power")
        logger.warning("GPU %d: %s", self.index, self.counter_note)
        return False

    def energy_counter(self) -> int | None:
        """The accumulator in ticks of `counter_resolution_uj`, unwrapped (None: this card cannot say). Reads are
        serialised, so the sampler's and a window edge's are unwrapped in the order they were taken."""
        with self._lock:
            raw = self._read_counter()
            if raw is None:
                return None
            now_s = self.backend.clock()
            if self._last_raw is not None and raw < self._last_raw:
                modulus = _WRAP_32 if self._last_raw < _WRAP_32 else 2**64
                wrapped_j = (modulus - self._last_raw + raw) * self.counter_resolution_uj / 1e6
                if wrapped_j <= PLAUSIBLE_MAX_W * (now_s - self._last_t_s + 1.0):
                    self._offset += modulus
                else:
                    logger.warning("GPU %d: the energy counter went back from %d to %d ticks (a reset)", self.index,
                                   self._last_raw, raw)
            self._last_raw, self._last_t_s = raw, now_s
            return self._offset + raw

    def counter_delta_j(self, start: int, end: int) -> float:
        """Joules between two unwrapped reads (negative: the counter was reset, which the meter refuses)."""
        return (end - start) * (self.counter_resolution_uj or 0.0) / 1e6

    def _power(self, key: str) -> float | None:
        value = _number(_field(self._call("amdsmi_get_power_info", self.energy_handle), key))
        return None if value is None or value < 0 else value

    def power_w(self) -> float | None:
        """Socket power in watts: the current reading, else the card's average (see `power_source`). While the
        counter is small enough to wrap at 32 bits, it is read here too, so no wrap falls between window edges."""
        if self.has_energy_counter and (self._last_raw is None or self._last_raw < _WRAP_32):
            self.energy_counter()
        if self.power_source == "instant":
            return self._power("current_socket_power")
        if self.power_source == "average":
            return self._power("average_socket_power")
        return None

    def _cap_w(self, key: str) -> float | None:
        microwatts = _number(_field(self._call("amdsmi_get_power_cap_info", self.energy_handle), key))
        return None if not microwatts or microwatts <= 0 else microwatts / 1e6

    def power_limit_enforced_w(self) -> float | None:
        """The card's power cap in watts (amdsmi reports µW; None: this card cannot say)."""
        return self._cap_w("power_cap")

    # --- conditions sampled over time -------------------------------------------------------------------

    def _clock_mhz(self, kind: str) -> float | None:
        return _number(_field(self._call("amdsmi_get_clock_info", self.handle, getattr(self.smi.AmdSmiClkType, kind)),
                              "clk"))

    def sm_clock_mhz(self) -> float | None:
        """Graphics (GFX) clock in MHz (None: this card cannot say)."""
        return self._clock_mhz("GFX")

    def memory_clock_mhz(self) -> float | None:
        """Memory clock in MHz (None: this card cannot say)."""
        return self._clock_mhz("MEM")

    def _temperature(self, sensor: str) -> float | None:
        kinds, metrics = self.smi.AmdSmiTemperatureType, self.smi.AmdSmiTemperatureMetric
        return _number(self._call("amdsmi_get_temp_metric", self.handle, getattr(kinds, sensor), metrics.CURRENT))

    def temperature_c(self) -> float | None:
        """Hotspot (junction) temperature in degrees Celsius, else the edge's (None: this card cannot say)."""
        return None if self._sensor is None else self._temperature(self._sensor)

    def utilization_pct(self) -> float | None:
        """Graphics engine activity in percent (None: this card cannot say)."""
        return _number(_field(self._call("amdsmi_get_gpu_activity", self.handle), "gfx_activity"))

    def throttle_reasons(self) -> int | None:
        """This module's THROTTLE_* bits since the last call: from the residency accumulators where the card keeps
        them, else from an ASIC-independent bitmask; None where amdsmi gives neither (a bare yes/no says no why)."""
        metrics = self._call("amdsmi_get_gpu_metrics_info", self.energy_handle)
        residency = {key: _number(_field(metrics, key)) for key in RESIDENCY_BITS}
        if any(value is not None for value in residency.values()):
            with self._lock:
                before, self._residency = self._residency, residency
            if before is None:
                return 0
            return sum(bit for key, bit in RESIDENCY_BITS.items()
                       if residency[key] is not None and before.get(key) is not None and residency[key] > before[key])
        status = _field(metrics, "indep_throttle_status")
        if isinstance(status, bool) or not isinstance(status, int):
            return None
        return sum(bit for group, bit in INDEPENDENT_THROTTLER_GROUPS if status & group)

    def describe_throttle_reasons(self, mask: int) -> ThrottleReasons:
        return ThrottleReasons(slowdowns=tuple(name for bit, name in THROTTLE_SLOWDOWNS.items() if mask & bit),
                               power_capped=bool(mask & THROTTLE_POWER_CAP))

    def other_process_pids(self, own_pids: frozenset[int]) -> list[int] | None:
        """PIDs of processes on this card, every partition of it included, other than ours (None: amdsmi cannot
        list them here). The counter covers the whole card, so a process on another partition is contention."""
        handles = self.backend.handles()
        lists = [self._call("amdsmi_get_gpu_process_list", handles[i]) for i in self.card_indices]
        if all(found is None for found in lists):
            return None
        pids = {_number(_field(process, "pid")) for found in lists for process in found or ()}
        return sorted({int(pid) for pid in pids if pid is not None} - own_pids)

    # --- static facts -------------------------------------------------------------------------------------

    def info(self) -> dict:
        """This device as `harness.results.schema.GpuInfo` (JSON-ready)."""
        asic = self._call("amdsmi_get_gpu_asic_info", self.handle)
        memory = _number(self._call("amdsmi_get_gpu_memory_total", self.handle, self.smi.AmdSmiMemoryType.VRAM))
        compute = _text(self._call("amdsmi_get_gpu_compute_partition", self.handle))
        modes = [mode for mode in (compute, _text(self._call("amdsmi_get_gpu_memory_partition", self.handle))) if mode]
        target = _text(_field(asic, "target_graphics_version"))
        return {
            "index": self.index,
            "name": _text(_field(asic, "market_name")) or "unknown AMD GPU",
            "uuid": _text(self._call("amdsmi_get_gpu_device_uuid", self.handle)),
            "memory_total_mib": None if memory is None else memory / 2**20,
            "has_energy_counter": self.has_energy_counter,
            "power_limit_enforced_w": self.power_limit_enforced_w(),
            "power_limit_default_w": self._cap_w("default_power_cap"),
            "persistence_mode": None,
            "mig_mode": None if compute is None else compute.upper() != "SPX",
            "compute_capability": target if target and target != "gfx" else None,
            "vendor": "amd",
            "serial": _text(_field(asic, "asic_serial")),
            "partition_mode": "/".join(modes) or None,
            "rocm_version": self.backend.rocm_version(),
        }
