"""Frames in, prepared report contexts out: everything a template shows, typed and checked.

Templates never see a DataFrame. Each ``build_*`` function checks its frames
against :mod:`transforms.schema` at the boundary, picks out one recipient's
rows, and returns :class:`ReportContext` objects whose ``body`` holds plain
dataclasses: :class:`~reports.formatting.Money` for amounts (exact minor
units), floats for ratios, ``date`` for days, i18n keys for labels. The
templates format them with the filters of :mod:`reports.formatting`.

Money totals shown in a report are summed here in Python integers, and the
commission statement and finance summary refuse to build when a total does not
equal the sum of its lines (:class:`ReconciliationError`).
"""

from __future__ import annotations

import re
import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from markupsafe import Markup

from config.models import CommissionPlan, Settings
from reports import charts
from reports.formatting import Change, Money, format_date, is_missing
from reports.i18n import country_name, normalize_language, platform_name, t
from transforms.periods import Period, local_dates, month as month_of, parse_period, trailing_weeks
from transforms.schema import (
    COMMISSION_LINES,
    COMMISSION_SUMMARY,
    MEMBER_METRICS,
    MEMBERS,
    MIX,
    QUIET_CUSTOMERS,
    TEAM_METRICS,
    TEAMS,
    TOP_CUSTOMERS,
    TREND,
    require_columns,
)

REPORT_KINDS = ("weekly_review", "team_summary", "commission_statement", "finance_summary")
MEMBER_SCOPED = ("weekly_review", "commission_statement")
REVIEW_QUIET_ROWS = 8
TEAM_QUIET_ROWS = 12
MIX_ROWS = 8
COMMISSION_RECENT_ROWS = 5


class ReconciliationError(ValueError):
    """A total that does not equal the sum of its lines: the report is not produced."""


# ----------------------------------------------------------------------------- value helpers


def _int(value: Any) -> int | None:
    return None if is_missing(value) else int(value)


def _float(value: Any) -> float | None:
    return None if is_missing(value) else float(value)


def _text(value: Any) -> str | None:
    if is_missing(value):
        return None
    text = str(value).strip()
    return text or None


def _money(value: Any, currency: str) -> Money | None:
    return None if is_missing(value) else Money(int(value), currency)


def _decimal(value: Any) -> Decimal | None:
    if is_missing(value):
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _active(value: Any) -> bool:
    if is_missing(value):
        return True
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "n", "inactive", "否")
    return bool(value)


def _pct_change(current: Any, previous: Any) -> float | None:
    if is_missing(current) or is_missing(previous) or float(previous) == 0:
        return None
    return (float(current) - float(previous)) / abs(float(previous))


def _pp_change(current: Any, previous: Any) -> float | None:
    if is_missing(current) or is_missing(previous):
        return None
    return float(current) - float(previous)


