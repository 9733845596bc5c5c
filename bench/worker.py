"""One benchmark in one process: ``python -m bench.worker NAME '{json params}'``.

Prints the figures as one JSON line (the last line of stdout). Each benchmark runs Yeji
and its reference alternately on the same data, ``runs`` times each.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from bench.generate import Shape, fresh, generate, lines_ending_at, settings
from bench.harness import REPO, Figure, children_peak_mb, dump, measure
from transforms.periods import month as month_of
from transforms.periods import parse_period

WEEK = parse_period("2026-W46")  # the last complete week of the generated data (Shape.end)
MONTH = month_of(WEEK.end - timedelta(days=1))


# ----------------------------------------------------------------------------- compute


def yeji_compute(data, commission, trend_weeks: int = 12) -> dict:
    """Weekly metrics (this week and the previous one) and the month's commissions."""
    from transforms import commissions, metrics

    data = fresh(data)  # nothing memoised from an earlier run
    previous = WEEK.previous()
    out = {
        "member_metrics": metrics.member_metrics(data, WEEK),
        "member_metrics_previous": metrics.member_metrics(data, previous),
        "team_metrics": metrics.team_metrics(data, WEEK),
        "trend": metrics.weekly_trend(data, WEEK, trend_weeks),
    }
    credits = commissions.credits_for_month(data, MONTH)
    out["commission_lines"] = commissions.commission_lines(credits, data.members, data.teams, commission, MONTH)
    out["commission_summary"] = commissions.commission_summary(
        out["commission_lines"], data.members, commission, MONTH, data.teams)
    return out


def _warm_up(commission, with_duck: bool) -> None:
    """One unmeasured run on tiny data: imports and first-call costs stay out of the figures.
    Then the heap is settled as the flows do before their first run (:func:`flows.common.settle_heap`)."""
    from bench import duck
    from flows.common import settle_heap

    tiny = generate(Shape(lines=3_000, members=20, days=60), seed=1)
    yeji_compute(tiny, commission)
    if with_duck and duck.available():
        duck.compute(tiny, WEEK, MONTH, commission)
    settle_heap()


def compute(p: dict) -> list[Figure]:
    from bench import duck

    commission = settings().commission
    _warm_up(commission, with_duck=True)  # first: the flows settle the heap before they read their data
    data = generate(Shape(lines=p["lines"], members=p["members"], days=p.get("days", 365)), seed=p.get("seed", 7))
    size = f"{len(data.order_lines):,} lines, {p['members']} members"
    yeji_s, duck_s, yeji_mb, duck_mb = [], [], 0.0, 0.0
    note = "DuckDB not installed: no reference"
    for i in range(p["runs"]):
        s, mb, y = measure(lambda: yeji_compute(data, commission))
        yeji_s.append(s)
        yeji_mb = max(yeji_mb, mb)
        if duck.available():
            s, mb, d = measure(lambda: duck.compute(data, WEEK, MONTH, commission))
            duck_s.append(s)
            duck_mb = max(duck_mb, mb)
            if i == 0:
                diffs = duck.differences(y, d)
                note = "same results as DuckDB" if not diffs else "DIFFERENT from DuckDB: " + "; ".join(diffs[:3])
    figures = [Figure("compute", f"Yeji weekly metrics + monthly commissions ({size})", yeji_s, yeji_mb,
                      reference=f"DuckDB SQL, same aggregates ({size})" if duck_s else None, note=note,
                      extra={"lines": len(data.order_lines), "orders": len(data.orders)})]
    if duck_s:
        figures.append(Figure("compute", f"DuckDB SQL, same aggregates ({size})", duck_s, duck_mb, note="reference"))
    return figures


# ----------------------------------------------------------------------------- weekly run over history


def yeji_weekly(url: str, cfg) -> dict:
    """What the weekly flow does before rendering: read the week's window from the warehouse
    (the same function its task calls) and compute every frame the reports show."""
    from flows.common import read_weekly_data
    from transforms.weekly import weekly_review_frames
    from warehouse.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            data = read_weekly_data(conn, WEEK, cfg)
    finally:
        engine.dispose()
    return weekly_review_frames(data, WEEK, cfg.reports, cfg.commission)


