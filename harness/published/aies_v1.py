"""AI Energy Score v1 (February 2025): ten tasks, one H100, batch 1, 1000 queries, with its 1-5 star score.

No first-party copy is on GitHub (the data lives in the AIEnergyScore/Leaderboard Space on Hugging Face); this reads
the third-party copy in `ebbalg/AI-climate-overview`, `data/AI-energy-leaderboard/<task>.csv`
(`model,total_gpu_energy,energy_score[,class]`), which writes no unit.

The unit: AI Energy Score's documentation says GPU energy "measured in watt-hours per 1,000 queries", but the values
fit only kilowatt-hours per 1000 queries, so they are read as kWh (and `value` is in Wh per 1000 queries, the written
number times 1000). The evidence is in docs/comparability.md; `as_written` keeps the number untouched either way.

The methodology (huggingface/AIEnergyScore `index.md`, 9617ac21b9c9b733f7bf31168739a303bc12b6fa): NVIDIA H100 80GB,
batch size 1, 1000 queries per task, GPU energy only (CodeCarbon, through NVML), the preprocess, prefill and decode
phases summed, averaged over ten runs; FP32 for every task but text generation (FP16); text generation models in
three classes (A and B on a single GPU, C on several), rated within their class; stars cut the task's (class's)
energy range into five equal bands. Text generation's 10 new tokens (min = max) are optimum-benchmark's energy_star
configuration (docs/comparability.md).
"""

from __future__ import annotations

from harness.published.reading import (
    Context,
    Importer,
    SourceFile,
    csv_rows,
    duplicated,
    make_record,
    model_identity,
    number_text,
    scaled,
    text,
)
from harness.published.schema import PublishedRecord, SourceFileError

COLLECTION = "aies-v1"
GPU = "NVIDIA H100 80GB"
ENGINE = "optimum-benchmark (energy_star scenario)"
ENERGY_COUNTED = "GPU only (CodeCarbon, NVML): preprocess, prefill and decode summed, mean of 10 runs"
TEN_TOKENS = "10 new tokens (min = max)"
CLASSES = ("A", "B", "C")
UNIT_READ_AS = "kWh per 1000 queries"
UNIT_BASIS = ("none in the file; the docs say Wh per 1000 queries, but only kWh fits (optimum-benchmark reports kWh; "
              "as Wh, gpt2 would use 7.7 mJ a query): docs/comparability.md")

TASKS: dict[str, str] = {
    "text_generation": "text-gen", "summarization": "summarization", "text_classification": "text-classification",
    "question_answering": "question-answering", "sentence_similarity": "sentence-similarity",
    "image_generation": "image-gen", "image_classification": "image-classification",
    "object_detection": "object-detection", "image_captioning": "image-captioning", "asr": "speech-to-text",
}
"""AI Energy Score's ten tasks (its file names) -> the harness task of the same kind (each task's id is its kind)."""


def aies_figure(written: str) -> dict:
    """The AIES figure: the number as written, read as kWh per 1000 queries, normalised to Wh per 1000 queries."""
    return {"name": "total_gpu_energy", "as_written": written, "unit_as_written": None, "unit_read_as": UNIT_READ_AS,
            "unit_basis": UNIT_BASIS, "value": scaled(written, 1000), "unit": "Wh/1000 queries"}


def aies_rows(file: SourceFile, header: tuple[str, ...]) -> list[tuple[int, dict[str, str], list[str]]]:
    """The rows with each one's flags (a model named twice in the file: both rows kept, flagged)."""
    rows = csv_rows(file, header)
    twice = duplicated([cells["model"] for _line, cells in rows])
    return [(line, cells, ["duplicate-model"] if cells["model"] in twice else []) for line, cells in rows]


def stars(cells: dict[str, str], where: str) -> int:
    score = cells["energy_score"]
    if score not in ("1", "2", "3", "4", "5"):
        raise SourceFileError(f"{where}: energy_score {score[:20]!r} is not a star rating from 1 to 5")
    return int(score)


def model_class(cells: dict[str, str], where: str) -> str:
    value = cells["class"]
    if value not in CLASSES:
        raise SourceFileError(f"{where}: class {value[:20]!r} is not one of {', '.join(CLASSES)}")
    return value


def parse(file: SourceFile, ctx: Context) -> list[PublishedRecord]:
    task = file.path.rsplit("/", 1)[-1].removesuffix(".csv")
    if task not in TASKS:
        raise SourceFileError(f"{file.where()}: {task!r} is not one of AI Energy Score's ten tasks "
                              f"({', '.join(TASKS)})")
    text_generation = task == "text_generation"
    header = ("model", "total_gpu_energy", "energy_score") + (("class",) if text_generation else ())
    harness_task = TASKS[task]
    note = "--preset aies"
    records = []
    for index, (line, cells, flags) in enumerate(aies_rows(file, header)):
        where = file.where(f"line {line}")
        model = text(cells["model"], f"{where}: model")
        model_id, variant, name_flags = model_identity(model)
        energy = number_text(cells["total_gpu_energy"], f"{where}: total_gpu_energy")
        scope, settings, num_gpus = task, {}, None
        if text_generation:
            cls = model_class(cells, where)
            scope, settings = f"{task}, class {cls}", {"class": cls}
            num_gpus = 1 if cls in ("A", "B") else None  # A and B "must be conducted on a single GPU"; C on several
        protocol = {"engine": ENGINE, "batching": "fixed-batch", "batch_size": 1, "queries": 1000,
                    "precision": "FP16" if text_generation else "FP32",
                    "output_length": TEN_TOKENS if text_generation else None,
                    "energy_counted": ENERGY_COUNTED, "settings": settings}
        records.append(make_record(
            ctx, file, index, f"line {line}", COLLECTION, model=model, model_id=model_id, model_variant=variant,
            task={"source_task": task, "harness_task": harness_task, "harness_kind": harness_task, "note": note},
            hardware={"gpu": GPU, "num_gpus": num_gpus}, figures=[aies_figure(energy)],
            rating={"stars": stars(cells, where), "collection": COLLECTION, "scope": scope},
            protocol=protocol, flags=flags + name_flags))
    return records


IMPORTER = Importer(
    name="aies-v1", patterns=("data/AI-energy-leaderboard/*.csv",), collections=(COLLECTION,), parse=parse,
    description="AI Energy Score v1: data/AI-energy-leaderboard/*.csv of ebbalg/AI-climate-overview (a copy)",
)
