"""ML.ENERGY Leaderboard v2 (September 2024) and its legacy v1 tables (July 2023), from `ml-energy/leaderboard-v2`.

v2: one JSON file per configuration, `data/<category>/<task>/<GPU>/<org>/<model>/<config>.json` (the folders are the
source's own layout, `schema.yaml`). Its About page (`docs/about.md`): vLLM 0.5.4 serves the LLMs and VLMs under
load (every request submitted at once, the server's maximum batch size limited to set the load, energy over the
steady state only); Diffusers 0.29.2 runs the diffusion models in batches back to back; Zeus measures GPU energy;
A100-SXM4-40GB and H100 80GB HBM3. `TP * PP is the total number of GPUs used` (its column notes in `app.py`).

v1 (legacy): `data/legacy/<GPU>_<task>_benchmark.csv`, one row per model. Its column notes (`docs/leaderboard.md`
at the repository's tag 2024-02-18, 710a6351f90352933c720612a1a67e5318165b94): `energy` (J) is "the average GPU energy
consumed by the model to generate a response"; FastChat on PyTorch 2.0.1, batch size 1, FP16, temperature 0.7,
prompts sampled from ShareGPT with one system prompt per task. The CSV itself writes no unit.
"""

from __future__ import annotations

import re

from harness.published.reading import (
    Context,
    Importer,
    SourceFile,
    as_float,
    as_int,
    csv_rows,
    duplicated,
    json_document,
    json_number,
    json_object,
    make_record,
    model_identity,
    number_text,
    text,
)
from harness.published.schema import PublishedRecord, SourceFileError

V2, V1 = "mlenergy-v2", "mlenergy-v1"

LLM_KEYS = frozenset({"Model", "GPU", "TP", "PP", "Energy/req (J)", "Avg TPOT (s)", "Token tput (tok/s)",
                      "Avg Output Tokens", "Avg BS (reqs)", "Max BS (reqs)"})
IMAGE_KEYS = frozenset({"Model", "GPU", "Energy/image (J)", "Batch latency (s)", "Batch size", "Denoising steps"})
VIDEO_KEYS = frozenset({"Model", "GPU", "Energy/video (J)", "Batch latency (s)", "Batch size", "Denoising steps",
                        "Frames"})

V2_TASKS: dict[str, tuple[str, str, tuple[str | None, str | None, str | None]]] = {
    "llm_text_generation/chat": ("Chat", "500 human prompts from ShareGPT", (
        "text-gen-chat", "text-gen", "--engine vllm, concurrency = Max BS")),
    "llm_text_generation/code": ("Code", "HumanEval+ from EvalPlus", (None, None, None)),
    "mllm_text_generation/chat": ("Visual chat", "500 image and prompt pairs from the LLaVA instruction dataset",
                                  (None, None, None)),
    "diffusion/text-to-image": ("Text to image", "prompts from PartiPrompts", (
        "image-gen", "image-gen", "the row's batch size and steps")),
    "diffusion/text-to-video": ("Text to video", "captions from ShareGPT4Video", (None, None, None)),
    "diffusion/image-to-video": ("Image to video", "caption and first frame pairs from ShareGPT4Video",
                                 (None, None, None)),
}
"""`<category>/<task>` -> (the source's tab title, its dataset, (harness task, kind, how a run matches it))."""

V1_GPUS = ("A100", "A40", "V100")
V1_TASKS = ("chat", "chat-concise", "instruct", "instruct-concise")
V1_HEADER = ("model", "throughput", "response_length", "latency", "energy")
V1_NOTE = "batch 1, --engine transformers"
V1_BASIS = "none in the CSV; v1's docs/leaderboard.md (tag 2024-02-18): `energy` (J) per response"


def _v2_figure(key: str, value: str, unit: str, words: str) -> dict:
    return {"name": key, "as_written": value, "unit_as_written": "J", "unit_read_as": words,
            "unit_basis": "the key's `(J)`", "value": as_float(value), "unit": unit}


