"""Ship dates from the stores (the ``shipped`` stage of commission plans): each platform's own
payloads, synced through the real connectors from a local server into a real warehouse."""

from __future__ import annotations

import copy
import json
from datetime import datetime

import pandas as pd
import pytest

from config.models import Settings
from connectors.stores.shopify import ORDERS_QUERY
from flows.stores import sync_store
from tests.store_sims import AmazonSim, FakeClock, ShopifyGraphQLSim, ShopifyRestSim, WooSim, serve, shopify_nodes
from warehouse.db import read_table, upsert_frame

NOW = datetime(2026, 3, 1)


@pytest.fixture
def members(engine):
    frame = pd.DataFrame({"member_id": ["lina"], "name": ["lina"], "team_id": "t1", "role": "sales", "manager_id": None,
                          "email": None, "language": "en", "active": True, "source": "members"})
    with engine.begin() as conn:
        upsert_frame(conn, "members", frame)
    return engine


def _fixture(shared, name: str):
    return json.loads((shared / name).read_text(encoding="utf-8"))


def _sync(engine, clock: FakeClock, **store) -> dict:
    settings = Settings.model_validate({"territories": {"lina": ["United States"]},
                                        "stores": [{"name": "shop", "platform": "shopify", "start": "2000-01-01"} | store]})
    summary = sync_store(settings, settings.stores[0], engine, now=NOW, policy=clock.policy())
    assert summary["ok"], summary
    return summary


def _shipped(engine) -> dict:
    orders = read_table(engine, "orders").set_index("order_id")["shipped_at"]
    return {k: (None if pd.isna(v) else v.to_pydatetime()) for k, v in orders.items()}


def test_shopify_rest_counts_only_successful_fulfilments_and_takes_the_first(members, shared_fixtures, monkeypatch):
    failed = _fixture(shared_fixtures, "shopify/rest/order.json")["order"]  # its one fulfilment has status "failure"
    shipped = copy.deepcopy(failed) | {"id": 450789471}
    shipped["fulfillments"] = [
        failed["fulfillments"][0] | {"status": "success", "created_at": "2014-01-24T10:00:00-05:00"},
        failed["fulfillments"][0] | {"status": "success", "created_at": "2014-01-23T22:30:00-05:00"},  # the first one
        failed["fulfillments"][0] | {"status": "cancelled", "created_at": "2014-01-20T08:00:00-05:00"},
    ]
    monkeypatch.setenv("YEJI_SHOP_ACCESS_TOKEN", "shpat_good")
    clock = FakeClock()
    with serve(ShopifyRestSim([failed, shipped], clock=clock)) as url:
        _sync(members, clock, api="rest", base_url=url)
    assert _shipped(members) == {"450789469": None, "450789471": datetime(2014, 1, 24, 3, 30)}  # naive UTC


def test_shopify_graphql_reads_the_fulfilments_it_asks_for(members, monkeypatch):
    nodes = shopify_nodes(3, datetime(2026, 1, 1))
    nodes[0]["fulfillments"] = [{"createdAt": "2026-01-02T08:00:00Z", "status": "SUCCESS"}]
    nodes[1]["fulfillments"] = [{"createdAt": "2026-01-02T09:00:00Z", "status": "OPEN"}]  # accepted, not shipped yet
    nodes[2]["fulfillments"] = []
    monkeypatch.setenv("YEJI_SHOP_ACCESS_TOKEN", "shpat_good")
    clock = FakeClock()
    sim = ShopifyGraphQLSim(nodes, clock=clock)
    with serve(sim) as url:
        _sync(members, clock, base_url=url)
    assert _shipped(members) == {"5000000": datetime(2026, 1, 2, 8, 0), "5000001": None, "5000002": None}
    assert "fulfillments(first: 20) { createdAt status }" in ORDERS_QUERY  # asked for (the sim serves what it has)


