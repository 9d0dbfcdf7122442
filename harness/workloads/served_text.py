"""Text generation through a server, under load: the task's prompts as streamed requests from a closed-loop client
keeping the run's concurrency (the task's `batch_size`) in flight.

Fixed-length text generation asks for exactly its new tokens (`min_tokens == max_tokens`, EOS ignored) with the
prompt cut to the task's input limit by the model's own tokenizer and sent as token ids, so it stays comparable
with the `generate` path; chat sends each prompt as one user turn, answered at natural length under the task's cap,
with the task's reasoning switch as the request's chat-template argument. A pass is every query sent once; the
client opens and closes the steady-state window through `on_steady` (the runner's meter window).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from harness.engines import ENGINES, LoadedModel
from harness.engines.openai_client import MAX_FAILED_SHARE, ServedRequest, run_closed_loop
from harness.errors import MeasurementError
from harness.workloads.base import BatchOutput, Workload
from harness.workloads.text_inputs import chat_template_kwargs, input_token_limit

SERVED_ENGINES = ("transformers-serve", "vllm", "sglang", "endpoint")
"""The engines behind an OpenAI-compatible server (`harness.engines.served`)."""

KEEP_TEXT_OF = 16
"""Answers kept for the output digest (the runner's `DIGEST_QUERIES`)."""


class ServedTextWorkload(Workload):
    """Prompts in as streamed requests, N in flight; each request's timings and token counts out."""

    engine = SERVED_ENGINES
    kind = "text-gen"
    generative = False
    """The prefill/decode split under load comes from attributing energy to requests, not from a prefill pass."""
    whole_pass = True

    @classmethod
    def handles(cls, spec: Any, engine: str) -> bool:
        mode = getattr(spec.generation, "mode", "fixed")
        return spec.kind == cls.kind and (mode == "chat" or (mode == "fixed" and ENGINES[engine].forces_length))

    def __init__(self, loaded: LoadedModel, spec: Any) -> None:
        super().__init__(loaded, spec)
        self.served = loaded.model
        self.tokenizer = loaded.tokenizer
        self.concurrency = int(spec.batch_size)
        self.mode = getattr(spec.generation, "mode", "fixed")
        self.max_new_tokens = int(spec.generation.max_new_tokens)
        self.template_kwargs = chat_template_kwargs(spec)
        self.max_input_tokens = None
        if self.tokenizer is not None:
            # As the generate path cuts them: the task's limit, within the model's context less the new tokens.
            config = SimpleNamespace(max_position_embeddings=self.served.config.get("max_position_embeddings"))
            self.max_input_tokens = input_token_limit(self.tokenizer, config, spec.max_input_tokens,
                                                      reserve=self.max_new_tokens)
        self.on_steady: Callable[[bool], None] | None = None
        """Called with True when the steady state begins and False when it ends (the runner's meter window)."""
        self.workload_settings = {"concurrency": self.concurrency}

    def requests(self, items: Sequence[str]) -> list[ServedRequest]:
        if self.mode == "chat":
            extra = {"chat_template_kwargs": self.template_kwargs} if self.template_kwargs else {}
            return [ServedRequest("/v1/chat/completions", {
                "messages": [{"role": "user", "content": self._fitted(text)}], "max_tokens": self.max_new_tokens,
                "temperature": 0.0, "seed": 0, **extra}) for text in items]
        fixed = {"max_tokens": self.max_new_tokens, "min_tokens": self.max_new_tokens, "ignore_eos": True,
                 "temperature": 0.0, "seed": 0}
        return [ServedRequest("/v1/completions", {"prompt": self._prompt(text), **fixed}) for text in items]

    def _fitted(self, text: str) -> str:
        """A chat prompt whose templated form fits the input limit: its beginning cut by the excess tokens, as the
        generate path cuts the templated prompt on the left (the assistant turn's opening stays)."""
        if self.tokenizer is None or self.max_input_tokens is None:
            return text
        from harness.workloads.text_inputs import render_chat

        rendered = render_chat(self.tokenizer, [text], self.template_kwargs or {})[0]
        excess = len(self.tokenizer(rendered, add_special_tokens=False, verbose=False)["input_ids"]) \
            - self.max_input_tokens
        if excess <= 0:
            return text
        ids = self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        return self.tokenizer.decode(ids[excess:])

    def _prompt(self, text: str) -> str | list[int]:
        """The prompt as token ids cut to the task's limit by the model's tokenizer (text where none is here)."""
        if self.tokenizer is None:
            return text
        ids = self.tokenizer(text, truncation=self.max_input_tokens is not None, max_length=self.max_input_tokens,
                             verbose=False)["input_ids"]
        return [int(i) for i in ids]

    def _run(self, batch: list[str]) -> BatchOutput:
        outcome = run_closed_loop(self.served.base_url, self.served.name, self.requests(batch), self.concurrency,
                                  on_steady=self.on_steady, keep_text_of=KEEP_TEXT_OF)
        failed = outcome.failed
        if len(failed) > MAX_FAILED_SHARE * len(outcome.records):
            self.loaded_by.check_alive(self.loaded)
            raise MeasurementError(f"{len(failed)} of {len(outcome.records)} requests to the {self.loaded.engine} "
                                   f"server failed (more than {MAX_FAILED_SHARE:.0%}): {failed[0].error}")
        done = [record for record in outcome.records if record.ok]
        return BatchOutput(
            num_queries=len(batch),
            input_tokens=sum(record.prompt_tokens or 0 for record in done),
            output_tokens=sum(record.output_tokens or 0 for record in done),
            output_lengths=tuple(record.output_tokens or 0 for record in done) if self.mode == "chat" else None,
            outputs=tuple(record.text or "" for record in outcome.records[:KEEP_TEXT_OF]),
            latencies_s=tuple(record.done_s - record.sent_s for record in done),
            served=outcome,
        )

    def input_sizes(self, items: Sequence[Any]) -> list[float] | None:
        if self.tokenizer is None or not items:
            return None
        if self.mode == "chat":
            from harness.workloads.text_inputs import render_chat

            rendered = render_chat(self.tokenizer, [self._fitted(text) for text in items], self.template_kwargs or {})
            return [float(len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]))
                    for text in rendered]
        return [float(len(self._prompt(text))) for text in items]

    @classmethod
    def why_not(cls, spec: Any, engine: str) -> str | None:
        if getattr(spec.generation, "mode", "fixed") == "fixed" and not ENGINES[engine].forces_length:
            able = sorted(e for e in SERVED_ENGINES if ENGINES[e].forces_length)
            return (f"engine '{engine}' cannot ask for exactly {spec.generation.max_new_tokens} new tokens (it takes "
                    f"no min_tokens/ignore_eos): run a chat task (text-gen-chat) on it, or task {spec.id!r} on "
                    f"{' or '.join(able)}")
        return None
