"""The store sync benchmark: N orders from sandbox stores (another process, 127.0.0.1) into SQLite.

The orders are split over the three platforms (Shopify GraphQL half, Amazon searchOrders and
WooCommerce REST a quarter each; every 20th order refunded). The sandbox runs in a process
of its own so that its JSON encoding is not charged to Yeji's interpreter (on 2 cores it
still competes for CPU: the note says how much CPU the server used).

    python -m bench.store_sync 100000          # one run, prints the figures
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

START = datetime(2026, 1, 5)
CREDS = {"access_token": "shpat_bench", "lwa_client_id": "id", "lwa_client_secret": "secret",
         "refresh_token": "Atzr|bench", "consumer_key": "ck_bench", "consumer_secret": "cs_bench"}
COUNTRIES = (("United States", "US"), ("Germany", "DE"), ("United Kingdom", "GB"), ("France", "FR"), ("Canada", "CA"))


def _ts(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def payloads(count: int) -> dict[str, tuple]:
    shopify, amazon, events, woo, woo_refunds = [], [], [], [], {}
    for i in range(count):
        created = START + timedelta(seconds=97 * i)
        updated = created + timedelta(minutes=3)
        country, code = COUNTRIES[i % len(COUNTRIES)]
        qty, price = 1 + i % 3, Decimal("19.99") + i % 7
        platform = ("shopify", "shopify", "amazon", "woocommerce")[i % 4]
        if platform == "shopify":
            money = lambda a: {"shopMoney": {"amount": str(a), "currencyCode": "USD"}}  # noqa: E731
            shopify.append({
                "id": f"gid://shopify/Order/{6_000_000 + i}", "name": f"#{1000 + i}", "createdAt": _ts(created),
                "updatedAt": _ts(updated), "cancelledAt": None, "currencyCode": "USD", "tags": ["rep:bench"] if i % 5 == 0 else [],
                "discountCodes": [], "customer": {"id": f"gid://shopify/Customer/{i % 5000}", "displayName": f"Buyer {i % 5000}",
                                                  "defaultAddress": {"country": country, "countryCodeV2": code}},
                "shippingAddress": {"country": country, "countryCodeV2": code}, "billingAddress": None,
                "totalDiscountsSet": money("0.00"), "totalTaxSet": money("1.50"), "totalShippingPriceSet": money("4.99"),
                "lineItems": {"pageInfo": {"hasNextPage": False}, "nodes": [
                    {"id": f"gid://shopify/LineItem/{i}1", "sku": f"SKU-{i % 50}", "name": "Power bank 20000mAh", "quantity": qty,
                     "originalUnitPriceSet": money(price), "totalDiscountSet": money("0.00")},
                    {"id": f"gid://shopify/LineItem/{i}2", "sku": "CABLE", "name": "USB-C cable", "quantity": 1,
                     "originalUnitPriceSet": money("9.90"), "totalDiscountSet": money("0.00")}]},
                "refunds": [{"id": f"gid://shopify/Refund/{i}", "createdAt": _ts(created + timedelta(minutes=2)), "note": "damaged",
                             "totalRefundedSet": money("5.00")}] if i % 20 == 0 else [],
            })
        elif platform == "amazon":
            oid = f"113-{i:07d}-{i * 7 % 10_000_000:07d}"
            amazon.append({
                "orderId": oid, "createdTime": _ts(created), "lastUpdatedTime": _ts(updated),
                "salesChannel": {"marketplaceId": "ATVPDKIKX0DER"}, "buyer": {"buyerEmail": f"b{i % 5000}@marketplace.amazon.com"},
                "recipient": {"deliveryAddress": {"countryCode": code}}, "fulfillment": {"fulfillmentStatus": "SHIPPED"},
                "orderItems": [{"quantityOrdered": qty, "product": {"sellerSku": f"SKU-{i % 50}", "title": "Power bank",
                                                                    "price": {"unitPrice": {"amount": str(price), "currencyCode": "USD"}}}}],
                "proceeds": {"grandTotal": {"amount": str(price * qty), "currencyCode": "USD"}, "breakdowns": []},
            })
            events.append(("ShipmentEventList", {"AmazonOrderId": oid, "PostedDate": _ts(updated), "ShipmentItemList": [
                {"SellerSKU": f"SKU-{i % 50}", "ItemFeeList": [
                    {"FeeType": "Commission", "FeeAmount": {"CurrencyCode": "USD", "CurrencyAmount": Decimal("-3.00")}},
                    {"FeeType": "FBAPerUnitFulfillmentFee", "FeeAmount": {"CurrencyCode": "USD", "CurrencyAmount": Decimal("-4.25")}}]}]}))
        else:
            woo.append({
                "id": 10_000 + i, "status": "completed", "currency": "GBP", "date_created_gmt": created.isoformat(),
                "date_modified_gmt": updated.isoformat(), "discount_total": "0.00", "shipping_total": "5.00", "total_tax": "2.00",
                "customer_id": 300 + i % 4000, "billing": {"first_name": "Anna", "last_name": f"K{i % 40}", "country": code},
                "shipping": {"country": code}, "coupon_lines": [], "refunds": [],
                "line_items": [{"id": i * 10 + 1, "name": "Solar panel 100W", "quantity": qty, "subtotal": str(price * qty),
                                "total": str(price * qty), "sku": "SP-100", "price": price}],
            })
    return {"shopify": (shopify,), "amazon": (amazon, events), "woocommerce": (woo, woo_refunds)}


def _serve(count: int, conn) -> None:
    from connectors.stores.sandbox import Sandbox

    data = payloads(count)
    sandbox = Sandbox()
    sandbox.add_shopify("shop", *data["shopify"], token=CREDS["access_token"])
    sandbox.add_amazon("amz", *data["amazon"], client_id=CREDS["lwa_client_id"], client_secret=CREDS["lwa_client_secret"],
                       refresh_token=CREDS["refresh_token"])
    sandbox.add_woocommerce("woo", *data["woocommerce"], key=CREDS["consumer_key"], secret=CREDS["consumer_secret"])
    with sandbox:
        conn.send(sandbox.root)
        conn.recv()  # until told to stop
        usage = resource.getrusage(resource.RUSAGE_SELF)
        conn.send({"cpu": usage.ru_utime + usage.ru_stime, "requests": sandbox.requests})


def store_settings(root: str):
    from config.models import StoreSource
    from bench.generate import settings

    commit_every = int(os.environ.get("BENCH_COMMIT_EVERY", "5000"))  # the stores' default
    common = {"start": date(2026, 1, 1), "lag_minutes": 5, "commit_every": commit_every, "attribute_by": ["tag", "store"],
              "tags": {"rep:bench": "bench.rep"}, "member": "bench.rep"}
    stores = [
        StoreSource(name="shop", platform="shopify", base_url=f"{root}/shop", page_size=250,
                    credentials={"access_token": "BENCH_SHOP_TOKEN"}, **common),
        StoreSource(name="amz", platform="amazon", base_url=f"{root}/amz", auth_url=f"{root}/amz/auth/o2/token",
                    marketplace_ids=["ATVPDKIKX0DER"], credentials={"lwa_client_id": "BENCH_AMZ_ID", "lwa_client_secret": "BENCH_AMZ_SECRET",
                                                                    "refresh_token": "BENCH_AMZ_REFRESH"}, **common),
        StoreSource(name="woo", platform="woocommerce", base_url=f"{root}/woo",
                    credentials={"consumer_key": "BENCH_WOO_KEY", "consumer_secret": "BENCH_WOO_SECRET"}, **common),
    ]
    os.environ.update({"BENCH_SHOP_TOKEN": CREDS["access_token"], "BENCH_AMZ_ID": CREDS["lwa_client_id"],
                       "BENCH_AMZ_SECRET": CREDS["lwa_client_secret"], "BENCH_AMZ_REFRESH": CREDS["refresh_token"],
                       "BENCH_WOO_KEY": CREDS["consumer_key"], "BENCH_WOO_SECRET": CREDS["consumer_secret"]})
    return settings().model_copy(update={"stores": stores}), stores


def run(count: int, db: Path, profile: Path | None = None) -> dict:
    """One first sync and one sync with nothing new; seconds and summaries."""
    import pandas as pd

    from flows.stores import sync_store
    from warehouse.db import make_engine, migrate, upsert_frame

    parent, child = mp.Pipe()
    server = mp.get_context("spawn").Process(target=_serve, args=(count, child), daemon=True)
    server.start()
    try:
        root = parent.recv()
        cfg, stores = store_settings(root)
        engine = make_engine(f"sqlite:///{db}")
        migrate(engine)
        with engine.begin() as conn:
            upsert_frame(conn, "teams", pd.DataFrame([{"team_id": "bench", "name": "Bench", "base_currency": "CNY",
                                                       "lead_member_id": None, "source": "bench"}]))
            upsert_frame(conn, "members", pd.DataFrame([{"member_id": "bench.rep", "name": "Bench Rep", "team_id": "bench",
                                                         "role": "sales", "manager_id": None, "email": None, "language": "en",
                                                         "active": True, "source": "bench"}]))
        now = datetime(2026, 11, 20)

        def sync_all():
            return [sync_store(cfg, s, engine, now=now) for s in stores]

        out = {}
        for label in ("first", "again"):
            if profile is not None and label == "first":
                import cProfile

                import flows.stores

                flows.stores.READ_AHEAD = flows.stores.WRITE_BEHIND = False  # cProfile sees one thread: all the work in it
                prof = cProfile.Profile(time.process_time)  # CPU time: the machine is shared, wall time is noise
                started, cpu = time.perf_counter(), time.process_time()
                summaries = prof.runcall(sync_all)
                out[label] = time.perf_counter() - started
                out[label + "_cpu"] = time.process_time() - cpu
                prof.dump_stats(str(profile))
            else:
                started, cpu = time.perf_counter(), time.process_time()
                summaries = sync_all()
                out[label] = time.perf_counter() - started
                out[label + "_cpu"] = time.process_time() - cpu
            out[label + "_summaries"] = summaries
        engine.dispose()
        parent.send("stop")
        out["server"] = parent.recv()
        return out
    finally:
        server.join(timeout=10)
        if server.is_alive():
            server.kill()


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 100_000
    profile = Path(argv[1]) if len(argv) > 1 else None
    with tempfile.TemporaryDirectory(prefix="yeji-bench-sync-") as tmp:
        result = run(count, Path(tmp) / "w.db", profile)
    for label in ("first", "again"):
        read = sum(s["rows_read"] for s in result[label + "_summaries"])
        ok = all(s["ok"] for s in result[label + "_summaries"])
        new = sum(s["inserted"] for s in result[label + "_summaries"])
        print(f"{label}: {result[label]:.2f} s ({result.get(label + '_cpu', float('nan')):.2f} s CPU in Yeji's process),"
              f" {read:,} records read, {new:,} rows new, ok={ok}")
        if not ok:
            print([s.get("error") for s in result[label + "_summaries"]])
    print(f"server: {result['server']['cpu']:.1f} s CPU, {result['server']['requests']:,} requests")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
