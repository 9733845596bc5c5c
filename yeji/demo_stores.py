"""The demo's online stores: the generated store orders served by sandbox stores, synced by the real connectors.

:func:`store_payloads` turns the demo world's Shopify, Amazon US/DE and WooCommerce UK
orders and refunds into each platform's own API records (Shopify Admin GraphQL order
nodes, Amazon ``searchOrders`` orders and Finances refund events, WooCommerce REST
orders and refunds). :func:`start_demo_stores` serves them from a
:class:`~connectors.stores.sandbox.Sandbox` on 127.0.0.1 (a free port), sets the
sandbox credentials in this process's environment, and writes the workspace's
``sources.yaml`` (the ``stores:`` list) with the port of this run. ``yeji demo`` calls
it before ``yeji sync`` and stops the sandbox afterwards.

Ship dates: Shopify fulfilments (``SUCCESS``) and WooCommerce's ``date_completed_gmt`` (an
order is ``processing`` until it ships) carry the world's ship times; the demo's Amazon orders
are fulfilled by Amazon, for which ``searchOrders`` gives no package data and so no ship date.

Amazon's Finances also carry its fees (a 15 % referral fee and an FBA fee per unit on every
shipped order), which the sync loads into ``fees``. Times leave here in UTC (the world's are Asia/Shanghai wall times); amounts are the
world's exact Decimals written as the platforms write them (strings; Finances: numbers).
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import yaml

from config.loader import STORES_FILE
from connectors.stores.sandbox import Sandbox, utc_text

_LOCAL = ZoneInfo("Asia/Shanghai")
_ISO = {
    "United States": "US", "Canada": "CA", "Australia": "AU", "United Kingdom": "GB", "France": "FR", "Germany": "DE",
    "Netherlands": "NL", "Singapore": "SG", "New Zealand": "NZ", "Sweden": "SE", "Spain": "ES", "Italy": "IT",
    "Israel": "IL", "Norway": "NO", "Ireland": "IE", "Denmark": "DK", "Belgium": "BE", "Switzerland": "CH",
    "Austria": "AT", "Poland": "PL",
}


@dataclass(frozen=True)
class DemoStore:
    name: str  # the store's name in sources.yaml (and the `source` of its records)
    key: str  # yeji.demo.Store.key
    platform: str
    store: str  # as reports show it
    marketplace_id: str | None = None


DEMO_STORES = (
    DemoStore("shopify-us", "shopify", "shopify", "Shopify"),
    DemoStore("amazon-us", "amazon_us", "amazon", "Amazon US", "ATVPDKIKX0DER"),
    DemoStore("amazon-de", "amazon_de", "amazon", "Amazon DE", "A1PA6795UKMFR9"),
    DemoStore("woocommerce-uk", "woocommerce", "woocommerce", "WooCommerce UK"),
)
_BY_KEY = {s.key: s for s in DEMO_STORES}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=_LOCAL).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _ts(moment: datetime) -> str:
    return utc_text(_utc(moment))


def _s(amount: Decimal) -> str:
    return format(amount, "f")


def _customer_numbers(world) -> dict[int, int]:
    """A stable numeric platform id per store customer (Shopify and WooCommerce ids are numbers)."""
    return {id(c): 100_000 + i for i, c in enumerate(world.customers)}


def store_payloads(world) -> dict[str, dict]:
    """Per demo store: the records its sandbox serves (see :class:`~connectors.stores.sandbox.Sandbox`)."""
    numbers = _customer_numbers(world)
    refunds_of: dict[int, list] = {}
    for refund in world.refunds:
        refunds_of.setdefault(id(refund.order), []).append(refund)
    out: dict[str, dict] = {s.name: {"orders": [], "events": [], "refunds": {}} for s in DEMO_STORES}
    for order in world.orders:
        if order.store is None or order.store.key not in _BY_KEY:
            continue
        demo = _BY_KEY[order.store.key]
        refunds = sorted(refunds_of.get(id(order), []), key=lambda r: r.refunded_at)
        payload = out[demo.name]
        if demo.platform == "shopify":
            payload["orders"].append(_shopify_node(order, refunds, numbers[id(order.customer)]))
        elif demo.platform == "amazon":
            payload["orders"].append(_amazon_order(order, demo))
            if order.cancelled_at is None and order.ordered_at + timedelta(hours=2) < world.window.end:
                payload["events"].append(_amazon_shipment_event(order))
            payload["events"] += [_amazon_refund_event(order, r) for r in refunds if r.kind == "refund"]
        else:
            record, given_back = _woo_order(order, refunds, numbers[id(order.customer)])
            payload["orders"].append(record)
            if given_back:
                payload["refunds"][str(record["id"])] = given_back
    return out


def shopify_order_id(name: str) -> str:
    """The Shopify order id (what Yeji loads) of the demo order named ``#4821``."""
    return str(5_900_000_000 + int(name.lstrip("#")))


