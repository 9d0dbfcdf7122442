"""Energy measurement: one meter interface over NVML GPUs (or a scripted fake) and the host's CPU and RAM.

`open_meter(...)` gives an `EnergyMeter`; its windows produce immutable `EnergyReading`s with units in
every field name. See docs/method.md for the method and its limits.
"""

from harness.energy.meter import EnergyMeter, IdleBaseline, open_meter
from harness.energy.reading import EnergyReading, MeasurementWarning

__all__ = ["EnergyMeter", "EnergyReading", "IdleBaseline", "MeasurementWarning", "open_meter"]
