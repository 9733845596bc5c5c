"""The demo workspace generator (yeji/demo.py) and its configuration (config/defaults/yeji.yaml).

The files are read back here through the column mappings in the generated yeji.yaml
with a deliberately small reader (csv module, openpyxl), independent of the generator's
internals and of the ingest connector: what is checked is what a user's files would
look like. The online stores (Shopify, Amazon US/DE, WooCommerce UK) are not files: the
sandbox stores serve them in each platform's API format (yeji/demo_stores.py), and they
are checked here as the real connectors' parsers read them (``stores``).
"""

from __future__ import annotations

import csv
import filecmp
import re
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from config.loader import load_settings
from config.models import Settings, SpreadsheetSource
from transforms.money import exponent
from yeji.demo import DEMO_CONFIG, DemoSummary, create_demo_workspace, default_end

REPO = Path(__file__).resolve().parents[1]
END = date(2026, 11, 15)  # a Sunday; fixed so that the tests do not depend on today's date
SEED = 7

# Fields per kind as docs/architecture.md "Spreadsheet fields per kind" lists them (required first).
FIELDS = {
    "teams": (("team_id", "name", "base_currency"), ("lead_member_id",)),
    "members": (("member_id", "name", "team_id", "role"), ("manager_id", "email", "language", "active")),
    "customers": (("customer_id",), ("name", "country", "customer_class", "owner_member_id")),
    "orders": (("order_id", "ordered_at", "currency", "gross", "platform", "store"),
               ("discount", "tax", "shipping", "customer_id", "member_id", "country", "payment_terms", "status",
                "shipped_at")),
    "order_lines": (("order_id", "quantity", "unit_price"), ("line_no", "sku", "description", "discount", "unit_cost")),
    "sales_lines": (("order_id", "ordered_at", "currency", "quantity", "unit_price"),
                    ("sku", "description", "discount", "unit_cost", "customer_id", "customer_name", "country",
                     "member_id", "platform", "store", "shipped_at")),
    "refunds": (("refund_id", "refunded_at", "currency", "amount"),
                ("order_id", "kind", "member_id", "customer_id", "country", "reason")),
    "collections": (("collection_id", "order_id", "received_at", "currency", "amount"), ("stage",)),
    "fx_rates": (("rate_date", "from_currency", "to_currency", "rate"), ()),
    "product_costs": (("sku", "effective_from", "currency", "unit_cost"), ()),
    "targets": (("scope", "scope_id", "period", "metric", "value"), ("currency",)),
    "scores": (("member_id", "period", "dimension", "score"), ()),
    "inquiries": (("inquiry_id", "received_at"),
                  ("first_reply_at", "owner_member_id", "customer_id", "country", "channel", "converted_order_id")),
}
MONEY = ("gross", "discount", "tax", "shipping", "amount", "unit_price", "unit_cost")
TIMES = ("ordered_at", "refunded_at", "received_at", "first_reply_at")


# ----------------------------------------------------------------------------- reading the files back


def _table(root: Path, source: SpreadsheetSource) -> list[tuple[str, list[tuple]]]:
    path = root / source.path
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            return [("", [tuple(r) for r in csv.reader(f)])]
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = source.sheets or [book.sheetnames[0]]
        return [(name, [tuple(r) for r in book[name].iter_rows(values_only=True)]) for name in sheets]
    finally:
        book.close()


def read_source(source: SpreadsheetSource, tables: list[tuple[str, list[tuple]]]) -> list[dict]:
    """The source's rows as {field: raw cell value}, with its defaults filled in."""
    by_header = {header: name for name, header in source.columns.items()}
    rows = []
    for sheet, table in tables:
        headers = table[source.header_row - 1]
        for n, values in enumerate(table[source.header_row:], start=source.header_row + 1):
            if all(v in (None, "") for v in values):
                continue
            row = dict(source.defaults)
            row.update({by_header[h]: (None if v == "" else v) for h, v in zip(headers, values) if h in by_header})
            row["_where"] = f"{source.path}{'[' + sheet + ']' if sheet else ''} row {n}"
            rows.append(row)
    return rows


