"""CO2e and everyday equivalents, derived from the measured GPU energy and never mixed into it.

CO2e per 1000 queries = measured energy (Wh) x PUE x grid intensity (g CO2e/kWh) / 1000. PUE 1.0 (the
default) means the measured energy alone; a higher PUE adds the data centre's cooling and power losses as
an assumption, stated next to every figure it changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.errors import ConfigError

OWID_EMBER = ("Ember (2024), via Our World in Data, 'Carbon intensity of electricity generation', "
              "lifecycle g CO2e/kWh, year 2023: https://ourworldindata.org/grapher/carbon-intensity-electricity")
EMBER_WORLD = ("Ember (July 2024): world power sector 481 g CO2/kWh in 2023, as published by Statista: "
               "https://www.statista.com/statistics/943137/global-emissions-intensity-power-sector-by-country/")


@dataclass(frozen=True)
class GridIntensity:
    """An electricity grid's average carbon intensity, in g CO2e per kWh, for one year, with its source."""

    code: str
    name: str
    g_co2e_per_kwh: float
    year: int
    source: str


GRID_INTENSITIES: dict[str, GridIntensity] = {g.code: g for g in (
    GridIntensity("WORLD", "World average", 481.0, 2023, EMBER_WORLD),
    GridIntensity("NO", "Norway", 30.0, 2023, OWID_EMBER),
    GridIntensity("SE", "Sweden", 41.0, 2023, OWID_EMBER),
    GridIntensity("FR", "France", 56.0, 2023, OWID_EMBER),
    GridIntensity("BR", "Brazil", 98.0, 2023, OWID_EMBER),
    GridIntensity("CA", "Canada", 170.0, 2023, OWID_EMBER),
    GridIntensity("DE", "Germany", 381.0, 2023, OWID_EMBER),
    GridIntensity("AU", "Australia", 549.0, 2023, OWID_EMBER),
    GridIntensity("CN", "China", 582.0, 2023, OWID_EMBER),
    GridIntensity("PL", "Poland", 662.0, 2023, OWID_EMBER),
    GridIntensity("IN", "India", 713.0, 2023, OWID_EMBER),
)}
DEFAULT_GRID = "WORLD"


@dataclass(frozen=True)
class PuePreset:
    """A power usage effectiveness (facility energy / IT energy) with where it comes from."""

    name: str
    pue: float
    source: str


PUE_PRESETS: dict[str, PuePreset] = {p.name: p for p in (
    PuePreset("measured", 1.0, "No facility overhead: the measured GPU energy only (the default)."),
    PuePreset("hyperscale", 1.1, "An efficient hyperscale data centre; Google reports a fleet-wide trailing "
                                 "twelve-month PUE of about 1.10 (Google data centre efficiency reports)."),
    PuePreset("industry-average", 1.58, "Uptime Institute Global Data Center Survey 2023: industry "
                                        "average annual PUE 1.58."),
)}
MAX_PUE = 3.0

SMARTPHONE_CHARGE_WH = 19.0
SMARTPHONE_CHARGE_SOURCE = ("US EPA, Greenhouse Gas Equivalencies Calculator, calculations and references, "
                            "'Number of smartphones charged' (0.019 kWh per full charge): "
                            "https://www.epa.gov/energy/greenhouse-gases-equivalencies-calculator-calculations-and-references")
WEB_SEARCH_WH = 0.3
WEB_SEARCH_SOURCE = ("Google's own 2009 estimate of the energy of one web search (0.0003 kWh), the figure most "
                     "press articles quote: https://googleblog.blogspot.com/2009/01/powering-google-search.html")
LED_BULB_W = 10.0
"""A 10 W LED bulb (about the light of a 60 W incandescent bulb): hours of light per Wh are Wh / 10."""


def resolve_grid(code: str) -> GridIntensity:
    """The grid for a code such as FR, PL or WORLD (case-insensitive); unknown codes list the choices."""
    grid = GRID_INTENSITIES.get(code.strip().upper())
    if grid is None:
        raise ConfigError(f"unknown grid {code!r} (choose from {', '.join(sorted(GRID_INTENSITIES))})")
    return grid


def resolve_pue(value: str | float) -> float:
    """A PUE given as a number (1.0 to 3.0) or a preset name (measured, hyperscale, industry-average)."""
    if isinstance(value, str) and value.strip().lower() in PUE_PRESETS:
        return PUE_PRESETS[value.strip().lower()].pue
    try:
        pue = float(value)
    except ValueError:
        raise ConfigError(f"PUE {value!r} is not a number or one of {', '.join(PUE_PRESETS)}") from None
    if not math.isfinite(pue) or not 1.0 <= pue <= MAX_PUE:
        raise ConfigError(f"PUE must be between 1.0 and {MAX_PUE:g}, got {value}")
    return pue


@dataclass(frozen=True)
class Derived:
    """Figures derived from a measured energy (Wh per 1000 queries) under stated assumptions."""

    measured_wh: float
    pue: float
    facility_wh: float
    grid: GridIntensity
    co2e_g: float
    smartphone_charges: float
    led_bulb_hours: float

    @property
    def smartphone_charge_pct(self) -> float:
        return self.smartphone_charges * 100.0


def derive(measured_wh: float, grid: GridIntensity, pue: float = 1.0) -> Derived:
    """CO2e (g) and equivalents for `measured_wh` Wh of measured energy, scaled by `pue`."""
    if not math.isfinite(measured_wh) or measured_wh < 0:
        raise ValueError(f"energy must be finite and non-negative, got {measured_wh}")
    facility_wh = measured_wh * pue
    return Derived(
        measured_wh=measured_wh,
        pue=pue,
        facility_wh=facility_wh,
        grid=grid,
        co2e_g=facility_wh / 1000.0 * grid.g_co2e_per_kwh,
        smartphone_charges=facility_wh / SMARTPHONE_CHARGE_WH,
        led_bulb_hours=facility_wh / LED_BULB_W,
    )
