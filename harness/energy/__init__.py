"""Energy measurement: one meter interface over GPUs (through a device interface) and the host's CPU and RAM.

`open_meter(...)` gives an `EnergyMeter`; its windows produce immutable `EnergyReading`s with units in
every field name. GPUs are reached only through `harness.energy.gpu` (`Gpu`, `GpuBackend`), with one
module per vendor (`nvidia.py`) picked by the table in `backends.py`. See docs/method.md for the method
and its limits.
"""

from harness.energy.backends import GPU_BACKENDS, gpu_indices_for_uuids, open_gpu_backend
from harness.energy.gpu import Gpu, GpuBackend
from harness.energy.meter import EnergyMeter, IdleBaseline, open_meter
from harness.energy.reading import EnergyReading, MeasurementWarning

__all__ = ["GPU_BACKENDS", "EnergyMeter", "EnergyReading", "Gpu", "GpuBackend", "IdleBaseline", "MeasurementWarning",
           "gpu_indices_for_uuids", "open_gpu_backend", "open_meter"]
