"""WooCommerce REST v3: ``GET /wp-json/wc/v3/orders`` paged by ``page``/``per_page`` (``X-WP-TotalPages``),
windowed by ``modified_after``/``modified_before`` (GMT), and each refunded order's
``GET /orders/<id>/refunds``.

Authentication is the consumer key/secret as HTTP Basic auth (WooCommerce accepts it
over HTTPS; over plain HTTP only on a loopback test server). Page numbers shift when an
order leaves the window while the sync reads it; ``X-WP-Total`` changing between pages
shows that, and the window is read again from its first page (loads are idempotent).

Line ``subtotal`` is before discounts and ``total`` after: gross is the subtotal and the
line discount the difference. Unpaid or dead statuses (pending, failed, cancelled,
trash, checkout-draft) are stored as ``cancelled`` so they never count as sales.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator

from config.models import Settings, StoreSource
from connectors.stores.base import Page, Stream
from connectors.stores.http import HttpCore, ResumeRejected, RetryPolicy, StoreError, Window, iso_z
from connectors.stores.records import (
    Parsed, RecordError, StoreLine, StoreOrder, StoreRefund, as_list, country_of, customer_of,
)

NOT_SALES = frozenset({"pending", "failed", "cancelled", "trash", "checkout-draft"})
REFUNDS_KEY = "_yeji_refunds"  # refunds fetched for the order, attached before parsing
REFUNDS_ERROR = "_yeji_refunds_error"


class WindowShifted(ResumeRejected):
    """The window's record count changed while paging: page numbers moved."""


