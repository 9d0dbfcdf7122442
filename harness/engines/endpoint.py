"""A server that is already running on this machine (`--endpoint http://127.0.0.1:PORT/v1`): measured, not started.

Only a server on this machine can be measured (its GPUs are the ones the meter reads, named with `--measure-gpus`).
The processes listening on its port, and their children, are the engine's own; anything else on those GPUs is
contention as usual. Other clients of the same server cannot be seen: every result says so.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from pathlib import Path
from typing import Any

import psutil

from harness.engines.base import LoadedModel, LoadRequest
from harness.engines.served import ServedEngine, ServedModel, served_model_name
from harness.errors import ConfigError


class EndpointEngine(ServedEngine):
    name = "endpoint"
    library = ""
    module = "aiohttp"

    def load(self, request: LoadRequest, workload: Any) -> LoadedModel:
        self.require()
        if not request.endpoint:
            raise ConfigError("engine 'endpoint' measures a running server: give its address with --endpoint "
                              "http://127.0.0.1:PORT/v1")
        base_url, port = local_base_url(request.endpoint)
        name = served_model_name(base_url, str(request.model_id))
        served = ServedModel(base_url, name)
        loaded = self._loaded(request, workload, served, Path(str(request.model_id)).expanduser())
        loaded.info["loader"] = "running server"
        served.server_pids = listening_pids(port)
        return loaded

    def settings(self, loaded: LoadedModel) -> dict[str, Any]:
        return {}

    def run_warnings(self, loaded: LoadedModel) -> list[dict[str, Any]]:
        served: ServedModel = loaded.model
        return [{"code": "shared-endpoint", "severity": "warning", "gpu_index": None, "repetition": None,
                 "message": f"measured through a running server ({served.base_url}): other clients' load on it "
                            "could not be excluded"}]


def local_base_url(endpoint: str) -> tuple[str, int]:
    """`http://host:port` of an endpoint on this machine (its `/v1` dropped), or one ConfigError line."""
    parsed = urllib.parse.urlsplit(endpoint.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"--endpoint {endpoint!r} is not an http(s) address such as http://127.0.0.1:8000/v1")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise ConfigError(f"--endpoint {endpoint!r} has a bad port") from None
    if not _is_this_machine(parsed.hostname):
        raise ConfigError(f"--endpoint {endpoint!r} is not on this machine: only a local server's GPUs can be "
                          "measured here (run the harness where the server runs)")
    return f"{parsed.scheme}://{parsed.netloc}", port


def _is_this_machine(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    local = {address.address for entries in psutil.net_if_addrs().values() for address in entries}
    return any(ipaddress.ip_address(a.split("%")[0]).is_loopback or a in local for a in addresses)


def listening_pids(port: int) -> frozenset[int]:
    """The processes listening on `port` and their children (empty where the system will not say)."""
    try:
        roots = {c.pid for c in psutil.net_connections(kind="tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid}
    except (psutil.Error, OSError):
        return frozenset()
    pids = set(roots)
    for pid in roots:
        try:
            pids.update(child.pid for child in psutil.Process(pid).children(recursive=True))
        except psutil.Error:
            continue
    return frozenset(pids)
