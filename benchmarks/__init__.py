"""Throughput and latency harnesses, run from the repository root as `python -m benchmarks.<name>`.

`benchmarks.harness` holds what they share (the repository, a broker, saving results with their
history); `benchmarks.children` stops whatever a harness starts. `quix_smoothing_app.py` is the
exception: it runs as a file in Quix Streams' own venv and imports nothing from here.
"""
