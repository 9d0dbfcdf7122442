"""Where a result came from: the harness's version and commit, software versions and host facts.

A reader needs these to tell whether two numbers are comparable. Package versions come from installed
metadata (no heavy import); torch is imported only to learn its CUDA build, and only if it is installed.
GPU facts come from the GPU backend (NVML or amdsmi) and live with the meter (`harness.energy`).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import subprocess
import sys
from pathlib import Path

import psutil

from harness.energy.backends import choose_gpu_backend
from harness.energy.host_estimate import RAM_W_PER_GIB, HostEstimate, cpu_model_name
from harness.energy.rapl import rapl_status
from harness.errors import HarnessError

logger = logging.getLogger(__name__)


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def torch_build() -> dict:
    """torch's version (None: not installed, as behind a serving engine), the CUDA it was built for, and whether it
    can see a CUDA device."""
    try:
        import torch
    except ImportError:
        return {"torch_version": None, "torch_cuda_version": None, "cuda_available": False}
    try:
        available = bool(torch.cuda.is_available())
    except Exception as error:  # a broken CUDA install must not stop `harness env` from reporting it
        logger.debug("torch.cuda.is_available() failed: %s", error)
        available = False
    return {"torch_version": str(torch.__version__), "torch_cuda_version": torch.version.cuda,
            "cuda_available": available}


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The CPU's model name as the kernel reports it (what the host estimate looks its TDP up by), else the
    platform's processor string."""
    return cpu_model_name(cpuinfo) or platform.processor() or None


def host_facts() -> dict:
    """Software versions and host facts: with the meter's `environment()`, a `results.schema.Environment`."""
    torch = torch_build()
    return {
        "torch_version": torch["torch_version"],
        "torch_cuda_version": torch["torch_cuda_version"],
        "transformers_version": package_version("transformers"),
        "diffusers_version": package_version("diffusers"),
        "accelerate_version": package_version("accelerate"),
        "datasets_version": package_version("datasets"),
        "huggingface_hub_version": package_version("huggingface_hub"),
        "tokenizers_version": package_version("tokenizers"),
        "python_version": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()} ({sys.platform})",
        "cpu_model": cpu_model(),
        "cpu_logical_cores": psutil.cpu_count(logical=True),
        "ram_total_gib": round(psutil.virtual_memory().total / 2**30, 2),
    }


def _checkout_commit(root: Path) -> str | None:
    """The commit of the harness checkout at `root` (`-dirty` with uncommitted changes), or None.

    Only a repository whose top level is `root` and which holds the harness's pyproject.toml counts: an
    installed harness sits in site-packages, often inside a user's own repository, whose commit is not ours.
    """
    if not (root / "pyproject.toml").is_file() or not (root / "harness" / "__init__.py").is_file():
        return None
    try:
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        if Path(top).resolve() != root.resolve():
            return None
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def build_commit() -> str | None:
    """The commit baked into an installed harness when it was built (setup.py writes `harness/_build.py`)."""
    try:
        from harness._build import COMMIT  # written at build time, absent from a source checkout
    except ImportError:
        return None
    return COMMIT or None


def git_sha() -> str | None:
    """The harness's own commit: a checkout's live commit (editable install), else the one baked in at build
    time, else `HARNESS_GIT_SHA` (an image built from a copy without `.git`); None when nothing says.

    Never the commit of another repository the harness happens to be installed in.
    """
    return (_checkout_commit(Path(__file__).resolve().parent.parent) or build_commit()
            or os.environ.get("HARNESS_GIT_SHA") or None)


VISIBLE_DEVICES_VARIABLES = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")
"""What renumbers a framework's GPUs (`cuda:N`) apart from the GPU backend's indices (NVIDIA's, and ROCm's)."""


def survey(gpu_indices: list[int] | None = None) -> dict:
    """Everything `harness env` reports, as a JSON-ready dict; raises for an asked-for GPU that is not there.

    `gpu_backend` is the backend that measures (None: none opened), `gpu_backends_tried` what each backend asked
    said, in order (`picked`, or why it could not be used), so a reader sees which was picked and why.
    """
    rapl_ok, rapl_detail = rapl_status()
    report: dict = {"host": {**host_facts(), "rapl_readable": rapl_ok, "rapl_detail": rapl_detail},
                    "torch": torch_build(),
                    "visible_devices": {name: os.environ[name] for name in VISIBLE_DEVICES_VARIABLES
                                        if name in os.environ},
                    "gpu_backend": None, "gpu_backends_tried": [], "gpus": []}
    try:
        choice = choose_gpu_backend()
    except HarnessError as error:  # a stand-in's error is final
        if gpu_indices:
            raise
        report["gpu_backend_error"] = str(error)
        choice = None
    if choice is not None:
        report["gpu_backends_tried"] = [{"backend": name, "outcome": outcome} for name, outcome in choice.tried]
        if choice.backend is None:
            if gpu_indices:
                raise choice.failure()
            report["gpu_backend_error"] = str(choice.failure())
    if choice is not None and choice.backend is not None:
        with choice.backend as backend:
            if gpu_indices:
                backend.check_indices(gpu_indices)
            report["gpu_backend"] = {"name": backend.name, "vendor": backend.vendor, "library": backend.library,
                                     "summary": backend.summary(), **backend.system_versions()}
            for index in range(backend.device_count()):
                gpu = backend.open(index)
                pids = gpu.other_process_pids(frozenset({os.getpid()}))
                report["gpus"].append({**gpu.info(), "power_source": gpu.power_source, "counter_note": gpu.counter_note,
                                       "other_processes": pids, "power_w": gpu.power_w()})
    report["can_measure"] = _can_measure(report, gpu_indices, rapl_ok, rapl_detail)
    return report


def _can_measure(report: dict, gpu_indices: list[int] | None, rapl_ok: bool, rapl_detail: str) -> dict:
    gpus = [g for g in report["gpus"] if not gpu_indices or g["index"] in gpu_indices]
    backend = report["gpu_backend"]
    if backend is None:
        gpu_line = f"not measurable: {report.get('gpu_backend_error', 'no GPU backend')}"
    elif not gpus:
        gpu_line = f"not measurable: {backend['library']} sees no GPU"
    else:
        parts = []
        for gpu in gpus:
            if gpu["has_energy_counter"]:
                how = "energy counter"
            elif gpu["power_source"]:
                still = " (its counter stands still)" if gpu.get("counter_note") else ""
                how = f"sampled power only ({gpu['power_source']}){still}"
            else:
                how = "nothing (no counter, no power reading)"
            parts.append(f"GPU {gpu['index']}: {how}")
        gpu_line = "; ".join(parts)
    if rapl_ok:
        cpu_line = f"RAPL ({rapl_detail})"
        ram_line = "RAPL DRAM" if "DRAM" in rapl_detail else "estimated (no RAPL DRAM domain)"
    else:
        estimate = HostEstimate()
        cpu_line = f"estimated ({estimate.describe().split('; RAM')[0]})"
        ram_line = f"estimated ({RAM_W_PER_GIB} W/GiB x {estimate.ram_total_gib:.1f} GiB)"
    return {"gpu": gpu_line, "cpu": cpu_line, "ram": ram_line}