def _shopify_node(order, refunds: list, customer_number: int) -> dict:
    currency = order.currency
    money = lambda amount: {"shopMoney": {"amount": _s(amount), "currencyCode": currency}}  # noqa: E731
    number = int(order.order_id.lstrip("#"))
    shipped = [order.shipped_at] if order.shipped_at else []
    updated = max([order.ordered_at, *shipped, *(r.refunded_at for r in refunds)])
    address = {"country": order.country, "countryCodeV2": _ISO.get(order.country)}
    return {
        "id": f"gid://shopify/Order/{shopify_order_id(order.order_id)}", "name": order.order_id,
        "createdAt": _ts(order.ordered_at), "updatedAt": _ts(updated), "cancelledAt": None,
        "tags": [], "discountCodes": ["SAVE10"] if order.discount else [], "currencyCode": currency,
        "customer": {"id": f"gid://shopify/Customer/{order.customer.customer_id}", "displayName": order.customer.name,
                     "defaultAddress": {"country": order.customer.country, "countryCodeV2": _ISO.get(order.customer.country)}},
        "shippingAddress": address, "billingAddress": address,
        "totalDiscountsSet": money(order.discount), "totalTaxSet": money(order.tax),
        "totalShippingPriceSet": money(order.shipping),
        "subtotalLineItemsQuantity": sum(ln.quantity for ln in order.lines),
        "lineItems": {"pageInfo": {"hasNextPage": False}, "nodes": [
            {"id": f"gid://shopify/LineItem/{number * 100 + i}", "sku": ln.sku, "name": ln.description,
             "quantity": ln.quantity, "originalUnitPriceSet": money(ln.unit_price), "totalDiscountSet": money(ln.discount),
             "variant": {"inventoryItem": {"unitCost": None if ln.unit_cost is None else
                                           {"amount": _s(ln.unit_cost), "currencyCode": currency}}}}
            for i, ln in enumerate(order.lines, start=1)]},
        "refunds": [{"id": f"gid://shopify/Refund/{r.refund_id}", "createdAt": _ts(r.refunded_at), "note": r.reason,
                     "totalRefundedSet": money(r.amount)} for r in refunds],
        "fulfillments": [{"createdAt": _ts(when), "status": "SUCCESS"} for when in shipped],
    }


def _amazon_order(order, demo: DemoStore) -> dict:
    currency = order.currency
    money = lambda amount: {"amount": _s(amount), "currencyCode": currency}  # noqa: E731
    cancelled = order.cancelled_at is not None
    updated = order.cancelled_at if cancelled else order.ordered_at
    breakdowns = [{"type": "ITEM", "subtotal": money(order.gross)}]
    if order.discount:
        breakdowns.append({"type": "DISCOUNT", "subtotal": money(-order.discount)})
    return {
        "orderId": order.order_id, "createdTime": _ts(order.ordered_at), "lastUpdatedTime": _ts(updated),
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": demo.marketplace_id},
        "buyer": {"buyerEmail": order.customer.customer_id, "buyerName": order.customer.name},
        "recipient": {"deliveryAddress": {"countryCode": _ISO.get(order.country, order.country)}},
        "fulfillment": {"fulfillmentStatus": "CANCELLED" if cancelled else "SHIPPED", "fulfilledBy": "AMAZON"},
        "orderItems": [{"orderItemId": f"{order.order_id}-{i}", "quantityOrdered": ln.quantity,
                        "product": {"sellerSku": ln.sku, "title": ln.description, "price": {"unitPrice": money(ln.unit_price)}}}
                       for i, ln in enumerate(order.lines, start=1)],
        "proceeds": {"grandTotal": money(order.revenue), "breakdowns": breakdowns},
    }


