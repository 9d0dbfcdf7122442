"""How the site names and explains things to a visitor: task titles and order, what one query is, readable
model names and settings, the reference hardware, and the per-task summary ("the answer first").

Pure functions of `RunRecord`s and rows; the pages only print what these return.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from leaderboard import carbon
from leaderboard.templating import sig

TASK_TITLES = {
    "text-gen": "Text generation",
    "summarization": "Summarisation",
    "text-classification": "Text classification",
    "question-answering": "Question answering",
    "sentence-similarity": "Sentence similarity",
    "image-gen": "Image generation",
    "image-classification": "Image classification",
    "object-detection": "Object detection",
    "image-captioning": "Image captioning",
    "speech-to-text": "Speech to text",
}
"""Human names of the task kinds, in the order the index shows them (the order readers meet them)."""

SHIPPED_TASK_TITLES = {"text-gen-chat": "Chat (answers at natural length)"}
"""Names of the shipped tasks that are a mode of a kind rather than the kind itself (read before the kind's name)."""

REFERENCE_GPU = "H100"
"""AI Energy Score's reference GPU: its hardware classes are shown first and summarised; others apart."""


def task_title(task_id: str, task_kind: str) -> str:
    """`Text generation`, `Chat (answers at natural length)` for a shipped mode of a kind, or
    `Text generation (my-task)` for a custom task of a known kind."""
    if task_id in SHIPPED_TASK_TITLES:
        return SHIPPED_TASK_TITLES[task_id]
    title = TASK_TITLES.get(task_kind, task_kind)
    return title if task_id == task_kind else f"{title} ({task_id})"


def task_order(task_id: str, task_kind: str) -> tuple[int, str]:
    """Sort key: known kinds in `TASK_TITLES` order, then anything else by id."""
    kinds = list(TASK_TITLES)
    return (kinds.index(task_kind) if task_kind in kinds else len(kinds), task_id)


def _words(key: str) -> str:
    return key.split(".")[-1].replace("_", " ")


def settings_words(overrides_json: str) -> str:
    """Run overrides as words (`max new tokens 20, batch size 4`), never raw JSON; '' when none."""
    overrides = json.loads(overrides_json or "{}")
    return ", ".join(f"{_words(k)} {v}" for k, v in sorted(overrides.items()))


def describe_query(kind: str, spec: dict, batch_size: int) -> str:
    """One query of a task in plain words, from the resolved task spec the result recorded."""
    gen = spec.get("generation") or {}
    limit = spec.get("max_input_tokens")
    cut = f" (at most {limit} tokens)" if limit else ""
    batch = f"; {batch_size} {'query' if batch_size == 1 else 'queries'} per batch"
    if kind == "text-gen" and gen.get("mode") == "chat":  # thinking on/off differs by run: the group titles say it
        return (f"One query: a chat prompt{cut} in the model's chat template, answered at the model's natural length, "
                f"up to {gen.get('max_new_tokens')} tokens (greedy decoding){batch}.")
    if kind == "summarization" and gen.get("mode") == "forward":
        return (f"One query: an article{cut} run through the model once, its decoder over the article shifted right "
                f"(one forward pass, nothing generated, as AI Energy Score measures summarisation){batch}.")
    if kind in ("text-gen", "summarization"):
        tokens = gen.get("max_new_tokens")
        out = f"exactly {tokens} new tokens" if tokens and gen.get("min_new_tokens") == tokens else (
            f"up to {tokens} new tokens" if tokens else "generated text")
        what = "a prompt" if kind == "text-gen" else "an article"
        verb = "answered with" if kind == "text-gen" else "summarised in"
        return f"One query: {what}{cut} {verb} {out} (greedy decoding){batch}."
    if kind == "text-classification":
        return f"One query: a short text{cut} sorted into a class with one forward pass{batch}."
    if kind == "question-answering":
        return (f"One query: a question and a context paragraph{cut}, the answer span found in the context with one "
                f"forward pass{batch}.")
    if kind == "sentence-similarity":
        each = f" (each at most {limit} tokens)" if limit else ""
        return f"One query: two sentences{each} embedded and compared by cosine similarity{batch}."
    if kind == "speech-to-text":
        tokens = gen.get("max_new_tokens")
        out = f"exactly {tokens} transcript tokens" if tokens and gen.get("min_new_tokens") == tokens else (
            "a transcript")
        language = f" ({gen['language']}, {gen.get('task', 'transcribe')})" if gen.get("language") else ""
        return f"One query: a speech clip of up to 30 seconds transcribed into {out}{language}, greedy decoding{batch}."
    if kind == "image-gen":
        size = f"{gen['width']}×{gen['height']} " if gen.get("width") and gen.get("height") else ""
        steps = f" with {gen['num_inference_steps']} denoising steps" if gen.get("num_inference_steps") else ""
        return f"One query: a text prompt turned into one {size}image{steps}{batch}."
    if kind == "image-classification":
        return f"One query: an image sorted into a class with one forward pass (the model's image processor "\
               f"included){batch}."
    if kind == "object-detection":
        threshold = f" scored at least {gen['threshold']:g}" if gen.get("threshold") is not None else ""
        return f"One query: an image's objects found as boxes{threshold} (image processor, forward pass and "\
               f"post-processing){batch}."
    if kind == "image-captioning":
        tokens = gen.get("max_new_tokens")
        out = f"exactly {tokens} new tokens" if tokens and gen.get("min_new_tokens") == tokens else "a caption"
        return f"One query: an image captioned in {out} (greedy decoding){batch}."
    return f"One query of task kind {kind}{batch}."


@dataclass(frozen=True)
class Summary:
    """The answer first: a task's most efficient rated model, per query and in everyday terms."""

    best_name: str
    best_href: str
    hardware_class: str
    wh_per_query: float
    phone_charge_pct: float
    web_searches: float
    worst_ratio: float | None
    num_models: int


def per_query(wh_per_1k: float) -> float:
    """Wh per query from Wh per 1000 queries (the unit results are published in)."""
    return wh_per_1k / 1000.0


def summarise(rows: Sequence) -> Summary | None:
    """Best and worst GPU-measured row (lowest and highest mean Wh); None when there is none."""
    measured = [r for r in rows if r.run.status == "gpu" and r.run.gpu_wh is not None]
    if not measured:
        return None
    ranked = sorted(measured, key=lambda r: (r.run.gpu_wh.mean, r.run.model_id))
    best, worst = ranked[0], ranked[-1]
    wh = per_query(best.run.gpu_wh.mean)
    return Summary(
        best_name=best.name, best_href=best.model_href, hardware_class=best.run.hardware_class,
        wh_per_query=wh, phone_charge_pct=wh / carbon.SMARTPHONE_CHARGE_WH * 100.0,
        web_searches=wh / carbon.WEB_SEARCH_WH,
        worst_ratio=worst.run.gpu_wh.mean / best.run.gpu_wh.mean if len(ranked) > 1 else None,
        num_models=len({r.run.model_id for r in measured}),
    )


def everyday(wh_per_query: float) -> str:
    """`0.2 % of a phone charge, or 0.7 web searches`: per-query equivalents readers already know."""
    return (f"{sig(wh_per_query / carbon.SMARTPHONE_CHARGE_WH * 100.0, 2)} % of a phone charge, or "
            f"{sig(wh_per_query / carbon.WEB_SEARCH_WH, 2)} web searches")


def is_reference(hardware_class: str) -> bool:
    """Hardware classes on the reference GPU come first and feed the summary."""
    return REFERENCE_GPU in hardware_class
