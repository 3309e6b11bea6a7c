"""The benchmarks run only when asked (`tox -e bench` sets VADBENCH_BENCH=1): they fit every model first."""

import os

if os.environ.get("VADBENCH_BENCH") != "1":
    collect_ignore_glob = ["test_*.py"]
