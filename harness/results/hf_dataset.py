"""Result files as a Hugging Face dataset: Arrow types derived from the schema, and a dataset card.

`datasets` types a set of JSON files from the first file it reads, where a JSON null or an empty list has no
type of its own: a CPU run read first (no GPUs, no intervals) makes every GPU run after it fail to cast.
Declaring the types makes any set of 2.0 result files (any task, hardware, order) load together, every value
as written. They are derived from `schema.ResultFile` (its 2.0 file layout, where every key has one type), so
they cannot drift from the format. 1.x files (maps keyed by GPU index) load after `harness export --format
dataset`, which writes them in the 2.0 layout.
"""

from __future__ import annotations

import hashlib
import types
import typing
from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, PlainSerializer

from harness.errors import ConfigError
from harness.results.schema import SCHEMA_VERSION, ResultFile

_SCALAR_DTYPES = {str: "string", int: "int64", float: "float64", bool: "bool", datetime: "timestamp[us, tz=UTC]"}
"""Timestamps are UTC instants (the schema refuses any other offset): Arrow's JSON reader reads ISO 8601 text as
timestamps, and a string type would give them back without their offset."""


def _datasets():
    try:
        import datasets
    except ImportError:
        raise ConfigError("loading results as a Hugging Face dataset needs the datasets package: "
                          "pip install 'ai-energy-harness[run]'") from None
    return datasets


def _file_layout(metadata) -> Any | None:
    """The type a field has in a file, where its serializer gives it another than in Python (schema 2.0)."""
    for item in metadata:
        if isinstance(item, PlainSerializer) and item.when_used == "json":
            return item.return_type
    return None


def _feature(value_type, annotation: Any, where: str, metadata=()):
    """The `datasets` feature (built with `value_type`, `datasets.Value`) of one schema annotation, as the field is
    laid out in a file; an annotation with no single Arrow type is an error naming the field, so a new schema
    field of a new kind fails the tests instead of loading wrong."""
    layout = _file_layout(metadata)
    if layout is not None:
        return _feature(value_type, layout, where)
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *extra = typing.get_args(annotation)
        return _feature(value_type, base, where, extra)
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _feature(value_type, members[0], where)
        raise TypeError(f"{where}: no single Arrow type for {annotation}")
    if origin is Literal:
        if all(isinstance(value, str) for value in typing.get_args(annotation)):
            return value_type("string")
        raise TypeError(f"{where}: only string literals have an Arrow type here, not {annotation}")
    if origin is list:
        (item,) = typing.get_args(annotation)
        return [_feature(value_type, item, f"{where}[]")]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {name: _feature(value_type, field.annotation, f"{where}.{name}", field.metadata)
                for name, field in annotation.model_fields.items()}
    if annotation in _SCALAR_DTYPES:
        return value_type(_SCALAR_DTYPES[annotation])
    raise TypeError(f"{where}: no single Arrow type for {annotation}")


def result_features():
    """The `datasets.Features` of a result file (a key an older 2.x file lacks is null). Pass them to
    `datasets.load_dataset("json", data_files=..., features=...)`."""
    datasets = _datasets()
    return datasets.Features(_feature(datasets.Value, ResultFile, "result"))


def data_file_name(records: bytes) -> str:
    """Where a dataset export puts its records (one result per line), relative to its card: named by their SHA-256.
    `datasets` caches a local folder under its name and its card's file names, not their contents, so two exports
    with the same folder name would otherwise load as whichever was loaded first."""
    return f"data/results-{hashlib.sha256(records).hexdigest()[:16]}.jsonl"


def dataset_card(*, num_runs: int, task_kinds: list[str], data_files: str) -> str:
    """A dataset card (README.md) whose YAML header declares the data files and their types, so
    `datasets.load_dataset(FOLDER)` and the Hub's dataset viewer read the records typed, with no arguments."""
    datasets = _datasets()
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    card = DatasetCardData(configs=[{"config_name": "default",
                                     "data_files": [{"split": "train", "path": data_files}]}],
                           tags=["energy", "benchmark"])
    DatasetInfosDict({"default": datasets.DatasetInfo(features=result_features())}).to_dataset_card_data(card)
    listing = ", ".join(sorted(set(task_kinds)))
    return (f"---\n{card.to_yaml()}\n---\n\n"
            f"# Energy benchmark results\n\n"
            f"{num_runs} result files written by `harness run`, one per row, in `{data_files}`; task kinds: "
            f"{listing}. Every row is in the layout of schema {SCHEMA_VERSION} (its `schema_version` says which "
            f"version it was written in).\n\n"
            "Every key is a result file's own, units in the names (`..._wh`, `..._j`, `..._s`, `..._w`). The "
            "headline is `figures.gpu_energy_per_1k_queries_wh`: GPU energy per 1000 queries, mean and 95 % "
            "interval over the repetitions. Per-GPU figures are lists of `{gpu_index, value}`; free-form parts "
            "(`task.spec`, `settings.overrides`, ...) are JSON text.\n\n"
            "```python\nimport datasets\nruns = datasets.load_dataset(\"path/to/this/folder\", split=\"train\")\n"
            "```\n\nA flat table of the same runs (one column per figure): `harness export ... --format parquet`.\n")
