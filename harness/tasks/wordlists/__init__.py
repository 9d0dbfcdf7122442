"""Word lists and sentence templates from which `harness.tasks.inputs` builds its built-in input sets.

Data only. Changing a file here changes the built-in inputs' content hashes: bump the set's version in
`harness.tasks.inputs.BUILTIN_VERSIONS` (and the tasks' versions) when you do.
"""
