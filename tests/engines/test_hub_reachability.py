"""A hub id with no network is one line, at once: no minute of retries, no blame on a missing file."""

from __future__ import annotations

import functools
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.engines import torch_engine
from harness.errors import NotFoundError


@pytest.fixture(autouse=True)
def _fresh_answers():
    """The answer is kept per process: each test asks afresh, and leaves none behind."""
    original = torch_engine.hub_unreachable
    original.cache_clear()
    yield
    original.cache_clear()


class _Answers(BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802 - the name http.server calls
        self.send_response(404)  # any answer means the Hub is there
        self.end_headers()

    def log_message(self, *args):
        pass


def test_an_answer_of_any_status_is_reachable_and_a_closed_port_is_not():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert torch_engine.hub_unreachable(f"http://127.0.0.1:{server.server_address[1]}") is None
    finally:
        server.shutdown()
        server.server_close()
    torch_engine.hub_unreachable.cache_clear()
    started = time.monotonic()
    why = torch_engine.hub_unreachable(f"http://127.0.0.1:{server.server_address[1]}")
    assert why and time.monotonic() - started < torch_engine.HUB_TIMEOUT_S + 1


def test_a_hub_id_with_no_network_fails_in_one_line_before_any_library_loads(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(torch_engine, "hub_unreachable", functools.lru_cache(lambda endpoint: "no route to host"))
    monkeypatch.setattr(torch_engine.TorchEngine, "_load", lambda *args: pytest.fail("a library was asked"))
    from harness.engines.base import LoadRequest

    request = LoadRequest(kind="text-gen", model_id="org/some-model", dtype="float32", device="cpu")
    with pytest.raises(NotFoundError) as caught:
        torch_engine.TorchEngine().load(request, None)
    message = str(caught.value)
    assert "\n" not in message and "cannot be reached (no route to host)" in message
    assert "HF_HUB_OFFLINE=1" in message and "local folder" in message


def test_offline_or_a_local_folder_asks_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(torch_engine, "hub_unreachable", lambda endpoint: pytest.fail("the Hub was asked"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch_engine.check_hub_reachable("org/some-model", None)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    torch_engine.check_hub_reachable(str(tmp_path), None)
