"""Reproducible energy benchmarks for AI models.

The harness runs a fixed, versioned workload on a model while NVML's hardware energy counter
measures the GPU, and writes a versioned result file whose headline is Wh per 1000 queries.
"""

__version__ = "0.1.0"