class WooOrders(Stream):
    name = "orders"

    def __init__(self, store: StoreSource, settings: Settings, credentials: dict[str, str], policy: RetryPolicy):
        super().__init__(store, settings)
        self.http = HttpCore(
            store.base_url, name=f"store {store.name}", policy=policy, timeout=store.timeout_seconds,
            auth=(credentials["consumer_key"], credentials["consumer_secret"]), secrets=credentials.values(),
        )
        self.path = "/wp-json/wc/v3/orders"

    def record_key(self, record: Any) -> str | None:
        return None if record.get("id") is None else str(record.get("id"))

    def changed_at(self, record: dict):
        return self.reader.timestamp(record.get("date_modified_gmt") or record.get("date_created_gmt"), "date_modified_gmt")

    def pages(self, window: Window, token: str | None) -> Iterator[Page]:
        page = int(token) if token else 1
        expected_total = None
        while True:
            params = {
                "page": page, "per_page": min(self.store.page_size, 100), "orderby": "id", "order": "asc",
                "modified_after": iso_z(window.start), "modified_before": iso_z(window.end), "dates_are_gmt": "true",
            }
            response = self.http.request("GET", self.path, params=params)
            orders = response.body
            if not isinstance(orders, list):
                raise StoreError(f"store {self.store.name}: /orders did not return a list")
            total = response.headers.get("X-WP-Total")
            if expected_total is None:
                expected_total = total
            elif total != expected_total:
                raise WindowShifted(f"store {self.store.name}: orders changed while paging ({expected_total} -> {total})")
            try:
                pages_total = int(response.headers.get("X-WP-TotalPages", "1"))
            except ValueError:
                pages_total = 1
            for order in orders:
                if isinstance(order, dict) and as_list_safe(order.get("refunds")) and order.get("id") is not None:
                    self._attach_refunds(order)
            following = page + 1 if page < pages_total and orders else None
            yield Page(orders, None if following is None else str(following),
                       f"woocommerce orders {window.describe()} page {page} of {pages_total}")
            if following is None:
                return
            page = following

    def _attach_refunds(self, order: dict) -> None:
        try:
            response = self.http.request("GET", f"{self.path}/{order['id']}/refunds", params={"per_page": 100})
        except StoreError as exc:
            if "refused the credentials" in str(exc):
                raise
            order[REFUNDS_ERROR] = str(exc)
            return
        order[REFUNDS_KEY] = response.body

    def parse_record(self, record: dict, parsed: Parsed) -> None:
        r = self.reader
        order_id = r.record_id(record.get("id"), "id")
        currency = r.currency(record.get("currency"), "currency")
        ordered_at = r.timestamp(record.get("date_created_gmt"), "date_created_gmt")
        updated_at = r.timestamp(record.get("date_modified_gmt"), "date_modified_gmt", required=False) or ordered_at
        lines = []
        for i, item in enumerate(as_list(record.get("line_items"), "line_items")):
            where = f"line_items[{i}]"
            if not isinstance(item, dict):
                raise RecordError(where, "malformed line item")
            quantity = r.quantity(item.get("quantity"), f"{where}.quantity")
            gross = r.minor(item.get("subtotal"), currency, f"{where}.subtotal")
            after_discount = r.minor(item.get("total"), currency, f"{where}.total")
            price = r.decimal(item.get("price"), f"{where}.price", required=False)
            if price is None:
                price = (r.decimal(item.get("subtotal"), f"{where}.subtotal") / quantity) if quantity else Decimal(0)
            if price.as_tuple().exponent < -12:
                price = price.quantize(Decimal("1e-12"))
            lines.append(StoreLine(i + 1, r.text(item.get("sku"), f"{where}.sku", 100), r.text(item.get("name"), f"{where}.name", 500),
                                   quantity, price, gross, gross - after_discount))
        if REFUNDS_ERROR in record:
            raise RecordError("refunds", f"could not read the order's refunds: {record[REFUNDS_ERROR]}")
        refunds = []
        fetched = record.get(REFUNDS_KEY)
        for i, refund in enumerate(as_list(fetched, "refunds")):
            where = f"refunds[{i}]"
            if not isinstance(refund, dict):
                raise RecordError(where, "malformed refund")
            refunds.append(StoreRefund(
                refund_id=r.record_id(refund.get("id"), f"{where}.id"), order_id=order_id,
                refunded_at=r.timestamp(refund.get("date_created_gmt"), f"{where}.date_created_gmt"),
                currency=currency, amount_minor=abs(r.minor(refund.get("amount"), currency, f"{where}.amount")),
                reason=r.text(refund.get("reason"), f"{where}.reason", 300),
            ))
        shipping = record.get("shipping") if isinstance(record.get("shipping"), dict) else {}
        billing = record.get("billing") if isinstance(record.get("billing"), dict) else {}
        country = shipping.get("country") or billing.get("country")
        name = " ".join(str(p) for p in (billing.get("first_name"), billing.get("last_name")) if p) or None
        status = str(record.get("status") or "").lower()
        parsed.orders.append(StoreOrder(
            order_id=order_id, ordered_at=ordered_at, updated_at=updated_at, currency=currency,
            gross_minor=sum(line.gross_minor for line in lines),
            discount_minor=r.minor(record.get("discount_total"), currency, "discount_total", required=False),
            tax_minor=r.minor(record.get("total_tax"), currency, "total_tax", required=False),
            shipping_minor=r.minor(record.get("shipping_total"), currency, "shipping_total", required=False),
            status="cancelled" if status in NOT_SALES else "open",
            country=country_of(r.text(country, "shipping.country", 100)),
            customer=customer_of(self.store, record.get("customer_id"), name, country_of(billing.get("country"))),
            discount_codes=tuple(str(c.get("code")) for c in as_list(record.get("coupon_lines"), "coupon_lines")
                                 if isinstance(c, dict) and c.get("code")),
            lines=lines, refunds=refunds,
            # set when the order was marked completed (shipped); it stays once set (a later refund keeps it)
            shipped_at=r.timestamp(record.get("date_completed_gmt"), "date_completed_gmt", required=False),
        ))


def as_list_safe(value: Any) -> list:
    return value if isinstance(value, list) else []


def woocommerce_streams(store: StoreSource, settings: Settings, credentials: dict[str, str], policy: RetryPolicy) -> list[Stream]:
    return [WooOrders(store, settings, credentials, policy)]