def _history_warehouse(shape: Shape, seed: int, url: str) -> int:
    """Generated data loaded into an empty warehouse at ``url`` (not measured); its line count."""
    from bench.generate import to_warehouse
    from warehouse.db import make_engine, migrate

    data = generate(shape, seed=seed)
    engine = make_engine(url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            to_warehouse(data, conn)
        if engine.dialect.name == "postgresql":  # what autovacuum does soon after a load, done before measuring
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        engine.dispose()
    return len(data.order_lines)


@contextmanager
def _history_databases(server: str | None, tmp: Path) -> Iterator[Callable[[str], str]]:
    """Warehouse URLs by name: SQLite files in ``tmp``; with ``server`` (a PostgreSQL URL whose
    user may create databases), databases ``yeji_bench_<name>`` created empty and dropped after."""
    if server is None:
        yield lambda name: f"sqlite:///{tmp / name}.db"
        return
    from sqlalchemy.engine import make_url

    from warehouse.db import make_engine

    admin = make_engine(server)
    created: list[str] = []

    def database(name: str) -> str:
        db = f"yeji_bench_{name}"
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{db}"')
        created.append(db)
        return make_url(server).set(database=db).render_as_string(hide_password=False)

    try:
        yield database
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for db in created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.dispose()


def history(p: dict) -> list[Figure]:
    """The weekly run (warehouse read + compute) on a long history against a short one, both
    ending with ``lines_per_day`` lines a day (the same weeks' work), from SQLite; and from
    PostgreSQL too when ``p["postgres"]`` (else ``$YEJI_BENCH_DATABASE_URL``) names a server."""
    cfg = settings()
    _warm_up(cfg.commission, with_duck=False)
    per_day = p["lines_per_day"]
    servers = {"SQLite": None}
    server = p["postgres"] if "postgres" in p else os.environ.get("YEJI_BENCH_DATABASE_URL")
    if server:
        servers["PostgreSQL"] = server
    out = []
    tmp = Path(tempfile.mkdtemp(prefix="yeji-bench-history-"))
    try:
        for backend, server in servers.items():
            with _history_databases(server, tmp) as database:
                url = database("warm")
                _history_warehouse(Shape(lines=3_000, members=20, days=60), 1, url)
                yeji_weekly(url, cfg)  # imports and first-call costs stay out of the figures
                out += _history_runs(p, cfg, per_day, backend, database)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _history_runs(p: dict, cfg, per_day: int, backend: str, database) -> list[Figure]:
    """Every history loaded first, then measured in turns (3 months, 1 year, 3 years, 3 months,
    ...): the machine's speed drifts over minutes (a shared VM), and measuring one size after the
    other would put the drift into the ratio."""
    sizes = [p["short_days"], *([p["mid_days"]] if p.get("mid_days") else []), p["long_days"]]
    urls, lines = {}, {}
    for days in sizes:
        shape = Shape(lines=lines_ending_at(per_day, days), members=p["members"], days=days)
        urls[days] = database(f"history_{days}")
        lines[days] = _history_warehouse(shape, p.get("seed", 7), urls[days])
    runs: dict[int, list] = {days: [] for days in sizes}
    cpu: dict[int, list[float]] = {days: [] for days in sizes}
    for _ in range(p["runs"]):
        for days in sizes:
            started = time.process_time()
            runs[days].append(measure(lambda: yeji_weekly(urls[days], cfg)))
            cpu[days].append(time.process_time() - started)
    out: list[Figure] = []
    short = None
    for days in sizes:
        name = f"weekly run from {backend}, {days} days of history ({lines[days]:,} lines)"
        note = f"read + compute; CPU {statistics.median(cpu[days]):.2f} s"
        if short:
            note += f" ({statistics.median(cpu[days]) / out[0].extra['cpu']:.2f}x)"
        if days == p["long_days"]:
            note += "; goal: long/short < 1.3x"
        if backend == "PostgreSQL":
            note += "; CPU: Yeji's process only, not the server's"
        out.append(Figure("scaling", name, [r[0] for r in runs[days]], max(r[1] for r in runs[days]), reference=short,
                          note=note, extra={"cpu": statistics.median(cpu[days])}))
        short = short or name
    return out


# ----------------------------------------------------------------------------- render


def _burn(n: int) -> float:
    started = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return time.perf_counter() - started


def parallel_ceiling(n: int = 8_000_000) -> float:
    """How much faster two processes do two equal CPU-bound jobs than one process, right now:
    ~2.0 on two idle cores, ~1.0 when other work takes a core. The best jobs=2 can reach."""
    import multiprocessing

    started = time.perf_counter()
    _burn(n), _burn(n)
    serial = time.perf_counter() - started
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_burn, [1000, 1000])  # start-up not measured
        started = time.perf_counter()
        pool.map(_burn, [n, n], chunksize=1)
        return serial / (time.perf_counter() - started)


