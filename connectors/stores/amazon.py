"""Amazon SP-API: Login-with-Amazon auth, Orders (``searchOrders`` 2026-01-01 or v0
``getOrders`` + ``getOrderItems``) and Finances (v0 ``listFinancialEvents`` or 2024-06-19
``listTransactions``) for fees and refunds.

* Auth: the refresh token is exchanged at ``auth_url`` (LWA) for an access token, sent as
  ``x-amz-access-token`` and renewed a minute before it expires. A refused refresh token
  stops the store with a clear message.
* Rates: each operation has a token bucket at its documented rate and burst; the
  ``x-amzn-RateLimit-Limit`` header, when present, replaces the documented rate. 429s are
  retried by the HTTP core.
* Money: Orders amounts are strings, Finances amounts JSON numbers; both are read as
  exact decimals (the JSON is parsed with ``parse_float=Decimal``).
* Streams: ``orders`` (orders, items, customers) and ``finances`` (fees; refunds as
  refund events, credited like their order). Fees are positive when Amazon kept money.
* v0 ``ItemPrice`` is the price of the whole quantity: gross = ItemPrice, unit price =
  ItemPrice / quantity. A Pending order has no prices yet: it is rejected with that reason,
  and the reject clears when the order is paid and synced again.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any, Callable, Iterator

from config.models import Settings, StoreSource
from connectors.cells import line_minor
from connectors.stores.base import Page, Stream
from connectors.stores.http import AuthFailed, HttpCore, RateLimiter, RetryPolicy, StoreError, Window, iso_z
from connectors.stores.records import (
    Parsed, RecordError, StoreFee, StoreLine, StoreOrder, StoreRefund, as_list, country_of, customer_of, dig,
    first_shipment,
)

# (requests per second, burst) as documented per operation (the models' "Usage Plan" tables)
RATES = {
    "searchOrders": (0.0056, 20),
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "listFinancialEvents": (0.5, 30),
    "listTransactions": (0.5, 10),
}
# searchOrders returns only the order's core (ids, times, sales channel, items) unless asked for
# more: the datasets the parser reads (buyer -> customer, recipient -> country, proceeds ->
# currency/tax/shipping/discounts, fulfillment -> cancelled, packages -> shipped_at)
SEARCH_ORDERS_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "PACKAGES")
MARKETPLACE_COUNTRY = {
    "ATVPDKIKX0DER": "US", "A2EUQ1WTGCTBG2": "CA", "A1AM78C64UM0Y8": "MX", "A2Q3Y263D00KWC": "BR",
    "A1F83G8C2ARO7P": "GB", "A1PA6795UKMFR9": "DE", "A13V1IB3VIYZZH": "FR", "APJ6JRA9NG5V4": "IT",
    "A1RKKUPIHCS9HS": "ES", "A1805IZSGTT6HS": "NL", "A2NODRKZP88ZB9": "SE", "A1C3SOZRARQ6R3": "PL",
    "A33AVAJ2PDY3EV": "TR", "A2VIGQ35RCS4UG": "AE", "A17E79C6D8DWNP": "SA", "A1VC38T7YXB528": "JP",
    "A39IBJ37TRP1C6": "AU", "A19VAU5U5O7RUS": "SG", "A21TJRUUN4KGV": "IN",
}


class LwaToken:
    """An access token from Login with Amazon, refreshed before it expires."""

    def __init__(self, http: HttpCore, store: StoreSource, credentials: dict[str, str], clock: Callable[[], float] = time.monotonic):
        self.http, self.store, self.credentials, self.clock = http, store, credentials, clock
        self.token: str | None = None
        self.expires = 0.0

    def get(self) -> str:
        if self.token is None or self.clock() >= self.expires - 60:
            form = {
                "grant_type": "refresh_token", "refresh_token": self.credentials["refresh_token"],
                "client_id": self.credentials["lwa_client_id"], "client_secret": self.credentials["lwa_client_secret"],
            }
            try:
                response = self.http.request("POST", self.store.auth_url, data=form)
            except AuthFailed:
                raise
            except StoreError as exc:
                if " HTTP 400" in str(exc):
                    raise AuthFailed(f"store {self.store.name}: Login with Amazon refused the refresh token: {exc}") from None
                raise
            token = dig(response.body, "access_token") if isinstance(response.body, dict) else None
            if not token:
                raise AuthFailed(f"store {self.store.name}: Login with Amazon returned no access_token")
            self.token = str(token)
            self.http.secrets.append(self.token)
            self.expires = self.clock() + float(dig(response.body, "expires_in") or 3600)
        return self.token


class _AmazonStream(Stream):
    def __init__(self, store: StoreSource, settings: Settings, credentials: dict[str, str], policy: RetryPolicy,
                 http: HttpCore, token: LwaToken, limiters: dict[str, RateLimiter]):
        super().__init__(store, settings)
        self.http, self.token, self.limiters = http, token, limiters

    def call(self, operation: str, path: str, params: dict) -> Any:
        headers = {"x-amz-access-token": self.token.get()}
        response = self.http.request("GET", path, params=params, headers=headers, limiter=self.limiters[operation])
        return response.body if isinstance(response.body, dict) else {}

    def amount(self, money: Any, where: str, currency: str | None = None, amount_key: str = "Amount",
               code_key: str = "CurrencyCode") -> tuple[int, str]:
        if not isinstance(money, dict):
            raise RecordError(where, "missing (required)" if money is None else "expected a money object")
        code = self.reader.currency(money.get(code_key), f"{where}.{code_key}")
        if currency is not None and code != currency:
            raise RecordError(f"{where}.{code_key}", f"currency {code} differs from the order's {currency}")
        return self.reader.minor(money.get(amount_key), code, f"{where}.{amount_key}"), code


class AmazonOrders(_AmazonStream):
    name = "orders"

    def record_key(self, record: Any) -> str | None:
        value = record.get("orderId", record.get("AmazonOrderId"))
        return None if value is None else str(value)

    def changed_at(self, record: dict):
        return self.reader.timestamp(record.get("lastUpdatedTime", record.get("LastUpdateDate")), "lastUpdatedTime")

    def pages(self, window: Window, token: str | None) -> Iterator[Page]:
        number = 0
        while True:
            number += 1
            if self.store.api_name == "v0":
                params = {"MarketplaceIds": ",".join(self.store.marketplace_ids), "MaxResultsPerPage": min(self.store.page_size, 100)}
                params |= {"NextToken": token} if token else {
                    "LastUpdatedAfter": iso_z(window.start), "LastUpdatedBefore": iso_z(window.end)}
                payload = dig(self.call("getOrders", "/orders/v0/orders", params), "payload") or {}
                orders = payload.get("Orders") if isinstance(payload, dict) else None
                token = payload.get("NextToken") if isinstance(payload, dict) else None
                if not isinstance(orders, list):
                    raise StoreError(f"store {self.store.name}: getOrders returned no payload.Orders")
                for order in orders:
                    if isinstance(order, dict) and order.get("AmazonOrderId"):
                        self._attach_items(order)
            else:
                # every page repeats the first request's filters (the token is only valid with them)
                params = {"marketplaceIds": ",".join(self.store.marketplace_ids), "maxResultsPerPage": min(self.store.page_size, 100),
                          "includedData": ",".join(SEARCH_ORDERS_DATA),
                          "lastUpdatedAfter": iso_z(window.start), "lastUpdatedBefore": iso_z(window.end)}
                params |= {"paginationToken": token} if token else {}
                body = self.call("searchOrders", "/orders/2026-01-01/orders", params)
                orders = body.get("orders")
                token = dig(body, "pagination", "nextToken") if isinstance(body.get("pagination"), dict) else None
                if not isinstance(orders, list):
                    raise StoreError(f"store {self.store.name}: searchOrders returned no orders list")
            token = token or None
            yield Page(orders, token, f"amazon {self.store.api_name} orders {window.describe()} page {number}")
            if token is None:
                return

    def _attach_items(self, order: dict) -> None:
        items, next_token = [], None
        while True:
            params = {"NextToken": next_token} if next_token else {}
            payload = dig(self.call("getOrderItems", f"/orders/v0/orders/{order['AmazonOrderId']}/orderItems", params), "payload") or {}
            items += as_list(payload.get("OrderItems"), "OrderItems") if isinstance(payload, dict) else []
            next_token = payload.get("NextToken") if isinstance(payload, dict) else None
            if not next_token:
                break
        order["_yeji_items"] = items

    def parse_record(self, record: dict, parsed: Parsed) -> None:
        if "AmazonOrderId" in record:
            parsed.orders.append(self._v0(record))
        else:
            parsed.orders.append(self._search(record))

    def _customer(self, email: Any, name: Any, country: str | None):
        return customer_of(self.store, self.reader.text(email, "buyer.email", 100), self.reader.text(name, "buyer.name"), country)

    def _v0(self, record: dict) -> StoreOrder:
        r = self.reader
        order_id = r.record_id(record.get("AmazonOrderId"), "AmazonOrderId")
        ordered_at = r.timestamp(record.get("PurchaseDate"), "PurchaseDate")
        updated_at = r.timestamp(record.get("LastUpdateDate"), "LastUpdateDate", required=False) or ordered_at
        status = str(record.get("OrderStatus") or "")
        items = as_list(record.get("_yeji_items"), "OrderItems")
        if not items:
            raise RecordError("OrderItems", "the order has no items")
        currency = dig(record, "OrderTotal", "CurrencyCode")
        lines, tax, shipping, discount = [], 0, 0, 0
        for i, item in enumerate(items):
            where = f"OrderItems[{i}]"
            if not isinstance(item, dict):
                raise RecordError(where, "malformed order item")
            quantity = r.quantity(item.get("QuantityOrdered"), f"{where}.QuantityOrdered")
            if item.get("ItemPrice") is None:
                raise RecordError(f"{where}.ItemPrice", f"missing: Amazon gives no price while the order is {status or 'unpaid'}")
            gross, currency = self.amount(item.get("ItemPrice"), f"{where}.ItemPrice", currency and str(currency).upper())
            unit = (Decimal(gross).scaleb(-_exp(currency)) / quantity) if quantity else Decimal(0)
            if unit.as_tuple().exponent < -12:
                unit = unit.quantize(Decimal("1e-12"))
            item_discount = 0
            for key in ("PromotionDiscount", "ShippingDiscount"):
                if item.get(key) is not None:
                    value = self.amount(item[key], f"{where}.{key}", currency)[0]
                    item_discount += value if key == "PromotionDiscount" else 0
                    shipping -= value if key == "ShippingDiscount" else 0
            discount += item_discount
            for key in ("ItemTax", "ShippingTax"):
                if item.get(key) is not None:
                    tax += self.amount(item[key], f"{where}.{key}", currency)[0]
            if item.get("ShippingPrice") is not None:
                shipping += self.amount(item["ShippingPrice"], f"{where}.ShippingPrice", currency)[0]
            lines.append(StoreLine(i + 1, r.text(item.get("SellerSKU"), f"{where}.SellerSKU", 100), r.text(item.get("Title"), f"{where}.Title", 500),
                                   quantity, unit, gross, item_discount))
        country = country_of(dig(record, "ShippingAddress", "CountryCode")) or country_of(MARKETPLACE_COUNTRY.get(str(record.get("MarketplaceId"))))
        return StoreOrder(
            order_id=order_id, ordered_at=ordered_at, updated_at=updated_at, currency=currency,
            gross_minor=sum(line.gross_minor for line in lines), discount_minor=discount, tax_minor=tax, shipping_minor=shipping,
            status="cancelled" if status.lower() in ("canceled", "cancelled") else "open",
            country=country, marketplace=r.text(record.get("MarketplaceId"), "MarketplaceId", 40),
            customer=self._customer(dig(record, "BuyerInfo", "BuyerEmail"), dig(record, "BuyerInfo", "BuyerName"), country),
            lines=lines,
        )

    def _search(self, record: dict) -> StoreOrder:
        r = self.reader
        order_id = r.record_id(record.get("orderId"), "orderId")
        ordered_at = r.timestamp(record.get("createdTime"), "createdTime")
        updated_at = r.timestamp(record.get("lastUpdatedTime"), "lastUpdatedTime", required=False) or ordered_at
        currency = None
        grand = dig(record, "proceeds", "grandTotal")
        if isinstance(grand, dict) and grand.get("currencyCode"):
            currency = r.currency(grand.get("currencyCode"), "proceeds.grandTotal.currencyCode")
        lines = []
        items = as_list(record.get("orderItems"), "orderItems")
        if not items:
            raise RecordError("orderItems", "the order has no items")
        for i, item in enumerate(items):
            where = f"orderItems[{i}]"
            if not isinstance(item, dict):
                raise RecordError(where, "malformed order item")
            quantity = r.quantity(item.get("quantityOrdered"), f"{where}.quantityOrdered")
            price = dig(item, "product", "price", "unitPrice")
            if price is None:
                raise RecordError(f"{where}.product.price.unitPrice", "missing: Amazon gives no price until the order is paid")
            self.amount(price, f"{where}.product.price.unitPrice", currency, "amount", "currencyCode")
            currency = currency or r.currency(price.get("currencyCode"), f"{where}.product.price.unitPrice.currencyCode")
            unit = r.decimal(price.get("amount"), f"{where}.product.price.unitPrice.amount")
            lines.append(StoreLine(i + 1, r.text(dig(item, "product", "sellerSku"), f"{where}.product.sellerSku", 100),
                                   r.text(dig(item, "product", "title"), f"{where}.product.title", 500),
                                   quantity, unit, line_minor(quantity, unit, currency)))
        totals = {"TAX": 0, "SHIPPING": 0, "DISCOUNT": 0}  # of the documented ITEM, SHIPPING, GIFT_WRAP, COD_FEE, TAX, DISCOUNT, DELIVERY_TIP, OTHER
        for j, part in enumerate(as_list(dig(record, "proceeds", "breakdowns"), "proceeds.breakdowns")):
            kind = str(dig(part, "type") or "").upper()
            if kind in totals:
                totals[kind] += self.amount(dig(part, "subtotal"), f"proceeds.breakdowns[{j}].subtotal", currency, "amount", "currencyCode")[0]
        status = str(dig(record, "fulfillment", "fulfillmentStatus") or "").upper()
        marketplace = dig(record, "salesChannel", "marketplaceId")
        country = country_of(dig(record, "recipient", "deliveryAddress", "countryCode")) or country_of(MARKETPLACE_COUNTRY.get(str(marketplace)))
        return StoreOrder(
            order_id=order_id, ordered_at=ordered_at, updated_at=updated_at, currency=currency,
            gross_minor=sum(line.gross_minor for line in lines),
            discount_minor=abs(totals["DISCOUNT"]), tax_minor=totals["TAX"], shipping_minor=totals["SHIPPING"],
            status="cancelled" if status in ("CANCELLED", "CANCELED") else "open",
            country=country, marketplace=r.text(marketplace, "salesChannel.marketplaceId", 40),
            customer=self._customer(dig(record, "buyer", "buyerEmail"), dig(record, "buyer", "buyerName"), country),
            lines=lines,
            # packages (merchant-fulfilled orders only) carry the real ship time; FBA orders and v0 have none
            shipped_at=first_shipment(r, record.get("packages"), "packages", "shipTime"),
        )


def _exp(currency: str) -> int:
    from transforms.money import exponent

    return exponent(currency)


def _event_id(*parts: Any) -> str:
    digest = hashlib.sha1(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:16]
    return digest


class AmazonFinances(_AmazonStream):
    """Fees and refunds; each record is one financial event (v0) or transaction (2024-06-19)."""

    name = "finances"
    # "If PostedAfter and PostedBefore are more than 180 days apart, the response is empty" (both Finances
    # models): a first sync from a store's start a year back reads it in 180-day windows
    max_window = timedelta(days=180)

    def record_key(self, record: Any) -> str | None:
        return record.get("_yeji_key")

    def pages(self, window: Window, token: str | None) -> Iterator[Page]:
        number = 0
        while True:
            number += 1
            if self.store.finances == "v0":
                params = {"MaxResultsPerPage": 100}
                params |= {"NextToken": token} if token else {"PostedAfter": iso_z(window.start), "PostedBefore": iso_z(window.end)}
                payload = dig(self.call("listFinancialEvents", "/finances/v0/financialEvents", params), "payload") or {}
                events = payload.get("FinancialEvents") if isinstance(payload, dict) else None
                if not isinstance(events, dict):
                    raise StoreError(f"store {self.store.name}: listFinancialEvents returned no payload.FinancialEvents")
                records = []
                for list_name, items in events.items():
                    for item in items if isinstance(items, list) else [items]:
                        records.append({"_yeji_list": list_name, "_yeji_key": f"{list_name}:{_event_id(item)}", "event": item})
                token = payload.get("NextToken")
            else:
                params = {"postedAfter": iso_z(window.start), "postedBefore": iso_z(window.end)}
                if self.store.marketplace_ids:
                    params["marketplaceId"] = self.store.marketplace_ids[0]
                params |= {"nextToken": token} if token else {}
                payload = dig(self.call("listTransactions", "/finances/2024-06-19/transactions", params), "payload") or {}
                items = payload.get("transactions") if isinstance(payload, dict) else None
                if not isinstance(items, list):
                    raise StoreError(f"store {self.store.name}: listTransactions returned no payload.transactions")
                records = [{"_yeji_list": "transactions", "_yeji_key": "transaction:" + str(
                    (t.get("transactionId") if isinstance(t, dict) else None) or _event_id(t)), "event": t} for t in items]
                token = payload.get("nextToken")
            token = token or None
            yield Page(records, token, f"amazon finances {self.store.finances} {window.describe()} page {number}")
            if token is None:
                return

    # --- parsing

    def _money(self, money: Any, where: str) -> tuple[int, str]:
        """Finances money: ``{CurrencyCode, CurrencyAmount}`` (v0) or ``{currencyCode, currencyAmount}``."""
        if isinstance(money, dict) and "currencyAmount" in money:
            return self.amount(money, where, None, "currencyAmount", "currencyCode")
        return self.amount(money, where, None, "CurrencyAmount", "CurrencyCode")

    def parse_record(self, record: dict, parsed: Parsed) -> None:
        event, list_name, key = record.get("event"), record.get("_yeji_list"), record.get("_yeji_key")
        if not isinstance(event, dict):
            raise RecordError(None, "malformed financial event")
        if list_name == "transactions":
            self._transaction(event, key, parsed)
            return
        r = self.reader
        posted_raw = next((event.get(k) for k in ("PostedDate", "TransactionPostedDate", "postedDate", "TransactionCreationDate")
                           if event.get(k)), None)
        posted = r.timestamp(posted_raw, "PostedDate")
        order_id = r.text(event.get("AmazonOrderId") or event.get("SellerOrderId"), "AmazonOrderId", 128)
        fees = []

        def add_fees(items: Any, where: str, sign: int) -> None:
            for i, fee in enumerate(as_list(items, where)):
                if not isinstance(fee, dict):
                    raise RecordError(f"{where}[{i}]", "malformed fee")
                amount, code = self._money(fee.get("FeeAmount"), f"{where}[{i}].FeeAmount")
                fees.append((str(fee.get("FeeType") or "Fee"), code, sign * amount, f"{where}[{i}]"))

        for field_name, value in event.items():
            if field_name.endswith("FeeList"):
                add_fees(value, field_name, -1)
            elif field_name.endswith("FeeAdjustmentList"):
                add_fees(value, field_name, -1)
        for j, item in enumerate(as_list(event.get("ShipmentItemList") or event.get("ShipmentItemAdjustmentList"), "ShipmentItemList")):
            if isinstance(item, dict):
                add_fees(item.get("ItemFeeList"), f"ShipmentItemList[{j}].ItemFeeList", -1)
                add_fees(item.get("ItemFeeAdjustmentList"), f"ShipmentItemList[{j}].ItemFeeAdjustmentList", -1)
        if list_name == "ProductAdsPaymentEventList":
            amount, code = self._money(event.get("transactionValue"), "transactionValue")
            refund = str(event.get("transactionType") or "").lower() == "refund"
            fees.append(("ProductAds", code, -abs(amount) if refund else abs(amount), "transactionValue"))
        for fee_type, code, amount, where in fees:
            if amount:
                parsed.fees.append(StoreFee(f"{key}:{where}"[:200], order_id, fee_type, posted, code, amount))
        if list_name == "RefundEventList":
            total, currency = 0, None
            for j, item in enumerate(as_list(event.get("ShipmentItemAdjustmentList"), "ShipmentItemAdjustmentList")):
                for k, charge in enumerate(as_list(dig(item, "ItemChargeAdjustmentList"), f"ShipmentItemAdjustmentList[{j}].ItemChargeAdjustmentList")):
                    amount, code = self._money(dig(charge, "ChargeAmount"),
                                               f"ShipmentItemAdjustmentList[{j}].ItemChargeAdjustmentList[{k}].ChargeAmount")
                    if currency not in (None, code):
                        raise RecordError("ChargeAmount", f"refund charges in {currency} and {code}")
                    total, currency = total + amount, code
            if currency is not None:
                parsed.refunds.append(StoreRefund(str(key)[:128], order_id, posted, currency, abs(total), "Amazon refund"))

    def _transaction(self, event: dict, key: str, parsed: Parsed) -> None:
        r = self.reader
        posted = r.timestamp(event.get("postedDate"), "postedDate")
        order_id = None
        for i, ident in enumerate(as_list(event.get("relatedIdentifiers"), "relatedIdentifiers")):
            if isinstance(ident, dict) and ident.get("relatedIdentifierName") == "ORDER_ID":
                order_id = r.text(ident.get("relatedIdentifierValue"), f"relatedIdentifiers[{i}]", 128)
        kind = str(event.get("transactionType") or "")
        total, currency = self._money(event.get("totalAmount"), "totalAmount")
        if "refund" in kind.lower():
            parsed.refunds.append(StoreRefund(key[:128], order_id, posted, currency, abs(total), "Amazon refund"))
        elif "fee" in kind.lower():
            parsed.fees.append(StoreFee(key[:200], order_id, kind, posted, currency, -total))

        def fee_leaves(parts: Any, where: str, inside_fees: bool) -> None:
            for i, part in enumerate(as_list(parts, where)):
                if not isinstance(part, dict):
                    raise RecordError(f"{where}[{i}]", "malformed breakdown")
                name = str(part.get("breakdownType") or "")
                here = inside_fees or name == "AmazonFees"
                children = part.get("breakdowns")
                if children:
                    fee_leaves(children, f"{where}[{i}].breakdowns", here)
                elif here and part.get("breakdownAmount") is not None:
                    amount, code = self._money(part.get("breakdownAmount"), f"{where}[{i}].breakdownAmount")
                    if amount:
                        parsed.fees.append(StoreFee(f"{key}:{where}[{i}]"[:200], order_id, name or "AmazonFees", posted, code, -amount))

        if "fee" not in kind.lower():
            fee_leaves(event.get("breakdowns"), "breakdowns", False)


def amazon_streams(store: StoreSource, settings: Settings, credentials: dict[str, str], policy: RetryPolicy) -> list[Stream]:
    http = HttpCore(store.base_url, name=f"store {store.name}", policy=policy, timeout=store.timeout_seconds,
                    secrets=credentials.values())
    token = LwaToken(http, store, credentials)
    limiters = {op: RateLimiter(rate, burst, sleep=policy.sleep) for op, (rate, burst) in RATES.items()}
    streams: list[Stream] = [AmazonOrders(store, settings, credentials, policy, http, token, limiters)]
    if store.finances != "none":
        streams.append(AmazonFinances(store, settings, credentials, policy, http, token, limiters))
    return streams
