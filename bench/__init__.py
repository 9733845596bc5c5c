"""Benchmarks: speed, memory and scaling of Yeji against the fastest tools for the same work.

``python -m bench`` (``make bench``) prints one table; BENCHMARKS.md holds the last run and
what limits each figure. :mod:`bench.generate` makes seeded data at any size,
:mod:`bench.duck` is the DuckDB reference for the Compute benchmark, :mod:`bench.worker`
runs one benchmark in its own process, :mod:`bench.harness` measures time and peak RSS.
Not part of ``make test``; ``tests/test_bench_smoke.py`` runs each at a tiny size.
"""
