"""Classic baselines for vadbench (registered through the ``vadbench`` entry point)."""
