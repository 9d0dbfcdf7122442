"""The load a server really sees: a closed-loop client keeping N streamed requests in flight against an
OpenAI-compatible endpoint, recording each request's send time, first-token time, every chunk's arrival and the
server's own token counts.

The steady state is ML.ENERGY's: it begins when N requests are in flight and every one of them has its first token,
and ends when the client has nothing left to send and the requests in flight drop below N. The client calls
`on_steady(True)` and `on_steady(False)` at those instants (the meter reads its counters there), from the client's
own thread.

A streamed chunk is a text delta, not necessarily one token (vLLM sends one token a chunk, `transformers serve`
several): token counts come from the usage report of the last chunk; chunk arrival times are what the timings and
the per-interval attribution read, each chunk carrying an equal share of its request's tokens. In a completion stream
a chunk whose text is empty is still a step of output (a token whose characters are not complete yet, or a special
token such as the EOS a fixed-length request generates past): it counts as an arrival, and can be the first token.

The client's own cost per streamed token is what `benchmarks/serving_client.py` measures: whatever has arrived is
read at once and split into lines, and a plain token chunk is read by one regular expression rather than parsed as
JSON (see `_TOKEN_CHUNK`).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

REQUEST_TIMEOUT_S = 600.0
"""A stream that sends nothing for this long is a hung request: it fails, and the run says how many did."""
MAX_FAILED_SHARE = 0.05
"""More failed requests than this share and the run is refused (counted in the message)."""


@dataclass(frozen=True)
class ServedRequest:
    """One query as a request: the API path (`/v1/chat/completions` or `/v1/completions`) and its body, without
    `model` and the streaming options the client adds."""

    path: str
    body: dict[str, Any]


@dataclass
class RequestRecord:
    """What happened to one request; times in seconds on the Unix clock."""

    index: int
    sent_s: float
    first_token_s: float | None = None
    chunk_s: list[float] = field(default_factory=list)
    """Arrival of each chunk that carried output, in order: text, or in a completion stream a step whose text is still
    empty (vLLM streams every token, `""` while its characters are incomplete or it is a special token; a fixed-length
    request run past EOS may stream nothing else)."""
    done_s: float | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    error: str | None = None
    text: str | None = None
    """The answer's text, kept for the first requests only (the run's output digest)."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.done_s is not None


@dataclass
class LoadOutcome:
    records: list[RequestRecord]
    steady_s: tuple[float, float] | None
    """(start, end) of the steady state on the Unix clock; None when it never began (fewer requests than N)."""

    @property
    def failed(self) -> list[RequestRecord]:
        return [record for record in self.records if not record.ok]


class _UnixClock:
    """Unix seconds with perf_counter's resolution: request events line up with the meter's timeline."""

    def __init__(self) -> None:
        self._unix0, self._perf0 = time.time(), time.perf_counter()

    def __call__(self) -> float:
        return self._unix0 + (time.perf_counter() - self._perf0)


def run_closed_loop(base_url: str, model: str, requests: Sequence[ServedRequest], concurrency: int, *,
                    on_steady: Callable[[bool], None] | None = None, keep_text_of: int = 0,
                    timeout_s: float = REQUEST_TIMEOUT_S) -> LoadOutcome:
    """Send every request, `concurrency` in flight at a time, streaming each answer; blocks until all are done."""
    return asyncio.run(_closed_loop(base_url.rstrip("/"), model, list(requests), int(concurrency), on_steady,
                                    keep_text_of, timeout_s))


async def _closed_loop(base_url: str, model: str, requests: list[ServedRequest], concurrency: int,
                       on_steady: Callable[[bool], None] | None, keep_text_of: int,
                       timeout_s: float) -> LoadOutcome:
    import aiohttp

    clock = _UnixClock()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(requests)):
        queue.put_nowait(index)
    records: list[RequestRecord | None] = [None] * len(requests)
    state = {"in_flight": 0, "with_first": 0, "steady_start": None, "steady_end": None}

    def steady_check() -> None:
        now = clock()
        if state["steady_start"] is None:
            if state["in_flight"] == concurrency and state["with_first"] == concurrency:
                state["steady_start"] = now
                if on_steady is not None:
                    on_steady(True)
        elif state["steady_end"] is None and queue.empty() and state["in_flight"] < concurrency:
            state["steady_end"] = now
            if on_steady is not None:
                on_steady(False)

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=timeout_s)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(base_url, timeout=timeout, connector=connector) as session:

        async def worker() -> None:
            while True:
                try:
                    index = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                request = requests[index]
                record = RequestRecord(index=index, sent_s=clock())
                records[index] = record
                state["in_flight"] += 1
                got_first = False
                try:
                    got_first = await _stream(session, model, request, record, clock, index < keep_text_of,
                                              lambda: (state.__setitem__("with_first", state["with_first"] + 1),
                                                       steady_check()))
                except asyncio.TimeoutError:
                    record.error = f"no answer for {timeout_s:.0f} s (hung stream)"
                except aiohttp.ClientError as error:
                    record.error = f"{type(error).__name__}: {error}"[:300]
                finally:
                    state["in_flight"] -= 1
                    if got_first or record.first_token_s is not None:
                        state["with_first"] -= 1
                    steady_check()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    if state["steady_start"] is not None and state["steady_end"] is None:  # every request failed at the end
        state["steady_end"] = clock()
        if on_steady is not None:
            on_steady(False)
    start, end = state["steady_start"], state["steady_end"]
    steady = (start, end if end is not None else clock()) if start is not None else None
    return LoadOutcome(records=[r for r in records if r is not None], steady_s=steady)


