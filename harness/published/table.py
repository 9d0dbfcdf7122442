"""Published records as rows of the results table (`harness.results.table.COLUMNS`), for
`harness.load_results(..., published=True)`.

A row says what it is in `source` (its collection, `aies-v1`; a harness result's row says `measured`), and keeps the
figure exactly as written (`source_figure_as_written`, `source_unit_as_written`) beside the table's unit columns:
a figure per request, image or video becomes `gpu_energy_per_1k_queries_wh` (J / 3.6; one request, image or video
is one query), a figure per token `gpu_energy_per_output_token_j`. Nothing the source does not state is filled in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.published.schema import PublishedRecord
from harness.results.table import COLUMNS

_PER_QUERY_J = ("J/request", "J/image", "J/video")


def published_row(record: PublishedRecord) -> dict[str, Any]:
    """One record as a flat dict with exactly the keys of COLUMNS (None where the source states nothing)."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    p, headline = record.protocol, record.headline
    per_1k = record.figure("Wh/1000 queries")
    per_query = next((f for f in record.figures if f.unit in _PER_QUERY_J), None)
    per_token = record.figure("J/token")
    row.update({
        "run_id": record.id, "task_id": record.task.harness_task, "task_kind": record.task.harness_kind,
        "model_id": record.model_id or record.model, "model_dtype": p.precision, "num_gpus": record.hardware.num_gpus,
        "gpu_model": record.hardware.gpu, "num_queries": p.queries,
        "batch_size": p.batch_size if p.batching == "fixed-batch" else p.max_concurrency,
        "gpu_energy_per_1k_queries_wh": per_1k.value if per_1k is not None
        else per_query.value / 3.6 if per_query is not None else None,
        "gpu_energy_per_output_token_j": per_token.value if per_token is not None else None,
        "output_length_mean_tokens": p.mean_output_tokens,
        "source": record.collection, "source_file": f"{record.provenance.repository}@{record.provenance.commit}:"
                                                     f"{record.provenance.path} ({record.provenance.row})",
        "source_task": record.task.source_task, "source_stars": record.rating.stars if record.rating else None,
        "source_figure_as_written": headline.as_written, "source_unit_as_written": headline.unit_as_written,
        "source_unit_read_as": headline.unit_read_as,
    })
    return row


def published_rows(records: Iterable[PublishedRecord]) -> list[dict[str, Any]]:
    return [published_row(record) for record in records]