def _round_div(numerator: int, denominator: int) -> int:
    """Integer division rounding half away from zero (exact)."""
    sign = -1 if (numerator < 0) != (denominator < 0) else 1
    n, d = abs(numerator), abs(denominator)
    return sign * ((2 * n + d) // (2 * d))


def safe_name(value: str) -> str:
    """A file-name-safe, stable token for an id (``M/001`` -> ``M_001-3f2a1c``)."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(value)).strip("._") or "x"
    if text != str(value):
        text += "-" + hashlib.sha1(str(value).encode("utf-8")).hexdigest()[:6]
    return text[:80]


def _unique_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each column once (a transform may list a column both in a contract and
    in its extras); the first copy wins."""
    return frame.loc[:, ~frame.columns.duplicated()] if frame.columns.duplicated().any() else frame


def as_period(value: Period | str, kind: str) -> Period:
    period = parse_period(value) if isinstance(value, str) else value
    if period.kind != kind:
        raise ValueError(f"expected a {kind} period, got {period.label!r}")
    return period


# ----------------------------------------------------------------------------- shared context types


@dataclass(frozen=True)
class Person:
    member_id: str
    name: str
    team_id: str | None
    email: str | None
    language: str
    role: str | None = None
    active: bool = True


@dataclass(frozen=True)
class TeamInfo:
    team_id: str
    name: str
    base_currency: str
    lead_member_id: str | None


@dataclass(frozen=True)
class Audience:
    """Who receives a report, in which language; ``email`` None = nobody (``missing_reason`` says why)."""

    lang: str
    email: str | None
    name: str | None
    member_id: str | None = None
    missing_reason: str | None = None


@dataclass(frozen=True)
class DocMeta:
    kind: str
    lang: str
    company: str
    period: Period
    heading: str  # the big title: 个人业绩周报 / Weekly performance review
    subject: str  # who it is about: member name, team name, company
    subtitle: str = ""  # team name under a member's name, etc.


@dataclass(frozen=True)
class ReportContext:
    """One report for one audience: the prepared ``body`` plus what delivery needs."""

    kind: str
    doc: DocMeta
    audience: Audience
    member_id: str | None
    team_id: str | None
    file_stem: str  # "2026-W46_weekly_review_M001"
    body: Any

    @property
    def lang(self) -> str:
        return self.audience.lang


@dataclass(frozen=True)
class Figure:
    label: str  # i18n key
    value: Any
    kind: str  # money | count | ratio | text | days | date


@dataclass(frozen=True)
class Kpi:
    label: str  # i18n key
    value: Any
    kind: str
    change: Change | None = None
    details: tuple[Figure, ...] = ()
    unknown: str | None = None  # i18n key shown when the value is unknown (cost unknown)


@dataclass(frozen=True)
class Headline:
    net_revenue: Money
    revenue: Money
    refunds: Money
    target: Money | None
    attainment: float | None
    change: Change | None
    rank: int | None = None
    team_size: int | None = None


@dataclass(frozen=True)
class CustomerRow:
    rank: int
    customer_id: str
    name: str
    country: str
    net_revenue: Money
    orders: int | None


@dataclass(frozen=True)
class QuietRow:
    customer_id: str
    name: str
    country: str
    key_account: bool
    last_order_date: date | None
    days_quiet: int | None
    lifetime_revenue: Money
    orders: int | None
    owner: str | None = None


@dataclass(frozen=True)
class CommissionLineRow:
    day: date | None
    order_id: str | None
    rule: str
    band: str | None
    base: Money
    rate: Decimal | None
    fx_rate: Decimal | None
    amount: Money
    explanation: str | None
    cumulative_base: Money | None = None  # the member's month-to-date base after this line, when known
    kind: str | None = None  # order | refund | cancellation, when the transform says
    # the structured fields the statement explains the line from (the English ``explanation``
    # is the engine's own sentence; reports translate from these instead)
    line_type: str | None = None  # credit | clawback | release | project | member | pool | draw | adjustment
    record_id: str | None = None  # the credited record (a refund's id for a refund)
    multiplier: Decimal | None = None  # role x customer class weight, or the month-level multiplier
    held: Money | None = None  # held by stages after this line (shown, not paid); None = nothing held
    plan_currency: str | None = None  # the currency of base and bands when the payout currency differs
    payout_fx_rate: Decimal | None = None  # plan currency -> payout currency
    adjusts_month: str | None = None  # adjustment lines: the closed month they correct
    plan_id: str | None = None  # a pool line's is ``pool:<pool_id>``
    clawed: Money | None = None  # clawback lines: what the refund takes back in all (held part included), when known
    stage: str | None = None  # staged plans: stages the order reached by month end ("signed+shipped", "none")
    multiplier_reason: str | None = None  # month-level lines: attainment ∈ band, evaluation score, cap / floor

    @property
    def stages_reached(self) -> tuple[str, ...]:
        """The stage events of ``stage`` ("signed+shipped" -> ("signed", "shipped")); () for none."""
        return tuple(e for e in (self.stage or "").split("+") if e and e != "none")

    @property
    def pool_id(self) -> str | None:
        return self.plan_id.split(":", 1)[1] if self.plan_id and self.plan_id.startswith("pool:") else None

    @property
    def label(self) -> str:
        """What the line is: its kind when known (order, refund...), else the plan's rule;
        month-level lines and draws by their rule (attainment, cap, draw_recovery...)."""
        if self.line_type in ("member", "draw"):
            return self.rule
        return self.kind or self.rule

    @property
    def section(self) -> str:
        """Where the statement lists the line: ``orders`` (credits, refunds, clawbacks, stage
        releases, project shares), ``month`` (attainment, evaluation, cap, floor, pool, draw) or
        ``adjustments`` (corrections of closed months)."""
        if self.line_type == "adjustment":
            return "adjustments"
        if self.line_type in ("member", "pool", "draw"):
            return "month"
        return "orders"

    @property
    def base_currency(self) -> str:
        """The currency the base is in: the plan's when it differs from the payout currency."""
        return self.plan_currency or self.amount.currency

    @property
    def adjusted_rule(self) -> str:
        """An adjustment's corrected rule (stored as ``line_type/rule``)."""
        return self.rule.split("/", 1)[-1] if "/" in self.rule else self.rule


@dataclass(frozen=True)
class CommissionSoFar:
    month: Period
    as_of: date
    total: Money
    line_count: int
    recent: tuple[CommissionLineRow, ...]


@dataclass(frozen=True)
class WeeklyReview:
    member: Person
    team: TeamInfo | None
    currency: str
    headline: Headline
    kpis: tuple[Kpi, ...]
    trend_chart: Markup
    trend_weeks: int
    trend_average: Money | None
    top_customers: tuple[CustomerRow, ...]
    top_limit: int
    quiet_customers: tuple[QuietRow, ...]
    quiet_more: int
    quiet_after_days: int
    commission: CommissionSoFar | None
    orders: int
    commission_as_of: date | None = None
    top_customer: CustomerRow | None = None
    quiet_total: int = 0


@dataclass(frozen=True)
class LeaderRow:
    rank: int | None
    member_id: str
    name: str
    net_revenue: Money
    attainment: float | None
    change: Change | None
    orders: int | None
    new_customers: int | None
    reply_within_24h_rate: float | None
    sparkline: Markup
    is_lead: bool = False
    active: bool = True


@dataclass(frozen=True)
class MixRow:
    name: str
    net_revenue: Money
    orders: int | None
    share: float | None


@dataclass(frozen=True)
class TeamSummary:
    team: TeamInfo
    lead: Person | None
    currency: str
    headline: Headline
    members: int
    kpis: tuple[Kpi, ...]
    trend_chart: Markup | None
    trend_weeks: int
    trend_average: Money | None
    leaderboard: tuple[LeaderRow, ...]
    platform_mix: tuple[MixRow, ...]
    country_mix: tuple[MixRow, ...]
    at_risk: tuple[QuietRow, ...]
    at_risk_more: int
    quiet_after_days: int
    orders: int


@dataclass(frozen=True)
class Tier:
    low: Decimal  # major units of the plan (team) currency, inclusive
    high: Decimal | None  # exclusive; None = open-ended
    rate: Decimal


@dataclass(frozen=True)
class PlanView:
    plan_id: str | None
    name: str | None
    kind: str | None  # flat | tiered; None = no such plan in the settings
    flat_rate: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    basis: str = "revenue"  # revenue | gross_profit | collected
    tier_method: str = "marginal"  # marginal | retroactive
    currency: str | None = None  # of the base and bands, when the plan sets one
    payout_currency: str | None = None
    stages: tuple[tuple[str, Decimal], ...] = ()  # (signed | shipped | collected, percent)
    role_coefficients: tuple[tuple[str, Decimal], ...] = ()
    class_multipliers: tuple[tuple[str, Decimal], ...] = ()  # (new | returning | key_account, multiplier)
    quota: bool = False  # an attainment multiplier applies
    evaluation: bool = False  # an evaluation-score multiplier applies
    cap: Decimal | None = None
    floor: Decimal | None = None
    draw: Decimal | None = None
    draw_recoverable: bool = True

    @property
    def later_stages(self) -> tuple[str, ...]:
        """The stages after the contract is signed: when a held part is released."""
        return tuple(event for event, _ in self.stages if event != "signed")


@dataclass(frozen=True)
class LineSection:
    """One part of a statement: order lines, month-level lines, adjustments of closed months."""
    key: str  # orders | month | adjustments
    lines: tuple[CommissionLineRow, ...]
    amount_total: Money
    held_total: Money


@dataclass(frozen=True)
class CommissionStatement:
    member: Person
    team: TeamInfo | None
    currency: str
    plan: PlanView
    base_total: Money  # from the summary
    amount_total: Money  # from the summary == sum of lines (checked)
    lines: tuple[CommissionLineRow, ...]
    lines_base_total: Money
    lines_amount_total: Money
    sections: tuple[LineSection, ...] = ()  # the lines again, grouped as the statement lists them
    held_total: Money | None = None  # held by stages at month end (shown, not paid); None = nothing held
    adjustments_total: Money | None = None  # adjustment lines (corrections of closed months); None = none
    base_currency: str | None = None  # of the base column when it differs from the payout currency
    payout_fx_rate: Decimal | None = None  # base currency -> payout currency, when they differ

    @property
    def has_held(self) -> bool:
        return self.held_total is not None or any(line.held for line in self.lines)

    @property
    def has_multiplier(self) -> bool:
        return any(line.multiplier is not None for line in self.lines)


@dataclass(frozen=True)
class FinanceRow:
    member_id: str
    name: str
    team: str
    plan: str
    lines: int
    base: Money
    amount: Money
    held: Money | None = None  # held by stages at month end (not in amount)
    adjustments: Money | None = None  # corrections of closed months (in amount)


@dataclass(frozen=True)
class CurrencyGroup:
    currency: str
    rows: tuple[FinanceRow, ...]
    lines: int
    base_total: Money
    amount_total: Money
    held_total: Money | None = None
    adjustments_total: Money | None = None

    @property
    def has_held(self) -> bool:
        return self.held_total is not None

    @property
    def has_adjustments(self) -> bool:
        return self.adjustments_total is not None


@dataclass(frozen=True)
class FinanceSummary:
    groups: tuple[CurrencyGroup, ...]
    members_without_plan: tuple[Person, ...]
    member_count: int
    reconciled_against_lines: bool


# ----------------------------------------------------------------------------- people and teams


def people(members: pd.DataFrame, default_language: str) -> dict[str, Person]:
    require_columns(members, MEMBERS, "members")
    out: dict[str, Person] = {}
    for row in members.to_dict("records"):
        mid = str(row["member_id"])
        out[mid] = Person(
            member_id=mid,
            name=_text(row["name"]) or mid,
            team_id=_text(row["team_id"]),
            email=_text(row["email"]),
            language=normalize_language(row["language"], default_language),
            role=_text(row["role"]),
            active=_active(row["active"]),
        )
    return out


def team_infos(teams: pd.DataFrame, default_currency: str) -> dict[str, TeamInfo]:
    require_columns(teams, TEAMS, "teams")
    return {
        str(row["team_id"]): TeamInfo(
            team_id=str(row["team_id"]),
            name=_text(row["name"]) or str(row["team_id"]),
            base_currency=_text(row["base_currency"]) or default_currency,
            lead_member_id=_text(row["lead_member_id"]),
        )
        for row in teams.to_dict("records")
    }


def _audience_for(person: Person | None, default_language: str, *, fallback_reason: str) -> Audience:
    if person is None:
        return Audience(default_language, None, None, None, fallback_reason)
    if not person.email:
        return Audience(person.language, None, person.name, person.member_id,
                        t("delivery.no_email", "en", member=f"{person.member_id} ({person.name})"))
    return Audience(person.language, person.email, person.name, person.member_id)


def _company(settings: Settings) -> str:
    return settings.company or settings.reports.company_name


# ----------------------------------------------------------------------------- shared pieces


def _kpis(row: dict, prev: dict | None, currency: str) -> tuple[Kpi, ...]:
    """The KPI cards for a member or a team row (same columns); ``prev`` is the previous
    period's row when the caller passed it, for changes the contract does not carry."""
    p = prev or {}
    revenue = _int(row.get("revenue_minor")) or 0
    cost_known = _int(row.get("cost_known_revenue_minor"))
    margin = _float(row.get("gross_margin"))
    replied = _int(row.get("inquiries_replied_24h"))
    inquiries = _int(row.get("inquiries"))
    converted = _int(row.get("inquiries_converted"))
    orders_change = _float(row.get("orders_change")) if "orders_change" in row else _pct_change(
        row.get("orders"), p.get("orders"))
    margin_details: list[Figure] = []
    if margin is not None and not is_missing(row.get("gross_profit_minor")):
        margin_details.append(Figure("kpi.gross_profit", _money(row.get("gross_profit_minor"), currency), "money"))
    if cost_known is not None and revenue:
        margin_details.append(Figure("kpi.cost_known_share", cost_known / revenue, "ratio"))
    reply_details = (Figure("kpi.replied_24h", f"{replied:,} / {inquiries:,}", "text"),) if (
        replied is not None and inquiries) else ()
    return (
        Kpi("kpi.orders", _int(row.get("orders")), "count", Change(orders_change),
            (Figure("kpi.customers", _int(row.get("customers")), "count"),) if "customers" in row else ()),
        Kpi("kpi.average_order_value", _money(row.get("average_order_value_minor"), currency), "money",
            Change(_pct_change(row.get("average_order_value_minor"), p.get("average_order_value_minor")))),
        Kpi("kpi.gross_margin", margin, "ratio", Change(_pp_change(margin, p.get("gross_margin")), "pp"),
            tuple(margin_details), unknown="kpi.cost_unknown"),
        Kpi("kpi.new_vs_returning",
            f"{_int(row.get('new_customers')) or 0:,} / {_int(row.get('returning_customers')) or 0:,}", "text",
            Change(_pct_change(row.get("new_customers"), p.get("new_customers")))),
        Kpi("kpi.refund_rate", _float(row.get("refund_rate")), "ratio",
            Change(_pp_change(row.get("refund_rate"), p.get("refund_rate")), "pp", good_when_up=False),
            (Figure("kpi.refunds", _money(row.get("refunds_minor"), currency), "money"),)),
        Kpi("kpi.collections_received", _money(row.get("collections_received_minor"), currency), "money",
            Change(_pct_change(row.get("collections_received_minor"), p.get("collections_received_minor"))),
            (Figure("kpi.collections_outstanding", _money(row.get("collections_outstanding_minor"), currency), "money"),)),
        Kpi("kpi.inquiries", inquiries, "count", Change(_pct_change(row.get("inquiries"), p.get("inquiries"))),
            (Figure("kpi.converted", converted, "count"),) if converted is not None else ()),
        Kpi("kpi.reply_within_24h", _float(row.get("reply_within_24h_rate")), "ratio",
            Change(_pp_change(row.get("reply_within_24h_rate"), p.get("reply_within_24h_rate")), "pp"), reply_details),
        Kpi("kpi.conversion", _float(row.get("inquiry_conversion_rate")), "ratio",
            Change(_pp_change(row.get("inquiry_conversion_rate"), p.get("inquiry_conversion_rate")), "pp")),
    )


def _headline(row: dict, currency: str) -> Headline:
    return Headline(
        net_revenue=Money(_int(row.get("net_revenue_minor")) or 0, currency),
        revenue=Money(_int(row.get("revenue_minor")) or 0, currency),
        refunds=Money(_int(row.get("refunds_minor")) or 0, currency),
        target=_money(row.get("target_revenue_minor"), currency),
        attainment=_float(row.get("attainment")),
        change=Change(_float(row.get("net_revenue_change"))),
        rank=_int(row.get("rank_in_team")),
        team_size=_int(row.get("team_size")),
    )


def _trend(values: dict[str, int], period: Period, weeks: int, currency: str, lang: str, font: str,
           current_value: int | None) -> tuple[Markup, Money | None]:
    series = trailing_weeks(period, weeks)
    points = []
    for wk in series:
        value = values.get(wk.label)
        if wk.label == period.label and value is None:
            value = current_value
        points.append(charts.TrendPoint(
            label="W" + wk.label.split("-W")[1], sublabel=format_date(wk.start, lang, "numeric"),
            value_minor=value, current=wk.label == period.label))
    known = [p.value_minor for p in points if p.value_minor is not None]
    average = Money(_round_div(sum(known), len(known)), currency) if known else None
    return charts.trend_chart(points, currency, lang, font=font), average


def _trend_values(trend: pd.DataFrame, mask: pd.Series) -> dict[str, int]:
    rows = trend.loc[mask, ["period", "net_revenue_minor"]]
    out: dict[str, int] = {}
    for label, value in zip(rows["period"].astype(str), rows["net_revenue_minor"]):
        if not is_missing(value):
            out[label] = out.get(label, 0) + int(value)
    return out


def _quiet_rows(frame: pd.DataFrame, default_currency: str, lang: str, owners: dict[str, Person] | None = None
                ) -> list[QuietRow]:
    rows = []
    for r in frame.to_dict("records"):
        currency = _text(r.get("currency")) or default_currency
        last = r.get("last_order_date")
        owner = owners.get(str(r["member_id"])) if owners is not None else None
        rows.append(QuietRow(
            customer_id=str(r["customer_id"]),
            name=_text(r.get("customer_name")) or str(r["customer_id"]),
            country=country_name(r.get("country"), lang),
            key_account=(_text(r.get("customer_class")) or "").lower() == "key_account",
            last_order_date=None if is_missing(last) else pd.Timestamp(last).date(),
            days_quiet=_int(r.get("days_since_last_order")),
            lifetime_revenue=Money(_int(r.get("lifetime_revenue_minor")) or 0, currency),
            orders=_int(r.get("orders")),
            owner=(owner.name if owner else (str(r["member_id"]) if owners is not None else None)),
        ))
    # Most valuable first, then the longest quiet: the ones worth a call this week.
    rows.sort(key=lambda q: (-q.lifetime_revenue.minor, -(q.days_quiet or 0), q.name))
    return rows


def _commission_rows(lines: pd.DataFrame, timezone: str, default_currency: str) -> list[CommissionLineRow]:
    if lines.empty:
        return []
    days = _local_days(lines, timezone)
    out = []
    for (_, r), day in zip(lines.iterrows(), days):
        currency = _text(r["currency"]) or default_currency
        out.append(CommissionLineRow(
            day=None if is_missing(day) else pd.Timestamp(day).date(),
            order_id=_text(r["order_id"]),
            rule=_text(r["rule"]) or "",
            band=_text(r["band"]),
            base=Money(int(r["base_minor"]), _text(r.get("plan_currency")) or currency),
            rate=_decimal(r["rate"]),
            fx_rate=_decimal(r["fx_rate"]),
            amount=Money(int(r["amount_minor"]), currency),
            explanation=_text(r["explanation"]),
            cumulative_base=_money(r.get("cumulative_base_minor"), _text(r.get("plan_currency")) or currency),
            kind=_text(r.get("kind")),
            line_type=_text(r.get("line_type")),
            record_id=_text(r.get("record_id")),
            multiplier=_decimal(r.get("multiplier")),
            held=Money(held, currency) if (held := _int(r.get("held_minor"))) else None,
            plan_currency=plan_currency if (plan_currency := _text(r.get("plan_currency"))) != currency else None,
            payout_fx_rate=_decimal(r.get("payout_fx_rate")),
            adjusts_month=_text(r.get("adjusts_month")),
            plan_id=_text(r.get("plan_id")),
            clawed=_money(r.get("clawed_minor"), currency) if _text(r.get("line_type")) == "clawback" else None,
            stage=_text(r.get("stage")),
            multiplier_reason=_text(r.get("multiplier_reason")),
        ))
    return out


def _sorted_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Lines in the order given: the commission transform emits them in processing order,
    the order in which the month's running total (and so each line's band) was built."""
    return lines


def _local_days(lines: pd.DataFrame, timezone: str) -> pd.Series:
    """Each line's local calendar day: ``credited_date`` when the transform added it, else
    ``credited_at`` (naive UTC) converted to the workspace timezone."""
    if "credited_date" in lines.columns:
        return pd.to_datetime(lines["credited_date"])
    if lines.empty or not lines["credited_at"].notna().any():
        return pd.Series(pd.NaT, index=lines.index, dtype="datetime64[ns]")
    days = local_dates(lines["credited_at"].fillna(pd.Timestamp("1970-01-01")), timezone)
    return days.where(lines["credited_at"].notna())


def _single_currency(lines: pd.DataFrame, fallback: str, what: str) -> str:
    currencies = sorted({str(c) for c in lines["currency"].dropna()})
    if len(currencies) > 1:
        raise ReconciliationError(f"{what}: commission lines in several currencies {currencies}")
    return currencies[0] if currencies else fallback


# ----------------------------------------------------------------------------- weekly review


def build_weekly_reviews(
    member_metrics: pd.DataFrame,
    trend: pd.DataFrame,
    top_customers: pd.DataFrame,
    quiet_customers: pd.DataFrame,
    commission_lines_mtd: pd.DataFrame,
    members: pd.DataFrame,
    teams: pd.DataFrame,
    period: Period | str,
    settings: Settings,
    *,
    font: str,
) -> list[ReportContext]:
    period = as_period(period, "week")
    member_metrics, trend, top_customers, quiet_customers, commission_lines_mtd = map(
        _unique_columns, (member_metrics, trend, top_customers, quiet_customers, commission_lines_mtd))
    for frame, cols, name in ((member_metrics, MEMBER_METRICS, "member_metrics"), (trend, TREND, "trend"),
                              (top_customers, TOP_CUSTOMERS, "top_customers"),
                              (quiet_customers, QUIET_CUSTOMERS, "quiet_customers"),
                              (commission_lines_mtd, COMMISSION_LINES, "commission_lines_mtd")):
        require_columns(frame, cols, name)
    default_lang = settings.reports.default_language
    persons = people(members, default_lang)
    team_map = team_infos(teams, settings.base_currency)
    current = member_metrics[member_metrics["period"].astype(str) == period.label]
    previous = {str(r["member_id"]): r for r in member_metrics[
        member_metrics["period"].astype(str) == period.previous().label].to_dict("records")}
    mtd_month = month_of(period.end - timedelta(days=1))
    lines_month = commission_lines_mtd[commission_lines_mtd["month"].astype(str) == mtd_month.label]
    if not lines_month.empty:
        local = _local_days(lines_month, settings.timezone)
        lines_month = lines_month[(local < pd.Timestamp(period.end)) | local.isna()]
    cfg = settings.reports
    contexts = []
    for row in current.sort_values(["team_id", "rank_in_team", "member_id"], kind="stable").to_dict("records"):
        mid = str(row["member_id"])
        person = persons.get(mid) or Person(mid, mid, _text(row["team_id"]), None, default_lang)
        if not person.active:
            continue
        lang = person.language
        currency = str(row["currency"])
        team = team_map.get(str(row["team_id"]))
        values = _trend_values(trend, trend["member_id"].astype(str) == mid)
        chart, average = _trend(values, period, cfg.trend_weeks, currency, lang, font, _int(row["net_revenue_minor"]))
        tops = top_customers[top_customers["member_id"].astype(str) == mid].sort_values("rank", kind="stable")
        top_rows = tuple(
            CustomerRow(rank=int(r["rank"]), customer_id=str(r["customer_id"]),
                        name=_text(r["customer_name"]) or str(r["customer_id"]),
                        country=country_name(r["country"], lang),
                        net_revenue=Money(int(r["net_revenue_minor"]), _text(r["currency"]) or currency),
                        orders=_int(r["orders"]))
            for r in tops.head(cfg.top_customers).to_dict("records")
        )
        quiet = _quiet_rows(quiet_customers[quiet_customers["member_id"].astype(str) == mid], currency, lang)
        member_lines = lines_month[lines_month["member_id"].astype(str) == mid]
        commission = None
        if not member_lines.empty:
            line_currency = _single_currency(member_lines, currency, f"member {mid} {mtd_month.label}")
            ordered = _commission_rows(_sorted_lines(member_lines), settings.timezone, line_currency)
            commission = CommissionSoFar(
                month=mtd_month, as_of=period.end - timedelta(days=1),
                total=Money(sum(int(v) for v in member_lines["amount_minor"]), line_currency),
                line_count=len(ordered), recent=tuple(reversed(ordered[-COMMISSION_RECENT_ROWS:])))
        body = WeeklyReview(
            member=person, team=team, currency=currency, headline=_headline(row, currency),
            kpis=_kpis(row, previous.get(mid), currency), trend_chart=chart, trend_weeks=cfg.trend_weeks,
            trend_average=average, top_customers=top_rows, top_limit=cfg.top_customers,
            quiet_customers=tuple(quiet[:REVIEW_QUIET_ROWS]), quiet_more=max(len(quiet) - REVIEW_QUIET_ROWS, 0),
            quiet_after_days=cfg.quiet_after_days, commission=commission, orders=_int(row["orders"]) or 0,
            commission_as_of=period.end - timedelta(days=1), top_customer=top_rows[0] if top_rows else None, quiet_total=len(quiet),
        )
        doc = DocMeta("weekly_review", lang, _company(settings), period, t("review.heading", lang), person.name,
                      team.name if team else (person.team_id or ""))
        contexts.append(ReportContext(
            kind="weekly_review", doc=doc,
            audience=_audience_for(person, default_lang, fallback_reason=f"member {mid} is not in members"),
            member_id=mid, team_id=_text(row["team_id"]),
            file_stem=f"{period.label}_weekly_review_{safe_name(mid)}", body=body))
    return contexts


# ----------------------------------------------------------------------------- team summary


def _mix_rows(frame: pd.DataFrame, team_id: str, dimension: str, currency: str, lang: str) -> tuple[MixRow, ...]:
    rows = frame[frame["team_id"].astype(str) == team_id]
    dims = set(rows["dimension"].astype(str))
    if len(dims) > 1 and dimension in dims:  # one frame holding several dimensions
        rows = rows[rows["dimension"].astype(str) == dimension]
    rows = rows.assign(_v=rows["net_revenue_minor"].astype("int64")).sort_values(["_v", "value"], ascending=[False, True])
    name = platform_name if dimension == "platform" else country_name
    out = [MixRow(name(r["value"], lang), Money(int(r["net_revenue_minor"]), _text(r["currency"]) or currency),
                  _int(r["orders"]), _float(r["share"])) for r in rows.to_dict("records")]
    if len(out) > MIX_ROWS:
        rest = out[MIX_ROWS - 1:]
        other = MixRow(
            "其他" if lang == "zh-CN" else "Other",
            Money(sum(r.net_revenue.minor for r in rest), currency),
            sum(r.orders or 0 for r in rest),
            sum(r.share for r in rest if r.share is not None) if any(r.share is not None for r in rest) else None,
        )
        out = out[: MIX_ROWS - 1] + [other]
    return tuple(out)


def build_team_summaries(
    team_metrics: pd.DataFrame,
    member_metrics: pd.DataFrame,
    mix_platform: pd.DataFrame,
    mix_country: pd.DataFrame,
    quiet_customers: pd.DataFrame,
    members: pd.DataFrame,
    teams: pd.DataFrame,
    period: Period | str,
    settings: Settings,
    *,
    font: str,
    trend: pd.DataFrame | None = None,
) -> list[ReportContext]:
    period = as_period(period, "week")
    team_metrics, member_metrics, mix_platform, mix_country, quiet_customers = map(
        _unique_columns, (team_metrics, member_metrics, mix_platform, mix_country, quiet_customers))
    trend = None if trend is None else _unique_columns(trend)
    for frame, cols, name in ((team_metrics, TEAM_METRICS, "team_metrics"), (member_metrics, MEMBER_METRICS, "member_metrics"),
                              (mix_platform, MIX, "mix_platform"), (mix_country, MIX, "mix_country"),
                              (quiet_customers, QUIET_CUSTOMERS, "quiet_customers")):
        require_columns(frame, cols, name)
    if trend is not None:
        require_columns(trend, TREND, "trend")
    default_lang = settings.reports.default_language
    persons = people(members, default_lang)
    team_map = team_infos(teams, settings.base_currency)
    cfg = settings.reports
    current = team_metrics[team_metrics["period"].astype(str) == period.label]
    previous = {str(r["team_id"]): r for r in team_metrics[
        team_metrics["period"].astype(str) == period.previous().label].to_dict("records")}
    week_members = member_metrics[member_metrics["period"].astype(str) == period.label]
    weeks = trailing_weeks(period, min(cfg.trend_weeks, 8))
    contexts = []
    for row in current.sort_values("team_id").to_dict("records"):
        tid = str(row["team_id"])
        team = team_map.get(tid) or TeamInfo(tid, tid, str(row["currency"]), None)
        lead = persons.get(team.lead_member_id) if team.lead_member_id else None
        lang = lead.language if lead else default_lang
        currency = str(row["currency"])
        board_rows = week_members[week_members["team_id"].astype(str) == tid].sort_values(
            ["rank_in_team", "member_id"], kind="stable")
        board = []
        for m in board_rows.to_dict("records"):
            mid = str(m["member_id"])
            spark = Markup("")
            if trend is not None:
                values = _trend_values(trend, trend["member_id"].astype(str) == mid)
                spark = charts.sparkline([values.get(w.label) for w in weeks])
            board.append(LeaderRow(
                rank=_int(m["rank_in_team"]), member_id=mid, name=persons[mid].name if mid in persons else mid,
                net_revenue=Money(int(m["net_revenue_minor"]), currency), attainment=_float(m["attainment"]),
                change=Change(_float(m["net_revenue_change"])), orders=_int(m["orders"]),
                new_customers=_int(m["new_customers"]), reply_within_24h_rate=_float(m["reply_within_24h_rate"]),
                sparkline=spark, is_lead=mid == team.lead_member_id,
                active=persons[mid].active if mid in persons else True))
        team_member_ids = {p.member_id for p in persons.values() if p.team_id == tid} | {b.member_id for b in board}
        quiet = _quiet_rows(quiet_customers[quiet_customers["member_id"].astype(str).isin(team_member_ids)],
                            currency, lang, owners=persons)
        chart, average = None, None
        if trend is not None:
            values = _trend_values(trend, trend["team_id"].astype(str) == tid)
            chart, average = _trend(values, period, cfg.trend_weeks, currency, lang, font, _int(row["net_revenue_minor"]))
        body = TeamSummary(
            team=team, lead=lead, currency=currency, headline=_headline(row, currency),
            members=_int(row["members"]) or len(board), kpis=_kpis(row, previous.get(tid), currency),
            trend_chart=chart, trend_weeks=cfg.trend_weeks, trend_average=average, leaderboard=tuple(board),
            platform_mix=_mix_rows(mix_platform, tid, "platform", currency, lang),
            country_mix=_mix_rows(mix_country, tid, "country", currency, lang),
            at_risk=tuple(quiet[:TEAM_QUIET_ROWS]), at_risk_more=max(len(quiet) - TEAM_QUIET_ROWS, 0),
            quiet_after_days=cfg.quiet_after_days, orders=_int(row["orders"]) or 0,
        )
        doc = DocMeta("team_summary", lang, _company(settings), period, t("team.heading", lang), team.name,
                      f"{t('team.lead', lang)}：{lead.name}" if lead and lang == "zh-CN" else (
                          f"{t('team.lead', lang)}: {lead.name}" if lead else ""))
        reason = f"team {tid} has no lead" if not team.lead_member_id else f"team lead {team.lead_member_id} is not in members"
        contexts.append(ReportContext(
            kind="team_summary", doc=doc, audience=_audience_for(lead, default_lang, fallback_reason=reason),
            member_id=None, team_id=tid, file_stem=f"{period.label}_team_summary_{safe_name(tid)}", body=body))
    return contexts


# ----------------------------------------------------------------------------- commission statement


def plan_view(plan_id: str | None, settings: Settings, month: Period | None = None) -> PlanView:
    """What the statement says about the plan: the version in effect in ``month``."""
    commission = settings.commission.for_month(month.label) if month is not None else settings.commission
    plan: CommissionPlan | None = next((p for p in commission.plans if p.plan_id == plan_id), None)
    if plan is None:
        return PlanView(plan_id, None, None)
    common = dict(
        basis=plan.basis, tier_method=plan.tier_method, currency=plan.currency, payout_currency=plan.payout_currency,
        stages=tuple((s.event, s.percent) for s in plan.stages or ()),
        role_coefficients=tuple((plan.role_coefficients or {}).items()),
        class_multipliers=tuple((k, c.multiplier) for k, c in (plan.customer_classes or {}).items() if c.multiplier is not None),
        quota=plan.quota is not None, evaluation=plan.evaluation is not None, cap=plan.cap, floor=plan.floor,
        draw=plan.draw.amount if plan.draw else None, draw_recoverable=plan.draw.recoverable if plan.draw else True,
    )
    if plan.kind == "flat":
        return PlanView(plan.plan_id, plan.name, "flat", flat_rate=plan.rate, **common)
    tiers, low = [], Decimal(0)
    for tier in plan.tiers or []:
        tiers.append(Tier(tier.from_, tier.up_to, tier.rate))
        if tier.up_to is not None:
            low = tier.up_to
    return PlanView(plan.plan_id, plan.name, "tiered", tiers=tuple(tiers), **common)


def _sections(line_rows: list[CommissionLineRow], currency: str) -> tuple[LineSection, ...]:
    out = []
    for key in ("orders", "month", "adjustments"):
        rows = tuple(r for r in line_rows if r.section == key)
        if rows:
            out.append(LineSection(key, rows, Money(sum(r.amount.minor for r in rows), currency),
                                   Money(sum(r.held.minor for r in rows if r.held), currency)))
    return tuple(out)


def _single(values) -> Any:
    """The one distinct non-missing value, else None."""
    distinct = {v for v in values if v is not None}
    return next(iter(distinct)) if len(distinct) == 1 else None


def build_commission_statements(
    commission_lines: pd.DataFrame,
    commission_summary: pd.DataFrame,
    members: pd.DataFrame,
    teams: pd.DataFrame,
    month: Period | str,
    settings: Settings,
) -> list[ReportContext]:
    month = as_period(month, "month")
    commission_lines, commission_summary = _unique_columns(commission_lines), _unique_columns(commission_summary)
    require_columns(commission_lines, COMMISSION_LINES, "commission_lines")
    require_columns(commission_summary, COMMISSION_SUMMARY, "commission_summary")
    default_lang = settings.reports.default_language
    persons = people(members, default_lang)
    team_map = team_infos(teams, settings.base_currency)
    lines_month = commission_lines[commission_lines["month"].astype(str) == month.label]
    summary = commission_summary[commission_summary["month"].astype(str) == month.label]
    contexts = []
    for row in summary.sort_values(["team_id", "member_id"], kind="stable").to_dict("records"):
        mid = str(row["member_id"])
        currency = str(row["currency"])
        person = persons.get(mid) or Person(mid, mid, _text(row["team_id"]), None, default_lang)
        lines = _sorted_lines(lines_month[lines_month["member_id"].astype(str) == mid])
        what = f"commission statement {month.label} for member {mid}"
        if _single_currency(lines, currency, what) != currency:
            raise ReconciliationError(f"{what}: lines are in {lines['currency'].iloc[0]}, the summary in {currency}")
        line_rows = _commission_rows(lines, settings.timezone, currency)
        lines_amount = sum(r.amount.minor for r in line_rows)
        lines_base = sum(r.base.minor for r in line_rows)
        held = sum(r.held.minor for r in line_rows if r.held)
        adjustments = [r.amount.minor for r in line_rows if r.section == "adjustments"]
        base_currency = _single(r.plan_currency for r in line_rows)
        if lines_amount != int(row["amount_minor"]):
            raise ReconciliationError(
                f"{what}: summary amount {row['amount_minor']} != sum of {len(line_rows)} lines {lines_amount} "
                f"(minor units of {currency})")
        if not is_missing(row["lines"]) and int(row["lines"]) != len(line_rows):
            raise ReconciliationError(f"{what}: summary says {int(row['lines'])} lines, found {len(line_rows)}")
        lang = person.language
        team = team_map.get(_text(row["team_id"]) or "") or team_map.get(person.team_id or "")
        body = CommissionStatement(
            member=person, team=team, currency=currency, plan=plan_view(_text(row["plan_id"]), settings, month),
            base_total=Money(int(row["base_minor"]), base_currency or currency),
            amount_total=Money(int(row["amount_minor"]), currency),
            lines=tuple(line_rows), lines_base_total=Money(lines_base, base_currency or currency),
            lines_amount_total=Money(lines_amount, currency), sections=_sections(line_rows, currency),
            held_total=Money(held, currency) if held else None,
            adjustments_total=Money(sum(adjustments), currency) if adjustments else None,
            base_currency=base_currency,
            payout_fx_rate=_single(r.payout_fx_rate for r in line_rows) if base_currency else None)
        doc = DocMeta("commission_statement", lang, _company(settings), month, t("statement.heading", lang),
                      person.name, team.name if team else "")
        contexts.append(ReportContext(
            kind="commission_statement", doc=doc,
            audience=_audience_for(person, default_lang, fallback_reason=f"member {mid} is not in members"),
            member_id=mid, team_id=_text(row["team_id"]),
            file_stem=f"{month.label}_commission_statement_{safe_name(mid)}", body=body))
    return contexts


# ----------------------------------------------------------------------------- finance summary


def build_finance_summary(
    commission_summary: pd.DataFrame,
    commission_lines: pd.DataFrame | None,
    members: pd.DataFrame,
    teams: pd.DataFrame,
    month: Period | str,
    settings: Settings,
) -> list[ReportContext]:
    """One context per finance recipient (``settings.delivery.finance_recipients``), or one
    without a recipient when none is configured. The language is the recipient's when the
    address belongs to a member, else the workspace default."""
    month = as_period(month, "month")
    commission_summary = _unique_columns(commission_summary)
    require_columns(commission_summary, COMMISSION_SUMMARY, "commission_summary")
    default_lang = settings.reports.default_language
    persons = people(members, default_lang)
    team_map = team_infos(teams, settings.base_currency)
    summary = commission_summary[commission_summary["month"].astype(str) == month.label]
    plans = {p.plan_id: p.name for p in settings.commission.for_month(month.label).plans}
    rows_by_currency: dict[str, list[FinanceRow]] = {}
    with_plan: set[str] = set()
    held_of: dict[str, int] = {}
    adjusted_of: dict[str, int] = {}
    if commission_lines is not None and not commission_lines.empty:
        in_month = commission_lines[commission_lines["month"].astype(str) == month.label]
        if "held_minor" in in_month.columns:
            held = pd.Series(pd.array(in_month["held_minor"].to_numpy(), dtype="Int64").fillna(0), index=in_month.index)
            held_of = {str(k): int(v) for k, v in held.groupby(in_month["member_id"].astype(str)).sum().items() if int(v)}
        if "line_type" in in_month.columns:
            adj = in_month[in_month["line_type"].astype(str) == "adjustment"]
            adjusted_of = {str(k): int(v) for k, v in adj.groupby(adj["member_id"].astype(str))["amount_minor"].sum().items()}
    for r in summary.to_dict("records"):
        mid = str(r["member_id"])
        plan_id = _text(r["plan_id"])
        if plan_id:
            with_plan.add(mid)
        person = persons.get(mid)
        team = team_map.get(_text(r["team_id"]) or "")
        currency = str(r["currency"])
        rows_by_currency.setdefault(currency, []).append(FinanceRow(
            member_id=mid, name=person.name if person else mid, team=team.name if team else (_text(r["team_id"]) or ""),
            plan=plans.get(plan_id or "", plan_id or "—"), lines=_int(r["lines"]) or 0,
            base=Money(int(r["base_minor"]), currency), amount=Money(int(r["amount_minor"]), currency),
            held=Money(held_of[mid], currency) if mid in held_of else None,
            adjustments=Money(adjusted_of[mid], currency) if mid in adjusted_of else None))
    reconciled = False
    if commission_lines is not None:
        commission_lines = _unique_columns(commission_lines)
        require_columns(commission_lines, COMMISSION_LINES, "commission_lines")
        lines = commission_lines[commission_lines["month"].astype(str) == month.label]
        line_totals: dict[str, int] = {}
        for currency, amount in zip(lines["currency"].astype(str), lines["amount_minor"]):
            line_totals[currency] = line_totals.get(currency, 0) + int(amount)
        summary_totals = {c: sum(r.amount.minor for r in rows) for c, rows in rows_by_currency.items()}
        for currency in sorted(set(line_totals) | set(summary_totals)):
            if line_totals.get(currency, 0) != summary_totals.get(currency, 0):
                raise ReconciliationError(
                    f"finance summary {month.label}: {currency} members total {summary_totals.get(currency, 0)} != "
                    f"sum of commission lines {line_totals.get(currency, 0)} (minor units)")
        reconciled = True
    groups = []
    for currency in sorted(rows_by_currency):
        rows = sorted(rows_by_currency[currency], key=lambda f: (f.team, f.name, f.member_id))
        groups.append(CurrencyGroup(
            currency=currency, rows=tuple(rows), lines=sum(f.lines for f in rows),
            base_total=Money(sum(f.base.minor for f in rows), currency),
            amount_total=Money(sum(f.amount.minor for f in rows), currency),
            held_total=Money(sum(f.held.minor for f in rows if f.held), currency) if any(f.held for f in rows) else None,
            adjustments_total=(Money(sum(f.adjustments.minor for f in rows if f.adjustments), currency)
                               if any(f.adjustments is not None for f in rows) else None)))
    without_plan = tuple(sorted((p for p in persons.values() if p.active and p.member_id not in with_plan),
                                key=lambda p: (p.team_id or "", p.name)))
    body = FinanceSummary(tuple(groups), without_plan, sum(len(g.rows) for g in groups), reconciled)
    by_email = {p.email.lower(): p for p in persons.values() if p.email}
    recipients = list(dict.fromkeys(a.strip() for a in settings.delivery.finance_recipients if a.strip()))
    audiences = []
    for address in recipients:
        member = by_email.get(address.lower())
        audiences.append(Audience(member.language if member else default_lang, address,
                                  member.name if member else None, member.member_id if member else None))
    if not audiences:
        audiences.append(Audience(default_lang, None, None, None, "no finance_recipients configured in delivery"))
    contexts = []
    for audience in audiences:
        lang = audience.lang
        suffix = "" if lang == default_lang else f"_{lang}"
        doc = DocMeta("finance_summary", lang, _company(settings), month, t("finance.heading", lang),
                      _company(settings), "")
        contexts.append(ReportContext(
            kind="finance_summary", doc=doc, audience=audience, member_id=None, team_id=None,
            file_stem=f"{month.label}_finance_summary{suffix}", body=body))
    return contexts