def _amazon_shipment_event(order) -> tuple[str, dict]:
    """A Finances v0 ShipmentEvent: Amazon's referral fee (15 %) and FBA fee per unit, as negative numbers."""
    cent = Decimal("0.01")
    items = []
    for ln in order.lines:
        referral = ((ln.gross - ln.discount) * Decimal("0.15")).quantize(cent, rounding=ROUND_HALF_UP)
        fba = (Decimal("5.40") * ln.quantity).quantize(cent)
        items.append({"SellerSKU": ln.sku, "QuantityShipped": ln.quantity, "ItemFeeList": [
            {"FeeType": "Commission", "FeeAmount": {"CurrencyCode": order.currency, "CurrencyAmount": -referral}},
            {"FeeType": "FBAPerUnitFulfillmentFee", "FeeAmount": {"CurrencyCode": order.currency, "CurrencyAmount": -fba}}]})
    return ("ShipmentEventList", {"AmazonOrderId": order.order_id, "SellerOrderId": order.order_id,
                                  "PostedDate": _ts(order.ordered_at + timedelta(hours=2)), "ShipmentItemList": items})


def _amazon_refund_event(order, refund) -> tuple[str, dict]:
    """A Finances v0 RefundEvent: the principal given back (a negative charge, a JSON number)."""
    return ("RefundEventList", {
        "AmazonOrderId": order.order_id, "SellerOrderId": order.order_id, "PostedDate": _ts(refund.refunded_at),
        "MarketplaceName": "Amazon.com" if order.currency == "USD" else "Amazon.de",
        "ShipmentItemAdjustmentList": [{"SellerSKU": order.lines[0].sku, "QuantityShipped": 1, "ItemChargeAdjustmentList": [
            {"ChargeType": "Principal", "ChargeAmount": {"CurrencyCode": order.currency, "CurrencyAmount": -refund.amount}}]}],
    })


def _woo_order(order, refunds: list, customer_number: int) -> tuple[dict, list[dict]]:
    cancelled = order.cancelled_at is not None
    shipped = [order.shipped_at] if order.shipped_at else []
    updated = max([order.cancelled_at or order.ordered_at, *shipped, *(r.refunded_at for r in refunds)])
    first, _, last = order.customer.name.partition(" ")
    record = {
        "id": int(order.order_id), "number": order.order_id,
        "status": "cancelled" if cancelled else "completed" if shipped else "processing",
        "currency": order.currency, "date_created_gmt": _utc(order.ordered_at).isoformat(),
        "date_modified_gmt": _utc(updated).isoformat(),
        "date_completed_gmt": _utc(order.shipped_at).isoformat() if shipped else None,  # completed = shipped
        "discount_total": _s(order.discount),
        "shipping_total": _s(order.shipping), "total_tax": _s(order.tax), "total": _s(order.total),
        "customer_id": customer_number,
        "billing": {"first_name": first, "last_name": last, "email": order.customer.customer_id,
                    "country": _ISO.get(order.customer.country, order.customer.country)},
        "shipping": {"country": _ISO.get(order.country, order.country)},
        "line_items": [{"id": int(order.order_id) * 10 + i, "name": ln.description, "sku": ln.sku, "quantity": ln.quantity,
                        "subtotal": _s(ln.gross), "total": _s(ln.gross - ln.discount), "price": ln.unit_price}
                       for i, ln in enumerate(order.lines, start=1)],
        "coupon_lines": [{"code": "WELCOME10"}] if order.discount else [],
        "refunds": [{"id": int(r.refund_id) if r.refund_id.isdigit() else i, "reason": r.reason, "total": _s(-r.amount)}
                    for i, r in enumerate(refunds, start=1)],
    }
    given_back = [{"id": ref["id"], "date_created_gmt": _utc(r.refunded_at).isoformat(), "amount": _s(r.amount),
                   "reason": r.reason} for ref, r in zip(record["refunds"], refunds)]
    return record, given_back


# --------------------------------------------------------------------------- running them


def _env_name(store: str, credential: str) -> str:
    return f"YEJI_DEMO_{store.upper().replace('-', '_')}_{credential.upper()}"


