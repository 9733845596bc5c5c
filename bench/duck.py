"""The reference for the Compute benchmark: the same aggregates written as DuckDB SQL.

:func:`compute` takes the very :class:`SalesData` frames Yeji gets and returns, as pandas
frames, what the Yeji side returns: member metrics (this week and the previous one),
team metrics, the 12-week trend, the month's commission lines and the commission summary.
DuckDB reads the pandas frames in place (replacement scans); only the two small columns of
``Decimal`` objects (FX rates, target values) are handed over as text so DuckDB parses
them exactly instead of guessing a precision from a sample.

The definitions are those of ``docs/architecture.md`` ("Metrics") and of
:mod:`transforms.facts` / :mod:`transforms.commissions`, in exact integer arithmetic
(HUGEINT; conversion and commissions rounded half away from zero), so the results are
compared with Yeji's value for value by :func:`differences`. Simplifications, none of which
the generated data exercises: refunds and collections match their order on
``(order_source, order_id)`` only (Yeji also matches on a unique ``order_id`` when the
source is missing); targets are in the base currency; commission plans are assigned by role.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from transforms.money import _EXPONENTS
from transforms.periods import Period, trailing_weeks, week
from transforms.schema import SalesData


def available() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def _exponent_sql(column: str) -> str:
    zero = ", ".join(f"'{c}'" for c, e in _EXPONENTS.items() if e == 0)
    three = ", ".join(f"'{c}'" for c, e in _EXPONENTS.items() if e == 3)
    return f"(CASE WHEN {column} IN ({zero}) THEN 0 WHEN {column} IN ({three}) THEN 3 ELSE 2 END)"


MACROS = f"""
CREATE OR REPLACE MACRO half_up(n, d) AS CAST(sign(n) * ((abs(n) + d // 2) // d) AS HUGEINT);
CREATE OR REPLACE MACRO ex(c) AS {_exponent_sql('c')};
-- amount (minor units of `src`) x rate (scaled by 1e12) -> minor units of `dst`, half away from zero
CREATE OR REPLACE MACRO conv(amount, rate_scaled, src, dst) AS CAST(CASE
    WHEN src = dst THEN amount
    WHEN ex(dst) >= ex(src) THEN half_up(amount::HUGEINT * rate_scaled * CAST(10 ** (ex(dst) - ex(src)) AS HUGEINT), 1000000000000::HUGEINT)
    ELSE half_up(amount::HUGEINT * rate_scaled, 1000000000000::HUGEINT * CAST(10 ** (ex(src) - ex(dst)) AS HUGEINT))
  END AS BIGINT);
CREATE OR REPLACE MACRO local_day(ts, tz) AS CAST(timezone(tz, timezone('UTC', ts)) AS DATE);
CREATE OR REPLACE MACRO fmt_minor(x, c) AS (CASE WHEN x < 0 THEN '-' ELSE '' END)
    || format('{{:,}}', abs(x) // CAST(10 ** ex(c) AS BIGINT))
    || (CASE WHEN ex(c) = 0 THEN '' ELSE '.' || lpad(CAST(abs(x) % CAST(10 ** ex(c) AS BIGINT) AS VARCHAR), ex(c), '0') END);
"""

FACTS = """
CREATE TEMP TABLE roster AS
SELECT m.member_id, m.team_id, m.role, coalesce(m.active, true) AS active, coalesce(t.base_currency, $default) AS currency
FROM members m LEFT JOIN (SELECT DISTINCT ON (team_id) team_id, base_currency FROM teams) t USING (team_id);

CREATE TEMP TABLE fx AS
SELECT CAST(rate_date AS DATE) AS rate_date, from_currency, to_currency,
       CAST(CAST(rate AS DECIMAL(38, 12)) * 1000000000000 AS HUGEINT) AS rate_scaled
FROM fx_text;

CREATE TEMP TABLE costs AS
SELECT source, order_id, count(*) = count(cost_minor) AS cost_known, sum(cost_minor) AS cost_sum
FROM order_lines GROUP BY ALL;

CREATE TEMP TABLE o0 AS
SELECT o.source, o.order_id, o.ordered_at, local_day(o.ordered_at, $tz) AS day, o.customer_id, o.member_id,
       r.team_id, r.member_id IS NOT NULL AS attributed, coalesce(r.currency, $default) AS currency,
       o.currency AS ocur, lower(trim(coalesce(o.status, 'open'))) = 'cancelled' AS cancelled,
       lower(trim(coalesce(o.payment_terms, 'prepaid'))) = 'prepaid' AS prepaid,
       coalesce(o.gross_minor, 0) - coalesce(o.discount_minor, 0) AS rev_o,
       coalesce(o.gross_minor, 0) - coalesce(o.discount_minor, 0) + coalesce(o.tax_minor, 0) + coalesce(o.shipping_minor, 0) AS total_o,
       coalesce(o.tax_minor, 0) AS tax_o, coalesce(o.shipping_minor, 0) AS ship_o,
       coalesce(c.cost_known, false) AS cost_known, c.cost_sum
FROM orders o LEFT JOIN roster r USING (member_id) LEFT JOIN costs c USING (source, order_id);

CREATE TEMP TABLE history AS  -- the latest earlier day each customer ordered (not cancelled)
SELECT customer_id, day, lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS prev_day
FROM (SELECT DISTINCT customer_id, day FROM o0 WHERE NOT cancelled AND customer_id IS NOT NULL);

CREATE TEMP TABLE ofacts AS
SELECT o.*, coalesce(fx.rate_scaled, 1000000000000::HUGEINT) AS rate_scaled,
       conv(rev_o, fx.rate_scaled, ocur, currency) AS revenue,
       conv(rev_o, fx.rate_scaled, ocur, currency) + conv(tax_o, fx.rate_scaled, ocur, currency)
         + conv(ship_o, fx.rate_scaled, ocur, currency) AS total,
       conv(cost_sum, fx.rate_scaled, ocur, currency) AS cost,
       (NOT o.cancelled AND o.customer_id IS NOT NULL AND (h.prev_day IS NULL OR o.day - h.prev_day > $window)) AS new_order
FROM o0 o
ASOF LEFT JOIN fx ON fx.from_currency = o.ocur AND fx.to_currency = o.currency AND fx.rate_date <= o.day
LEFT JOIN history h ON h.customer_id = o.customer_id AND h.day = o.day;

CREATE TEMP TABLE r0 AS
SELECT r.refund_id, r.order_id, r.kind, r.refunded_at, local_day(r.refunded_at, $tz) AS day,
       coalesce(r.member_id, o.member_id) AS member_id, coalesce(r.customer_id, o.customer_id) AS customer_id,
       NOT coalesce(o.cancelled, false) AS counted, r.currency AS rcur, abs(r.amount_minor) AS amount_o
FROM refunds r LEFT JOIN o0 o ON o.source = r.order_source AND o.order_id = r.order_id;

CREATE TEMP TABLE rfacts AS
SELECT r.*, ro.team_id, ro.member_id IS NOT NULL AS attributed, coalesce(ro.currency, $default) AS currency,
       coalesce(fx.rate_scaled, 1000000000000::HUGEINT) AS rate_scaled,
       conv(amount_o, fx.rate_scaled, rcur, coalesce(ro.currency, $default)) AS amount
FROM r0 r LEFT JOIN roster ro USING (member_id)
ASOF LEFT JOIN fx ON fx.from_currency = r.rcur AND fx.to_currency = coalesce(ro.currency, $default) AND fx.rate_date <= r.day;

CREATE TEMP TABLE cfacts AS
SELECT c.order_source, c.order_id, local_day(c.received_at, $tz) AS day, o.member_id, o.team_id,
       coalesce(o.attributed, false) AS attributed, o.order_id IS NOT NULL AS matched, c.currency AS ccur,
       c.amount_minor AS amount_o, coalesce(o.currency, $default) AS currency,
       conv(c.amount_minor, fx.rate_scaled, c.currency, coalesce(o.currency, $default)) AS amount
FROM collections c LEFT JOIN o0 o ON o.source = c.order_source AND o.order_id = c.order_id
ASOF LEFT JOIN fx ON fx.from_currency = c.currency AND fx.to_currency = coalesce(o.currency, $default)
    AND fx.rate_date <= local_day(c.received_at, $tz);

CREATE TEMP TABLE qfacts AS
SELECT local_day(q.received_at, $tz) AS day, ro.member_id, ro.team_id,
       coalesce(q.first_reply_at - q.received_at <= INTERVAL 24 HOUR, false) AS replied,
       q.converted_order_id IS NOT NULL AS converted
FROM inquiries q LEFT JOIN roster ro ON ro.member_id = q.owner_member_id;
"""

ACTIVITY = """
CREATE OR REPLACE TEMP TABLE act_{name} AS
WITH o AS (SELECT * FROM ofacts WHERE day >= $s AND day < $e AND NOT cancelled AND attributed),
status AS (SELECT DISTINCT ON (customer_id) customer_id, new_order AS new FROM ofacts
           WHERE day >= $s AND day < $e AND NOT cancelled AND customer_id IS NOT NULL ORDER BY customer_id, day),
pairs AS (SELECT DISTINCT {key}, o.customer_id, coalesce(s.new, false) AS new FROM o JOIN status s USING (customer_id)),
paid AS (
  SELECT c.order_source AS source, c.order_id,
         sum(CASE WHEN c.ccur = o.ocur THEN c.amount_o ELSE 0 END) AS paid_o,
         sum(CASE WHEN c.ccur = o.ocur THEN 0 ELSE c.amount END) AS paid_base
  FROM cfacts c JOIN ofacts o ON o.source = c.order_source AND o.order_id = c.order_id
  WHERE c.matched AND c.day < $e AND NOT o.prepaid AND NOT o.cancelled AND o.day < $e
  GROUP BY ALL),
outstanding AS (
  SELECT o.{key}, greatest(conv(greatest(o.total_o - coalesce(p.paid_o, 0), 0), o.rate_scaled, o.ocur, o.currency)
                           - coalesce(p.paid_base, 0), 0) AS outstanding
  FROM ofacts o LEFT JOIN paid p USING (source, order_id)
  WHERE NOT o.prepaid AND NOT o.cancelled AND o.day < $e AND o.attributed),
parts AS (
  SELECT {key}, sum(revenue) AS revenue_minor, 0::HUGEINT AS refunds_minor, count(*) AS orders,
         sum(CASE WHEN cost_known THEN revenue ELSE 0 END) AS cost_known_revenue_minor,
         count(*) FILTER (WHERE cost_known) AS cost_known_orders,
         sum(CASE WHEN cost_known THEN revenue - cost ELSE 0 END) AS cost_known_profit_minor,
         0 AS customers, 0 AS new_customers, 0 AS returning_customers, 0::HUGEINT AS collections_received_minor,
         0::HUGEINT AS collections_outstanding_minor, 0 AS inquiries, 0 AS inquiries_replied_24h, 0 AS inquiries_converted
  FROM o GROUP BY ALL
  UNION ALL
  SELECT {key}, 0, sum(amount), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
  FROM rfacts WHERE day >= $s AND day < $e AND counted AND attributed GROUP BY ALL
  UNION ALL
  SELECT {key}, 0, 0, 0, 0, 0, 0, count(*), count(*) FILTER (WHERE new), count(*) FILTER (WHERE NOT new), 0, 0, 0, 0, 0
  FROM pairs GROUP BY ALL
  UNION ALL
  SELECT {key}, 0, 0, 0, 0, 0, 0, 0, 0, 0, sum(amount), 0, 0, 0, 0
  FROM cfacts WHERE day >= $s AND day < $e AND attributed GROUP BY ALL
  UNION ALL
  SELECT {key}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, sum(outstanding), 0, 0, 0 FROM outstanding GROUP BY ALL
  UNION ALL
  SELECT {key}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, count(*), count(*) FILTER (WHERE replied), count(*) FILTER (WHERE converted)
  FROM qfacts WHERE day >= $s AND day < $e AND {key} IS NOT NULL GROUP BY ALL)
SELECT {key}, sum(revenue_minor)::BIGINT AS revenue_minor, sum(refunds_minor)::BIGINT AS refunds_minor,
       sum(orders)::BIGINT AS orders, sum(cost_known_revenue_minor)::BIGINT AS cost_known_revenue_minor,
       sum(cost_known_orders)::BIGINT AS cost_known_orders, sum(cost_known_profit_minor)::BIGINT AS cost_known_profit_minor,
       sum(customers)::BIGINT AS customers, sum(new_customers)::BIGINT AS new_customers,
       sum(returning_customers)::BIGINT AS returning_customers,
       sum(collections_received_minor)::BIGINT AS collections_received_minor,
       sum(collections_outstanding_minor)::BIGINT AS collections_outstanding_minor, sum(inquiries)::BIGINT AS inquiries,
       sum(inquiries_replied_24h)::BIGINT AS inquiries_replied_24h, sum(inquiries_converted)::BIGINT AS inquiries_converted
FROM parts WHERE {key} IS NOT NULL GROUP BY ALL
"""

DERIVED = """
  revenue_minor - refunds_minor AS net_revenue_minor,
  CASE WHEN orders = 0 THEN 0 ELSE sign(revenue_minor) * ((2 * abs(revenue_minor) + orders) // (2 * orders)) END
    AS average_order_value_minor,
  CASE WHEN cost_known_orders > 0 THEN cost_known_profit_minor END AS gross_profit_minor,
  CASE WHEN cost_known_orders > 0 AND cost_known_revenue_minor <> 0 THEN cost_known_profit_minor / cost_known_revenue_minor END AS gross_margin,
  CASE WHEN revenue_minor <> 0 THEN refunds_minor / revenue_minor END AS refund_rate,
  CASE WHEN inquiries > 0 THEN inquiries_replied_24h / inquiries END AS reply_within_24h_rate,
  CASE WHEN inquiries > 0 THEN inquiries_converted / inquiries END AS inquiry_conversion_rate
"""

MEMBERS = """
CREATE OR REPLACE TEMP TABLE rows_{name} AS
SELECT member_id, team_id, currency FROM roster
WHERE active OR member_id IN (
  SELECT member_id FROM ofacts WHERE day >= $s AND day < $e AND NOT cancelled
  UNION SELECT member_id FROM rfacts WHERE day >= $s AND day < $e AND counted
  UNION SELECT member_id FROM cfacts WHERE day >= $s AND day < $e
  UNION SELECT member_id FROM qfacts WHERE day >= $s AND day < $e);
"""

MEMBER_METRICS = """
WITH t AS (SELECT scope_id, last(CAST(value AS DECIMAL(38, 12))) AS value FROM targets_text
           WHERE trim(period) = $label AND lower(trim(metric)) = 'revenue' AND scope = 'member' GROUP BY ALL),
m AS (
  SELECT r.member_id, r.team_id, $label AS period, r.currency,
         {zero_cols},
         coalesce(p.revenue_minor, 0) - coalesce(p.refunds_minor, 0) AS previous_net_revenue_minor,
         coalesce(p.orders, 0) AS previous_orders,
         CAST(round(t.value * CAST(10 ** ex(r.currency) AS BIGINT)) AS BIGINT) AS target_revenue_minor
  FROM rows_cur r LEFT JOIN act_mcur a USING (member_id) LEFT JOIN act_mprev p USING (member_id)
  LEFT JOIN t ON t.scope_id = r.member_id)
SELECT *, {derived},
  CASE WHEN target_revenue_minor <> 0 THEN (revenue_minor - refunds_minor) / target_revenue_minor END AS attainment,
  dense_rank() OVER (PARTITION BY team_id ORDER BY revenue_minor - refunds_minor DESC) AS rank_in_team,
  count(*) OVER (PARTITION BY team_id) AS team_size
FROM m ORDER BY team_id, rank_in_team, member_id
"""

TEAM_METRICS = """
WITH tt AS (SELECT scope_id, last(CAST(value AS DECIMAL(38, 12))) AS value FROM targets_text
            WHERE trim(period) = $label AND lower(trim(metric)) = 'revenue' GROUP BY scope, scope_id HAVING scope = 'team'),
mt AS (SELECT r.team_id, sum(CAST(round(CAST(t.value AS DECIMAL(38, 12)) * CAST(10 ** ex(r.currency) AS BIGINT)) AS BIGINT)) AS value
       FROM rows_cur r JOIN targets_text t ON t.scope_id = r.member_id
       WHERE trim(t.period) = $label AND lower(trim(t.metric)) = 'revenue' AND t.scope = 'member' GROUP BY ALL),
m AS (
  SELECT tm.team_id, $label AS period, tm.base_currency AS currency,
         (SELECT count(*) FROM rows_cur r WHERE r.team_id = tm.team_id) AS members,
         {zero_cols},
         coalesce(p.revenue_minor, 0) - coalesce(p.refunds_minor, 0) AS previous_net_revenue_minor,
         coalesce(p.orders, 0) AS previous_orders,
         coalesce(CAST(round(tt.value * CAST(10 ** ex(tm.base_currency) AS BIGINT)) AS BIGINT), mt.value) AS target_revenue_minor
  FROM (SELECT DISTINCT ON (team_id) team_id, base_currency FROM teams) tm
  LEFT JOIN act_tcur a USING (team_id) LEFT JOIN act_tprev p USING (team_id)
  LEFT JOIN tt ON tt.scope_id = tm.team_id LEFT JOIN mt ON mt.team_id = tm.team_id)
SELECT *, {derived},
  CASE WHEN target_revenue_minor <> 0 THEN (revenue_minor - refunds_minor) / target_revenue_minor END AS attainment
FROM m ORDER BY team_id
"""

TREND = """
WITH weeks AS (SELECT unnest($starts::DATE[]) AS week_start),
o AS (SELECT member_id, date_trunc('week', day)::DATE AS week_start, sum(revenue) AS revenue, count(*) AS orders
      FROM ofacts WHERE day >= $s AND day < $e AND NOT cancelled AND attributed GROUP BY ALL),
r AS (SELECT member_id, date_trunc('week', day)::DATE AS week_start, sum(amount) AS refunds
      FROM rfacts WHERE day >= $s AND day < $e AND counted AND attributed GROUP BY ALL),
mem AS (SELECT member_id, team_id, currency FROM roster
        WHERE active OR member_id IN (SELECT member_id FROM o UNION SELECT member_id FROM r))
SELECT mem.member_id, mem.team_id, w.week_start,
       CAST(coalesce(o.revenue, 0) - coalesce(r.refunds, 0) AS BIGINT) AS net_revenue_minor,
       coalesce(o.orders, 0) AS orders, mem.currency,
       CAST(coalesce(o.revenue, 0) AS BIGINT) AS revenue_minor, CAST(coalesce(r.refunds, 0) AS BIGINT) AS refunds_minor
FROM mem CROSS JOIN weeks w
LEFT JOIN o ON o.member_id = mem.member_id AND o.week_start = w.week_start
LEFT JOIN r ON r.member_id = mem.member_id AND r.week_start = w.week_start
ORDER BY mem.team_id, mem.member_id, w.week_start
"""

COMMISSION = """
CREATE OR REPLACE TEMP TABLE credits AS
SELECT member_id, team_id, 'order' AS kind, source AS record_source, order_id AS record_id, order_id, ordered_at AS credited_at,
       day AS credited_date, revenue AS base_minor, currency
FROM ofacts WHERE day >= $ms AND day < $me AND NOT cancelled AND attributed
UNION ALL
SELECT member_id, team_id, kind, NULL, refund_id, order_id, refunded_at, day, -amount, currency
FROM rfacts WHERE day >= $ms AND day < $me AND counted AND attributed;

CREATE OR REPLACE TEMP TABLE clines AS
WITH c AS (
  SELECT c.*, p.plan_id,
         sum(base_minor) OVER (PARTITION BY c.member_id ORDER BY credited_at, order_id NULLS LAST, kind <> 'order', record_id
                               ROWS UNBOUNDED PRECEDING) AS after
  FROM credits c JOIN member_plans p USING (member_id)),
f AS (
  SELECT c.member_id, c.record_id, c.kind,
         sum(b.slope * CASE WHEN b.band = 0 THEN c.after ELSE greatest(c.after - b.lower, 0) END) AS f_after,
         sum(b.slope * CASE WHEN b.band = 0 THEN c.after - c.base_minor ELSE greatest(c.after - c.base_minor - b.lower, 0) END) AS f_before,
         max(b.places) AS places,
         max(CASE WHEN least(c.after, c.after - c.base_minor) >= b.lower OR b.band = 0 THEN b.band END) AS band_no,
         max(CASE WHEN (CASE WHEN c.base_minor = 0 THEN least(c.after, c.after - c.base_minor)
                             ELSE greatest(c.after, c.after - c.base_minor) - 1 END) >= b.lower OR b.band = 0 THEN b.band END) AS band_last
  FROM c JOIN plan_bands b ON b.plan_id = c.plan_id AND b.currency = c.currency GROUP BY ALL)
SELECT c.*, f.band_no, f.band_last,
       half_up(f.f_after, CAST(10 ** f.places AS HUGEINT)) - half_up(f.f_before, CAST(10 ** f.places AS HUGEINT)) AS amount_minor,
       half_up(f.f_after, CAST(10 ** f.places AS HUGEINT)) AS cumulative_amount_minor
FROM c JOIN f USING (member_id, record_id, kind);
"""

LINES_OUT = """
SELECT $month AS month, l.member_id, l.plan_id, l.record_source AS order_source, l.order_id, l.credited_at,
       CAST(l.base_minor AS BIGINT) AS base_minor, CAST(l.amount_minor AS BIGINT) AS amount_minor, l.currency,
       l.team_id, l.kind, l.record_id, l.credited_date,
       CAST(l.after AS BIGINT) AS cumulative_base_minor, CAST(l.cumulative_amount_minor AS BIGINT) AS cumulative_amount_minor,
       (CASE l.kind WHEN 'order' THEN 'Order' WHEN 'refund' THEN 'Refund' ELSE 'Cancellation' END) || ' ' || l.record_id
       || (CASE WHEN l.kind <> 'order' AND l.order_id IS NOT NULL THEN ' of order ' || l.order_id ELSE '' END)
       || ' (' || strftime(l.credited_date, '%Y-%m-%d') || '): base ' || fmt_minor(l.base_minor, l.currency) || ' ' || l.currency
       || ', ' || (SELECT CASE WHEN first(b.kind) = 'flat' THEN 'flat rate ' ELSE 'band ' END
                          || string_agg(b.label, ' + ' ORDER BY b.band)
                   FROM plan_bands b WHERE b.plan_id = l.plan_id AND b.currency = l.currency
                     AND b.band BETWEEN l.band_no AND l.band_last) || ', month to date ' || fmt_minor(l.after, l.currency) || ' ' || l.currency
       || ', commission ' || fmt_minor(l.amount_minor, l.currency) || ' ' || l.currency AS explanation
FROM clines l
ORDER BY l.member_id, l.credited_at, l.order_id NULLS LAST, l.kind <> 'order', l.record_id
"""

SUMMARY = """
SELECT $month AS month, p.member_id, r.team_id, p.plan_id,
       CAST(coalesce(sum(l.base_minor), 0) AS BIGINT) AS base_minor,
       CAST(coalesce(sum(l.amount_minor), 0) AS BIGINT) AS amount_minor, count(l.member_id) AS lines,
       coalesce(first(l.currency), r.currency) AS currency
FROM member_plans p JOIN roster r USING (member_id) LEFT JOIN clines l USING (member_id)
GROUP BY p.member_id, r.team_id, p.plan_id, r.currency, r.active HAVING count(l.member_id) > 0 OR r.active
ORDER BY p.member_id
"""

_ZERO = ", ".join(
    f"coalesce(a.{c}, 0) AS {c}" for c in (
        "revenue_minor", "refunds_minor", "orders", "cost_known_revenue_minor", "cost_known_orders",
        "cost_known_profit_minor", "customers", "new_customers", "returning_customers", "collections_received_minor",
        "collections_outstanding_minor", "inquiries", "inquiries_replied_24h", "inquiries_converted",
    )
)


def _plan_tables(data: SalesData, commission) -> tuple[pd.DataFrame, pd.DataFrame]:
    """member -> plan, and each plan's bands per currency (lower bound, marginal slope scaled by 10**places)."""
    from transforms.commissions import assign_plans, schedule_for

    plans = assign_plans(data.members, commission).dropna()
    member_plans = pd.DataFrame({"member_id": plans.index.to_numpy(dtype=object), "plan_id": plans.to_numpy(dtype=object)})
    rows = []
    for plan in commission.plans:
        for currency in sorted(set(data.teams["base_currency"])):
            s = schedule_for(plan, currency)
            scale = Decimal(10) ** s.places
            rates = [int(r * scale) for r in s.rates]
            slopes = [rates[0]] + [b - a for a, b in zip(rates, rates[1:])]
            for band, (lower, slope, label) in enumerate(zip(s.lower, slopes, s.labels)):
                rows.append(dict(plan_id=plan.plan_id, currency=currency, band=band, lower=lower, slope=slope,
                                 places=s.places, kind=plan.kind,
                                 label=label if plan.kind != "flat" else label.split("@ ")[1]))
    return member_plans, pd.DataFrame(rows)


def _run(con, sql: str, params: dict | None = None):
    """Each statement of ``sql`` in turn, given the ``$parameters`` it names; the last one's result."""
    result = None
    for statement in (part.strip() for part in sql.split(";\n")):
        if not statement:
            continue
        used = {k: v for k, v in (params or {}).items() if f"${k}" in statement}
        result = con.execute(statement, used) if used else con.execute(statement)
    return result


def compute(data: SalesData, period: Period, month: Period, commission, trend_weeks: int = 12) -> dict[str, pd.DataFrame]:
    """Member and team metrics of ``period`` (and its previous week), the trend and the month's
    commissions, from ``data``'s frames, in one in-memory DuckDB database (all cores)."""
    import duckdb

    con = duckdb.connect()
    try:
        for name in ("teams", "members", "orders", "order_lines", "refunds", "collections", "inquiries"):
            con.register(name, getattr(data, name))
        con.register("fx_text", data.fx_rates.assign(rate=data.fx_rates["rate"].astype(str)))
        con.register("targets_text", data.targets.assign(value=data.targets["value"].astype(str)))
        member_plans, plan_bands = _plan_tables(data, commission)
        con.register("member_plans", member_plans)
        con.register("plan_bands", plan_bands)
        _run(con, MACROS)
        common = {"tz": data.timezone, "default": data.default_currency}
        _run(con, FACTS, {**common, "window": data.new_customer_window_days})
        previous = period.previous()
        for name, key, p in (("mcur", "member_id", period), ("mprev", "member_id", previous),
                             ("tcur", "team_id", period), ("tprev", "team_id", previous)):
            _run(con, ACTIVITY.format(name=name, key=key), {"s": p.start, "e": p.end})
        out = {}
        for label, p in (("cur", period),):
            _run(con, MEMBERS.format(name=label), {"s": p.start, "e": p.end})
        out["member_metrics"] = _run(con, 
            MEMBER_METRICS.format(zero_cols=_ZERO, derived=DERIVED), {"label": period.label}).df()
        out["team_metrics"] = _run(con, 
            TEAM_METRICS.format(zero_cols=_ZERO, derived=DERIVED), {"label": period.label}).df()
        span = trailing_weeks(week(period.end - pd.Timedelta(days=1)), trend_weeks)
        out["trend"] = _run(con, TREND, {"starts": [w.start for w in span], "s": span[0].start, "e": span[-1].end}).df()
        _run(con, COMMISSION, {"ms": month.start, "me": month.end})
        out["commission_lines"] = _run(con, LINES_OUT, {"month": month.label}).df()
        out["commission_summary"] = _run(con, SUMMARY, {"month": month.label}).df()
        return out
    finally:
        con.close()


# Columns compared value for value with Yeji's frames.
COMPARED = {
    "member_metrics": ("member_id", (
        "revenue_minor", "refunds_minor", "net_revenue_minor", "orders", "average_order_value_minor",
        "cost_known_revenue_minor", "customers", "new_customers", "returning_customers", "collections_received_minor",
        "collections_outstanding_minor", "inquiries", "inquiries_replied_24h", "inquiries_converted",
        "previous_net_revenue_minor", "previous_orders", "target_revenue_minor", "rank_in_team", "team_size")),
    "team_metrics": ("team_id", (
        "members", "revenue_minor", "refunds_minor", "net_revenue_minor", "orders", "new_customers",
        "returning_customers", "collections_outstanding_minor", "target_revenue_minor", "previous_net_revenue_minor")),
    "trend": (("member_id", "week_start"), ("net_revenue_minor", "orders")),
    # explanation texts are built on both sides (same work) but not compared: Yeji's wording is still changing
    "commission_lines": (("member_id", "record_id"), ("base_minor", "amount_minor", "cumulative_base_minor")),
    "commission_summary": ("member_id", ("base_minor", "amount_minor", "lines")),
}


def differences(yeji: dict[str, pd.DataFrame], duck: dict[str, pd.DataFrame]) -> list[str]:
    """Where DuckDB's results differ from Yeji's (empty when they agree value for value)."""
    found = []
    for name, (key, columns) in COMPARED.items():
        keys = [key] if isinstance(key, str) else list(key)
        a = yeji[name].loc[:, ~yeji[name].columns.duplicated()]  # member metrics carry previous_orders twice
        a = a.drop_duplicates(keys).set_index(keys).sort_index()
        b = duck[name].copy()
        if "week_start" in keys:
            b["week_start"] = pd.to_datetime(b["week_start"]).astype("datetime64[ns]")
        b = b.set_index(keys).sort_index()
        if len(a) != len(b) or not a.index.equals(b.index):
            found.append(f"{name}: {len(a)} rows in Yeji, {len(b)} in DuckDB")
            continue
        for c in columns:
            left = a[c].astype(object).where(a[c].notna(), None).tolist()
            right = b[c].astype(object).where(b[c].notna(), None).tolist()
            if c != "explanation":
                left = [None if v is None else int(v) for v in left]
                right = [None if v is None else int(v) for v in right]
            bad = sum(x != y for x, y in zip(left, right))
            if bad:
                first = next(i for i, (x, y) in enumerate(zip(left, right)) if x != y)
                found.append(f"{name}.{c}: {bad} value(s) differ, e.g. {a.index[first]}: {left[first]!r} vs {right[first]!r}")
    return found
