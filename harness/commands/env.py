"""`harness env`: what the harness sees on this machine, and therefore what it can measure.

GPUs (and whether each has the energy counter and instant power), driver/NVML/CUDA versions, the torch
build, the CPU and whether RAPL is readable. Asking for a GPU that is not there (`--gpu 3`) is one
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
    nvml = report["nvml"]
    if nvml is None:
        console.print(f"[bold]GPUs[/bold]: none usable ({report.get('nvml_error', 'NVML unavailable')})")
    else:
        console.print(f"[bold]GPUs[/bold] (NVML {nvml['nvml_version']}, driver {nvml['driver_version']}, "
                      f"CUDA driver {nvml['cuda_driver_version']}, backend {nvml['backend']})")
        for gpu in report["gpus"]:
            memory = "?" if gpu["memory_total_mib"] is None else f"{gpu['memory_total_mib'] / 1024:.0f} GiB"
            limit = "?" if gpu["power_limit_enforced_w"] is None else f"{gpu['power_limit_enforced_w']:.0f} W"
            default = "?" if gpu["power_limit_default_w"] is None else f"{gpu['power_limit_default_w']:.0f} W"
            pids = gpu["other_processes"]
            others = "unknown" if pids is None else (", ".join(map(str, pids)) or "none")
            console.print(f"  GPU {gpu['index']}: {gpu['name']}, {memory}")
            console.print(f"    energy counter: {_yes(gpu['has_energy_counter'])}; power reading: "
                          f"{gpu['power_source'] or 'none'}; power limit {limit} (default {default})")
            console.print(f"    persistence mode: {_yes(gpu['persistence_mode'])}; MIG: {_yes(gpu['mig_mode'])}; "
                          f"other processes: {others}")
        if report["cuda_visible_devices"] is not None:
            console.print(f"CUDA_VISIBLE_DEVICES={report['cuda_visible_devices']} (NVML indices above are "
                          "physical, in PCI bus order)")
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
        gpu: list[int] = typer.Option(None, "--gpu", help="GPU index (NVML) to check; repeat for several."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Show the GPUs, drivers, torch build, CPU and RAPL the harness sees, and what it can measure."""
        report = survey(list(gpu) if gpu else None)
        report["engines"] = {name: ENGINES[name]().version() for name in sorted(ENGINES)}
        if as_json:
            typer.echo(json.dumps(report, indent=2, sort_keys=True))
        else:
            render(report, Console(highlight=False, soft_wrap=True))