def cpu_seconds() -> float:
    """User + system CPU of this process and of its children that have ended (PDF workers)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def worker_start_up() -> tuple[float, float]:
    """(seconds from starting a PDF worker until it is warm, as the caller sees it; the same as
    the worker measured it, from its first line of Python)."""
    from reports.render import PdfWorkers

    with PdfWorkers(2) as workers:
        started = time.perf_counter()
        [inside] = workers.start().wait_ready()
        return time.perf_counter() - started, inside


def _texts(paths) -> list[str]:
    return [subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True, text=True, check=True).stdout
            for p in paths]


def render(p: dict) -> list[Figure]:
    """``members``: reviews to render (~members - 2); ``parallel``: also jobs=2 (with the
    machine's ceiling right before and after); ``bare``: also bare WeasyPrint (default on)."""
    import os

    import reports.render as rr
    from reports import pdf_writer, render_weekly_reviews
    from reports.render import PdfWorkers
    from transforms import commissions, customers, metrics

    cfg = settings()
    data = generate(Shape(lines=p["members"] * 400, members=p["members"], days=120), seed=p.get("seed", 7))
    last_day = WEEK.end - timedelta(days=1)
    credits = commissions.credits_for_month(data, MONTH)
    mm = pd.concat([metrics.member_metrics(data, WEEK), metrics.member_metrics(data, WEEK.previous())])
    frames = (mm, metrics.weekly_trend(data, WEEK, cfg.reports.trend_weeks),
              customers.top_customers(data, WEEK, cfg.reports.top_customers),
              customers.quiet_customers(data, last_day, cfg.reports.quiet_after_days),
              commissions.commission_lines(credits, data.members, data.teams, cfg.commission, MONTH))
    generated = datetime(2026, 11, 16, 8, 0)  # the same stamp in every run: PDFs comparable by text
    captured: dict = {}
    real = rr.write_pdfs

    def capturing(tasks, face_css, stack, jobs=1):
        captured.update(tasks=list(tasks), face_css=face_css, stack=stack)
        return real(tasks, face_css, stack, jobs)

    rr.write_pdfs = capturing
    tmp = Path(tempfile.mkdtemp(prefix="yeji-bench-render-"))
    try:
        def yeji(jobs, out: str):
            return render_weekly_reviews(*frames, data.members, data.teams, WEEK, cfg, tmp / out, jobs=jobs,
                                         generated_at=generated)

        # warm-up (font loading, template compilation): the same for every measured run after it
        first = mm[mm["period"] == WEEK.label].head(2)
        render_weekly_reviews(first, *frames[1:], data.members, data.teams, WEEK, cfg, tmp / "warm", jobs=1)
        from weasyprint import CSS, HTML
        from weasyprint.text.fonts import FontConfiguration

        one, two, bare, own, ceilings, per_pdf = [], [], [], [], [], []
        one_cpu, two_cpu, loads, batches = [], [], [], []
        start_up = worker_start_up() if p.get("parallel", True) else None
        one_mb = bare_mb = 0.0
        count = 0
        same_text = None
        for i in range(p["runs"]):
            loads.append(os.getloadavg()[0])
            cpu = cpu_seconds()
            s, mb, rendered = measure(lambda: yeji(1, f"j1-{i}"))
            one_cpu.append(cpu_seconds() - cpu)
            one.append(s)
            one_mb = max(one_mb, mb)
            count = len(rendered)
            per_pdf += [r.render_seconds for r in rendered]
            own.append(s - sum(r.render_seconds for r in rendered))  # Yeji's own time: all but write_pdf
            tasks, face_css, stack = captured["tasks"], captured["face_css"], captured["stack"]
            if p.get("bare", True):
                if i == 0:  # the bare renderer's stylesheets, built once like Yeji's cache
                    fc = FontConfiguration()
                    sheets = [CSS(string=f"{face_css}\nhtml, body {{ font-family: {stack}; }}\n@page {{ font-family: {stack}; }}\n",
                                  font_config=fc),
                              CSS(string=(pdf_writer.STATIC / "print.css").read_text("utf-8"), font_config=fc,
                                  base_url=pdf_writer.BASE_URL)]
                    HTML(string=tasks[0][0], base_url=pdf_writer.BASE_URL).write_pdf(
                        tmp / "bare-warm.pdf", stylesheets=sheets, font_config=fc)
                out_dir = tmp / f"bare-{i}"
                out_dir.mkdir()

                def bare_render():
                    for k, (html, _path) in enumerate(tasks):
                        HTML(string=html, base_url=pdf_writer.BASE_URL).write_pdf(
                            out_dir / f"{k}.pdf", stylesheets=sheets, font_config=fc)

                s, mb, _ = measure(bare_render)
                bare.append(s)
                bare_mb = max(bare_mb, mb)
            if p.get("parallel", True):
                ceilings.append(parallel_ceiling())
                loads.append(os.getloadavg()[0])
                cpu = cpu_seconds()

                def two_jobs():
                    with PdfWorkers(2) as workers:  # as the flows do: started by the render call, warmed meanwhile
                        result = yeji(workers, f"j2-{i}")
                        batches.append(workers.last_batch)
                    return result

                s, _mb, parallel = measure(two_jobs)
                two_cpu.append(cpu_seconds() - cpu)
                two.append(s)
                ceilings.append(parallel_ceiling())
                if i == 0:
                    same_text = ([r.pdf_path.name for r in parallel] == [r.pdf_path.name for r in rendered]
                                 and _texts(r.pdf_path for r in parallel) == _texts(r.pdf_path for r in rendered))
        label = f"{count} review PDFs"
        load = f"load average {min(loads):.1f}-{max(loads):.1f}"
        figures = [
            Figure("render", f"Yeji render_weekly_reviews, {label}, jobs=1", one, one_mb,
                   reference=f"bare WeasyPrint, same final HTML, {label}" if bare else None,
                   note=(f"goal: overhead < 15% of bare; Yeji's own time (context, charts, templates, fonts, email"
                         f" bodies) {statistics.median(own):.2f} s"
                         + (f" = {100 * statistics.median(own) / statistics.median(bare):.1f}% of bare" if bare else "")
                         + f"; per PDF {statistics.median(per_pdf):.2f} s (median); CPU {statistics.median(one_cpu):.1f} s;"
                           f" {load}"),
                   extra={"pdfs": count, "own_seconds": own, "cpu_seconds": one_cpu, "load": loads}),
        ]
        if bare:
            figures.append(Figure("render", f"bare WeasyPrint, same final HTML, {label}", bare, bare_mb, note="reference"))
        if two:
            share = "/".join(str(n) for n in batches[0]["pdfs_by_process"])
            figures.append(Figure(
                "render", f"Yeji render_weekly_reviews, {label}, jobs=2", two, children_peak_mb(),
                reference=f"Yeji render_weekly_reviews, {label}, jobs=1",
                note=(f"goal: >= 1.7x faster than jobs=1; two CPU-bound processes were {min(ceilings):.2f}x-"
                      f"{max(ceilings):.2f}x as fast as one around these runs (2.0 = two idle cores); CPU"
                      f" {statistics.median(two_cpu):.1f} s (caller + worker); worker ready {start_up[0]:.2f} s after"
                      f" start; PDFs caller/worker {share}; IPC {batches[0]['ipc_seconds']:.2f} s;"
                      f" {'same text and order as jobs=1' if same_text else 'TEXT DIFFERS from jobs=1'}; peak: worker"),
                extra={"parallel_ceiling": ceilings, "cpu_seconds": two_cpu, "worker_start_up": start_up,
                       "batches": batches, "same_text": same_text}))
        return figures
    finally:
        rr.write_pdfs = real
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- spreadsheet ingest (sync slot)


def _orders_csv(data, rows: int, path: Path) -> int:
    o = data.orders.head(rows)
    exp = o["currency"].map(lambda c: 0 if c == "JPY" else 2)

    def major(col):
        # exact major units from minor units (amounts here are never negative)
        return [f"{v // 10**e}.{v % 10**e:0{e}d}" if e else str(v) for v, e in zip(o[col].tolist(), exp.tolist())]

    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "ordered_at", "currency", "gross", "discount", "tax", "shipping", "platform", "store",
                    "customer_id", "member_id", "country", "payment_terms", "status"])
        cols = [o["order_id"], o["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S"), o["currency"], major("gross_minor"),
                major("discount_minor"), major("tax_minor"), major("shipping_minor"), o["platform"], o["store"],
                o["customer_id"], o["member_id"].fillna(""), o["country"], o["payment_terms"], o["status"]]
        w.writerows(zip(*[list(c) for c in cols]))
    return len(o)


