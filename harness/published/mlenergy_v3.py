"""ML.ENERGY Leaderboard v3 (December 2025): `public/data/tasks/<task>.json` of `ml-energy/leaderboard`, one record per
configuration.

What the source states (its About page, `src/components/AboutPage.tsx`): vLLM serves the LLMs and MLLMs, xDiT the
diffusion models; H100 80GB HBM3 and B200 servers; GPU energy measured with Zeus, reported per output unit (joule per
token, image or video) in the steady state, "after the server reaches thermal and throughput equilibrium". Each row
is one configuration: a GPU model and count, parallelism, and for LLMs the server's batch cap (`max_num_seqs`) and
the mean batch it reached; for diffusion models the batch size, steps and output size.
"""

from __future__ import annotations

from harness.published.reading import (
    Context,
    Importer,
    SourceFile,
    as_float,
    as_int,
    json_document,
    json_number,
    json_object,
    make_record,
    model_identity,
    text,
)
from harness.published.schema import PublishedRecord, SourceFileError

COLLECTION = "mlenergy-v3"
ENERGY_COUNTED = "GPU only (Zeus), steady state"

LLM_KEYS = frozenset({
    "activated_params_billions", "architecture", "avg_batch_size", "avg_output_len", "avg_power_watts",
    "data_parallel", "energy_per_request_joules", "energy_per_token_joules", "expert_parallel", "gpu_model",
    "max_num_seqs", "median_itl_ms", "model_id", "nickname", "num_gpus", "output_throughput_tokens_per_sec",
    "p90_itl_ms", "p95_itl_ms", "p99_itl_ms", "tensor_parallel", "total_params_billions", "weight_precision",
})
DIFFUSION_KEYS = frozenset({
    "activated_params_billions", "avg_power_watts", "batch_latency_s", "batch_size", "gpu_model", "inference_steps",
    "model_id", "nickname", "num_gpus", "ring_degree", "total_params_billions", "ulysses_degree", "weight_precision",
})
IMAGE_KEYS = DIFFUSION_KEYS | {"energy_per_image_joules", "image_height", "image_width", "throughput_images_per_sec"}
VIDEO_KEYS = DIFFUSION_KEYS | {"energy_per_video_joules", "fps", "num_frames", "throughput_videos_per_sec",
                               "video_height", "video_width"}

TASKS: dict[str, tuple[str | None, str | None, str | None]] = {
    "lm-arena-chat": ("text-gen-chat", "text-gen", "--engine vllm, concurrency = max_num_seqs"),
    "gpqa": ("text-gen-chat", "text-gen", "--engine vllm, concurrency = max_num_seqs, enable_thinking on"),
    "text-to-image": ("image-gen", "image-gen", "the row's batch size, steps, height and width"),
}
"""Source task -> (harness task, kind, how a harness run matches it). Image and video chat, code completion (FIM)
and text-to-video have no harness task."""

_PER_TOKEN = ("energy_per_token_joules", "J/token", "J per output token")
_PER_REQUEST = ("energy_per_request_joules", "J/request", "J per request (one response)")
_PER_IMAGE = ("energy_per_image_joules", "J/image", "J per image")
_PER_VIDEO = ("energy_per_video_joules", "J/video", "J per video")


def _figure(config: dict, spec: tuple[str, str, str], where: str) -> dict:
    key, unit, words = spec
    value = json_number(config[key], f"{where}.{key}")
    return {"name": key, "as_written": value, "unit_as_written": "joules", "unit_read_as": words,
            "unit_basis": "the key's suffix", "value": as_float(value), "unit": unit}


def _integer(config: dict, key: str, where: str) -> int:
    return as_int(json_number(config[key], f"{where}.{key}", integer=True))


def parse(file: SourceFile, ctx: Context) -> list[PublishedRecord]:
    document = json_document(file)
    if not isinstance(document, dict):
        raise SourceFileError(f"{file.where()}: not an object")
    diffusion = document.get("architecture") == "diffusion"
    top = {"configurations", "task", "task_display_name"} | ({"architecture"} if diffusion else set())
    json_object(document, top, file.where())
    task = text(document["task"], file.where("task"))
    title = text(document["task_display_name"], file.where("task_display_name"))
    if f"public/data/tasks/{task}.json" != file.path:
        raise SourceFileError(f"{file.where('task')}: {task!r} is not the task the file is named after")
    configurations = document["configurations"]
    if not isinstance(configurations, list) or not configurations:
        raise SourceFileError(f"{file.where('configurations')}: not a list of configurations")
    harness_task, kind, note = TASKS.get(task, (None, None, None))
    mapping = {"source_task": task, "source_task_title": title, "harness_task": harness_task, "harness_kind": kind,
               "note": note}
    records = []
    for index, config in enumerate(configurations):
        row = f"configurations[{index}]"
        where = file.where(row)
        video = diffusion and isinstance(config, dict) and "energy_per_video_joules" in config
        json_object(config, (VIDEO_KEYS if video else IMAGE_KEYS) if diffusion else LLM_KEYS, where)
        model = text(config["model_id"], f"{where}.model_id")
        model_id, variant, flags = model_identity(model)
        common = {"gpu": text(config["gpu_model"], f"{where}.gpu_model"),
                  "num_gpus": _integer(config, "num_gpus", where)}
        precision = text(config["weight_precision"], f"{where}.weight_precision")
        if diffusion:
            figures = [_figure(config, _PER_VIDEO if video else _PER_IMAGE, where)]
            size = ("num_frames", "fps", "video_height", "video_width") if video else ("image_height", "image_width")
            settings = {key: _integer(config, key, where)
                        for key in ("inference_steps", *size, "ulysses_degree", "ring_degree")}
            protocol = {"engine": "xDiT", "batching": "fixed-batch",
                        "batch_size": _integer(config, "batch_size", where), "precision": precision,
                        "energy_counted": ENERGY_COUNTED, "dataset": title, "settings": settings}
        else:
            figures = [_figure(config, _PER_TOKEN, where), _figure(config, _PER_REQUEST, where)]
            protocol = {
                "engine": "vLLM", "batching": "serving", "max_concurrency": _integer(config, "max_num_seqs", where),
                "mean_batch_size": as_float(json_number(config["avg_batch_size"], f"{where}.avg_batch_size")),
                "precision": precision, "output_length": "natural length (each response runs to the model's end)",
                "mean_output_tokens": as_float(json_number(config["avg_output_len"], f"{where}.avg_output_len")),
                "energy_counted": ENERGY_COUNTED, "dataset": title,
                "settings": {key: _integer(config, key, where)
                             for key in ("tensor_parallel", "expert_parallel", "data_parallel")},
            }
        records.append(make_record(ctx, file, index, row, COLLECTION, model=model, model_id=model_id,
                                   model_variant=variant, task=mapping, hardware=common, figures=figures,
                                   protocol=protocol, flags=flags))
    return records


IMPORTER = Importer(
    name="mlenergy-v3", patterns=("public/data/tasks/*.json",), collections=(COLLECTION,), parse=parse,
    description="ML.ENERGY Leaderboard v3: public/data/tasks/*.json of ml-energy/leaderboard",
)
