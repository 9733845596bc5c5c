"""The demo carries what the staged plan and the gross-profit figures need: B2B ship dates (some
not shipped yet), and a SKU cost sheet that costs the Amazon and WooCommerce lines - loaded
through the real connectors into a real warehouse."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import yaml

from config.loader import load_settings, load_workspace
from config.models import StoreSource
from flows.common import SALES_TABLES
from flows.stores import sync_store
from flows.sync import KIND_ORDER
from tests.ingest_helpers import ingest
from transforms.commissions import lines_for_data
from transforms.facts import order_facts
from transforms.periods import parse_period
from transforms.schema import SalesData
from warehouse.db import read_table
from yeji.demo import DEMO_CONFIG, STORE_CATALOGUE, build_world, create_demo_workspace
from yeji.demo_stores import demo_stores

END = date(2026, 11, 15)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    create_demo_workspace(root, seed=3, end=END, weeks=8)
    return load_workspace(str(root))


def test_the_demo_spreadsheets_load_ship_dates_and_costs_without_rejects(workspace, sqlite_engine, tmp_path):
    ws = workspace
    for source in sorted(ws.settings.sources, key=lambda s: KIND_ORDER.index(s.kind)):
        batch, _ = ingest(sqlite_engine, source, ws.path(source.path), ws.settings)
        assert batch.rejects.empty, (source.name, batch.rejects["error"].tolist()[:3])
    orders = read_table(sqlite_engine, "orders")
    b2b = orders[(orders["source"] == "b2b_orders") & (orders["status"] == "open")]
    shipped = b2b["shipped_at"].notna()
    assert 0 < shipped.sum() < len(b2b)  # the latest containers have not left yet
    assert (b2b.loc[shipped, "shipped_at"] > b2b.loc[shipped, "ordered_at"]).all()
    assert orders.loc[orders["status"] == "cancelled", "shipped_at"].isna().all()
    costs = read_table(sqlite_engine, "product_costs")
    costed = {p.sku for p in STORE_CATALOGUE if p.cost_cny is not None}
    assert set(costs["sku"]) == costed and set(costs["currency"]) == {"CNY"}
    assert costs["sku"].duplicated().any()  # a cost changed during the window: two effective dates


def test_demo_store_lines_are_costed_from_the_sheet_and_the_staged_plan_holds_unshipped_parts(workspace, sqlite_engine, tmp_path):
    ws = workspace
    for source in sorted(ws.settings.sources, key=lambda s: KIND_ORDER.index(s.kind)):
        ingest(sqlite_engine, source, ws.path(source.path), ws.settings)
    world = build_world(load_settings(DEMO_CONFIG), seed=3, end=END, weeks=8)
    with demo_stores(tmp_path, world):
        entries = yaml.safe_load((tmp_path / "sources.yaml").read_text(encoding="utf-8"))["stores"]
        settings = ws.settings.model_copy(update={"stores": [StoreSource.model_validate(e) for e in entries]})
        for store in settings.stores:
            if store.platform != "shopify":
                assert sync_store(settings, store, sqlite_engine, now=datetime(2026, 11, 20))["ok"]
    frames = {name: read_table(sqlite_engine, table) for name, table in SALES_TABLES.items()}
    data = SalesData(**frames, timezone=ws.settings.timezone, default_currency=ws.settings.base_currency).check()
    facts = order_facts(data)
    lines = read_table(sqlite_engine, "order_lines")
    uncosted = {p.sku for p in STORE_CATALOGUE if p.cost_cny is None}
    for platform in ("amazon", "woocommerce"):
        mine = facts[facts["platform"] == platform]
        skus = lines[lines["source"].isin(set(mine["source"]))].groupby("order_id")["sku"].agg(set)
        expected = ~skus.reindex(mine["order_id"]).map(lambda s: bool(s & uncosted)).to_numpy()
        assert (mine["cost_known"].to_numpy() == expected).all(), platform
        assert mine["cost_known"].mean() > 0.5 and mine.loc[mine["cost_known"], "gross_profit_minor"].notna().all()
    staged = [p for p in ws.settings.commission.plans if p.stages]
    assert [s.event for s in staged[0].stages] == ["signed", "shipped", "collected"]
    october = lines_for_data(data, ws.settings.commission, parse_period("2026-10"), None)
    credit = october[(october["plan_id"] == staged[0].plan_id) & (october["line_type"] == "credit")]
    earned = credit["amount_minor"] + credit["held_minor"]
    held_share = (credit["held_minor"] / earned)[earned > 10_000].round(2)
    # 30% paid at signing; shipped orders also get their 30% (40% held), unshipped ones hold 70%
    assert {0.4, 0.7} <= set(held_share), sorted(set(held_share))
