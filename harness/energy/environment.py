"""Software and host facts a result records, so a reader can tell whether two numbers are comparable.

Package versions come from installed metadata (no heavy import); torch is imported only to learn its
CUDA build, and only if it is installed.
"""

from __future__ import annotations

import importlib.metadata
import logging
import platform
import sys
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def torch_build() -> dict:
    """torch's version, the CUDA it was built for, and whether it can see a CUDA device."""
    try:
        import torch
    except ImportError:
        return {"torch_version": "not installed", "torch_cuda_version": None, "cuda_available": False}
    try:
        available = bool(torch.cuda.is_available())
    except Exception as error:  # a broken CUDA install must not stop `harness env` from reporting it
        logger.debug("torch.cuda.is_available() failed: %s", error)
        available = False
    return {"torch_version": str(torch.__version__), "torch_cuda_version": torch.version.cuda,
            "cuda_available": available}


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def host_facts(*, rapl_readable: bool) -> dict:
    """The non-GPU part of `harness.results.schema.Environment` (JSON-ready)."""
    torch = torch_build()
    return {
        "torch_version": torch["torch_version"],
        "torch_cuda_version": torch["torch_cuda_version"],
        "transformers_version": package_version("transformers"),
        "diffusers_version": package_version("diffusers"),
        "python_version": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()} ({sys.platform})",
        "cpu_model": cpu_model(),
        "cpu_logical_cores": psutil.cpu_count(logical=True),
        "ram_total_gib": round(psutil.virtual_memory().total / 2**30, 2),
        "rapl_readable": rapl_readable,
    }
