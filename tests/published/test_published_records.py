"""The shipped published records: byte-identical re-import from the kept raw files, counts, numbers exactly as
written, the AIES unit reading, flags, and the mapping onto the harness's tasks."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from harness.kinds import KINDS
from harness.published import load_published
from harness.published.catalogue import COLLECTIONS, ORIGINS
from harness.published.importing import IMPORTERS, import_source
from harness.tasks.registry import list_tasks

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "published"

COUNTS = {"mlenergy-v3": 1858, "mlenergy-v2": 474, "mlenergy-v1": 260, "aies-v1": 166, "aies-2025-12": 80}


@pytest.fixture(scope="module")
def records():
    return load_published(PUBLISHED)


@pytest.mark.parametrize("name", sorted(IMPORTERS))
def test_importing_the_kept_raw_files_again_gives_the_shipped_files_byte_for_byte(name):
    result = import_source(name, [PUBLISHED / "raw" / name])
    assert not result.skipped
    for relative, data in result.files.items():
        assert (PUBLISHED / relative).read_bytes() == data, relative
    shipped_raw = {p.relative_to(PUBLISHED).as_posix() for p in (PUBLISHED / "raw" / name).rglob("*") if p.is_file()}
    assert shipped_raw == {k for k in result.files if k.startswith("raw/")}  # nothing stale is kept beside them
    assert {c for c in COLLECTIONS.values() if c.importer == name} == {COLLECTIONS[c] for c in result.records}


def test_every_collection_ships_with_its_record_count(records):
    assert {p.stem for p in PUBLISHED.glob("*.jsonl")} == set(COLLECTIONS)
    counts: dict[str, int] = {}
    for record in records:
        counts[record.collection] = counts.get(record.collection, 0) + 1
    assert counts == COUNTS
    assert len({r.id for r in records}) == len(records)


def test_each_records_provenance_names_its_pinned_commit_and_the_hash_of_its_kept_raw_file(records):
    hashes: dict[str, str] = {}
    for record in records:
        prov = record.provenance
        origin = ORIGINS[COLLECTIONS[record.collection].importer]
        assert (prov.repository, prov.commit, prov.licence) == (origin.repository, origin.commit, origin.licence)
        if prov.raw not in hashes:
            hashes[prov.raw] = hashlib.sha256((PUBLISHED / prov.raw).read_bytes()).hexdigest()
        assert prov.sha256 == hashes[prov.raw]
        assert prov.raw == f"raw/{origin_name(record)}/{prov.path}"


def origin_name(record) -> str:
    return COLLECTIONS[record.collection].importer


def test_the_sha256sums_files_hold_every_raw_files_hash():
    for name in IMPORTERS:
        folder = PUBLISHED / "raw" / name
        for line in (folder / "SHA256SUMS").read_text().splitlines():
            digest, path = line.split("  ", 1)
            assert hashlib.sha256((folder / path).read_bytes()).hexdigest() == digest


def test_every_figure_is_the_files_own_text_and_its_value_only_rescaled(records):
    texts: dict[str, str] = {}
    for record in records:
        raw = texts.setdefault(record.provenance.raw, (PUBLISHED / record.provenance.raw).read_text("utf-8-sig"))
        for figure in record.figures:
            assert figure.as_written in raw
            factor = 1000 if figure.unit == "Wh/1000 queries" else 1
            assert figure.value == float(Decimal(figure.as_written) * factor)


def test_aies_figures_are_read_as_kwh_per_1000_queries_and_shown_in_wh():
    gpt2 = [r for r in load_published(PUBLISHED, ["aies-v1"]) if r.model == "openai-community/gpt2"]
    assert len(gpt2) == 1
    figure = gpt2[0].headline
    assert (figure.as_written, figure.unit_as_written, figure.unit_read_as) == ("0.002146239", None,
                                                                               "kWh per 1000 queries")
    assert (figure.value, figure.unit) == (2.146239, "Wh/1000 queries")
    assert gpt2[0].rating.stars == 5 and gpt2[0].rating.collection == "aies-v1"
    assert gpt2[0].rating.scope == "text_generation, class A" and gpt2[0].hardware.num_gpus == 1


def test_a_model_listed_twice_keeps_both_rows_flagged():
    flagged = [r for r in load_published(PUBLISHED, ["aies-v1"]) if "duplicate-model" in r.flags]
    assert sorted({r.model for r in flagged}) == ["facebook/detr-resnet-50-dc5",
                                                  "microsoft/swinv2-large-patch4-window12-192-22k"]
    assert len(flagged) == 4 and len({r.headline.as_written for r in flagged}) == 4


def test_the_december_round_lists_the_february_text_generation_rows_again_unchanged():
    v1 = {r.model: r for r in load_published(PUBLISHED, ["aies-v1"]) if r.task.source_task == "text_generation"}
    again = [r for r in load_published(PUBLISHED, ["aies-2025-12"]) if "earlier-measurement" in r.flags]
    assert len(again) == 40
    for record in again:
        earlier = v1[record.model]
        assert Decimal(earlier.headline.as_written).quantize(Decimal("1e-6")) == Decimal(record.headline.as_written)
        assert record.rating.collection == "aies-2025-12"


def test_names_that_are_not_hub_ids_and_variants_stay_as_written():
    rows = {r.model: r for r in load_published(PUBLISHED, ["aies-2025-12"])}
    assert rows["ibm-granite/*granite-4.0-h-tiny"].model_id is None
    low = rows["openai/gpt-oss-20b low"]
    assert (low.model_id, low.model_variant, low.flags) == ("openai/gpt-oss-20b", "low", ("variant-in-name",))


def test_unknown_stays_none(records):
    v2_images = [r for r in records if r.collection == "mlenergy-v2" and r.headline.unit == "J/image"]
    assert v2_images and all(r.hardware.num_gpus is None and r.protocol.precision is None for r in v2_images)
    class_c = [r for r in records if r.source == "aies" and r.protocol.settings.get("class") == "C"]
    assert class_c and all(r.hardware.num_gpus is None for r in class_c)


def test_mapped_tasks_exist_with_the_kind_they_claim_and_aies_covers_every_kind(records):
    tasks = {spec.id: spec.kind for spec in list_tasks(REPO / "tasks")}
    for record in records:
        if record.task.harness_task is not None:
            assert tasks[record.task.harness_task] == record.task.harness_kind, record.id
        else:
            assert record.task.harness_kind is None
    aies_kinds = {r.task.harness_kind for r in records if r.collection == "aies-v1"}
    assert aies_kinds == set(KINDS)
    mapped = {(r.collection, r.task.source_task, r.task.harness_task) for r in records
              if r.source == "mlenergy" and r.task.harness_task}
    assert ("mlenergy-v3", "lm-arena-chat", "text-gen-chat") in mapped
    assert ("mlenergy-v3", "gpqa", "text-gen-chat") in mapped
    assert ("mlenergy-v3", "text-to-image", "image-gen") in mapped
    assert ("mlenergy-v2", "diffusion/text-to-image", "image-gen") in mapped


def test_served_records_say_their_batch_cap_and_fixed_batches_their_size(records):
    for record in records:
        p = record.protocol
        if p.batching == "serving":
            assert p.max_concurrency is not None and p.batch_size is None
        elif p.batching == "fixed-batch":
            assert p.batch_size is not None and p.max_concurrency is None
