"""A published record: one figure another project published, typed, with where it came from and how it was measured.

A record is never a harness measurement and never becomes one: it keeps the source's number exactly as written
(`Figure.as_written`, the text in the file), the unit the source writes (None where the file writes none), the
unit it was read in and why, and the same figure in one normalised unit. Everything the source does not state is
None; nothing is filled in by guessing. Records are written one per line, with sorted keys, to
`published/<collection>.jsonl` (`harness.published.importing`), and read back by `harness.published.store`.

`PUBLISHED_SCHEMA_VERSION` follows the result file's rule: adding a field bumps it; every older file stays readable.
"""

from __future__ import annotations

import typing
from typing import Literal

from pydantic import Field

from harness.errors import HarnessError, ResultFileError
from harness.kinds import StrictModel, TaskKind

PUBLISHED_SCHEMA_VERSION = "1.0"

Source = Literal["mlenergy", "aies"]
"""Who published: the ML.ENERGY Leaderboard (University of Michigan's ML.ENERGY initiative), AI Energy Score
(Hugging Face and partners)."""

NormalisedUnit = Literal["Wh/1000 queries", "J/token", "J/request", "J/image", "J/video"]
"""The unit a figure is normalised to, as the source measures it: AI Energy Score per 1000 queries; ML.ENERGY per
output token, per request (response), per image or per video. Never converted into another of these."""
NORMALISED_UNITS: tuple[str, ...] = typing.get_args(NormalisedUnit)

Flag = Literal["duplicate-model", "model-name-not-an-id", "variant-in-name", "not-shown-by-source",
               "earlier-measurement"]
FLAGS: dict[str, str] = {
    "duplicate-model": "the model appears more than once in this file with different values; every row is kept",
    "model-name-not-an-id": "the model name as written is not a Hub id (owner/name), so it matches no model id",
    "variant-in-name": "the model name as written carries a variant after a space (e.g. a reasoning effort); "
                       "model_id is the part before it",
    "not-shown-by-source": "the source's own app does not show this row (its folder is not the model id the row "
                           "names)",
    "earlier-measurement": "measured in an earlier round (the row's test date) and listed again in this one",
}
"""What each flag means, in the words a page shows next to a flagged row."""


class SourceFileError(HarnessError):
    """A source file that cannot be imported (unreadable, too large, not the format its source publishes, a value
    that is not a number): one line naming the file and the place, and nothing is imported."""

    exit_code = ResultFileError.exit_code


class Figure(StrictModel):
    """One energy figure as the source wrote it, and the same figure in the normalised unit."""

    name: str
    """The source's own key or column for it (`energy_per_token_joules`, `Energy/req (J)`, `total_gpu_energy`)."""
    as_written: str
    """The number exactly as the file spells it."""
    unit_as_written: str | None
    """The unit the file itself writes (in the key, the column header); None where it writes none."""
    unit_read_as: str
    """The unit the figure was read in, in words (`kWh per 1000 queries`)."""
    unit_basis: str
    """Why it was read so: the key or header that says it, or, where the file says nothing, the evidence."""
    value: float
    """The figure in `unit`: the number as written, scaled only by the power of ten its unit reading implies."""
    unit: NormalisedUnit


class Hardware(StrictModel):
    gpu: str | None
    """The GPU model as the source names it (`B200`, `NVIDIA H100 80GB HBM3`, `A100`)."""
    num_gpus: int | None = Field(None, ge=1)
    """GPUs the figure covers, where the source states it (its own field, or TP x PP as its page defines)."""


class TaskMapping(StrictModel):
    source_task: str
    """The source's own name for the task (`lm-arena-chat`, `text_generation`)."""
    source_task_title: str | None = None
    harness_task: str | None = None
    """The harness task the source's task matches (a task id in `tasks/`), None where none does."""
    harness_kind: TaskKind | None = None
    note: str | None = None
    """How a harness run is set up to match it (`--preset aies`; `--engine vllm`, concurrency = the batch cap)."""


class Rating(StrictModel):
    """The source's own star rating, valid only within the round and group it was computed in."""

    stars: int = Field(ge=1, le=5)
    collection: str
    """The round it belongs to (ratings are recomputed at each release)."""
    scope: str
    """What it was rated among (`text_generation, class A`)."""


class Protocol(StrictModel):
    """What the source states about how it measured; None where it states nothing."""

    engine: str | None = None
    engine_version: str | None = None
    batching: Literal["fixed-batch", "serving"] | None = None
    """`fixed-batch`: every call gets `batch_size` inputs; `serving`: a server under load, `max_concurrency` cap."""
    batch_size: int | None = Field(None, ge=1)
    max_concurrency: int | None = Field(None, ge=1)
    """Serving: the most requests the server batches (vLLM's `max_num_seqs`, ML.ENERGY v2's `Max BS`)."""
    mean_batch_size: float | None = None
    precision: str | None = None
    """As the source states it (`bfloat16`, `fp8`, `FP16`, `FP32`)."""
    output_length: str | None = None
    """The rule for how much each query generates (`10 new tokens (min = max)`, `natural length`)."""
    mean_output_tokens: float | None = None
    queries: int | None = Field(None, ge=1)
    dataset: str | None = None
    energy_counted: str | None = None
    """What the figure counts (`GPU only, steady state (Zeus)`)."""
    settings: dict[str, int | float | str] = Field(default_factory=dict)
    """Other settings the row states, by the source's own key, as written (parallelism, steps, image size, class)."""


class Provenance(StrictModel):
    repository: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
    """`owner/name` on GitHub."""
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")
    path: str
    """The file in the repository."""
    row: str
    """Where in the file: `line 3` (CSV, counting the header as line 1), `configurations[12]` (JSON), `whole file`."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Of the raw file, as imported (its copy is `raw`)."""
    raw: str
    """The kept copy, relative to the published folder (`raw/aies-v1/data/AI-energy-leaderboard/asr.csv`)."""
    licence: str
    """The licence status, in words (`harness.published.catalogue`)."""


class PublishedRecord(StrictModel):
    """One row of a source: one model, task, hardware and setting, and its figure(s)."""

    schema_version: Literal["1.0"] = PUBLISHED_SCHEMA_VERSION
    id: str
    """`<collection>/<path>#<index>`: unique among every published record, stable across re-imports."""
    collection: str
    """The source and round (`mlenergy-v3`, `aies-v1`): one file of records, one group on a page."""
    source: Source
    round: str
    model: str
    """The model as the source writes it."""
    model_id: str | None
    """The Hub id (`owner/name`) the written name is, with a variant split off; None where it is not one."""
    model_variant: str | None = None
    task: TaskMapping
    hardware: Hardware
    figures: tuple[Figure, ...] = Field(min_length=1)
    """The source's headline figure first (`headline`), then any other it writes for the same row."""
    rating: Rating | None = None
    protocol: Protocol
    flags: tuple[Flag, ...] = ()
    provenance: Provenance

    @property
    def headline(self) -> Figure:
        return self.figures[0]

    def figure(self, unit: str) -> Figure | None:
        """The figure in `unit` (one of `NORMALISED_UNITS`), or None."""
        return next((f for f in self.figures if f.unit == unit), None)
