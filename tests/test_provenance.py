"""Host and software facts: shape, and what they say about this machine."""

from __future__ import annotations

import platform

from harness.provenance import cpu_model, host_facts, package_version


def test_host_facts_describe_this_machine():
    facts = host_facts()
    assert facts["python_version"] == platform.python_version()
    assert facts["cpu_logical_cores"] >= 1 and facts["ram_total_gib"] > 0
    assert facts["torch_version"] == package_version("torch").split("+")[0] or facts["torch_version"].startswith(
        package_version("torch"))
    assert facts["transformers_version"] == package_version("transformers")
    assert "rapl_readable" not in facts  # what the meter can read is the meter's to say


def test_cpu_model_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Example CPU 9000\n")
    assert cpu_model(cpuinfo) == "Example CPU 9000"


def test_unknown_package_has_no_version():
    assert package_version("surely-not-an-installed-package") is None


def test_a_process_without_torch_records_no_torch_version(monkeypatch):
    """A result need not come from torch (an engine behind a server): its version is then None, not a made-up
    string, and the environment still validates."""
    import builtins

    from harness.provenance import host_facts
    from harness.results.schema import Environment

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    facts = host_facts()
    assert facts["torch_version"] is None and facts["torch_cuda_version"] is None
    environment = Environment.model_validate({"meter_backend": "none", **facts})
    assert environment.torch_version is None
