"""Every frame the weekly review shows, composed from the pure transforms (no I/O)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from config.models import Commission, Reports
from transforms import commissions, customers, metrics
from transforms.periods import Period, month
from transforms.schema import SalesData
from transforms.window import weekly_window


def weekly_review_frames(data: SalesData, period: Period, reports: Reports, commission: Commission) -> dict:
    """Metrics, trend, mix, customers and month-to-date commission lines for ``period``.

    Works on the window of history these figures need (:func:`weekly_window`), so the
    cost follows the week, not the history; results are the same as on the full data.
    """
    data = weekly_window(data, period, reports.trend_weeks, reports.quiet_after_days)
    last_day = period.end - timedelta(days=1)
    month_so_far = month(last_day)
    credits = commissions.credits_for_month(data, month_so_far)
    previous = period.previous()
    return {
        # the previous week's rows ride along so that every KPI card can show its change
        "member_metrics": pd.concat([metrics.member_metrics(data, period), metrics.member_metrics(data, previous)]),
        "team_metrics": pd.concat([metrics.team_metrics(data, period), metrics.team_metrics(data, previous)]),
        "trend": metrics.weekly_trend(data, period, reports.trend_weeks),
        "mix_platform": metrics.mix(data, period, "platform"),
        "mix_country": metrics.mix(data, period, "country"),
        "top_customers": customers.top_customers(data, period, reports.top_customers),
        "quiet_customers": customers.quiet_customers(
            data, last_day, reports.quiet_after_days, min_orders=reports.quiet_min_orders
        ),
        # the month's lines; the review shows those credited up to the week's last day
        "commission_mtd": commissions.commission_lines(credits, data.members, data.teams, commission, month_so_far),
    }
