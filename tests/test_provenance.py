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
