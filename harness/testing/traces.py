"""What every scripted GPU stand-in shares: traces of a value over time, a clock moved by hand, and script loading.

A fake vendor library (`fake_nvml.FakeNvml`, `fake_amdsmi.FakeAmdSmi`) follows a JSON script of its cards. A
*trace* there is either a number (constant) or a list of `[t_s, value]` points read as a step function: each value
holds from its time until the next point (the first value also holds before it). Time `t_s` is seconds since the
fake was created, on its clock: `time.monotonic` for a script loaded from a file, or a `ManualClock` that a unit
test moves by hand. A counter that follows a power trace is its exact integral, so a test can compare a meter's
reading with the truth.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import ConfigError, validation_problem
from harness.files import read_json_bounded

TraceSpec = float | list[tuple[float, float]]
"""A constant, or `[t_s, value]` points of a step function."""


class ScriptModel(BaseModel):
    """A part of a fake's script: unknown keys are refused, and so are NaN and infinity."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class FakeProcess(ScriptModel):
    """A compute process on a scripted card from `start_s` until `end_s` (None: to the end)."""

    pid: int
    start_s: float = 0.0
    end_s: float | None = None
    used_memory_mib: float = 256.0

    def running(self, t_s: float) -> bool:
        return self.start_s <= t_s and (self.end_s is None or t_s < self.end_s)


class ManualClock:
    """A clock that moves only when told: `clock()` reads it, `clock.advance(seconds)` moves it."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


class Trace:
    """A step function of time with its exact integral (value-seconds) from t=0."""

    def __init__(self, spec: TraceSpec) -> None:
        points = [(0.0, float(spec))] if isinstance(spec, (int, float)) else sorted((float(t), float(v))
                                                                                    for t, v in spec)
        if not points:
            raise ValueError("a trace needs at least one [t_s, value] point")
        if points[0][0] > 0:
            points.insert(0, (0.0, points[0][1]))
        self.times = [t for t, _ in points]
        self.values = [v for _, v in points]
        self.cumulative = [0.0]
        for i in range(1, len(points)):
            self.cumulative.append(self.cumulative[-1] + self.values[i - 1] * (self.times[i] - self.times[i - 1]))

    def value(self, t_s: float) -> float:
        return self.values[max(bisect.bisect_right(self.times, t_s) - 1, 0)]

    def integral(self, t_s: float) -> float:
        """Integral from 0 to `t_s` (value x seconds; joules for a power trace)."""
        if t_s <= 0:
            return 0.0
        i = bisect.bisect_right(self.times, t_s) - 1
        return self.cumulative[i] + self.values[i] * (t_s - self.times[i])


Script = TypeVar("Script", bound=ScriptModel)
Built = TypeVar("Built")


def load_script(path: str | Path, model: type[Script], what: str, build: Callable[[Script], Built]) -> Built:
    """Read a fake's JSON script, check it against `model` and `build` the fake from it (`what` names the script in
    messages, e.g. "fake NVML script"); a missing, unreadable or invalid file (an empty trace included) is one
    ConfigError line."""
    path = Path(path)
    try:
        data = read_json_bounded(path, error=ConfigError, missing=ConfigError)
    except ConfigError as error:
        raise ConfigError(f"{what} {error}") from None
    try:
        return build(model.model_validate(data))
    except ValidationError as error:
        raise ConfigError(f"{what} {path} is invalid: {validation_problem(error)}") from None
    except ValueError as error:
        raise ConfigError(f"{what} {path} is invalid: {str(error).splitlines()[0]}") from None
