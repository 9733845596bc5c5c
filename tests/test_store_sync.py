"""Store connectors end to end: a real local server plays each platform, a real warehouse (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from decimal import Decimal

import pandas as pd
import pytest

from config.models import Settings
from flows.stores import sync_store
from tests.store_sims import (
    AmazonSim, FakeClock, ShopifyGraphQLSim, ShopifyRestSim, WooSim, serve, shopify_nodes, woo_orders,
)
from warehouse.db import read_table, upsert_frame
from warehouse.loads import list_rejects
from warehouse.store_loads import list_unattributed, read_state

NOW = datetime(2026, 3, 1)
MEMBERS = ("lina", "zhangwei", "wanglei", "omar")


@pytest.fixture
def members(engine):
    frame = pd.DataFrame({"member_id": list(MEMBERS), "name": list(MEMBERS), "team_id": "t1", "role": "sales",
                          "manager_id": None, "email": None, "language": "en", "active": True, "source": "members"})
    with engine.begin() as conn:
        upsert_frame(conn, "members", frame)
    return engine


def _settings(**store) -> Settings:
    base = {"name": "shop", "platform": "shopify", "start": "2000-01-01", "lag_minutes": 5}
    return Settings.model_validate({"territories": {"lina": ["United States"], "zhangwei": ["Germany"]},
                                    "stores": [base | store]})


def _sync(settings: Settings, engine, clock: FakeClock, now: datetime = NOW, index: int = 0):
    return sync_store(settings, settings.stores[index], engine, now=now, policy=clock.policy())


def _fixture(shared, name: str):
    return json.loads((shared / name).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- Shopify


def test_shopify_rest_published_payloads(members, shared_fixtures, monkeypatch):
    engine = members
    listed = _fixture(shared_fixtures, "shopify/rest/orders.json")["orders"][0]  # no line_items: totals only
    full = _fixture(shared_fixtures, "shopify/rest/order.json")["order"] | {"id": 450789471}  # same id as the listed one
    refund = _fixture(shared_fixtures, "shopify/rest/refund.json")["refund"]
    with_refund = copy.deepcopy(full) | {"id": 450789470, "refunds": [refund], "updated_at": "2016-06-20T13:35:06-04:00"}
    monkeypatch.setenv("YEJI_SHOP_ACCESS_TOKEN", "shpat_good")
    clock = FakeClock()
    sim = ShopifyRestSim([listed, full, with_refund], clock=clock)
    with serve(sim) as url:
        settings = _settings(api="rest", base_url=url, page_size=2, discount_codes={"TENOFF": "wanglei"})
        summary = _sync(settings, engine, clock)
    assert summary["ok"], summary
    assert summary["rows_read"] == 3 and summary["rows_rejected"] == 0
    orders = read_table(engine, "orders").set_index("order_id")
    assert orders.loc["450789469", "gross_minor"] == 59700  # total_line_items_price_set 597.00
    assert orders.loc["450789469", "discount_minor"] == 1000 and orders.loc["450789469", "tax_minor"] == 1194
    assert orders.loc["450789469", "member_id"] == "lina"  # territory: United States
    assert orders.loc["450789469", "customer_id"] == "shop:207119551"
    assert orders.loc["450789470", "member_id"] == "wanglei"  # discount code TENOFF wins over territory
    assert orders.loc["450789470", "gross_minor"] == 3 * 19900
    lines = read_table(engine, "order_lines")
    assert sorted(lines[lines.order_id == "450789470"]["sku"]) == ["IPOD2008BLACK", "IPOD2008GREEN", "IPOD2008RED"]
    assert set(lines["quantity"]) == {Decimal(1)} and set(lines["unit_price"]) == {Decimal("199")}
    refunds = read_table(engine, "refunds")
    assert refunds[["refund_id", "order_id", "amount_minor", "member_id", "reason"]].values.tolist() == [
        ["509562969", "450789470", 20900, "wanglei", "it broke during shipping"]]
    assert len(sim.requests) == 2  # two pages through Link page_info


def test_shopify_graphql_throttling_429_5xx_and_a_cut_lose_and_double_nothing(members, monkeypatch):
    engine = members
    monkeypatch.setenv("YEJI_SHOP_ACCESS_TOKEN", "shpat_good")
    clock = FakeClock()
    nodes = shopify_nodes(1200, datetime(2026, 1, 1))
    sim = ShopifyGraphQLSim(nodes, clock=clock, maximum=200, restore=50)
    sim.faults = [None, "429", "throttled", None, "500", "503", None, "cut", None, "malformed"]
    with serve(sim) as url:
        settings = _settings(base_url=url, page_size=100, commit_every=300, tags={"vip": "omar"}, discount_codes={"lina10": "wanglei"})
        summary = _sync(settings, engine, clock)
        assert summary["ok"], summary
        assert summary["rows_read"] == 1200 and summary["inserted"] > 0
        orders = read_table(engine, "orders")
        assert len(orders) == 1200 and orders["order_id"].is_unique
        assert sim.throttled >= 1  # THROTTLED answered, waited for, retried
        assert 2.0 in clock.sleeps  # Retry-After
        # paced by the cost bucket: after the first few pages the client waits for the refill
        assert any(abs(s - 52 / 50) < 0.2 or s > 0.5 for s in clock.sleeps)
        # attribution: tag, then discount code, then territory; Singapore has no member
        by_id = orders.set_index("order_id")["member_id"]
        assert by_id["5000010"] == "omar" and by_id["5000000"] == "wanglei" and by_id["5000007"] == "wanglei" and by_id["5000001"] == "zhangwei"
        assert by_id["5000002"] is None
        assert len(read_table(engine, "refunds")) == 48
        state = read_state(engine, "shop", "orders")
        assert state.cursor == datetime(2026, 2, 28, 23, 55) and state.page_token is None
        # second sync: nothing new in the next window
        again = _sync(settings, engine, clock, now=datetime(2026, 3, 1, 1, 0))
    assert again["ok"] and again["rows_read"] == 0 and again["inserted"] == 0
    assert read_state(engine, "shop", "orders").cursor == datetime(2026, 3, 1, 0, 55)
    unattributed = list_unattributed(engine, "shop", limit=5000)
    assert len(unattributed) == len(by_id[by_id.isna()]) and set(unattributed["country"]) == {"Singapore"}


def test_a_sync_cut_off_mid_window_resumes_where_it_stopped(members, monkeypatch):
    engine = members
    monkeypatch.setenv("YEJI_SHOP_ACCESS_TOKEN", "shpat_good")
    clock = FakeClock()
    sim = ShopifyGraphQLSim(shopify_nodes(700, datetime(2026, 1, 1)), clock=clock, maximum=10_000)
    sim.cut_pages = {4}  # the server dies at page 4, every retry too
    with serve(sim) as url:
        settings = _settings(base_url=url, page_size=100, commit_every=100)
        first = _sync(settings, engine, clock)
        assert not first["ok"] and "gave up after 6 attempt(s)" in first["error"]
        assert first["rows_read"] == 300 and len(read_table(engine, "orders")) == 300
        state = read_state(engine, "shop", "orders")
        assert state.page_token == "c:300" and state.cursor is None and state.window_end == datetime(2026, 2, 28, 23, 55)
        sim.cut_pages = set()
        second = _sync(settings, engine, clock, now=datetime(2026, 3, 2))  # later clock: the saved window still wins
    assert second["ok"], second
    assert second["rows_read"] == 400 and second["by_table"]["orders"] == {"inserted": 400, "updated": 0, "unchanged": 0}
    assert len(read_table(engine, "orders")) == 700
    assert second["streams"]["orders"]["window"] == "[2000-01-01T00:00:00Z, 2026-02-28T23:55:00Z)"  # the saved window first
    assert read_state(engine, "shop", "orders").cursor == datetime(2026, 3, 1, 23, 55)  # then on to the new now - lag


def test_bad_records_become_rejects_and_the_rest_loads(members, monkeypatch):
    engine = members
    monkeypatch.setenv("YEJI_SHOP_ACCESS_TOKEN", "shpat_good")
    clock = FakeClock()
    nodes = shopify_nodes(6, datetime(2026, 1, 1))
    nodes[1]["currencyCode"] = "XXX"
    nodes[2]["lineItems"]["nodes"][0]["quantity"] = -2
    del nodes[3]["createdAt"]
    nodes[4]["totalTaxSet"]["shopMoney"]["amount"] = "1.505"
    nodes.append("not an order")
    nodes.append({"id": "gid://shopify/Order/77", "updatedAt": "2026-01-02T00:00:00Z", "lineItems": "oops", "currencyCode": "USD",
                  "createdAt": "2026-01-02T00:00:00Z"})
    sim = ShopifyGraphQLSim(nodes, clock=clock, maximum=10_000)
    with serve(sim) as url:
        settings = _settings(base_url=url, page_size=50)
        summary = _sync(settings, engine, clock)
        rejects = list_rejects(engine, "shop")
        assert summary["ok"] and summary["rows_read"] == 8 and summary["rows_rejected"] == 6, rejects[["record_key", "error"]].values.tolist()
        rejects = list_rejects(engine, "shop").set_index("record_key", drop=False)
        errors = dict(zip(rejects["record_key"].fillna("-"), rejects["error"]))
        assert "unknown currency 'XXX'" in errors["5000001"]
        assert "negative quantity -2" in errors["5000002"] and "lineItems.nodes[0].quantity" in errors["5000002"]
        assert "createdAt" in errors["5000003"] and "missing" in errors["5000003"]
        assert "1.505 has more decimals than USD allows" in errors["5000004"] and "totalTaxSet" in errors["5000004"]
        assert "expected a JSON object" in errors["-"]
        assert "expected a list" in errors["77"]
        assert sorted(read_table(engine, "orders")["order_id"]) == ["5000000", "5000005"]
        # the platform fixes one record: its reject goes, the others stay
        nodes[1]["currencyCode"] = "USD"
        nodes[1]["updatedAt"] = "2026-03-01T00:10:00Z"
        nodes.remove("not an order")
        again = _sync(settings, engine, clock, now=datetime(2026, 3, 1, 1))
    assert again["rows_read"] == 1 and again["rows_rejected"] == 0
    assert "5000001" not in set(list_rejects(engine, "shop")["record_key"].dropna())
    assert len(list_rejects(engine, "shop")) == 5


# --------------------------------------------------------------------------- WooCommerce


def test_woocommerce_published_payloads_with_refunds(members, shared_fixtures, monkeypatch):
    engine = members
    orders = _fixture(shared_fixtures, "woocommerce/orders-list.json")
    refunds = _fixture(shared_fixtures, "woocommerce/order-refunds-list.json")
    monkeypatch.setenv("YEJI_WOO_CONSUMER_KEY", "ck_good")
    monkeypatch.setenv("YEJI_WOO_CONSUMER_SECRET", "cs_good")
    clock = FakeClock()
    with serve(WooSim(orders, {"723": refunds}, clock=clock)) as url:
        settings = _settings(name="woo", platform="woocommerce", base_url=url, member="omar", attribute_by=["territory", "store"])
        summary = _sync(settings, engine, clock)
    assert summary["ok"], summary
    got = read_table(engine, "orders").set_index("order_id")
    assert got.loc["727", "gross_minor"] == 1800 and got.loc["727", "shipping_minor"] == 1000 and got.loc["727", "tax_minor"] == 135
    assert got.loc["727", "country"] == "United States" and got.loc["727", "member_id"] == "lina"
    assert got.loc["723", "member_id"] == "omar"  # Brazil: no territory -> the store's member
    lines = read_table(engine, "order_lines")
    assert set(lines["unit_price"]) >= {Decimal("3"), Decimal("12")}  # WooCommerce's JSON-number prices, exact
    refund_rows = read_table(engine, "refunds").set_index("refund_id")
    assert refund_rows["amount_minor"].to_dict() == {"726": 1000, "724": 900}
    assert set(refund_rows["order_id"]) == {"723"} and set(refund_rows["member_id"]) == {"omar"}


def test_woocommerce_pages_and_restarts_a_window_whose_pages_shifted(members, monkeypatch):
    engine = members
    monkeypatch.setenv("YEJI_WOO_CONSUMER_KEY", "ck_good")
    monkeypatch.setenv("YEJI_WOO_CONSUMER_SECRET", "cs_good")
    clock = FakeClock()
    orders, refunds = woo_orders(350, datetime(2026, 1, 1))
    sim = WooSim(orders, refunds, clock=clock)
    moved = []

    def edit_during_sync(page: int) -> None:
        if page == 3 and not moved:  # an order on page 1 is edited now: it leaves the window, pages shift
            orders[0]["date_modified_gmt"] = "2026-03-01T00:00:00"
            moved.append(1)

    sim.on_page = edit_during_sync
    sim.faults = [None, "503"]
    with serve(sim) as url:
        settings = _settings(name="woo", platform="woocommerce", base_url=url, page_size=100)
        summary = _sync(settings, engine, clock)
        assert summary["ok"], summary
        assert len(read_table(engine, "orders")) == 349  # every order still in the window, none skipped
        later = _sync(settings, engine, clock, now=datetime(2026, 3, 1, 1))
    assert later["rows_read"] == 1 and len(read_table(engine, "orders")) == 350
    got = read_table(engine, "orders").set_index("order_id")
    assert got.loc["10013", "status"] == "cancelled" and got.loc["10001", "discount_minor"] == 100
    assert len(read_table(engine, "refunds")) == 18


# --------------------------------------------------------------------------- Amazon


def _amazon_env(monkeypatch, refresh: str = "Atzr|good") -> None:
    monkeypatch.setenv("YEJI_AMZ_LWA_CLIENT_ID", "amzn1.application-oa2-client.x")
    monkeypatch.setenv("YEJI_AMZ_LWA_CLIENT_SECRET", "amzn1.oa2-cs.v1.secret")
    monkeypatch.setenv("YEJI_AMZ_REFRESH_TOKEN", refresh)


def _amazon_settings(url: str, **extra) -> Settings:
    return _settings(name="amz", platform="amazon", base_url=url, auth_url=url + "/auth/o2/token",
                     marketplace_ids=["ATVPDKIKX0DER"], marketplaces={"ATVPDKIKX0DER": "omar"}, **extra)


def test_amazon_search_orders_and_finances_published_payloads(members, shared_fixtures, monkeypatch):
    engine = members
    _amazon_env(monkeypatch)
    search = _fixture(shared_fixtures, "amazon/orders-2026-01-01-searchOrders.json")["orders"]
    events = _fixture(shared_fixtures, "amazon/finances-v0-listFinancialEvents.json")["payload"]["FinancialEvents"]
    refund_event = {"AmazonOrderId": "123-4567890-1234567", "PostedDate": "2025-01-03T10:00:00Z", "ShipmentItemAdjustmentList": [
        {"SellerSKU": "ECHO-DOT-4-CHARCOAL", "ItemChargeAdjustmentList": [
            {"ChargeType": "Principal", "ChargeAmount": {"CurrencyCode": "USD", "CurrencyAmount": -49.99}}],
         "ItemFeeAdjustmentList": [{"FeeType": "Commission", "FeeAmount": {"CurrencyCode": "USD", "CurrencyAmount": 7.5}}]}]}
    events = events | {"RefundEventList": [refund_event]}
    clock = FakeClock()
    sim = AmazonSim(search_orders=search, events=events, clock=clock)
    with serve(sim) as url:
        settings = _amazon_settings(url, attribute_by=["territory", "marketplace"])
        summary = _sync(settings, engine, clock)
    assert summary["ok"], summary
    order = read_table(engine, "orders").set_index("order_id").loc["123-4567890-1234567"]
    assert order["gross_minor"] == 14997 and order["tax_minor"] == 2 and order["currency"] == "USD"
    assert order["country"] == "United States" and order["member_id"] == "lina"
    refunds = read_table(engine, "refunds")
    assert refunds[["order_id", "amount_minor", "member_id"]].values.tolist() == [["123-4567890-1234567", 4999, "lina"]]
    fees = read_table(engine, "fees")
    assert {"FixedClosingFee", "ProductAds", "Commission"} <= set(fees["fee_type"])
    assert set(fees.loc[fees.fee_type == "FixedClosingFee", "amount_minor"]) == {-2537}  # 25.37 exactly, as Amazon signs it
    assert fees.loc[fees.fee_type == "Commission", "amount_minor"].tolist() == [-750]  # a fee given back
    assert [r for r in sim.requests if r[1] == "/auth/o2/token"] and summary["streams"]["finances"]["records"] >= 4


def test_amazon_search_orders_pages_with_the_published_parameters(members, shared_fixtures, monkeypatch):
    """The request as orders_2026-01-01.json documents it: lastUpdatedAfter/Before (never createdAfter
    with them), marketplaceIds, includedData for every dataset the parser reads, paginationToken from
    pagination.nextToken with the same filters repeated. The sim refuses anything else with a 400."""
    engine = members
    _amazon_env(monkeypatch)
    published = _fixture(shared_fixtures, "amazon/orders-2026-01-01-searchOrders.json")["orders"][0]
    orders = [copy.deepcopy(published) | {"orderId": f"123-0000000-000000{i}", "lastUpdatedTime": f"2025-01-0{i + 1}T08:00:00Z"}
              for i in range(5)]
    clock = FakeClock()
    sim = AmazonSim(search_orders=orders, clock=clock)
    with serve(sim) as url:
        summary = _sync(_amazon_settings(url, finances="none", attribute_by=["territory"]), engine, clock)
    assert summary["ok"], summary
    searches = [query for _, path, query in sim.requests if path == "/orders/2026-01-01/orders"]
    assert len(searches) == 3 and [q.get("paginationToken") for q in searches] == [None, "t1", "t2"]  # 2 per page
    first = searches[0]
    assert first["marketplaceIds"] == "ATVPDKIKX0DER" and "createdAfter" not in first
    assert set(first["includedData"].split(",")) >= {"BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT"}
    assert all({k: v for k, v in q.items() if k != "paginationToken"} == first for q in searches)
    got = read_table(engine, "orders").set_index("order_id")
    assert len(got) == 5 and set(got["tax_minor"]) == {2} and set(got["customer_id"]) == {"amz:buyer-email@marketplace.amazon.com"}
    assert set(got["member_id"]) == {"lina"}  # recipient.deliveryAddress.countryCode US -> territory


def test_amazon_v0_orders_items_and_transactions(members, shared_fixtures, monkeypatch):
    engine = members
    _amazon_env(monkeypatch)
    pending = _fixture(shared_fixtures, "amazon/orders-v0-getOrders.json")["payload"]["Orders"][0]
    items = _fixture(shared_fixtures, "amazon/orders-v0-getOrderItems.json")["payload"]["OrderItems"]
    paid = copy.deepcopy(pending) | {"AmazonOrderId": "902-0000000-0000001", "OrderStatus": "Unshipped",
                                     "OrderTotal": {"CurrencyCode": "USD", "Amount": "61.98"}}
    usd_items = [{"OrderItemId": "1", "SellerSKU": "A", "Title": "Cable", "QuantityOrdered": 2,
                  "ItemPrice": {"CurrencyCode": "USD", "Amount": "51.98"}, "ItemTax": {"CurrencyCode": "USD", "Amount": "4.00"},
                  "ShippingPrice": {"CurrencyCode": "USD", "Amount": "6.00"}}]
    transactions = _fixture(shared_fixtures, "amazon/finances-2024-06-19-listTransactions.json")["payload"]["transactions"]
    fee_tx = {"transactionId": "T-2", "transactionType": "Refund", "postedDate": "2020-07-15T00:00:00Z",
              "relatedIdentifiers": [{"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": "902-0000000-0000001"}],
              "totalAmount": {"currencyAmount": -51.98, "currencyCode": "USD"},
              "breakdowns": [{"breakdownType": "AmazonFees", "breakdownAmount": {"currencyAmount": 7.8, "currencyCode": "USD"}}]}
    clock = FakeClock()
    sim = AmazonSim(orders_v0=[pending, paid], items={"902-3159896-1390916": items, "902-0000000-0000001": usd_items},
                    transactions=transactions + [fee_tx], clock=clock)
    with serve(sim) as url:
        settings = _amazon_settings(url, api="v0", finances="2024-06-19")
        summary = _sync(settings, engine, clock)
    assert summary["ok"], summary
    order = read_table(engine, "orders").set_index("order_id").loc["902-0000000-0000001"]
    assert (order["gross_minor"], order["tax_minor"], order["shipping_minor"]) == (5198, 400, 600)
    line = read_table(engine, "order_lines").iloc[0]
    assert line["unit_price"] == Decimal("25.99") and line["quantity"] == Decimal(2)
    reject = list_rejects(engine, "amz").set_index("record_key")
    # the published Pending example: its items are priced in JPY with cents - refused, not rounded
    assert "more decimals than JPY allows" in reject.loc["902-3159896-1390916", "error"]
    refunds = read_table(engine, "refunds")
    assert refunds[["order_id", "amount_minor", "member_id"]].values.tolist() == [["902-0000000-0000001", 5198, "lina"]]
    assert read_table(engine, "fees")["amount_minor"].tolist() == [-780]


def test_a_bad_credential_stops_that_store_only(members, monkeypatch):
    engine = members
    _amazon_env(monkeypatch, refresh="Atzr|revoked")
    monkeypatch.setenv("YEJI_SHOP_ACCESS_TOKEN", "shpat_good")
    clock = FakeClock()
    with serve(AmazonSim(clock=clock)) as amazon_url, serve(ShopifyGraphQLSim(shopify_nodes(5, datetime(2026, 1, 1)), clock=clock)) as shop_url:
        settings = Settings.model_validate({"stores": [
            {"name": "amz", "platform": "amazon", "base_url": amazon_url, "auth_url": amazon_url + "/auth/o2/token", "start": "2026-01-01"},
            {"name": "shop", "platform": "shopify", "base_url": shop_url, "start": "2026-01-01"},
        ]})
        bad = _sync(settings, engine, clock, index=0)
        good = _sync(settings, engine, clock, index=1)
    assert not bad["ok"] and "refused the refresh token" in bad["error"] and "YEJI_AMZ_REFRESH_TOKEN" in bad["error"]
    assert "Atzr|revoked" not in bad["error"] and "amzn1.oa2-cs.v1.secret" not in bad["error"]
    assert good["ok"] and good["rows_read"] == 5
    monkeypatch.delenv("YEJI_SHOP_ACCESS_TOKEN")
    missing = _sync(settings, engine, clock, index=1)
    assert not missing["ok"] and "environment variable YEJI_SHOP_ACCESS_TOKEN is not set" in missing["error"]


def test_attribution_to_an_unknown_member_stops_the_store_with_a_clear_message(members, monkeypatch):
    monkeypatch.setenv("YEJI_SHOP_ACCESS_TOKEN", "shpat_good")
    settings = _settings(base_url="http://127.0.0.1:9", member="nobody")
    summary = _sync(settings, members, FakeClock())
    assert not summary["ok"] and "nobody" in summary["error"] and "members" in summary["error"]
