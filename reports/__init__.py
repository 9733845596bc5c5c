"""Reports: prepared contexts, Jinja templates, print CSS, SVG charts, WeasyPrint PDFs, email delivery.

Public API (what the flows call)
================================

Rendering — frames in (columns as declared in :mod:`transforms.schema`), files out::

    render_weekly_reviews(member_metrics, trend, top_customers, quiet_customers, commission_lines_mtd,
                          members, teams, period, settings, out_dir, *, jobs=1, generated_at=None) -> list[Rendered]
    render_team_summaries(team_metrics, member_metrics, mix_platform, mix_country, quiet_customers,
                          members, teams, period, settings, out_dir, *, trend=None, jobs=1, generated_at=None)
    render_commission_statements(commission_lines, commission_summary, members, teams, month, settings,
                                 out_dir, *, jobs=1, generated_at=None)
    render_finance_summary(commission_summary, commission_lines, members, teams, month, settings, out_dir,
                           *, generated_at=None)

* ``period`` / ``month``: a :class:`transforms.periods.Period` or its label (``"2026-W46"``, ``"2026-10"``).
* ``member_metrics`` / ``team_metrics`` may also hold the previous period's rows: then every KPI
  card shows its change (otherwise only net revenue and orders, which the contract carries).
* ``commission_lines_mtd``: COMMISSION_LINES of the month holding the week's last day (other
  months are ignored; lines credited after the week are left out).
* ``trend`` (TREND, the last ``settings.reports.trend_weeks`` weeks) also feeds the team chart
  and leaderboard sparklines when passed to :func:`render_team_summaries`.
* One :class:`Rendered` per recipient; a member without email still gets a PDF
  (``recipient_email`` None, ``no_recipient_reason`` says why). Inactive members get no weekly review.
* Weekly reviews go to the member, team summaries to the team lead, statements to the member,
  the finance summary to each of ``settings.delivery.finance_recipients``.
* Language per recipient (``members.language``: zh-CN default, en), numbers and dates to match.
* Statements and the finance summary raise :class:`ReconciliationError` when a total is not the
  exact sum of its lines; nothing is rendered from numbers that do not add up.
* Each item carries ``pdf_path`` (``<out_dir>/2026-W46_weekly_review_M001.pdf``), the email
  ``subject``/``html_body``/``text_body``, the localized ``attachment_filename``
  (``业绩周报_2026-W46_张伟.pdf`` / ``weekly-review_2026-W46_Olivia-Chen.pdf``) and ``content_hash``
  (SHA-256 of the HTML without the generated-at stamp: same data, same hash).
* Timing (this 2-vCPU VM): a weekly review takes 0.4-0.7 s (1.0-1.4 s while the box is busy), a
  team summary ~0.7 s, a 209-line statement 2.4 s. That relies on the prepared CJK font of
  :mod:`reports.fonts` (built once per machine, ~30 s, cached); with plain system fonts and no
  ``libharfbuzz-subset0`` WeasyPrint needs ~10 s per PDF.
* ``jobs`` > 1 renders in that many processes, the caller included: ``jobs - 1`` lean worker
  processes (``reports/pdf_writer.py``: WeasyPrint only) start while the HTML is composed and take
  one PDF at a time from a shared queue, like the caller; batches under
  ``reports.render.MIN_PDFS_FOR_WORKERS`` PDFs stay in one process. ``jobs`` may also be a
  :class:`reports.render.PdfWorkers` started by the caller, to serve several batches. A worker
  that dies fails the batch with ``PdfWorkerError``. It only helps when a core is free
  (BENCHMARKS.md, Render).

Delivery::

    deliver(engine, rendered, delivery, outbox_dir, *, resend=False, archived=None, late=None) -> DeliveryReport

* ``delivery`` is ``settings.delivery``: SMTP when ``delivery.smtp`` is set (password from the
  environment variable it names), otherwise ``.eml`` files in ``outbox_dir``.
* One email per recipient: text + HTML summary + the PDF attached.
* Idempotent through the ``deliveries`` table (:mod:`warehouse.outbox`), keyed by ``(kind, period,
  recipient, content hash)``: a version the recipient has is not sent again unless ``resend=True``;
  a changed report is sent as a correction or only flagged (``delivery.on_changed_content``).
  Recorded as an attempt before and as sent after each send, one transaction each. Failures are
  reported per item and retried on the next run; ``late=`` (a stale run) notes it in every message.
* Team summaries also go to the team chats of ``delivery.team_chat`` (Apprise, :mod:`reports.chat`).

``python -m reports.preview OUT_DIR --png`` renders every report from demo frames.
"""

from reports.context import ReconciliationError
from reports.delivery import DeliveryReport, Outcome, deliver
from reports.render import (
    Rendered,
    render_commission_statements,
    render_finance_summary,
    render_team_summaries,
    render_weekly_reviews,
)

__all__ = [
    "DeliveryReport",
    "Outcome",
    "ReconciliationError",
    "Rendered",
    "deliver",
    "render_commission_statements",
    "render_finance_summary",
    "render_team_summaries",
    "render_weekly_reviews",
]
