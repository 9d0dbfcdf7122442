"""Other projects' published measurements (ML.ENERGY, AI Energy Score), imported as typed records, never as results.

    from harness.published import load_published
    records = load_published()            # list[PublishedRecord], every collection that ships in published/

`schema` (the record), `catalogue` (each source and round, its repository, commit and licence), one module per
source (`mlenergy_v3`, `mlenergy_v2`, `aies_v1`, `aies_2025`), `importing` (`harness import`), `store` (reading the
shipped records), `compare` (`harness compare`) and `table` (the rows `harness.load_results(published=True)` adds).
"""

from __future__ import annotations

from harness.published.schema import PublishedRecord
from harness.published.store import load_published

__all__ = ["PublishedRecord", "load_published"]
