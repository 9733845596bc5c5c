"""Shopify: Admin GraphQL ``orders`` (cursor pages, cost-based throttling) and legacy REST ``orders.json``.

Money is the shop's (``shopMoney`` / ``shop_money``): the currency the shop is paid out in.
Refunds come inside their order (a refund changes the order's ``updated_at``), so one
stream, ``orders``, carries orders, lines, refunds and customers.

GraphQL throttling arrives as HTTP 200 with ``errors[].extensions.code == "THROTTLED"``;
every response reports ``extensions.cost`` (``requestedQueryCost``, ``throttleStatus``
``currentlyAvailable`` / ``restoreRate``). Yeji waits until the bucket holds the next
query's cost before sending it, and on THROTTLED waits for the shortfall and retries
(bounded by the store's ``max_attempts``). REST pages by the ``Link`` header's
``page_info`` and slows down when ``X-Shopify-Shop-Api-Call-Limit`` is nearly full.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

from config.models import Settings, StoreSource
from connectors.cells import line_minor
from connectors.stores.base import Page, Stream
from connectors.stores.http import HttpCore, ResumeRejected, RetryPolicy, StoreError, Window, iso_z, next_link
from connectors.stores.records import (
    Parsed, RecordError, StoreLine, StoreOrder, StoreRefund, as_list, country_of, customer_of, dig, first_shipment,
)

ORDERS_QUERY = """
query YejiOrders($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id name createdAt updatedAt cancelledAt tags discountCodes
      currencyCode
      customer { id displayName defaultAddress { country countryCodeV2 } }
      shippingAddress { country countryCodeV2 }
      billingAddress { country countryCodeV2 }
      totalDiscountsSet { shopMoney { amount currencyCode } }
      totalTaxSet { shopMoney { amount currencyCode } }
      totalShippingPriceSet { shopMoney { amount currencyCode } }
      subtotalLineItemsQuantity
      lineItems(first: 100) {
        pageInfo { hasNextPage }
        nodes {
          id sku name quantity
          originalUnitPriceSet { shopMoney { amount currencyCode } }
          totalDiscountSet { shopMoney { amount currencyCode } }
          variant { inventoryItem { unitCost { amount currencyCode } } }
        }
      }
      refunds { id createdAt note totalRefundedSet { shopMoney { amount currencyCode } } }
      fulfillments(first: 20) { createdAt status }
    }
  }
}
"""


def _numeric_id(gid: Any) -> Any:
    """``gid://shopify/Order/450789469`` -> ``450789469`` (REST and GraphQL ids then agree)."""
    return gid.rsplit("/", 1)[-1] if isinstance(gid, str) and gid.startswith("gid://") else gid


class _ShopifyStream(Stream):
    name = "orders"

    def __init__(self, store: StoreSource, settings: Settings, credentials: dict[str, str], policy: RetryPolicy):
        super().__init__(store, settings)
        self.policy = policy
        self.http = HttpCore(
            store.base_url, name=f"store {store.name}", policy=policy, timeout=store.timeout_seconds,
            headers={"X-Shopify-Access-Token": credentials["access_token"]}, secrets=credentials.values(),
        )

    def changed_at(self, record: dict):
        return self.reader.timestamp(record.get("updatedAt", record.get("updated_at")), "updated_at")

    def record_key(self, record: Any) -> str | None:
        value = _numeric_id(record.get("id"))
        return None if value is None else str(value)


