"""``python -m bench`` (``make bench``): every benchmark, one table.

    python -m bench                      # the full set (about 15-25 minutes on 2 cores)
    python -m bench --quick              # tiny sizes, one run each: checks the harness (a minute)
    python -m bench --only compute,render --runs 5
    python -m bench --markdown out.md    # also write the table as Markdown

Each benchmark runs in a fresh interpreter (``bench.worker``) so that peak memory is its
own. Figures are medians over ``--runs`` runs; a reference runs in the same process, on
the same data, alternating with Yeji. The DuckDB reference needs ``duckdb`` importable
(``pip install -e '.[bench]'``); without it the Compute row has no ratio.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

from bench.harness import Figure, run_child


def plan(quick: bool, runs: int | None) -> list[tuple[str, dict]]:
    r = runs or (1 if quick else 3)
    if quick:
        return [
            ("compute", dict(lines=20_000, members=50, runs=r)),
            ("compute", dict(lines=50_000, members=50, runs=r)),
            ("history", dict(lines_per_day=50, members=50, short_days=91, long_days=365, runs=r)),
            ("render", dict(members=8, runs=r, parallel=False)),
            ("ingest", dict(rows=2_000, runs=r)),
            ("sync", dict(orders=2_000, runs=r)),
            ("commissions", dict(lines=20_000, members=100, runs=r)),
        ]
    return [
        ("compute", dict(lines=10_000, members=500, runs=r)),
        ("compute", dict(lines=100_000, members=500, runs=r)),
        ("compute", dict(lines=1_000_000, members=500, runs=r)),
        ("history", dict(lines_per_day=1_000, members=500, short_days=91, mid_days=365, long_days=1095, runs=r)),
        ("render", dict(members=13, runs=1, parallel=False)),
        ("render", dict(members=26, runs=1, parallel=False)),
        ("render", dict(members=52, runs=r)),
        ("ingest", dict(rows=100_000, runs=r)),
        ("sync", dict(orders=100_000, runs=r)),
        ("commissions", dict(lines=100_000, members=500, runs=r)),
        ("commissions", dict(lines=1_000_000, members=500, runs=r)),
        ("end_to_end", dict(runs=1)),
    ]


def _fmt_s(seconds: float) -> str:
    if math.isnan(seconds):
        return "—"
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def table(figures: list[Figure]) -> list[list[str]]:
    by_name = {f.name: f for f in figures}
    rows = []
    for f in figures:
        ref = by_name.get(f.reference) if f.reference else None
        ratio = ""
        if ref is not None and not math.isnan(f.median) and ref.median > 0:
            x = f.median / ref.median
            ratio = f"{1 / x:.2f}x faster" if "jobs=2" in f.name else f"{x:.2f}x"
            if f.benchmark == "render" and "jobs=1" in f.name:
                ratio += f" (overhead {100 * (x - 1):+.0f}%)"
        runs = "" if all(math.isnan(s) for s in f.seconds) else str(len(f.seconds))
        peak = "" if f.peak_mb is None else f"{f.peak_mb:,.0f}"
        rows.append([f.benchmark, f.name, _fmt_s(f.median), runs, ratio, peak, f.note])
    return rows


def slopes(figures: list[Figure]) -> list[str]:
    """log-log slope of time against size between consecutive sizes (1.0 = linear)."""
    out = []
    for bench, key, unit in (("compute", "lines", "lines"), ("render", "pdfs", "PDFs")):
        points = sorted(
            (f.extra[key], f.median) for f in figures
            if f.benchmark == bench and key in f.extra and ("jobs=1" in f.name or bench == "compute")
        )
        if len(points) < 2:
            continue
        parts = [f"{n:,} {unit}: {t:.2f} s" for n, t in points]
        steps = [
            f"{math.log(t2 / t1) / math.log(n2 / n1):.2f}" for (n1, t1), (n2, t2) in zip(points, points[1:])
            if n2 != n1 and t1 > 0
        ]
        out.append(f"{bench}: " + ", ".join(parts) + f"; slope (log time / log size) per step: {', '.join(steps)}")
    return out


def render_text(rows: list[list[str]]) -> str:
    header = ["benchmark", "figure", "median s", "runs", "vs reference", "peak RSS MB", "note"]
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def render_markdown(rows: list[list[str]]) -> str:
    header = ["benchmark", "figure", "median s", "runs", "vs reference", "peak RSS MB", "note"]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3, --quick 1)")
    parser.add_argument("--only", help="comma-separated: compute,history,render,ingest,sync,end_to_end,commissions")
    parser.add_argument("--markdown", type=Path, help="also write the table (Markdown) to this file")
    args = parser.parse_args(argv)
    wanted = set(args.only.split(",")) if args.only else None
    figures: list[Figure] = []
    started = time.perf_counter()
    for name, params in plan(args.quick, args.runs):
        if wanted and name not in wanted:
            continue
        t = time.perf_counter()
        print(f"running {name} {params} ...", file=sys.stderr, flush=True)
        try:
            figures += run_child(name, params)
        except Exception as exc:  # one broken benchmark must not hide the others
            figures.append(Figure(name, f"{name} {params}", [float("nan")], note=f"FAILED: {str(exc).splitlines()[0]}"))
        print(f"  done in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    rows = table(figures)
    print(render_text(rows))
    scaling = slopes(figures)
    for s in scaling:
        print(s)
    print(f"\n{len(figures)} figures in {time.perf_counter() - started:.0f} s; python {platform.python_version()}; "
          "peak RSS per benchmark process (VmHWM reset before each measured call)")
    if args.markdown:
        args.markdown.write_text(render_markdown(rows) + "\n\n" + "\n".join(f"- {s}" for s in scaling) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