async def _stream(session: Any, model: str, request: ServedRequest, record: RequestRecord,
                  clock: Callable[[], float], keep_text: bool, on_first: Callable[[], Any]) -> bool:
    """Send one request and read its stream to the end; True once its first token came."""
    body = {**request.body, "model": model, "stream": True, "stream_options": {"include_usage": True}}
    reader = _ChunkReader(record, keep_text, on_first)
    async with session.post(request.path, json=body) as response:
        if response.status != 200:
            detail = (await response.text())[:200].replace("\n", " ")
            record.error = f"HTTP {response.status}: {detail}"
            return False
        # Whatever has arrived is read at once and split into lines here: one wake-up per network read, not two
        # awaits per chunk (`data:` line and blank line); every chunk of one read arrived at the same instant.
        tail = b""
        async for data in response.content.iter_any():
            now = clock()
            lines = (tail + data if tail else data).split(b"\n")
            tail = lines.pop()
            if reader.feed(lines, now):
                break
        else:
            if tail:
                reader.feed([tail], clock())
    record.done_s = clock()
    if keep_text:
        record.text = "".join(reader.texts)
    if record.output_tokens is None:
        record.error = "the server sent no usage report (token counts)"
    return reader.got_first


_JSON_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_JSON_SCALAR = rb"(?:" + _JSON_STRING + rb"|-?[0-9][0-9.eE+-]*|null|true|false)"
_TOKEN_CHUNK = re.compile(
    rb'[ \t]*\{(?:"[a-z_]+":' + _JSON_SCALAR + rb",)*"
    rb'"choices":\[\{"index":[0-9]+,(?:"text"|("delta"):\{(?:"role":"[a-z]+",)?"content"):'
    rb'"([^"\\]*(?:\\.[^"\\]*)*)"(?(1)\})(?:,"[a-z_]+":null)*\}\]'
    rb'(?:,"[a-z_]+":' + _JSON_SCALAR + rb")*\}[ \t\r]*")
"""A one-choice token chunk after `data:` as vLLM 0.32 writes it (compact JSON): every top-level value a
scalar (so no usage object), the choice's text (group 2, still JSON-escaped) or delta content, then only null fields
(no finish reason, no log-probs). A line that matches means exactly that, never a guess: the pattern is a strict
subset of JSON. Any other line is parsed whole with `json.loads` (usage, finish reasons, reasoning text, several
choices, spaced JSON). The pattern costs a third of `json.loads` and spares the dictionary walk after it."""


class _ChunkReader:
    """What one stream's `data:` lines say: output text and its arrival, finish reason, usage (into the record)."""

    __slots__ = ("record", "keep_text", "on_first", "texts", "got_first")

    def __init__(self, record: RequestRecord, keep_text: bool, on_first: Callable[[], Any]) -> None:
        self.record = record
        self.keep_text = keep_text
        self.on_first = on_first
        self.texts: list[str] = []
        self.got_first = False

    def feed(self, lines: list[bytes], now: float) -> bool:
        """Read complete lines that arrived at `now`; True at `data: [DONE]`."""
        match = _TOKEN_CHUNK.fullmatch
        chunk_s = self.record.chunk_s
        for line in lines:
            if not line:
                continue  # the blank line after each event
            if not line.startswith(b"data:"):
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue  # a comment, an event name, a blank line with a carriage return
            token = match(line, 5)
            if token is None:
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    return True
                self._chunk(json.loads(payload), now)
                continue
            raw = token.group(2)
            if not raw and token.group(1) is not None:
                continue  # a chat delta with no text (the role's announcement)
            if not self.got_first:
                self._first(now)
            chunk_s.append(now)
            if self.keep_text and raw:
                self.texts.append(json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode())
        return False

    def _first(self, now: float) -> None:
        self.record.first_token_s = now
        self.got_first = True
        self.on_first()

    def _chunk(self, chunk: dict, now: float) -> None:
        """Any other chunk, parsed whole: usage, finish reasons, reasoning text, several choices."""
        usage = chunk.get("usage")
        if usage:
            self.record.prompt_tokens = usage.get("prompt_tokens")
            self.record.output_tokens = usage.get("completion_tokens")
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
            if delta is not None and not text:
                text = delta.get("reasoning_content") or delta.get("reasoning")
            if text or (text == "" and delta is None and not choice.get("finish_reason")):
                if not self.got_first:
                    self._first(now)
                self.record.chunk_s.append(now)
                if self.keep_text:
                    self.texts.append(text)
            if choice.get("finish_reason"):
                self.record.finish_reason = choice["finish_reason"]
