"""Benchmarks of the protloc package: run each as a module from the repository root,
e.g. ``.venv/bin/python -m benchmarks.bench_app`` (figures in docs/benchmarks.md)."""
