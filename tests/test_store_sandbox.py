"""The sandbox stores (connectors/stores/sandbox.py) serving the demo's generated store orders,
synced by the real connectors into a real SQLite warehouse: every order, refund and fee arrives
exactly once, a second sync reads nothing, a wrong credential stops only its store."""

from __future__ import annotations

import os
from decimal import Decimal
from datetime import date, datetime

import pytest
import yaml
from sqlalchemy import func, select

from config.loader import load_settings
from config.models import Settings, StoreSource
from flows.stores import sync_store
from warehouse.models import TABLES
from yeji.demo import DEMO_CONFIG, build_world
from yeji.demo_stores import demo_stores, store_payloads

END = date(2026, 11, 15)
NOW = datetime(2026, 11, 20)


@pytest.fixture(scope="module")
def world():
    return build_world(load_settings(DEMO_CONFIG), seed=5, end=END, weeks=8)


def _count(engine, table: str, source: str) -> int:
    t = TABLES[table]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(t).where(t.c.source == source)).scalar_one()


def _minor_sum(engine, table: str, source: str) -> int:
    t = TABLES[table]
    with engine.connect() as conn:
        return int(conn.execute(select(func.sum(t.c.amount_minor)).where(t.c.source == source)).scalar_one() or 0)


def test_demo_stores_sync_through_the_real_connectors(world, tmp_path, sqlite_engine):
    payloads = store_payloads(world)
    with demo_stores(tmp_path, world):
        entries = yaml.safe_load((tmp_path / "sources.yaml").read_text(encoding="utf-8"))["stores"]
        assert all(e["base_url"].startswith("http://127.0.0.1:") for e in entries)
        # no member named by the rules: orders load unattributed, no members sheet needed here
        stores = [StoreSource.model_validate(e | {"attribute_by": ["discount_code"]}) for e in entries]
        settings = Settings.model_validate({"stores": [s.model_dump() for s in stores]})
        first = [sync_store(settings, s, sqlite_engine, now=NOW) for s in settings.stores]
        again = [sync_store(settings, s, sqlite_engine, now=NOW) for s in settings.stores]
    for summary in first:
        assert summary["ok"] and summary["rows_rejected"] == 0, summary
    for store, summary in zip(settings.stores, first):
        data = payloads[store.name]
        assert _count(sqlite_engine, "orders", store.name) == len(data["orders"]), store.name
        assert summary["rows_read"] == len(data["orders"]) + len(data["events"])
    for amazon in ("amazon-us", "amazon-de"):
        refunds = [e for name, e in payloads[amazon]["events"] if name == "RefundEventList"]
        assert _count(sqlite_engine, "refunds", amazon) == len(refunds)
    amazon = "amazon-us"
    expected_fees = -sum(int(f["FeeAmount"]["CurrencyAmount"] * 100) for name, e in payloads[amazon]["events"]
                         if name == "ShipmentEventList" for item in e["ShipmentItemList"] for f in item["ItemFeeList"])
    assert _minor_sum(sqlite_engine, "fees", amazon) == expected_fees > 0
    shopify_refunds = sum(len(o["refunds"]) for o in payloads["shopify-us"]["orders"])
    assert _count(sqlite_engine, "refunds", "shopify-us") == shopify_refunds
    assert shopify_refunds + _count(sqlite_engine, "refunds", "amazon-us") + _count(sqlite_engine, "refunds", "amazon-de") > 0
    cancelled = sum(o["status"] == "cancelled" for o in payloads["woocommerce-uk"]["orders"])
    t = TABLES["orders"]
    with sqlite_engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(t).where(t.c.source == "woocommerce-uk", t.c.status == "cancelled")).scalar_one()
    assert stored == cancelled
    # Shopify's InventoryItem.unitCost becomes the line cost; a line without one stays unknown
    expected_costs = {
        (o["id"].rsplit("/", 1)[-1], i): node["variant"]["inventoryItem"]["unitCost"]
        for o in payloads["shopify-us"]["orders"] for i, node in enumerate(o["lineItems"]["nodes"], start=1)
    }
    lines = TABLES["order_lines"]
    with sqlite_engine.connect() as conn:
        stored_costs = conn.execute(select(lines.c.order_id, lines.c.line_no, lines.c.unit_cost, lines.c.quantity, lines.c.cost_minor)
                                    .where(lines.c.source == "shopify-us")).all()
    assert stored_costs and any(c.cost_minor is not None for c in stored_costs)
    for row in stored_costs:
        cost = expected_costs[(row.order_id, row.line_no)]
        if cost is None:
            assert row.cost_minor is None and row.unit_cost is None
        else:
            assert row.unit_cost == Decimal(cost["amount"]) and row.cost_minor == int(Decimal(cost["amount"]) * row.quantity * 100)
    for summary in again:
        assert summary["ok"] and (summary["rows_read"], summary["inserted"], summary["updated"]) == (0, 0, 0), summary
    # the credentials were set for the block only
    assert not any(k.startswith("YEJI_DEMO_") for k in os.environ)


def test_a_wrong_credential_stops_that_store_only(world, tmp_path, sqlite_engine, monkeypatch):
    with demo_stores(tmp_path, world):
        entries = yaml.safe_load((tmp_path / "sources.yaml").read_text(encoding="utf-8"))["stores"]
        stores = [StoreSource.model_validate(e | {"attribute_by": ["discount_code"]}) for e in entries]
        settings = Settings.model_validate({"stores": [s.model_dump() for s in stores]})
        monkeypatch.setenv("YEJI_DEMO_AMAZON_DE_REFRESH_TOKEN", "Atzr|stolen")
        monkeypatch.setenv("YEJI_DEMO_SHOPIFY_US_ACCESS_TOKEN", "shpat_wrong")
        summaries = {s.name: sync_store(settings, s, sqlite_engine, now=NOW) for s in settings.stores}
    assert not summaries["amazon-de"]["ok"] and "refused the refresh token" in summaries["amazon-de"]["error"]
    assert not summaries["shopify-us"]["ok"] and "HTTP 401" in summaries["shopify-us"]["error"]
    assert "shpat_wrong" not in summaries["shopify-us"]["error"]
    assert summaries["amazon-us"]["ok"] and summaries["woocommerce-uk"]["ok"]
