"""AI Energy Score, December 2025 round: text generation and the new reasoning task (80 rows with stars).

A third-hand copy: `henryblanchard/climate-impact-calculator`, `data/raw/aie/{text_generation,reasoning}.csv`,
downloaded on 2026-02-13 from the AIEnergyScore/Leaderboard Space (its `data/raw/aie/README.md`), with the columns
`model,total_gpu_energy,energy_score,class,test date`. The unit is read as in v1 (kWh per 1000 queries; see
`harness.published.aies_v1`). The round lists again the text generation rows measured in February 2025 (test date
`Feb 25`: the v1 values rounded to six decimals; models already measured are not measured again, per the
methodology) beside the new ones (`Dec 25`), and stars all of them anew: each star belongs to this round.

The methodology of the round (huggingface/AIEnergyScore `index.md`, 520e76c of 2025-11-25) keeps H100s, batch 1,
1000 queries, GPU energy summed over the phases, FP16 for text generation and three classes, and measures through
Neuralwatt's AI Energy Benchmarks; it states no output length for the new rows (nor, for reasoning, a cap). A model
named with a reasoning effort (`openai/gpt-oss-20b low`) keeps it as its variant.
"""

from __future__ import annotations

from harness.published.aies_v1 import ENERGY_COUNTED, GPU, TEN_TOKENS, aies_figure, aies_rows, model_class, stars
from harness.published.reading import Context, Importer, SourceFile, make_record, model_identity, number_text, text
from harness.published.schema import PublishedRecord, SourceFileError

COLLECTION = "aies-2025-12"
HEADER = ("model", "total_gpu_energy", "energy_score", "class", "test date")
TASKS: dict[str, tuple[str, str]] = {
    "text_generation": ("text-gen", "--preset aies (rows tested Feb 25); Dec 25 settings not stated"),
    "reasoning": ("text-gen-chat", "enable_thinking on; the source's length cap is not stated"),
}
ENGINES = {"Feb 25": "optimum-benchmark (energy_star scenario)", "Dec 25": "AI Energy Benchmarks (Neuralwatt)"}
"""What measured each test date's rows, per the methodology of the time."""


def parse(file: SourceFile, ctx: Context) -> list[PublishedRecord]:
    task = file.path.rsplit("/", 1)[-1].removesuffix(".csv")
    if task not in TASKS:
        raise SourceFileError(f"{file.where()}: {task!r} is not one of the round's tasks ({', '.join(TASKS)})")
    harness_task, note = TASKS[task]
    records = []
    for index, (line, cells, flags) in enumerate(aies_rows(file, HEADER)):
        where = file.where(f"line {line}")
        model = text(cells["model"], f"{where}: model")
        model_id, variant, name_flags = model_identity(model)
        energy = number_text(cells["total_gpu_energy"], f"{where}: total_gpu_energy")
        cls = model_class(cells, where)
        tested = text(cells["test date"], f"{where}: test date")
        earlier = tested == "Feb 25"
        protocol = {"engine": ENGINES.get(tested), "batching": "fixed-batch", "batch_size": 1, "queries": 1000,
                    "precision": "FP16" if task == "text_generation" else None,
                    "output_length": TEN_TOKENS if earlier and task == "text_generation" else None,
                    "energy_counted": ENERGY_COUNTED, "settings": {"class": cls, "test date": tested}}
        records.append(make_record(
            ctx, file, index, f"line {line}", COLLECTION, model=model, model_id=model_id, model_variant=variant,
            task={"source_task": task, "harness_task": harness_task, "harness_kind": "text-gen", "note": note},
            hardware={"gpu": GPU, "num_gpus": 1 if cls in ("A", "B") else None}, figures=[aies_figure(energy)],
            rating={"stars": stars(cells, where), "collection": COLLECTION, "scope": f"{task}, class {cls}"},
            protocol=protocol, flags=flags + name_flags + (["earlier-measurement"] if earlier else [])))
    return records


IMPORTER = Importer(
    name="aies-2025", patterns=("data/raw/aie/*.csv",), collections=(COLLECTION,), parse=parse,
    description="AI Energy Score, December 2025 round: data/raw/aie/*.csv of henryblanchard/climate-impact-calculator "
                "(a copy of the Space's files)",
)