def stores_config(sandbox: Sandbox, start: date) -> list[dict]:
    """The ``stores:`` entries pointing at ``sandbox`` (credentials: environment variable names)."""
    entries = []
    for s in DEMO_STORES:
        entry: dict = {"name": s.name, "platform": s.platform, "store": s.store, "base_url": sandbox.url(s.name),
                       "start": start, "lag_minutes": 5, "page_size": 100, "attribute_by": ["territory"],
                       "max_attempts": 2}  # a local sandbox: no reason to retry long when it is not running
        if s.platform == "shopify":
            entry["credentials"] = {"access_token": _env_name(s.name, "access_token")}
        elif s.platform == "amazon":
            entry |= {"api": "2026-01-01", "marketplace_ids": [s.marketplace_id], "finances": "v0",
                      "auth_url": sandbox.url(s.name) + "/auth/o2/token",
                      "credentials": {c: _env_name(s.name, c) for c in ("lwa_client_id", "lwa_client_secret", "refresh_token")}}
        else:
            entry["credentials"] = {c: _env_name(s.name, c) for c in ("consumer_key", "consumer_secret")}
        entries.append(entry)
    return entries


def _stores_yaml(entries: list[dict]) -> str:
    header = (
        "# Online stores of the DEMO workspace: local sandbox stores that `yeji demo` starts on\n"
        "# 127.0.0.1 (a free port, so this file is rewritten on every `yeji demo`). They serve the\n"
        "# generated orders in each platform's own API format; `yeji sync` reads them through the\n"
        "# real Shopify, Amazon SP-API and WooCommerce connectors. Credentials are environment\n"
        "# variables that `yeji demo` sets for its own process, so sync the demo with `yeji demo`\n"
        "# (it runs `yeji sync` while the sandbox is up); a bare `yeji sync` cannot reach them.\n"
        "# See docs/stores.md.\n"
    )
    class Plain(yaml.SafeDumper):  # no &id001 anchors for the repeated start date
        def ignore_aliases(self, data) -> bool:
            return True

    return header + yaml.dump({"stores": entries}, Dumper=Plain, sort_keys=False, allow_unicode=True)


@contextmanager
def serve_demo_stores(root: Path) -> Iterator[Sandbox]:
    """The sandbox stores of the demo workspace at ``root`` (its seed and window from the demo marker)."""
    import json

    from yeji.demo import DEMO_CONFIG, DEMO_MARKER, build_world
    from config.loader import load_settings

    marker = Path(root) / DEMO_MARKER
    if not marker.is_file():
        raise FileNotFoundError(f"{marker}: not found - is {root} a demo workspace? (`yeji demo --fresh` writes one)")
    spec = json.loads(marker.read_text(encoding="utf-8"))
    world = build_world(load_settings(DEMO_CONFIG), seed=int(spec["seed"]), end=date.fromisoformat(spec["end"]),
                        weeks=int(spec["weeks"]))
    with demo_stores(root, world) as sandbox:
        yield sandbox


@contextmanager
def demo_stores(root: Path, world) -> Iterator[Sandbox]:
    """Serve ``world``'s store orders on 127.0.0.1 while the block runs; ``root/sources.yaml`` points at them."""
    payloads = store_payloads(world)
    sandbox = Sandbox()
    env: dict[str, str] = {}

    def credential(store: str, name: str) -> str:
        env[_env_name(store, name)] = value = secrets.token_urlsafe(18)
        return value

    for s in DEMO_STORES:
        data = payloads[s.name]
        if s.platform == "shopify":
            sandbox.add_shopify(s.name, data["orders"], token=credential(s.name, "access_token"))
        elif s.platform == "amazon":
            sandbox.add_amazon(s.name, data["orders"], data["events"], client_id=credential(s.name, "lwa_client_id"),
                               client_secret=credential(s.name, "lwa_client_secret"),
                               refresh_token=credential(s.name, "refresh_token"))
        else:
            sandbox.add_woocommerce(s.name, data["orders"], data["refunds"], key=credential(s.name, "consumer_key"),
                                    secret=credential(s.name, "consumer_secret"))
    saved = {k: os.environ.get(k) for k in env}
    with sandbox:
        os.environ.update(env)
        start = _utc(world.window.start).date()
        (Path(root) / STORES_FILE).write_text(_stores_yaml(stores_config(sandbox, start)), encoding="utf-8")
        try:
            yield sandbox
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