def _parse_v2(file: SourceFile, ctx: Context) -> list[PublishedRecord]:
    _data, category, task, _gpu, org, model_folder, _name = file.path.split("/")
    source_task = f"{category}/{task}"
    if source_task not in V2_TASKS:
        raise SourceFileError(f"{file.where()}: {source_task!r} is not a v2 task ({', '.join(V2_TASKS)})")
    title, dataset, (harness_task, kind, note) = V2_TASKS[source_task]
    row, where = "whole file", file.where()
    config = json_document(file)
    llm = category.endswith("text_generation")
    video = isinstance(config, dict) and "Energy/video (J)" in config
    json_object(config, LLM_KEYS if llm else VIDEO_KEYS if video else IMAGE_KEYS, where)
    model = text(config["Model"], f"{where}: Model")
    model_id, variant, flags = model_identity(model)
    if model != f"{org}/{model_folder}":
        flags.append("not-shown-by-source")

    def integer(key: str) -> int:
        return as_int(json_number(config[key], f"{where}: {key}", integer=True))

    if llm:
        tp, pp = integer("TP"), integer("PP")
        figures = [_v2_figure("Energy/req (J)", json_number(config["Energy/req (J)"], f"{where}: Energy/req (J)"),
                              "J/request", "J per request (one response)")]
        hardware = {"gpu": text(config["GPU"], f"{where}: GPU"), "num_gpus": tp * pp}
        protocol = {"engine": "vLLM", "engine_version": "0.5.4", "batching": "serving",
                    "max_concurrency": integer("Max BS (reqs)"),
                    "mean_batch_size": as_float(json_number(config["Avg BS (reqs)"], f"{where}: Avg BS (reqs)")),
                    "output_length": "natural length (each response runs to the model's end)",
                    "mean_output_tokens": as_float(json_number(config["Avg Output Tokens"],
                                                               f"{where}: Avg Output Tokens")),
                    "dataset": dataset, "energy_counted": "GPU only (Zeus), steady state",
                    "settings": {"TP": tp, "PP": pp}}
    else:
        key = "Energy/video (J)" if video else "Energy/image (J)"
        figures = [_v2_figure(key, json_number(config[key], f"{where}: {key}"), "J/video" if video else "J/image",
                              "J per video" if video else "J per image")]
        hardware = {"gpu": text(config["GPU"], f"{where}: GPU"), "num_gpus": None}
        settings = {"Denoising steps": integer("Denoising steps")} | ({"Frames": integer("Frames")} if video else {})
        protocol = {"engine": "Diffusers", "engine_version": "0.29.2", "batching": "fixed-batch",
                    "batch_size": integer("Batch size"), "dataset": dataset,
                    "energy_counted": "GPU only (Zeus), batches run back to back", "settings": settings}
    mapping = {"source_task": source_task, "source_task_title": title, "harness_task": harness_task,
               "harness_kind": kind, "note": note}
    return [make_record(ctx, file, 0, row, V2, model=model, model_id=model_id, model_variant=variant, task=mapping,
                        hardware=hardware, figures=figures, protocol=protocol, flags=flags)]


_V1_NAME = re.compile(r"^([^_]+)_(.+)_benchmark\.csv$")


def _parse_v1(file: SourceFile, ctx: Context) -> list[PublishedRecord]:
    name = file.path.rsplit("/", 1)[-1]
    match = _V1_NAME.match(name)
    if match is None or match.group(1) not in V1_GPUS or match.group(2) not in V1_TASKS:
        raise SourceFileError(f"{file.where()}: not one of v1's <GPU>_<task>_benchmark.csv files (GPU "
                              f"{'/'.join(V1_GPUS)}, task {'/'.join(V1_TASKS)})")
    gpu, task = match.groups()
    rows = csv_rows(file, V1_HEADER)
    twice = duplicated([cells["model"] for _line, cells in rows])
    records = []
    for index, (line, cells) in enumerate(rows):
        where = file.where(f"line {line}")
        model = text(cells["model"], f"{where}: model")
        model_id, variant, flags = model_identity(model)
        if model in twice:
            flags.append("duplicate-model")
        energy = number_text(cells["energy"], f"{where}: energy")
        figure = {"name": "energy", "as_written": energy, "unit_as_written": None, "unit_read_as": "J per response",
                  "unit_basis": V1_BASIS, "value": as_float(energy), "unit": "J/request"}
        protocol = {"engine": "FastChat (PyTorch 2.0.1)", "batching": "fixed-batch", "batch_size": 1,
                    "precision": "FP16", "output_length": "natural length (sampled, temperature 0.7)",
                    "mean_output_tokens": as_float(number_text(cells["response_length"], f"{where}: response_length")),
                    "dataset": f"ShareGPT prompts, the {task} task's system prompt",
                    "energy_counted": "GPU only (Zeus), mean per response"}
        mapping = {"source_task": task, "source_task_title": None, "harness_task": "text-gen-chat",
                   "harness_kind": "text-gen", "note": V1_NOTE}
        records.append(make_record(ctx, file, index, f"line {line}", V1, model=model, model_id=model_id,
                                   model_variant=variant, task=mapping, hardware={"gpu": gpu, "num_gpus": None},
                                   figures=[figure], protocol=protocol, flags=flags))
    return records


def parse(file: SourceFile, ctx: Context) -> list[PublishedRecord]:
    return _parse_v1(file, ctx) if file.path.startswith("data/legacy/") else _parse_v2(file, ctx)


IMPORTER = Importer(
    name="mlenergy-v2", patterns=("data/legacy/*_benchmark.csv", "data/*/*/*/*/*/*.json"), collections=(V2, V1),
    parse=parse,
    description="ML.ENERGY Leaderboard v2 (data/<category>/<task>/<GPU>/<org>/<model>/*.json) and v1 "
                "(data/legacy/*_benchmark.csv) of ml-energy/leaderboard-v2",
)
