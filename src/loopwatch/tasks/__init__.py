"""Tasks as plugins: each folder is one task (its data, model, predictor, routes and
task-specific monitoring); ``registry`` finds them through the ``loopwatch.tasks``
entry-point group, so a task can also live in another installed package.

Nothing is imported here: the spine and the CLI load a task only when it is asked for.
"""
