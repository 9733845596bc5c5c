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
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from markupsafe import Markup

from config.models import Settings
from reports import context as ctxmod
from reports import email as mail
from reports import fonts
from reports.context import ReportContext
from reports.formatting import format_datetime
from reports.templating import STATIC, render_template

log = logging.getLogger("yeji.reports.render")

TEMPLATES = {
    "weekly_review": "member_review.html",
    "team_summary": "team_summary.html",
    "commission_statement": "commission_statement.html",
    "finance_summary": "finance_summary.html",
}
_STAMP = "\x1eYEJI-GENERATED\x1e"
# A spawned worker costs ~1.5 s before its first PDF (imports, font loading): fan out only
# when each worker gets at least this many PDFs, otherwise one process is faster.
MIN_PDFS_PER_WORKER = 6
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

    @property
    def delivery_key(self) -> tuple[str, str, str] | None:
        """The outbox key ``(report kind, period, recipient)``; None without a recipient."""
        if not self.recipient_email:
            return None
        return (self.report_kind, self.period, self.recipient_email.strip().lower())


# ----------------------------------------------------------------------------- PDF writing

_WRITER: dict[str, object] = {}


def _stylesheets(face_css: str, stack: str):
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    key = face_css + "|" + stack
    cached = _WRITER.get("key")
    if cached != key:
        font_config = FontConfiguration()
        base = (STATIC / "print.css").read_text("utf-8")
        fonts_css = f"{face_css}\nhtml, body {{ font-family: {stack}; }}\n@page {{ font-family: {stack}; }}\n"
        _WRITER.update(
            key=key,
            font_config=font_config,
            sheets=[CSS(string=fonts_css, font_config=font_config), CSS(string=base, font_config=font_config,
                                                                         base_url=str(STATIC) + os.sep)],
        )
    return _WRITER["sheets"], _WRITER["font_config"]


def _write_pdf(html: str, path: str, face_css: str, stack: str) -> float:
    from weasyprint import HTML

    started = time.perf_counter()
    sheets, font_config = _stylesheets(face_css, stack)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".pdf")
    os.close(fd)
    try:
        HTML(string=html, base_url=str(STATIC) + os.sep).write_pdf(tmp, stylesheets=sheets, font_config=font_config)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return time.perf_counter() - started


def _write_pdf_task(args: tuple[str, str, str, str]) -> float:
    return _write_pdf(*args)


def write_pdfs(tasks: list[tuple[str, Path]], face_css: str, stack: str, jobs: int = 1) -> list[float]:
    """Write ``(html, path)`` pairs; ``jobs`` > 1 uses up to that many worker processes
    (spawned, so safe beside Prefect's threads; the calling script needs the usual
    ``if __name__ == "__main__":`` guard), each given at least :data:`MIN_PDFS_PER_WORKER`
    PDFs. Returns the seconds each PDF took."""
    payload = [(html, str(path), face_css, stack) for html, path in tasks]
    workers = min(jobs, os.cpu_count() or 1, len(payload) // max(MIN_PDFS_PER_WORKER, 1))
    if workers <= 1:
        return [_write_pdf_task(p) for p in payload]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_write_pdf_task, payload, chunksize=max(1, len(payload) // (workers * 4))))


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


def _render(contexts: list[ReportContext], settings: Settings, out_dir: Path, jobs: int,
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
    seconds = dict(zip(pending, write_pdfs([(html, path) for path, html in pending.items()], setup.face_css, setup.stack, jobs)))
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
    jobs: int = 1,
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
    jobs: int = 1,
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
    jobs: int = 1,
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