def ingest(p: dict) -> list[Figure]:
    from config.models import SpreadsheetSource
    from connectors.spreadsheets import config_sha256, file_sha256, read_source
    from warehouse.db import make_engine, migrate, upsert_frame
    from warehouse.loads import known_refs, load_batch, unchanged_load

    cfg = settings()
    data = generate(Shape(lines=int(p["rows"] * 2.2) + 10, members=p.get("members", 100), days=365))
    tmp = Path(tempfile.mkdtemp(prefix="yeji-bench-ingest-"))
    try:
        path = tmp / "orders.csv"
        rows = _orders_csv(data, p["rows"], path)
        source = SpreadsheetSource(name="bench_orders", kind="orders", path=str(path), timezone="UTC",
                                   attribute_by=["member_column"])
        first, again, forced, ref = [], [], [], []
        first_mb = 0.0
        summary = None
        for i in range(p["runs"]):
            engine = make_engine(f"sqlite:///{tmp / f'w{i}.db'}")
            migrate(engine)
            with engine.begin() as conn:
                upsert_frame(conn, "teams", data.teams.assign(source="bench"))
                upsert_frame(conn, "members", data.members.assign(source="bench"))

            def load(force: bool = False):
                # what flows.sync.load_source does: an unchanged file (same sha256, same settings) is skipped
                started = datetime.now(timezone.utc).replace(tzinfo=None)
                sha, config = file_sha256(path), config_sha256(source, cfg)
                with engine.begin() as conn:
                    last = None if force else unchanged_load(conn, source.name, sha, config)
                    if last is not None:
                        return last
                    batch = read_source(source, path, cfg, known_refs(conn, source.name))
                    return load_batch(conn, source, str(path), sha, batch, started, config_sha256=config)

            s, mb, summary = measure(load)
            first.append(s)
            first_mb = max(first_mb, mb)
            s, _mb, skipped = measure(load)
            again.append(s)
            s, _mb, second = measure(lambda: load(force=True))
            forced.append(s)
            engine.dispose()

            def bare():
                con = sqlite3.connect(tmp / f"bare{i}.db")
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("CREATE TABLE orders (order_id TEXT PRIMARY KEY, ordered_at TEXT, currency TEXT, gross TEXT,"
                            " discount TEXT, tax TEXT, shipping TEXT, platform TEXT, store TEXT, customer_id TEXT,"
                            " member_id TEXT, country TEXT, payment_terms TEXT, status TEXT)")
                with path.open(newline="", encoding="utf-8") as f:
                    reader = csv.reader(f)
                    next(reader)
                    con.executemany("INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", reader)
                con.commit()
                con.close()

            s, _mb, _ = measure(bare)
            ref.append(s)
        note = (f"{summary.rows_loaded:,} loaded, {summary.rows_rejected:,} rejected; again: "
                f"{second.unchanged:,} unchanged, {second.inserted} inserted")
        return [
            Figure("sync", f"spreadsheet ingest, {rows:,} order rows (csv) -> SQLite, first load", first, first_mb,
                   reference="csv module + sqlite3 executemany, same file", note=note + "; goal (store sync): < 30 s"),
            Figure("sync", "spreadsheet ingest, same file again (unchanged, skipped)", again, None,
                   note=f"skipped as load {skipped.load_id}; goal (store sync): < 2 s"),
            Figure("sync", "spreadsheet ingest, same file again with --force (read, checked, compared)", forced, None,
                   note="every row hashed and compared; nothing written"),
            Figure("sync", "csv module + sqlite3 executemany, same file", ref, None,
                   note="reference: text in, no parsing, no checks"),
        ]  # the store sync has a benchmark of its own: `sync` below
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- end to end


