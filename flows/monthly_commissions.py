"""The `monthly_commissions` flow: credits → explained lines → statements → finance summary."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from config.models import Workspace
from flows import fanout, progress, runlog
from flows.common import load_sales_data, prepare_workspace, resolve_period, warehouse
from flows.weekly_review import archive_location, deliver_reports
from reports import render_commission_statements, render_finance_summary
from reports.archive import copy_to_archive
from reports.payout import payout_rows, write_payout_export
from transforms import commissions
from transforms.periods import Period
from transforms.schema import SalesData
from warehouse.commissions import first_open_month_after, is_closed, month_lines, replace_month_lines, write_adjustments


def month_in_warehouse(conn, data: SalesData, commission, month: Period) -> dict:
    """:func:`transforms.commissions.month_result` against the stored lines, written back in
    ``conn``'s transaction: an open month's lines replace the previous run's; a closed month's
    differences become adjustment lines in the next open month."""
    closed = is_closed(conn, month.label)
    result = commissions.month_result(
        data, commission, month,
        prior_lines=month_lines(conn, before=month.label),
        stored=month_lines(conn, month.label),
        closed=closed,
        adjusted=month_lines(conn, adjusts_month=month.label) if closed else None,
        into_month=first_open_month_after(conn, month.label) if closed else None,
    )
    if closed:
        write_adjustments(conn, result["adjustments"])
    else:
        replace_month_lines(conn, month.label, result["computed"])
    return result


@task(name="compute commissions", cache_policy=NO_CACHE)
def compute_commissions(data: SalesData, month: Period, ws: Workspace) -> dict:
    """Commission lines and per-member totals. An open month's lines are stored (replacing the
    previous run's); a closed month's statement is its stored lines, unchanged, and the
    differences of this run go as adjustment lines into the next open month."""
    with warehouse(ws) as engine, engine.begin() as conn:
        result = month_in_warehouse(conn, data, ws.settings.commission, month)
    return result


@task(name="render commission statements", cache_policy=NO_CACHE)
def render_statements(result: dict, data: SalesData, month: Period, ws: Workspace) -> list:
    """One statement PDF per member with a plan, and the finance summary."""
    out_dir = ws.path(ws.settings.reports.output_dir) / month.label
    statements = fanout.render_for_members(render_commission_statements, "commission_summary", dict(  # across workers
        commission_lines=result["lines"], commission_summary=result["summary"], members=data.members,
        teams=data.teams, month=month, settings=ws.settings, out_dir=out_dir,
    ), ws)
    finance = render_finance_summary(
        result["summary"], result["lines"], data.members, data.teams, month, ws.settings, out_dir
    )
    export_payouts(result, data, month, out_dir, ws)
    return statements + finance


def export_payouts(result: dict, data: SalesData, month: Period, out_dir, ws: Workspace) -> None:
    """The payout export (CSV + XLSX) beside the statement PDFs, and in the archive when configured."""
    rows = payout_rows(result["summary"], result["lines"], data.members, data.teams)
    written = write_payout_export(rows, out_dir, month.label)
    if ws.settings.delivery.archive:
        copy_to_archive(written, archive_location(ws), f"{month.label}/payout")


@flow(name="monthly_commissions")
def monthly_commissions(month: str | None = None, workspace: str | None = None, send: bool = True, resend: bool = False) -> dict:
    """Monthly commission statements for every member and the finance summary.

    ``month`` is like ``2026-10``; by default, the last complete month at the run's
    scheduled time in the team's timezone.
    """
    ws = prepare_workspace(workspace)
    period = resolve_period(month, "month", ws)
    with runlog.recorded(ws, "monthly_commissions", period.label, send=send) as run:
        progress.step("reading the warehouse", 0, 4)
        data = load_sales_data(ws)
        progress.step("computing commissions", 1, 4)
        result = compute_commissions(data, period, ws)
        progress.step("rendering PDFs", 2, 4)
        rendered = render_statements(result, data, period, ws)
        progress.step("delivering", 3, 4)
        delivery = deliver_reports(rendered, ws, resend, run.late_note(ws.settings.timezone)) if run.may_send(send) else None
        progress.step("done", 4, 4)
        outcome = {"period": period.label, "rendered": rendered, "delivery": delivery, "summary": result["summary"]}
        run.reports(outcome, rendered, delivery)  # a failed delivery fails the run (RunFailed)
    return outcome
