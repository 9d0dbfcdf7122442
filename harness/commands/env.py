"""`harness env`: what the harness sees on this machine, and therefore what it can measure.

The GPU backend that measures and why (NVML or amdsmi, and what each backend passed over said), the GPUs (and
whether each has a working energy counter and instant power), driver, NVML/CUDA or ROCm versions, the torch build,
the CPU and whether RAPL is readable. Asking for a GPU that is not there (`--gpu 3`) is one
error line and a non-zero exit, the same check `harness run` makes before it loads a model.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console

from harness.engines import ENGINES
from harness.provenance import survey


def _yes(value: object) -> str:
    return {True: "yes", False: "no", None: "?"}.get(value, str(value))


def render(report: dict, console: Console) -> None:
    host, torch = report["host"], report["torch"]
    backend = report["gpu_backend"]
    passed_over = [f"{t['backend']} ({t['outcome']})" for t in report["gpu_backends_tried"] if t["outcome"] != "picked"]
    if backend is None:
        console.print(f"[bold]GPUs[/bold]: none usable ({report.get('gpu_backend_error', 'no GPU backend')})")
    else:
        console.print(f"[bold]GPUs[/bold] (backend {backend['name']}: {backend['summary']})")
        if passed_over:
            console.print(f"  picked after: {'; '.join(passed_over)}")
        for gpu in report["gpus"]:
            memory = "?" if gpu["memory_total_mib"] is None else f"{gpu['memory_total_mib'] / 1024:.0f} GiB"
            limit = "?" if gpu["power_limit_enforced_w"] is None else f"{gpu['power_limit_enforced_w']:.0f} W"
            default = "?" if gpu["power_limit_default_w"] is None else f"{gpu['power_limit_default_w']:.0f} W"
            pids = gpu["other_processes"]
            others = "unknown" if pids is None else (", ".join(map(str, pids)) or "none")
            counter = _yes(gpu["has_energy_counter"])
            if gpu.get("counter_note"):
                counter = f"not used: {gpu['counter_note']}"
            console.print(f"  GPU {gpu['index']}: {gpu['name']}, {memory}")
            console.print(f"    energy counter: {counter}; power reading: "
                          f"{gpu['power_source'] or 'none'}; power limit {limit} (default {default})")
            if gpu.get("vendor") == "amd":
                console.print(f"    partitions: {gpu.get('partition_mode') or '?'}; other processes: {others}")
            else:
                console.print(f"    persistence mode: {_yes(gpu['persistence_mode'])}; MIG: {_yes(gpu['mig_mode'])}; "
                              f"other processes: {others}")
        for name, value in report["visible_devices"].items():
            console.print(f"{name}={value} (the GPU indices above are {backend['library']}'s, of every GPU; torch's "
                          "cuda:N counts only the visible ones)")
    console.print(f"[bold]torch[/bold] {torch['torch_version'] or 'not installed'} "
                  f"(CUDA build: {torch['torch_cuda_version'] or 'none'}; "
                  f"CUDA available: {_yes(torch['cuda_available'])})")
    console.print(f"[bold]CPU[/bold] {host['cpu_model'] or 'unknown'}, {host['cpu_logical_cores']} logical cores; "
                  f"RAM {host['ram_total_gib']:.1f} GiB; python {host['python_version']}; {host['platform']}")
    engines = ", ".join(f"{name} {version or '(not installed)'}" for name, version in report["engines"].items())
    console.print(f"[bold]Engines[/bold] {engines}")
    console.print(f"[bold]RAPL[/bold] {'readable' if host['rapl_readable'] else 'not readable'}: {host['rapl_detail']}")
    can = report["can_measure"]
    console.print("[bold]Can measure[/bold]")
    console.print(f"  GPU energy: {can['gpu']}")
    console.print(f"  CPU energy: {can['cpu']}")
    console.print(f"  RAM energy: {can['ram']}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""

    @app.command("env")
    def env(
        gpu: list[int] = typer.Option(None, "--gpu", help="GPU index (as listed) to check; repeat for several."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Show the GPUs, drivers, torch build, CPU and RAPL the harness sees, and what it can measure."""
        report = survey(list(gpu) if gpu else None)
        report["engines"] = {name: ENGINES[name]().version() for name in sorted(ENGINES)}
        if as_json:
            typer.echo(json.dumps(report, indent=2, sort_keys=True))
        else:
            render(report, Console(highlight=False, soft_wrap=True))