def end_to_end(p: dict) -> list[Figure]:
    yeji = REPO / ".venv" / "bin" / "yeji"
    exe = str(yeji) if yeji.exists() else shutil.which("yeji")
    seconds = []
    for _ in range(p["runs"]):
        tmp = Path(tempfile.mkdtemp(prefix="yeji-bench-demo-"))
        try:
            started = time.perf_counter()
            subprocess.run([exe, "demo", "--dir", str(tmp / "demo"), "--fresh"], check=True, capture_output=True,
                           cwd=tmp, timeout=1800)
            seconds.append(time.perf_counter() - started)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return [Figure("end to end", "yeji demo --fresh (make demo), ephemeral Prefect server", seconds, children_peak_mb(),
                   note="peak: largest child process"),
            Figure("end to end", "make demo against a running Prefect server", [float("nan")], None,
                   note="NOT MEASURED yet (needs `prefect server start` and PREFECT_API_URL)")]


def sync(p: dict) -> list[Figure]:
    """Store sync (bench/store_sync.py): orders from sandbox stores in another process into SQLite, then again."""
    from bench.store_sync import run

    first, again, cpu = [], [], []
    result = {}
    for _ in range(p["runs"]):
        tmp = Path(tempfile.mkdtemp(prefix="yeji-bench-sync-"))
        try:
            result = run(p["orders"], tmp / "w.db")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        first.append(result["first"])
        again.append(result["again"])
        cpu.append(result["first_cpu"])
    read = sum(s["rows_read"] for s in result["first_summaries"])
    new = sum(s["inserted"] for s in result["first_summaries"])
    note = (f"{read:,} records ({p['orders']:,} orders + Amazon finance events), {new:,} rows new; "
            f"Yeji's process {statistics.median(cpu):.1f} s CPU, sandbox server {result['server']['cpu']:.1f} s CPU"
            f" ({result['server']['requests']:,} requests) on the same cores; goal < 30 s")
    again_note = (f"{sum(s['rows_read'] for s in result['again_summaries'])} records read, "
                  f"{sum(s['inserted'] + s['updated'] for s in result['again_summaries'])} rows changed; goal < 2 s")
    return [
        Figure("sync", f"store sync, {p['orders']:,} orders from sandbox stores (Shopify, Amazon, WooCommerce) -> SQLite",
               first, None, note=note, extra={"orders": p["orders"]}),
        Figure("sync", "store sync again, nothing new", again, None, note=again_note),
    ]


# ----------------------------------------------------------------------------- commission plans at scale


def commissions(p: dict) -> list[Figure]:
    """The plan engine alone on generated credits (bench/commissions.py): every scheme at once."""
    from bench.commissions import run

    return run(p)


BENCHMARKS = {"compute": compute, "history": history, "render": render, "ingest": ingest, "end_to_end": end_to_end,
              "sync": sync, "commissions": commissions}


def main(argv: list[str]) -> int:
    name, params = argv[0], json.loads(argv[1])
    figures = BENCHMARKS[name](params)
    sys.stdout.write("\n" + dump(figures) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
