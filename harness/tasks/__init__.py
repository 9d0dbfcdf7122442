"""From task files to a resolved task: specs, the task registry, presets, overrides, run resolution, inputs."""