def test_woocommerce_ships_when_the_order_is_completed(members, shared_fixtures, monkeypatch):
    orders = _fixture(shared_fixtures, "woocommerce/orders-list.json")  # 723 completed, 727 processing
    monkeypatch.setenv("YEJI_WOO_CONSUMER_KEY", "ck_good")
    monkeypatch.setenv("YEJI_WOO_CONSUMER_SECRET", "cs_good")
    clock = FakeClock()
    with serve(WooSim(orders, {}, clock=clock)) as url:
        _sync(members, clock, name="woo", platform="woocommerce", base_url=url)
    assert _shipped(members) == {"723": datetime(2017, 3, 21, 19, 54, 51), "727": None}  # date_completed_gmt


def test_amazon_packages_give_the_ship_time_and_v0_orders_have_none(members, shared_fixtures, monkeypatch):
    monkeypatch.setenv("YEJI_AMZ_LWA_CLIENT_ID", "amzn1.application-oa2-client.x")
    monkeypatch.setenv("YEJI_AMZ_LWA_CLIENT_SECRET", "amzn1.oa2-cs.v1.secret")
    monkeypatch.setenv("YEJI_AMZ_REFRESH_TOKEN", "Atzr|good")
    search = _fixture(shared_fixtures, "amazon/orders-2026-01-01-searchOrders.json")["orders"]  # merchant-fulfilled
    unshipped = copy.deepcopy(search[0]) | {"orderId": "123-0000000-0000002"}
    unshipped.pop("packages")  # fulfilled by Amazon: no package data, so no ship date (never a guess)
    clock = FakeClock()
    with serve(AmazonSim(search_orders=[search[0], unshipped], clock=clock)) as url:
        _sync(members, clock, name="amz", platform="amazon", base_url=url, auth_url=url + "/auth/o2/token",
              marketplace_ids=["ATVPDKIKX0DER"], finances="none")
    assert _shipped(members) == {"123-4567890-1234567": datetime(2024, 12, 25, 14, 0), "123-0000000-0000002": None}


def test_the_demo_stores_carry_the_worlds_ship_dates(tmp_path, sqlite_engine):
    from datetime import date

    import yaml

    from config.loader import load_settings
    from config.models import StoreSource
    from yeji.demo import DEMO_CONFIG, build_world
    from yeji.demo_stores import _utc, demo_stores, shopify_order_id

    world = build_world(load_settings(DEMO_CONFIG), seed=5, end=date(2026, 11, 15), weeks=6)
    with demo_stores(tmp_path, world):
        entries = yaml.safe_load((tmp_path / "sources.yaml").read_text(encoding="utf-8"))["stores"]
        settings = Settings.model_validate({"stores": [StoreSource.model_validate(e | {"attribute_by": ["discount_code"]})
                                                       .model_dump() for e in entries]})
        for store in settings.stores:
            assert sync_store(settings, store, sqlite_engine, now=datetime(2026, 11, 20))["ok"]
    got = read_table(sqlite_engine, "orders").set_index(["source", "order_id"])["shipped_at"]
    expected = {}
    for o in world.orders:
        if o.store is None:
            continue
        name = {"shopify": "shopify-us", "woocommerce": "woocommerce-uk", "amazon_us": "amazon-us", "amazon_de": "amazon-de"}
        key = (name[o.store.key], shopify_order_id(o.order_id) if o.store.key == "shopify" else o.order_id)
        amazon = o.store.platform == "amazon"  # fulfilled by Amazon: no package data, no ship date
        expected[key] = None if amazon or o.shipped_at is None else _utc(o.shipped_at)
    stored = {k: (None if pd.isna(v) else v.to_pydatetime()) for k, v in got.items()}
    assert stored == expected
    shipped = [k for k, v in expected.items() if v is not None]
    assert shipped and len(shipped) < sum(k[0] in ("shopify-us", "woocommerce-uk") for k in expected)  # some not yet