def money(value) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise TypeError(f"not an amount: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):  # an Excel number: its shortest repr is the text Excel stored
        return Decimal(repr(value))
    return Decimal(str(value).replace(",", ""))


def moment(value, source: SpreadsheetSource, settings: Settings) -> datetime:
    """An aware datetime, read the way the mapping says (date_format, timezone)."""
    if isinstance(value, datetime):
        naive = value
    elif source.date_format:
        naive = datetime.strptime(value, source.date_format)
    else:
        naive = datetime.fromisoformat(value)
    return naive.replace(tzinfo=ZoneInfo(source.timezone or settings.timezone))


def local_day(value, source: SpreadsheetSource, settings: Settings) -> date:
    return moment(value, source, settings).astimezone(ZoneInfo(settings.timezone)).date()


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[DemoSummary, float]:
    root = tmp_path_factory.mktemp("demo")
    started = time.perf_counter()
    summary = create_demo_workspace(root, seed=SEED, end=END)
    return summary, time.perf_counter() - started


@pytest.fixture(scope="module")
def root(demo) -> Path:
    return demo[0].root


@pytest.fixture(scope="module")
def settings(root) -> Settings:
    return load_settings(root / "yeji.yaml")


@pytest.fixture(scope="module")
def tables(root, settings) -> dict[str, list[tuple[str, list[tuple]]]]:
    """Each source's sheets as read from disk once: [(sheet name, rows of cell values)]."""
    return {s.name: _table(root, s) for s in settings.sources}


@pytest.fixture(scope="module")
def data(settings, tables) -> dict[str, list[dict]]:
    return {s.name: read_source(s, tables[s.name]) for s in settings.sources}


class _NoServer:
    def url(self, name: str) -> str:
        return f"http://127.0.0.1:9/{name}"


@pytest.fixture(scope="module")
def stores(settings) -> dict[str, object]:
    """Per demo store: its sandbox records parsed by the real connectors (what `yeji sync` loads)."""
    from datetime import datetime as dt

    from config.models import StoreSource
    from connectors.stores import Page, RetryPolicy, Window
    from connectors.stores.amazon import AmazonFinances, AmazonOrders
    from connectors.stores.records import Parsed
    from connectors.stores.shopify import ShopifyGraphQL
    from connectors.stores.woocommerce import REFUNDS_KEY, WooOrders
    from yeji.demo import build_world
    from yeji.demo_stores import store_payloads, stores_config

    world = build_world(load_settings(DEMO_CONFIG), seed=SEED, end=END, weeks=26)
    payloads = store_payloads(world)
    window, policy = Window(dt(2000, 1, 1), dt(2100, 1, 1)), RetryPolicy()
    out = {}
    for entry in stores_config(_NoServer(), END):
        store = StoreSource.model_validate(entry)
        data, parsed = payloads[store.name], Parsed()
        if store.platform == "shopify":
            parsed.extend(ShopifyGraphQL(store, settings, {"access_token": "x"}, policy).parse_page(Page(data["orders"], None, "t"), window))
        elif store.platform == "amazon":
            parsed.extend(AmazonOrders(store, settings, {}, policy, None, None, {}).parse_page(Page(data["orders"], None, "t"), window))
            events = [{"_yeji_list": name, "_yeji_key": f"{name}:{i}", "event": e} for i, (name, e) in enumerate(data["events"])]
            parsed.extend(AmazonFinances(store, settings, {}, policy, None, None, {}).parse_page(Page(events, None, "t"), window))
        else:
            orders = [o | {REFUNDS_KEY: data["refunds"].get(str(o["id"]), [])} for o in data["orders"]]
            stream = WooOrders(store, settings, {"consumer_key": "k", "consumer_secret": "s"}, policy)
            parsed.extend(stream.parse_page(Page(orders, None, "t"), window))
        assert parsed.rejected == 0, parsed.rejects[:3]
        out[store.name] = parsed
    return out


def _store_orders(stores) -> list:
    return [o for parsed in stores.values() for o in parsed.orders]


def _store_refunds(stores) -> list:
    return [r for parsed in stores.values() for r in parsed.refunds] + [r for o in _store_orders(stores) for r in o.refunds]


def _sources(settings: Settings, *kinds: str) -> list[SpreadsheetSource]:
    return [s for s in settings.sources if s.kind in kinds]


def _currency_of_orders(settings: Settings, data: dict) -> dict[tuple[str, str], str]:
    """(order source, order id) -> currency."""
    out = {}
    for s in _sources(settings, "orders", "sales_lines"):
        for row in data[s.name]:
            out[(s.name, str(row["order_id"]))] = row["currency"]
    return out


# ----------------------------------------------------------------------------- configuration


def test_embedded_default_configuration_is_the_demo_and_validates():
    settings = load_settings(DEMO_CONFIG)
    assert settings.warehouse_url == "sqlite:///warehouse.db"
    assert (settings.timezone, settings.base_currency) == ("Asia/Shanghai", "CNY")
    assert settings.delivery.smtp is None and settings.delivery.outbox_dir
    assert settings.reports.default_language == "zh-CN"
    assert settings.territories
    plans = {p.plan_id: p for p in settings.commission.plans}
    assert settings.commission.default_plan in plans
    flat = [p for p in plans.values() if p.kind == "flat" and p.roles and {"follow_up", "customer_service"} <= set(p.roles)]
    tiered = [p for p in plans.values() if p.kind == "tiered" and p.roles and "sales" in p.roles]
    assert flat and tiered and len(tiered[0].tiers) >= 3
    # the demo shows the plan language's schemes (issue 3): marginal tiers x evaluation score for
    # sales, role coefficients for follow-up / customer service, a staged B2B plan with held parts
    assert tiered[0].tier_method == "marginal" and tiered[0].evaluation is not None
    assert flat[0].role_coefficients and set(flat[0].role_coefficients) == {"follow_up", "customer_service"}
    staged = [p for p in plans.values() if p.stages]
    assert staged and [s.event for s in staged[0].stages] == ["signed", "shipped", "collected"] and staged[0].members


def test_generated_workspace_has_the_plan_files_to_edit(root, settings):
    files = sorted(p.name for p in (root / "plans").glob("*.yaml"))
    assert files == sorted(p.name for p in (DEMO_CONFIG.parent / "plans").glob("*.yaml")) and len(files) >= 4
    assert {p.origin for p in settings.commission.plans} == {str(root / "plans" / f) for f in files}


def test_generated_yaml_is_the_template_and_validates(root, settings):
    assert (root / "yeji.yaml").read_text(encoding="utf-8") == DEMO_CONFIG.read_text(encoding="utf-8")
    kinds = {s.kind for s in settings.sources}
    # store orders come over the APIs (sources.yaml, written by `yeji demo`), not as sales_lines sheets
    assert set(FIELDS) - {"order_lines", "sales_lines"} <= kinds | {"orders"}, "every kind of record has a source"
    assert {"orders", "order_lines", "refunds"} <= kinds


def test_field_names_are_those_of_the_architecture_doc(settings):
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    for kind, (required, optional) in FIELDS.items():
        line = next(ln for ln in doc.splitlines() if ln.startswith(f"| `{kind}` |"))
        for name in required:
            assert f"{name}*" in line, f"docs: {kind}.{name} should be required"
        for name in optional:
            assert re.search(rf"\b{name}\b(?!\*)", line), f"docs: {kind}.{name} missing"
    for s in settings.sources:
        required, optional = FIELDS[s.kind]
        unknown = (set(s.columns) | set(s.defaults)) - set(required) - set(optional)
        assert not unknown, f"{s.name}: fields not in docs/architecture.md for {s.kind}: {sorted(unknown)}"
        missing = set(required) - set(s.columns) - set(s.defaults)
        assert not missing, f"{s.name}: required fields with neither column nor default: {sorted(missing)}"


def test_exercises_the_mapping_features(settings):
    by_name = {s.name: s for s in settings.sources}
    chinese = [s for s in settings.sources if s.path.endswith(".xlsx")
               and any(re.search(r"[\u4e00-\u9fff]", h) for h in s.columns.values())]
    assert len(chinese) >= 4
    assert any(s.path.endswith(".csv") and all(h.isascii() for h in s.columns.values()) for s in settings.sources)
    assert any(s.sheets and len(s.sheets) == 2 for s in settings.sources), "one source reads two sheets"
    assert any(len([t for t in settings.sources if t.path == s.path]) >= 2 for s in settings.sources)
    formats = {s.date_format for s in settings.sources if s.date_format}
    assert {"%Y/%m/%d %H:%M", "%Y年%m月%d日"} <= formats
    assert by_name["b2b_collections"].header_row == 2
    for s in _sources(settings, "refunds", "collections"):
        assert s.order_source in by_name and by_name[s.order_source].kind in ("orders", "sales_lines"), s.name


# ----------------------------------------------------------------------------- files


def test_every_declared_file_exists_with_every_mapped_header(root, settings, tables):
    declared = {s.path for s in settings.sources}
    for s in settings.sources:
        assert (root / s.path).is_file(), f"{s.name}: {s.path} was not written"
        for sheet, table in tables[s.name]:
            headers = table[s.header_row - 1]
            missing = [h for h in s.columns.values() if h not in headers]
            assert not missing, f"{s.name} {s.path} {sheet}: headers missing: {missing}"
            assert len(table) > s.header_row, f"{s.name} {sheet}: no data rows"
    written = {str(p.relative_to(root)) for p in (root / "data").iterdir()}
    assert written == declared, "every file under data/ is declared as a source"


def test_summary_matches_the_files(demo, data):
    summary, _ = demo
    assert {name: len(rows) for name, rows in data.items()} == summary.rows
    assert summary.last_day == END and summary.first_day == END - timedelta(days=26 * 7 - 1)
    assert summary.first_day.weekday() == 0 and (summary.first_week, summary.last_week) == ("2026-W21", "2026-W46")
    assert 2000 <= summary.counts["orders"] <= 6000
    assert str(summary).startswith("Demo workspace")


def test_same_seed_same_bytes_other_seed_other_data(tmp_path, root):
    again = create_demo_workspace(tmp_path / "again", seed=SEED, end=END)
    names = [str(p) for p in again.files]
    match, mismatch, errors = filecmp.cmpfiles(root, again.root, names, shallow=False)
    assert not mismatch and not errors and len(match) == len(names)
    small = create_demo_workspace(tmp_path / "small", seed=SEED, end=END, weeks=4)
    other = create_demo_workspace(tmp_path / "other", seed=SEED + 1, end=END, weeks=4)
    for name in ("data/fx_rates_cny.csv", "data/b2b_orders.xlsx", "data/inquiries.xlsx"):
        assert (other.root / name).read_bytes() != (small.root / name).read_bytes(), name


def test_rerun_over_a_demo_workspace_but_never_over_a_real_one(tmp_path, settings):
    create_demo_workspace(tmp_path / "w", seed=SEED, end=END, weeks=4)
    create_demo_workspace(tmp_path / "w", seed=SEED, end=END, weeks=4)  # same workspace: fine
    real = tmp_path / "real"
    real.mkdir()
    (real / "yeji.yaml").write_text("company: A real company\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="not the demo configuration"):
        create_demo_workspace(real)
    assert (real / "yeji.yaml").read_text(encoding="utf-8") == "company: A real company\n"
    assert not (real / "data").exists()


def test_default_end_is_the_sunday_before_the_current_week():
    shanghai = ZoneInfo("Asia/Shanghai")
    assert default_end(datetime(2026, 11, 22, 12, 0, tzinfo=shanghai)) == date(2026, 11, 15)  # a Sunday
    assert default_end(datetime(2026, 11, 23, 0, 30, tzinfo=shanghai)) == date(2026, 11, 22)  # a Monday
    assert default_end().weekday() == 6


def test_generation_takes_a_few_seconds_at_most(demo):
    _, seconds = demo
    assert seconds < 6, f"generating the demo took {seconds:.1f}s"


# ----------------------------------------------------------------------------- money and dates


def test_amounts_have_no_more_decimals_than_their_currency_allows(settings, data, stores):
    currency_of = _currency_of_orders(settings, data)
    checked = defaultdict(int)
    for s in settings.sources:
        for row in data[s.name]:
            if s.kind == "order_lines":
                currency = currency_of[(s.order_source, str(row["order_id"]))]
            else:
                currency = row.get("currency")
            for name in MONEY:
                if row.get(name) is None:
                    continue
                value = money(row[name])
                assert currency, f"{row['_where']}: {name} without a currency"
                assert -value.as_tuple().exponent <= exponent(currency), (
                    f"{row['_where']}: {name}={row[name]!r} has more decimals than {currency} allows")
                checked[currency] += 1
    for order in _store_orders(stores):  # the parsers reject an amount with too many decimals (none were)
        checked[order.currency] += 1
    assert {"USD", "EUR", "GBP", "JPY", "AED", "SAR"} <= set(checked)


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def test_csv_and_text_amounts_are_plain_decimals(settings, tables):
    """No float artefacts (12.300000001), no exponents, in any number written as text or as an Excel number."""
    pattern = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$|^-?\d+(\.\d+)?$")
    for s in settings.sources:
        for sheet, table in tables[s.name]:
            headers = table[s.header_row - 1]
            columns = [headers.index(s.columns[f]) for f in MONEY + ("rate", "value", "score", "quantity") if f in s.columns]
            for values in table[s.header_row:]:
                for i in columns:
                    v = values[i]
                    if isinstance(v, str) and v:
                        assert pattern.match(v) and _decimals(v) <= 6, f"{s.path} {sheet}: {v!r}"
                    elif isinstance(v, float):
                        assert "e" not in repr(v) and _decimals(repr(v)) <= 6, f"{s.path} {sheet}: {v!r}"


def test_fx_rates_cover_every_day_and_every_currency_used(settings, data, stores):
    rates = {}
    fx = _sources(settings, "fx_rates")[0]
    for row in data[fx.name]:
        day = row["rate_date"] if isinstance(row["rate_date"], date) else date.fromisoformat(row["rate_date"])
        assert row["to_currency"] == settings.base_currency
        rates[(row["from_currency"], day)] = money(row["rate"])
    days = sorted({d for _, d in rates})
    assert days == [days[0] + timedelta(days=i) for i in range(len(days))], "a rate for every calendar day"
    levels = {"USD": (6.8, 7.4), "EUR": (7.3, 8.2), "GBP": (8.6, 9.5), "AED": (1.85, 2.02), "SAR": (1.81, 1.98),
              "JPY": (0.044, 0.051)}
    for (currency, _), rate in rates.items():
        low, high = levels[currency]
        assert low <= rate <= high, f"{currency} {rate}"
    used = 0
    dated = {"orders": "ordered_at", "sales_lines": "ordered_at", "refunds": "refunded_at", "collections": "received_at"}
    for s in _sources(settings, *dated):
        for row in data[s.name]:
            if row["currency"] == settings.base_currency:
                continue
            day = local_day(row[dated[s.kind]], s, settings)
            assert (row["currency"], day) in rates, f"{row['_where']}: no {row['currency']} rate on {day}"
            used += 1
    local = ZoneInfo(settings.timezone)
    for currency, moment in [(o.currency, o.ordered_at) for o in _store_orders(stores)] + [
            (r.currency, r.refunded_at) for r in _store_refunds(stores)]:
        day = moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(local).date()
        assert (currency, day) in rates, f"store: no {currency} rate on {day}"
        used += 1
    assert used > 3000


def test_every_record_falls_inside_the_window(demo, settings, data):
    summary, _ = demo
    for s in settings.sources:
        for row in data[s.name]:
            for name in TIMES:
                if row.get(name) is not None:
                    day = local_day(row[name], s, settings)
                    assert summary.first_day <= day <= summary.last_day, f"{row['_where']}: {name} {day}"


def test_collections_never_exceed_order_totals(settings, data):
    totals, currencies = {}, {}
    for s in _sources(settings, "orders"):
        for row in data[s.name]:
            total = sum((money(row[f]) for f in ("gross", "tax", "shipping") if row.get(f) is not None), Decimal(0))
            totals[(s.name, row["order_id"])] = total - money(row.get("discount") or 0)
            currencies[(s.name, row["order_id"])] = row["currency"]
    collected = defaultdict(Decimal)
    stages = defaultdict(list)
    for s in _sources(settings, "collections"):
        for row in data[s.name]:
            key = (s.order_source, row["order_id"])
            assert key in totals, f"{row['_where']}: unknown order {row['order_id']}"
            assert row["currency"] == currencies[key]
            assert money(row["amount"]) > 0
            collected[key] += money(row["amount"])
            stages[key].append(row["stage"])
    over = {k: (v, totals[k]) for k, v in collected.items() if v > totals[k]}
    assert not over, f"collections above the order total: {list(over.items())[:3]}"
    assert sum(st == ["deposit", "balance"] for st in stages.values()) > 50, "T/T 30/70: deposit, then balance"
    b2b = [k for k in totals if k[0] == "b2b_orders"]
    orders = {r["order_id"]: r for r in data["b2b_orders"]}
    tt = [k for k in b2b if orders[k[1]]["payment_terms"] == "TT30/70" and orders[k[1]]["status"] == "open"]
    outstanding = [k for k in tt if collected[k] < totals[k]]
    assert 0 < len(outstanding) < len(tt), "some balances are still outstanding at the end"
    for k in tt:
        if stages[k][:1] == ["deposit"]:
            deposit = money(next(r["amount"] for r in data["b2b_collections"] if r["order_id"] == k[1]
                                 and r["stage"] == "deposit"))
            minor_unit = Decimal(1).scaleb(-exponent(orders[k[1]]["currency"]))
            assert abs(deposit - totals[k] * Decimal("0.3")) <= minor_unit, k


def test_refunds_never_exceed_what_the_order_was_sold_for(settings, data, stores):
    revenue = defaultdict(Decimal)
    for s in _sources(settings, "orders"):
        for row in data[s.name]:
            revenue[(s.name, row["order_id"])] += money(row["gross"]) - money(row.get("discount") or 0)
    for s in _sources(settings, "sales_lines"):
        for row in data[s.name]:
            line = money(row["unit_price"]) * int(row["quantity"]) - money(row.get("discount") or 0)
            revenue[(s.name, str(row["order_id"]))] += line
    refunded = defaultdict(Decimal)
    for s in _sources(settings, "refunds"):
        for row in data[s.name]:
            key = (s.order_source, str(row["order_id"]))
            assert key in revenue, f"{row['_where']}: unknown order"
            refunded[key] += money(row["amount"])
    assert all(v <= revenue[k] for k, v in refunded.items())
    kinds = {r["kind"] for s in _sources(settings, "refunds") for r in data[s.name]}
    assert kinds <= {"refund", "cancellation"}
    store_revenue = {o.order_id: o.gross_minor - o.discount_minor for o in _store_orders(stores)}
    store_refunded = defaultdict(int)
    for r in _store_refunds(stores):
        assert r.order_id in store_revenue, f"store refund {r.refund_id}: unknown order {r.order_id}"
        store_refunded[r.order_id] += r.amount_minor
    assert store_refunded and all(v <= store_revenue[k] for k, v in store_refunded.items())
    # store cancellations: the platforms mark the order cancelled (Amazon buyer cancellations, WooCommerce)
    assert {o.status for o in _store_orders(stores)} == {"open", "cancelled"}


def test_order_lines_add_up_to_their_orders(settings, data):
    for s in _sources(settings, "order_lines"):
        gross, discount = defaultdict(Decimal), defaultdict(Decimal)
        for row in data[s.name]:
            gross[row["order_id"]] += money(row["unit_price"]) * int(row["quantity"])
            discount[row["order_id"]] += money(row.get("discount") or 0)
        orders = data[s.order_source]
        assert {r["order_id"] for r in orders} == set(gross), f"{s.name}: lines and orders disagree"
        for row in orders:
            assert money(row["gross"]) == gross[row["order_id"]], row["_where"]
            assert money(row.get("discount") or 0) == discount[row["order_id"]], row["_where"]


# ----------------------------------------------------------------------------- the story


def test_people_teams_and_references(settings, data):
    members = {r["member_id"]: r for r in data["members"]}
    teams = {r["team_id"]: r for r in data["teams"]}
    assert len(teams) == 2 and 10 <= len(members) <= 12
    assert 2 <= sum(r["language"] == "en" for r in members.values()) <= 3
    assert {"sales", "lead", "follow_up", "customer_service"} <= {r["role"] for r in members.values()}
    assert all(members[t["lead_member_id"]]["role"] == "lead" for t in teams.values())
    assert all(r["email"].endswith("@demo.yeji.local") for r in members.values())
    assert any(r["active"] is False for r in members.values()), "someone left"
    assert all(t["lead_member_id"] in members for t in teams.values())
    assert all(r["team_id"] in teams and (r["manager_id"] is None or r["manager_id"] in members) for r in members.values())
    assert set(settings.territories) <= set(members)
    referenced = (
        [r["member_id"] for r in data["b2b_orders"] if r["member_id"]]
        + [r["owner_member_id"] for s in _sources(settings, "customers") for r in data[s.name] if r.get("owner_member_id")]
        + [r["owner_member_id"] for r in data["inquiries"]]
        + [r["member_id"] for r in data["scores"]]
        + [r["scope_id"] for r in data["targets"] if r["scope"] == "member"]
    )
    assert set(referenced) <= set(members)
    assert {r["scope_id"] for r in data["targets"] if r["scope"] == "team"} == set(teams)


def test_stores_platforms_customers_and_costs(settings, data, stores):
    from config.models import StoreSource
    from yeji.demo_stores import stores_config

    platforms = {r["platform"] for s in _sources(settings, "orders", "sales_lines") for r in data[s.name]}
    configured = [StoreSource.model_validate(e) for e in stores_config(_NoServer(), END)]
    assert platforms | {s.platform for s in configured} == {"shopify", "amazon", "woocommerce", "b2b"}
    sold = {(s.display_name, o.currency) for s in configured for o in stores[s.name].orders}
    assert sold == {("Shopify", "USD"), ("Amazon US", "USD"), ("Amazon DE", "EUR"), ("WooCommerce UK", "GBP")}
    countries = {r["country"] for s in _sources(settings, "customers") for r in data[s.name]}
    countries |= {o.customer.country for o in _store_orders(stores) if o.customer}
    assert {"United States", "Germany", "United Kingdom", "France", "United Arab Emirates", "Saudi Arabia", "Brazil",
            "Australia"} <= countries
    crm = data["crm_customers"]
    assert 3 <= sum(r["customer_class"] == "key_account" for r in crm) <= 15
    lines = [r for s in _sources(settings, "order_lines", "sales_lines") for r in data[s.name]]
    unknown_cost = sum(r.get("unit_cost") is None for r in lines)
    assert 0.03 < unknown_cost / len(lines) < 0.25, "cost known for most lines, not all"
    shopify = stores["shopify-us"].orders
    assert any(o.discount_minor > 0 for o in shopify) and any(o.tax_minor > 0 for o in shopify)
    assert any(o.shipping_minor > 0 for o in shopify)
    assert any(o.status == "cancelled" for o in stores["woocommerce-uk"].orders)
    assert {r["status"] for r in data["b2b_orders"]} == {"open", "cancelled"}


def test_inquiries_convert_and_replies_range_from_minutes_to_days(settings, data, stores):
    inquiries = data["inquiries"]
    source = _sources(settings, "inquiries")[0]
    order_ids = {str(r["order_id"]) for s in _sources(settings, "orders", "sales_lines") for r in data[s.name]}
    order_ids |= {o.order_id for o in _store_orders(stores)}
    converted = [r for r in inquiries if r["converted_order_id"]]
    assert 0.15 <= len(converted) / len(inquiries) <= 0.25
    assert {str(r["converted_order_id"]) for r in converted} <= order_ids
    delays = [moment(r["first_reply_at"], source, settings) - moment(r["received_at"], source, settings)
              for r in inquiries if r["first_reply_at"]]
    assert min(delays) < timedelta(minutes=15) and max(delays) > timedelta(days=2)
    assert all(d > timedelta(0) for d in delays)
    assert any(r["first_reply_at"] is None for r in inquiries), "some are not answered"


def test_targets_and_scores_cover_the_window(demo, data):
    summary, _ = demo
    periods = {(r["period"], r["scope"], r["metric"]) for r in data["targets"]}
    assert (summary.last_week, "member", "revenue") in periods and (summary.last_week, "team", "revenue") in periods
    assert ("2026-10", "member", "revenue") in periods and ("2026-10", "team", "revenue") in periods
    assert all(r["currency"] == "CNY" for r in data["targets"] if r["metric"] == "revenue")
    assert {r["dimension"] for r in data["scores"]} >= {"attitude", "skill", "teamwork"}
    assert all(Decimal(1) <= money(r["score"]) <= Decimal(5) for r in data["scores"])
    assert "2026-10" in {r["period"] for r in data["scores"]} and "2026-11" not in {r["period"] for r in data["scores"]}
