"""The one Jinja2 environment of the site, labels and badges: autoescape always on (HTML and SVG alike).

Every string from a result file (model ids, warnings, task specs) reaches a page through this
environment, so it is escaped whatever template it lands in.
"""

from __future__ import annotations

import contextlib
import math
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined

TEMPLATES_DIR = Path(__file__).with_name("templates")


def interval(figure) -> str:
    """A figure's 95 % interval as `[1.2, 1.4]` (a dash between bounds reads as a minus sign when one is negative;
    no thousands commas inside), or why there is none (a single repetition has no spread)."""
    if figure is None:
        return "—"
    if figure.ci95_low is None or figure.ci95_high is None:
        return "no interval (one repetition)" if figure.n == 1 else "no interval"
    return f"[{sig(figure.ci95_low, grouped=False)}, {sig(figure.ci95_high, grouped=False)}]"


def sig(value: float | None, digits: int = 3, grouped: bool = True) -> str:
    """A number with `digits` significant digits, plain notation (no exponent) for readers, thousands grouped with
    commas unless `grouped` is False; '—' when missing."""
    if value is None or not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:{',' if grouped else ''}.{decimals}f}"


def num(value: float) -> str:
    """A number for a `data-v` sort key: 6 significant digits are plenty to order by, and keep pages small."""
    return format(value, ".6g")


def params(num_parameters: int) -> str:
    """Parameter count in words: 1.2B, 350M, 7.0K."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if num_parameters >= scale:
            return f"{num_parameters / scale:.3g}{unit}"
    return str(num_parameters)


def day(value: datetime) -> str:
    return value.isoformat()[:10]


def minute(value: datetime) -> str:
    return value.isoformat(sep=" ")[:16]


def stars_text(stars: int | None) -> str:
    return "not rated" if stars is None else "★" * stars + "☆" * (5 - stars)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates ship with the package: no stat of the source at every page of a build
    )
    env.filters.update(num=num, sig=sig, params=params, day=day, minute=minute, stars_text=stars_text,
                       interval=interval)
    return env


class _CompiledTemplates(FileSystemBytecodeCache):
    """Jinja's cache of compiled templates, sealed as the summary cache is (`leaderboard.cache.seal`): a compiled
    template is Python code that rendering runs, so one this harness did not write (planted in a shared CI cache,
    or edited) is never loaded, only compiled again. Written atomically; a failed write only means compiling
    again next time."""

    def load_bytecode(self, bucket) -> None:
        from leaderboard.cache import read_sealed

        payload = read_sealed(Path(self._get_cache_filename(bucket)))
        if payload is not None:
            bucket.bytecode_from_string(payload)  # Jinja checks its own magic and the template's checksum too

    def dump_bytecode(self, bucket) -> None:
        from harness.errors import HarnessError
        from harness.files import write_bytes_atomic
        from leaderboard.cache import seal

        with contextlib.suppress(HarnessError):
            write_bytes_atomic(Path(self._get_cache_filename(bucket)), seal(bucket.bytecode_to_string()),
                               overwrite=True)


def cache_compiled_templates(folder: Path | None) -> None:
    """Keep the compiled templates in `folder` (in a build's `--cache-dir`; None: nowhere): a rebuild that renders
    the index and a few pages loads them instead of compiling them again. A folder that cannot be made is only a
    slower build."""
    environment().bytecode_cache = None
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return
        environment().bytecode_cache = _CompiledTemplates(str(folder))


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
