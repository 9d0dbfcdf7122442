"""Result files: the versioned schema, their plausibility checks, and reading/writing them."""
