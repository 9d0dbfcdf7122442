"""Code that stands in for the real thing: the fake NVML, synthetic result files, tiny demo models.

Nothing here measures anything; it exists so the real code paths run without a GPU or a model download.
"""
