"""Context -> HTML (Jinja) -> PDF (WeasyPrint), and the public ``render_*`` functions.

Each ``render_*`` function takes the contract frames of :mod:`transforms.schema`,
builds one :class:`~reports.context.ReportContext` per recipient, renders it, and
returns one :class:`Rendered` per recipient. A report whose subject has no email
address is still rendered (``recipient_email`` None); delivery skips it and says why.

``content_hash`` is the SHA-256 of the rendered HTML with the "generated at"
stamp left out, so rendering the same data twice gives the same hash while the
PDF bytes (which embed timestamps) differ. PDFs are written to a temporary file
and renamed, so a crash never leaves half a PDF under the final name.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from markupsafe import Markup

from config.models import Settings
from reports import context as ctxmod
from reports import chat
from reports import email as mail
from reports import fonts, pdf_writer
from reports.context import ReportContext
from reports.formatting import format_datetime
from reports.templating import render_template

log = logging.getLogger("yeji.reports.render")

TEMPLATES = {
    "weekly_review": "member_review.html",
    "team_summary": "team_summary.html",
    "commission_statement": "commission_statement.html",
    "finance_summary": "finance_summary.html",
}
_STAMP = "\x1eYEJI-GENERATED\x1e"
# Below this many PDFs a batch is written by the calling process alone: a worker needs 1.4-1.6 s
# of CPU to become ready (WeasyPrint import, fonts), more than it would save (BENCHMARKS.md).
MIN_PDFS_FOR_WORKERS = 6
_STAMP_ISO = "\x1eYEJI-GENERATED-ISO\x1e"


@dataclass(frozen=True)
class Rendered:
    """One rendered report for one recipient: what :func:`reports.delivery.deliver` sends."""

    report_kind: str  # weekly_review | team_summary | commission_statement | finance_summary
    period: str  # "2026-W46" or "2026-10"
    member_id: str | None  # whose data it is (member reports); None for team / finance reports
    team_id: str | None
    recipient_email: str | None  # None: nobody to send to (see no_recipient_reason)
    recipient_name: str | None
    language: str  # zh-CN | en
    subject: str
    html_body: str  # the email's HTML summary (this recipient's numbers only)
    text_body: str  # its plain-text alternative
    pdf_path: Path
    attachment_filename: str  # 业绩周报_2026-W46_张伟.pdf
    content_hash: str  # sha256 of the report's content (rendered HTML without the generated-at stamp)
    no_recipient_reason: str | None = None
    render_seconds: float = 0.0  # time WeasyPrint took for this PDF (0 when shared with another item)
    chat_text: str = ""  # team summaries: the digest posted to the team chat (reports.chat.team_digest)

    @property
    def delivery_key(self) -> tuple[str, str, str] | None:
        """The outbox key ``(report kind, period, recipient)``; None without a recipient."""
        if not self.recipient_email:
            return None
        return (self.report_kind, self.period, self.recipient_email.strip().lower())


# ----------------------------------------------------------------------------- PDF writing


class PdfWorkerError(RuntimeError):
    """A PDF worker process failed a PDF or ended unexpectedly: the batch fails, naming the file."""


class _Worker:
    """One worker process (``reports/pdf_writer.py`` as a script) and our end of its socket.

    Started with :func:`subprocess.Popen` (fork + exec, safe beside Prefect's threads), it
    imports only WeasyPrint and warms up in the background while the caller composes HTML."""

    def __init__(self, setup: fonts.FontSetup):
        ours, theirs = multiprocessing.Pipe()
        self.conn = ours
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-P", pdf_writer.__file__, str(theirs.fileno()), setup.face_css, setup.stack],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            )
        finally:
            theirs.close()  # only the worker holds its end: its exit is our end-of-file
        self.ready_after: float | None = None  # seconds from start to warm, as the worker measured it
        self.ipc_seconds = 0.0  # round trips minus the worker's own PDF time: sending HTML, answers, waking up

    def _ended(self, doing: str) -> PdfWorkerError:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        how = ("did not answer" if code is None else
               f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}")
        return PdfWorkerError(f"PDF worker process {self.process.pid} {how} {doing}: the batch failed"
                              " (the worker's own error output, if any, is above)")

    def wait_ready(self, give_up) -> bool:
        """True once the worker is warm; False when ``give_up()`` turns true first."""
        while self.ready_after is None:
            try:
                if self.conn.poll(0.05):
                    _ready, self.ready_after = self.conn.recv()
                elif give_up():
                    return False
            except (EOFError, OSError):
                raise self._ended("while starting") from None
        return True

    def write(self, html: str, path: Path, face_css: str, stack: str) -> float:
        started = time.perf_counter()
        try:
            self.conn.send(("pdf", html, str(path), face_css, stack))
            reply = self.conn.recv()
        except (EOFError, OSError):
            raise self._ended(f"while writing {path}") from None
        if reply[0] == "failed":
            raise PdfWorkerError(f"could not write {path}: {reply[1]}")
        _done, seconds, warnings = reply
        self.ipc_seconds += time.perf_counter() - started - seconds
        for name, level, message in warnings:  # WeasyPrint's warnings, as if written here
            logging.getLogger(name).log(level, "%s", message)
        return seconds

    def close(self) -> None:
        if self.ready_after is None and not self.conn.poll():  # still warming up: nothing to finish
            self.process.kill()
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.conn.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class PdfWorkers:
    """Processes that write PDFs beside the calling process, which writes PDFs too.

    ``PdfWorkers(jobs)`` stands for ``jobs`` processes in all: the caller and ``jobs - 1``
    workers (at most one per core). :meth:`start` launches the workers without waiting;
    each imports WeasyPrint, loads the fonts and writes one tiny PDF (~1 s) while the caller
    builds contexts and HTML. :meth:`write` then hands out one PDF at a time from a shared
    queue to whoever is free, the caller included, so the split is even whatever the load
    and however late a worker becomes ready. Only the final HTML and a path travel to a
    worker (~11 kB per review). A worker that fails a PDF or dies fails the batch with a
    :class:`PdfWorkerError` naming it; the caller never waits for an answer that cannot come.
    One instance may serve several batches (reviews, then team summaries); close it after.
    """

    def __init__(self, jobs: int = 1):
        self.jobs = max(1, min(int(jobs), os.cpu_count() or 1))
        self._workers: list[_Worker] = []
        self.last_batch: dict = {}  # what the last write did: PDFs per process, workers' warm-up seconds

    def start(self, setup: fonts.FontSetup | None = None) -> PdfWorkers:
        """Launch the workers (no-op when already started, or with ``jobs`` 1)."""
        if self._workers or self.jobs <= 1:
            return self
        setup = setup or fonts.prepare_fonts()  # a later batch's own font rules replace these if they differ
        self._workers = [_Worker(setup) for _ in range(self.jobs - 1)]
        return self

    @property
    def started(self) -> bool:
        return bool(self._workers)

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    def wait_ready(self) -> list[float]:
        """Wait until every worker is warm; the seconds each took from its start (its start-up)."""
        for worker in self._workers:
            worker.wait_ready(lambda: False)
        return [w.ready_after for w in self._workers]

    def write(self, tasks: list[tuple[str, Path]], face_css: str, stack: str) -> list[float]:
        """Write ``(html, path)`` pairs; the seconds each PDF took, in the order given."""
        if not self._workers:
            return [pdf_writer.write_pdf(html, path, face_css, stack) for html, path in tasks]
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(len(tasks)):
            todo.put(index)
        seconds: list[float | None] = [None] * len(tasks)
        by_process = [0] * (len(self._workers) + 1)
        for worker in self._workers:
            worker.ipc_seconds = 0.0
        failures: list[BaseException] = []
        stop = threading.Event()

        def claim() -> int | None:
            if stop.is_set():
                return None
            try:
                return todo.get_nowait()
            except queue.Empty:
                return None

        def feed(number: int, worker: _Worker) -> None:
            try:
                if not worker.wait_ready(lambda: stop.is_set() or todo.empty()):
                    return
                while (index := claim()) is not None:
                    html, path = tasks[index]
                    seconds[index] = worker.write(html, path, face_css, stack)
                    by_process[number] += 1
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread below
                failures.append(error)
                stop.set()

        feeders = [threading.Thread(target=feed, args=(n + 1, w), name=f"yeji-pdf-feed-{n + 1}", daemon=True)
                   for n, w in enumerate(self._workers)]
        for thread in feeders:
            thread.start()
        try:
            while (index := claim()) is not None:
                html, path = tasks[index]
                seconds[index] = pdf_writer.write_pdf(html, path, face_css, stack)
                by_process[0] += 1
        except BaseException:
            stop.set()  # workers finish the PDF in hand and take no more
            raise
        finally:
            for thread in feeders:
                thread.join()
        self.last_batch = {"pdfs_by_process": by_process, "workers_ready_after": [w.ready_after for w in self._workers],
                           "ipc_seconds": sum(w.ipc_seconds for w in self._workers)}
        if failures:
            self.close()
            raise failures[0]
        return seconds  # type: ignore[return-value]  # every index was written, or we raised

    def close(self) -> None:
        """End the workers (each finishes nothing new; killed if it does not stop in 10 s)."""
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()

    def __enter__(self) -> PdfWorkers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_pdfs(tasks: list[tuple[str, Path]], face_css: str, stack: str, jobs: int | PdfWorkers = 1) -> list[float]:
    """Write ``(html, path)`` pairs; returns the seconds each PDF took. ``jobs``: a number of
    processes (workers are started for this batch only when it has at least
    :data:`MIN_PDFS_FOR_WORKERS` PDFs), or :class:`PdfWorkers` already started by the caller."""
    if isinstance(jobs, PdfWorkers):
        return jobs.write(tasks, face_css, stack)
    with PdfWorkers(jobs if len(tasks) >= MIN_PDFS_FOR_WORKERS else 1) as workers:
        return workers.start().write(tasks, face_css, stack)


# ----------------------------------------------------------------------------- HTML


def render_html(ctx: ReportContext, *, generated: str = _STAMP, generated_iso: str = _STAMP_ISO) -> str:
    """The report's HTML. Without ``generated`` it carries a placeholder (used for the hash)."""
    return render_template(
        TEMPLATES[ctx.kind], ctx=ctx, doc=ctx.doc, r=ctx.body, lang=ctx.lang,
        generated=Markup(generated) if generated == _STAMP else generated,
        generated_iso=generated_iso,
    )


def _now(settings: Settings, generated_at: datetime | None) -> datetime:
    zone = ZoneInfo(settings.timezone)
    if generated_at is None:
        return datetime.now(zone)
    return generated_at.astimezone(zone) if generated_at.tzinfo else generated_at.replace(tzinfo=zone)


def _render(contexts: list[ReportContext], settings: Settings, out_dir: Path, jobs: int | PdfWorkers,
            generated_at: datetime | None) -> list[Rendered]:
    workers = jobs if isinstance(jobs, PdfWorkers) else PdfWorkers(jobs)
    if len(contexts) >= MIN_PDFS_FOR_WORKERS:
        workers.start()  # they warm up while the HTML and the emails are composed below
    try:
        return _compose_and_write(contexts, settings, out_dir, workers, generated_at)
    finally:
        if workers is not jobs:
            workers.close()


def _compose_and_write(contexts: list[ReportContext], settings: Settings, out_dir: Path, workers: PdfWorkers,
                       generated_at: datetime | None) -> list[Rendered]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp_time = _now(settings, generated_at)
    pending: dict[Path, str] = {}
    hashes: dict[Path, str] = {}
    items = []
    for ctx in contexts:
        template_html = render_html(ctx)
        content_hash = hashlib.sha256(template_html.encode("utf-8")).hexdigest()
        path = out_dir / f"{ctx.file_stem}.pdf"
        if path in hashes and hashes[path] != content_hash:
            raise ValueError(f"two different reports would be written to {path}")
        if path not in hashes:
            stamp = mail_escape(format_datetime(stamp_time, ctx.lang))
            pending[path] = template_html.replace(_STAMP, stamp).replace(_STAMP_ISO, stamp_time.isoformat())
            hashes[path] = content_hash
        subject, html_body, text_body = mail.compose_bodies(ctx, settings)
        items.append((ctx, path, content_hash, subject, html_body, text_body))
    setup = fonts.prepare_fonts("".join(pending.values()))
    seconds = dict(zip(pending, write_pdfs([(html, path) for path, html in pending.items()], setup.face_css, setup.stack, workers)))
    for path, took in seconds.items():
        log.info("rendered %s in %.2f s (fonts: %s)", path.name, took, setup.mode)
    out = []
    for ctx, path, content_hash, subject, html_body, text_body in items:
        aud = ctx.audience
        out.append(Rendered(
            report_kind=ctx.kind, period=ctx.doc.period.label, member_id=ctx.member_id, team_id=ctx.team_id,
            recipient_email=aud.email, recipient_name=aud.name, language=ctx.lang, subject=subject,
            html_body=html_body, text_body=text_body, pdf_path=path,
            attachment_filename=mail.attachment_filename(ctx), content_hash=content_hash,
            no_recipient_reason=aud.missing_reason if not aud.email else None,
            render_seconds=seconds.pop(path, 0.0),
            chat_text=chat.team_digest(ctx),
        ))
    return out


def mail_escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


# ----------------------------------------------------------------------------- public API


def render_weekly_reviews(
    member_metrics: pd.DataFrame,
    trend: pd.DataFrame,
    top_customers: pd.DataFrame,
    quiet_customers: pd.DataFrame,
    commission_lines_mtd: pd.DataFrame,
    members: pd.DataFrame,
    teams: pd.DataFrame,
    period,
    settings: Settings,
    out_dir: Path,
    *,
    jobs: int | PdfWorkers = 1,
    generated_at: datetime | None = None,
) -> list[Rendered]:
    """One weekly performance review per active member with a MEMBER_METRICS row in ``period``."""
    contexts = ctxmod.build_weekly_reviews(
        member_metrics, trend, top_customers, quiet_customers, commission_lines_mtd, members, teams, period,
        settings, font=fonts.font_stack())
    return _render(contexts, settings, out_dir, jobs, generated_at)


def render_team_summaries(
    team_metrics: pd.DataFrame,
    member_metrics: pd.DataFrame,
    mix_platform: pd.DataFrame,
    mix_country: pd.DataFrame,
    quiet_customers: pd.DataFrame,
    members: pd.DataFrame,
    teams: pd.DataFrame,
    period,
    settings: Settings,
    out_dir: Path,
    *,
    trend: pd.DataFrame | None = None,
    jobs: int | PdfWorkers = 1,
    generated_at: datetime | None = None,
) -> list[Rendered]:
    """One team weekly summary per TEAM_METRICS row in ``period``, for the team lead."""
    contexts = ctxmod.build_team_summaries(
        team_metrics, member_metrics, mix_platform, mix_country, quiet_customers, members, teams, period, settings,
        font=fonts.font_stack(), trend=trend)
    return _render(contexts, settings, out_dir, jobs, generated_at)


def render_commission_statements(
    commission_lines: pd.DataFrame,
    commission_summary: pd.DataFrame,
    members: pd.DataFrame,
    teams: pd.DataFrame,
    month,
    settings: Settings,
    out_dir: Path,
    *,
    jobs: int | PdfWorkers = 1,
    generated_at: datetime | None = None,
) -> list[Rendered]:
    """One statement per COMMISSION_SUMMARY row of ``month``, listing every line; raises
    :class:`~reports.context.ReconciliationError` when a total is not the sum of its lines."""
    contexts = ctxmod.build_commission_statements(commission_lines, commission_summary, members, teams, month, settings)
    return _render(contexts, settings, out_dir, jobs, generated_at)


def render_finance_summary(
    commission_summary: pd.DataFrame,
    commission_lines: pd.DataFrame | None,
    members: pd.DataFrame,
    teams: pd.DataFrame,
    month,
    settings: Settings,
    out_dir: Path,
    *,
    generated_at: datetime | None = None,
) -> list[Rendered]:
    """The month's finance summary, one item per ``delivery.finance_recipients`` address
    (one PDF per language); a single item without recipient when none is configured."""
    contexts = ctxmod.build_finance_summary(commission_summary, commission_lines, members, teams, month, settings)
    return _render(contexts, settings, out_dir, 1, generated_at)
