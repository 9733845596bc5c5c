"""The render benchmark's jobs=2 figure at a tiny size: it runs, and its PDFs read as jobs=1's."""

from __future__ import annotations

from bench import worker
from reports.render import MIN_PDFS_FOR_WORKERS


def test_render_benchmark_jobs_2_smoke():
    figures = worker.render(dict(members=10, runs=1, bare=False))
    one, two = figures
    assert one.extra["pdfs"] >= MIN_PDFS_FOR_WORKERS  # big enough for a worker to be started
    assert two.name.endswith("jobs=2") and two.reference == one.name
    assert two.extra["same_text"] is True, two.note  # same PDFs (pdftotext), same order as jobs=1
    [batch] = two.extra["batches"]
    assert sum(batch["pdfs_by_process"]) == one.extra["pdfs"]
    assert len(two.extra["parallel_ceiling"]) == 2 and all(c > 0 for c in two.extra["parallel_ceiling"])
    assert two.extra["worker_start_up"][0] > 0 and all(s > 0 for s in two.extra["cpu_seconds"])