class ShopifyGraphQL(_ShopifyStream):
    """Admin GraphQL ``orders`` with cost-based pacing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.path = f"/admin/api/{self.store.api_version}/graphql.json"
        self.throttled = 0  # THROTTLED responses seen (for tests and the summary)
        self.waited = 0.0  # seconds slept for the cost bucket

    def _pace(self, cost: dict | None, next_cost: Decimal | None) -> None:
        status = dig(cost, "throttleStatus") if isinstance(cost, dict) else None
        if not isinstance(status, dict):
            return
        try:
            available = Decimal(str(status.get("currentlyAvailable")))
            restore = Decimal(str(status.get("restoreRate"))) or Decimal(1)
            wanted = Decimal(str(next_cost if next_cost is not None else cost.get("requestedQueryCost")))
        except Exception:  # noqa: BLE001 - a cost block we cannot read just means no pacing
            return
        if available < wanted:
            wait = float((wanted - available) / restore)
            self.waited += wait
            self.policy.sleep(wait)

    def pages(self, window: Window, token: str | None) -> Iterator[Page]:
        query = f"updated_at:>='{iso_z(window.start)}' AND updated_at:<'{iso_z(window.end)}'"
        after, number, first = token, 0, True
        while True:
            number += 1
            variables = {"first": self.store.page_size, "after": after, "query": query}
            throttles = 0
            while True:
                response = self.http.request("POST", self.path, json_body={"query": ORDERS_QUERY, "variables": variables})
                body = response.body if isinstance(response.body, dict) else {}
                errors = body.get("errors") or []
                cost = dig(body, "extensions", "cost") if isinstance(body.get("extensions"), dict) else None
                codes = [dig(e, "extensions", "code") for e in errors if isinstance(e, dict)]
                if "THROTTLED" in codes:
                    throttles += 1
                    self.throttled += 1
                    if throttles >= self.policy.max_attempts:
                        raise StoreError(f"store {self.store.name}: Shopify kept throttling ({throttles} times); try later")
                    requested = cost.get("requestedQueryCost") if isinstance(cost, dict) else None
                    if isinstance(cost, dict) and isinstance(cost.get("throttleStatus"), dict):
                        self._pace(cost, Decimal(str(requested or 1)))
                    else:
                        self.policy.sleep(self.policy.backoff(throttles))
                    continue
                break
            if errors:
                text = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)[:300]
                if first and token is not None:
                    raise ResumeRejected(f"store {self.store.name}: Shopify refused the saved page cursor: {text}")
                raise StoreError(f"store {self.store.name}: Shopify GraphQL error: {text}")
            connection = dig(body, "data", "orders")
            if not isinstance(connection, dict):
                raise StoreError(f"store {self.store.name}: Shopify GraphQL response has no data.orders")
            nodes = connection.get("nodes")
            if nodes is None:
                nodes = [e.get("node") if isinstance(e, dict) else e for e in connection.get("edges") or []]
            info = connection.get("pageInfo") or {}
            after = info.get("endCursor") if info.get("hasNextPage") else None
            first = False
            yield Page(list(nodes), after, f"shopify graphql orders {window.describe()} page {number}")
            if after is None:
                return
            self._pace(cost, None)

    def parse_record(self, record: dict, parsed: Parsed) -> None:
        r = self.reader
        order_id = r.record_id(_numeric_id(record.get("id")), "id")
        currency = r.currency(record.get("currencyCode"), "currencyCode")
        ordered_at = r.timestamp(record.get("createdAt"), "createdAt")
        updated_at = r.timestamp(record.get("updatedAt"), "updatedAt", required=False) or ordered_at

        def shop(name: str, required: bool = False) -> int:
            return r.money(dig(record, name, "shopMoney"), f"{name}.shopMoney", currency, currency_key="currencyCode", required=required)

        items = dig(record, "lineItems")
        if isinstance(items, dict) and dig(items, "pageInfo", "hasNextPage"):
            raise RecordError("lineItems", "more than 100 line items; Yeji reads at most 100 per order")
        nodes = as_list(items.get("nodes") if isinstance(items, dict) else items, "lineItems.nodes")
        lines = []
        for i, item in enumerate(nodes):
            where = f"lineItems.nodes[{i}]"
            if not isinstance(item, dict):
                raise RecordError(where, "malformed line item")
            quantity = r.quantity(item.get("quantity"), f"{where}.quantity")
            unit_price = r.decimal(dig(item, "originalUnitPriceSet", "shopMoney", "amount", required=True), f"{where}.originalUnitPriceSet")
            discount = r.money(dig(item, "totalDiscountSet", "shopMoney"), f"{where}.totalDiscountSet", currency,
                               currency_key="currencyCode", required=False)
            # unitCost is in the shop's currency, like shopMoney; an unknown cost stays unknown
            unit_cost = r.decimal(dig(item, "variant", "inventoryItem", "unitCost", "amount"),
                                  f"{where}.variant.inventoryItem.unitCost", required=False)
            lines.append(StoreLine(i + 1, r.text(item.get("sku"), f"{where}.sku", 100), r.text(item.get("name"), f"{where}.name", 500),
                                   quantity, unit_price, line_minor(quantity, unit_price, currency), discount, unit_cost))
        country = dig(record, "shippingAddress", "country") or dig(record, "billingAddress", "country") \
            or dig(record, "customer", "defaultAddress", "country")
        customer = record.get("customer")
        refunds = []
        for i, refund in enumerate(as_list(record.get("refunds"), "refunds")):
            where = f"refunds[{i}]"
            if not isinstance(refund, dict):
                raise RecordError(where, "malformed refund")
            refunds.append(StoreRefund(
                refund_id=r.record_id(_numeric_id(refund.get("id")), f"{where}.id"),
                order_id=order_id,
                refunded_at=r.timestamp(refund.get("createdAt"), f"{where}.createdAt"),
                currency=currency,
                amount_minor=abs(r.money(dig(refund, "totalRefundedSet", "shopMoney"), f"{where}.totalRefundedSet", currency,
                                         currency_key="currencyCode")),
                reason=r.text(refund.get("note"), f"{where}.note", 300),
            ))
        parsed.orders.append(StoreOrder(
            order_id=order_id, ordered_at=ordered_at, updated_at=updated_at, currency=currency,
            gross_minor=sum(line.gross_minor for line in lines),
            discount_minor=shop("totalDiscountsSet"), tax_minor=shop("totalTaxSet"), shipping_minor=shop("totalShippingPriceSet"),
            status="cancelled" if record.get("cancelledAt") else "open",
            country=country_of(r.text(country, "shippingAddress.country", 100)),
            customer=customer_of(self.store, _numeric_id(dig(customer, "id")), r.text(dig(customer, "displayName"), "customer.displayName"),
                                 country_of(r.text(dig(customer, "defaultAddress", "country"), "customer.defaultAddress.country", 100)))
            if isinstance(customer, dict) else None,
            discount_codes=tuple(str(c) for c in as_list(record.get("discountCodes"), "discountCodes")),
            tags=tuple(str(t).strip() for t in as_list(record.get("tags"), "tags")),
            lines=lines, refunds=refunds,
            shipped_at=first_shipment(r, record.get("fulfillments"), "fulfillments", "createdAt", "status", ("SUCCESS",)),
        ))


class ShopifyRest(_ShopifyStream):
    """Legacy REST ``orders.json`` (``status=any``), paged by ``Link: <...page_info=...>; rel="next"``."""

    CALL_LIMIT_PAUSE = 0.5  # the REST bucket leaks 2 calls per second

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.path = f"/admin/api/{self.store.api_version}/orders.json"

    def pages(self, window: Window, token: str | None) -> Iterator[Page]:
        page_info, number = token, 0
        while True:
            number += 1
            if page_info is None:
                params = {"status": "any", "limit": self.store.page_size, "order": "updated_at asc",
                          "updated_at_min": iso_z(window.start), "updated_at_max": iso_z(window.end)}
            else:
                params = {"limit": self.store.page_size, "page_info": page_info}
            try:
                response = self.http.request("GET", self.path, params=params)
            except StoreError as exc:
                if number == 1 and token is not None and " HTTP 4" in str(exc) and "refused the credentials" not in str(exc):
                    raise ResumeRejected(str(exc)) from None
                raise
            self._pace(response.headers.get("X-Shopify-Shop-Api-Call-Limit"))
            body = response.body
            orders = body.get("orders") if isinstance(body, dict) else None
            if not isinstance(orders, list):
                raise StoreError(f"store {self.store.name}: orders.json response has no 'orders' list")
            following = next_link(response.headers.get("Link"))
            page_info = parse_qs(urlsplit(following).query).get("page_info", [None])[0] if following else None
            yield Page(orders, page_info, f"shopify rest orders.json {window.describe()} page {number}")
            if page_info is None:
                return

    def _pace(self, header: str | None) -> None:
        try:
            used, limit = (int(x) for x in (header or "").split("/"))
        except ValueError:
            return
        if used >= limit - 1:
            self.policy.sleep(self.CALL_LIMIT_PAUSE)

    def parse_record(self, record: dict, parsed: Parsed) -> None:
        r = self.reader
        order_id = r.record_id(record.get("id"), "id")
        currency = r.currency(dig(record, "total_price_set", "shop_money", "currency_code") or record.get("currency"), "currency")
        ordered_at = r.timestamp(record.get("created_at"), "created_at")
        updated_at = r.timestamp(record.get("updated_at"), "updated_at", required=False) or ordered_at

        def amount(name: str, required: bool = False) -> int:
            money = dig(record, f"{name}_set", "shop_money")
            if money is not None:
                return r.money(money, f"{name}_set.shop_money", currency, required=required)
            return r.minor(record.get(name), currency, name, required=required)

        lines = []
        for i, item in enumerate(as_list(record.get("line_items"), "line_items")):
            where = f"line_items[{i}]"
            if not isinstance(item, dict):
                raise RecordError(where, "malformed line item")
            quantity = r.quantity(item.get("quantity"), f"{where}.quantity")
            price = dig(item, "price_set", "shop_money", "amount")
            unit_price = r.decimal(price if price is not None else item.get("price"), f"{where}.price")
            allocations = as_list(item.get("discount_allocations"), f"{where}.discount_allocations")
            if allocations:
                discount = sum(r.money(dig(a, "amount_set", "shop_money") or {"amount": dig(a, "amount")},
                                       f"{where}.discount_allocations[{j}]", currency) for j, a in enumerate(allocations))
            else:
                discount = r.minor(item.get("total_discount"), currency, f"{where}.total_discount", required=False)
            lines.append(StoreLine(i + 1, r.text(item.get("sku"), f"{where}.sku", 100),
                                   r.text(item.get("name") or item.get("title"), f"{where}.name", 500),
                                   quantity, unit_price, line_minor(quantity, unit_price, currency), discount))
        # an order listed without its lines (fields= filters, old API versions): its total still counts
        gross = sum(line.gross_minor for line in lines) if lines else amount("total_line_items_price", required=True)
        shipping = amount("total_shipping_price") if record.get("total_shipping_price_set") is not None else sum(
            r.minor(s.get("price"), currency, f"shipping_lines[{j}].price")
            for j, s in enumerate(as_list(record.get("shipping_lines"), "shipping_lines")) if isinstance(s, dict)
        )
        refunds = []
        for i, refund in enumerate(as_list(record.get("refunds"), "refunds")):
            where = f"refunds[{i}]"
            if not isinstance(refund, dict):
                raise RecordError(where, "malformed refund")
            given_back = 0
            for j, tx in enumerate(as_list(refund.get("transactions"), f"{where}.transactions")):
                if isinstance(tx, dict) and tx.get("kind") == "refund" and tx.get("status", "success") == "success":
                    if tx.get("currency") and str(tx["currency"]).upper() != currency:
                        raise RecordError(f"{where}.transactions[{j}].currency", f"refund in {tx['currency']}, order in {currency}")
                    given_back += r.minor(tx.get("amount"), currency, f"{where}.transactions[{j}].amount")
            refunds.append(StoreRefund(
                refund_id=r.record_id(refund.get("id"), f"{where}.id"), order_id=order_id,
                refunded_at=r.timestamp(refund.get("processed_at") or refund.get("created_at"), f"{where}.created_at"),
                currency=currency, amount_minor=abs(given_back), reason=r.text(refund.get("note"), f"{where}.note", 300),
            ))
        customer = record.get("customer")
        address = record.get("shipping_address") or record.get("billing_address") or {}
        country = dig(address, "country") or dig(address, "country_code")
        name = None
        if isinstance(customer, dict):
            name = " ".join(str(p) for p in (customer.get("first_name"), customer.get("last_name")) if p) or None
        parsed.orders.append(StoreOrder(
            order_id=order_id, ordered_at=ordered_at, updated_at=updated_at, currency=currency, gross_minor=gross,
            discount_minor=amount("total_discounts"), tax_minor=amount("total_tax"), shipping_minor=shipping,
            status="cancelled" if record.get("cancelled_at") else "open",
            country=country_of(r.text(country, "shipping_address.country", 100)),
            customer=customer_of(self.store, dig(customer, "id"), name,
                                 country_of(r.text(dig(customer, "default_address", "country"), "customer.default_address.country", 100)))
            if isinstance(customer, dict) else None,
            discount_codes=tuple(str(d.get("code")) for d in as_list(record.get("discount_codes"), "discount_codes")
                                 if isinstance(d, dict) and d.get("code")),
            tags=tuple(t.strip() for t in str(record.get("tags") or "").split(",") if t.strip()),
            lines=lines, refunds=refunds,
            shipped_at=first_shipment(r, record.get("fulfillments"), "fulfillments", "created_at", "status", ("SUCCESS",)),
        ))


def shopify_streams(store: StoreSource, settings: Settings, credentials: dict[str, str], policy: RetryPolicy) -> list[Stream]:
    cls = ShopifyRest if store.api_name == "rest" else ShopifyGraphQL
    return [cls(store, settings, credentials, policy)]
