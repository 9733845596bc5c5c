"""Local stand-ins for Shopify, Amazon SP-API and WooCommerce: a real HTTP server on 127.0.0.1.

Each simulator serves records in the platform's own format (the published fixture payloads,
or generated ones) and can be told to misbehave per request: ``sim.faults`` is a list of
actions consumed one per data request (``None`` = behave): ``"500"``, ``"503"``, ``"429"``
(with ``Retry-After``), ``"cut"`` (headers and half the body, then the connection closes),
``"malformed"`` (a 200 whose body is not JSON), ``"throttled"`` (Shopify GraphQL: a 200
with a THROTTLED error). ``sim.cut_pages`` makes a page fail every time (a dead server
from that page on) until cleared. Time is a :class:`FakeClock` the client's injected
sleep advances, so throttling and Retry-After are exercised without waiting.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

from connectors.stores.http import RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def policy(self, attempts: int = 6) -> RetryPolicy:
        return RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.05, jitter=False, sleep=self.sleep)


def dumps(value: Any) -> bytes:
    return json.dumps(value, default=lambda v: format(v, "f") if isinstance(v, Decimal) else str(v)).encode()


class Reply:
    def __init__(self, status: int = 200, body: Any = None, headers: dict | None = None, raw: bytes | None = None, cut: bool = False):
        self.status, self.headers, self.cut = status, dict(headers or {}), cut
        self.raw = raw if raw is not None else (b"" if body is None else dumps(body))


class Sim:
    """Base: routing, auth and fault injection."""

    def __init__(self, clock: FakeClock | None = None):
        self.clock = clock or FakeClock()
        self.faults: list[str | None] = []
        self.cut_pages: set[int] = set()
        self.requests: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()

    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> Reply:  # pragma: no cover
        raise NotImplementedError

    def fault(self, page: int | None = None) -> Reply | None:
        if page is not None and page in self.cut_pages:
            return Reply(200, raw=b'{"orders": [' + b'{"id": 1}, ' * 50, cut=True)
        action = self.faults.pop(0) if self.faults else None
        if action is None:
            return None
        if action in ("500", "502", "503"):
            return Reply(int(action), {"errors": "Internal error"})
        if action == "429":
            return Reply(429, {"errors": "Exceeded 2 calls per second for api client."}, {"Retry-After": "2.0"})
        if action == "cut":
            return Reply(200, raw=b'{"orders": [' + b'{"id": 1}, ' * 50, cut=True)
        if action == "malformed":
            return Reply(200, raw=b'{"orders": [{"id": 1,,]')
        return None


@contextmanager
def serve(sim: Sim) -> Iterator[str]:
    """Run ``sim`` on a real HTTP server on 127.0.0.1; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # headers and body leave in one write (no delayed-ACK stall per request)

        def log_message(self, *args) -> None:  # quiet
            pass

        def _do(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            with sim.lock:
                sim.requests.append((self.command, parts.path, query))
                reply = sim.handle(self.command, parts.path, query, headers, body)
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.raw) * (2 if reply.cut else 1)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            if reply.cut:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply.raw)
            self.wfile.flush()
            if reply.cut:
                self.close_connection = True

        do_GET = do_POST = _do

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def ts(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


# --------------------------------------------------------------------------- Shopify


class ShopifyRestSim(Sim):
    def __init__(self, orders: list[dict], token: str = "shpat_good", clock: FakeClock | None = None, version: str = "2025-01"):
        super().__init__(clock)
        self.orders, self.token, self.path = orders, token, f"/admin/api/{version}/orders.json"
        self.calls = 0

    def handle(self, method, path, query, headers, body):
        if headers.get("x-shopify-access-token") != self.token:
            return Reply(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
        if path != self.path:
            return Reply(404, {"errors": "Not Found"})
        limit = int(query.get("limit", 50))
        if "page_info" in query:
            info = json.loads(base64.urlsafe_b64decode(query["page_info"]).decode())
            if set(query) - {"page_info", "limit"}:
                return Reply(400, {"errors": {"page_info": ["page_info cannot be combined with other filters"]}})
        else:
            info = {"min": query.get("updated_at_min"), "max": query.get("updated_at_max"), "offset": 0}
        page = info["offset"] // limit + 1
        failure = self.fault(page)
        if failure:
            return failure
        chosen = [o for o in self.orders if _within(o.get("updated_at"), info["min"], info["max"], inclusive=True)]
        chosen.sort(key=lambda o: (str(o.get("updated_at")), str(o.get("id"))))
        part = chosen[info["offset"] : info["offset"] + limit]
        self.calls += 1
        out = {"X-Shopify-Shop-Api-Call-Limit": f"{min(self.calls, 40)}/40"}
        if info["offset"] + limit < len(chosen):
            token = base64.urlsafe_b64encode(json.dumps(info | {"offset": info["offset"] + limit}).encode()).decode()
            out["Link"] = f'<https://shop.example/admin/api/2025-01/orders.json?limit={limit}&page_info={token}>; rel="next"'
        return Reply(200, {"orders": part}, out)


def _within(value: Any, low: str | None, high: str | None, inclusive: bool) -> bool:
    if value is None:
        return True
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return True
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    if low and moment < parse_ts(low):
        return False
    if high and (moment > parse_ts(high) if inclusive else moment >= parse_ts(high)):
        return False
    return True


class ShopifyGraphQLSim(Sim):
    """``orders(first, after, query)`` with a cost bucket refilled on the fake clock."""

    COST = 52

    def __init__(self, nodes: list[dict], token: str = "shpat_good", clock: FakeClock | None = None,
                 maximum: float = 200.0, restore: float = 50.0, version: str = "2025-01"):
        super().__init__(clock)
        self.nodes, self.token, self.path = nodes, token, f"/admin/api/{version}/graphql.json"
        self.maximum, self.restore = maximum, restore
        self.available, self.stamp = maximum, self.clock.now
        self.throttled = 0

    def _refill(self) -> None:
        self.available = min(self.maximum, self.available + (self.clock.now - self.stamp) * self.restore)
        self.stamp = self.clock.now

    def _cost(self, actual: int | None = None) -> dict:
        return {"requestedQueryCost": self.COST, "actualQueryCost": actual, "throttleStatus": {
            "maximumAvailable": self.maximum, "currentlyAvailable": int(self.available), "restoreRate": self.restore}}

    def handle(self, method, path, query, headers, body):
        if headers.get("x-shopify-access-token") != self.token:
            return Reply(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
        request = json.loads(body)
        variables = request["variables"]
        after = variables.get("after")
        offset = int(after.split(":")[1]) if after else 0
        first = variables["first"]
        page = offset // first + 1
        forced = self.faults[:1] == ["throttled"]
        if forced:
            self.faults.pop(0)
        else:
            failure = self.fault(page)
            if failure:
                return failure
        self._refill()
        if forced or self.available < self.COST:
            self.throttled += 1
            return Reply(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                               "extensions": {"cost": self._cost()}})
        self.available -= self.COST
        low, high = re.findall(r"updated_at:>='([^']+)'", variables["query"]), re.findall(r"updated_at:<'([^']+)'", variables["query"])
        chosen = [n for n in self.nodes if not isinstance(n, dict) or _within(n.get("updatedAt"), low[0] if low else None, high[0] if high else None, inclusive=False)]
        chosen.sort(key=lambda n: (str(n.get("updatedAt")), str(n.get("id"))) if isinstance(n, dict) else ("", ""))
        part = chosen[offset : offset + first]
        more = offset + first < len(chosen)
        return Reply(200, {"data": {"orders": {"pageInfo": {"hasNextPage": more, "endCursor": f"c:{offset + first}" if more else None},
                                                "nodes": part}},
                           "extensions": {"cost": self._cost(self.COST)}})


def shopify_nodes(count: int, start: datetime, currency: str = "USD", countries=("United States", "Germany", "Singapore")) -> list[dict]:
    out = []
    for i in range(count):
        created = start + timedelta(minutes=7 * i)
        qty = 1 + i % 3
        price = Decimal("19.99") + i % 5
        out.append({
            "id": f"gid://shopify/Order/{5000000 + i}", "name": f"#{1000 + i}", "createdAt": ts(created),
            "updatedAt": ts(created + timedelta(minutes=3)), "cancelledAt": None, "currencyCode": currency,
            "tags": ["vip"] if i % 10 == 0 else [], "discountCodes": ["LINA10"] if i % 7 == 0 else [],
            "customer": {"id": f"gid://shopify/Customer/{900 + i % 50}", "displayName": f"Buyer {i % 50}",
                         "defaultAddress": {"country": countries[i % len(countries)], "countryCodeV2": "US"}},
            "shippingAddress": {"country": countries[i % len(countries)], "countryCodeV2": "US"},
            "billingAddress": None,
            "totalDiscountsSet": {"shopMoney": {"amount": "0.0", "currencyCode": currency}},
            "totalTaxSet": {"shopMoney": {"amount": "1.50", "currencyCode": currency}},
            "totalShippingPriceSet": {"shopMoney": {"amount": "4.99", "currencyCode": currency}},
            "lineItems": {"pageInfo": {"hasNextPage": False}, "nodes": [
                {"id": f"gid://shopify/LineItem/{i}1", "sku": f"SKU-{i % 9}", "name": "Power bank 20000mAh", "quantity": qty,
                 "originalUnitPriceSet": {"shopMoney": {"amount": str(price), "currencyCode": currency}},
                 "totalDiscountSet": {"shopMoney": {"amount": "0.00", "currencyCode": currency}}},
            ]},
            "refunds": [{"id": f"gid://shopify/Refund/{70000 + i}", "createdAt": ts(created + timedelta(minutes=2)), "note": "damaged",
                         "totalRefundedSet": {"shopMoney": {"amount": "5.00", "currencyCode": currency}}}] if i % 25 == 0 else [],
        })
    return out


# --------------------------------------------------------------------------- WooCommerce


class WooSim(Sim):
    def __init__(self, orders: list[dict], refunds: dict[str, list[dict]], key: str = "ck_good", secret: str = "cs_good",
                 clock: FakeClock | None = None):
        super().__init__(clock)
        self.orders, self.refunds = orders, refunds
        self.auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
        self.on_page: Callable[[int], None] | None = None  # a hook to change data between pages

    def handle(self, method, path, query, headers, body):
        if headers.get("authorization") != self.auth:
            return Reply(401, {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", "data": {"status": 401}})
        if path.endswith("/refunds"):
            order_id = path.split("/")[-2]
            return Reply(200, self.refunds.get(order_id, []))
        if path != "/wp-json/wc/v3/orders":
            return Reply(404, {"code": "rest_no_route"})
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 10))
        failure = self.fault(page)
        if failure:
            return failure
        if self.on_page:
            self.on_page(page)
        chosen = [o for o in self.orders if _within(o.get("date_modified_gmt"), query.get("modified_after"), query.get("modified_before"), inclusive=True)]
        chosen.sort(key=lambda o: int(o["id"]) if str(o.get("id", "")).isdigit() else 0)
        total = len(chosen)
        pages = max(1, -(-total // per_page))
        part = chosen[(page - 1) * per_page : page * per_page]
        return Reply(200, part, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})


def woo_orders(count: int, start: datetime, currency: str = "EUR") -> tuple[list[dict], dict[str, list[dict]]]:
    orders, refunds = [], {}
    for i in range(count):
        created = start + timedelta(minutes=11 * i)
        oid = 10000 + i
        order = {
            "id": oid, "status": "completed" if i % 13 else "cancelled", "currency": currency,
            "date_created_gmt": created.isoformat(), "date_modified_gmt": (created + timedelta(minutes=1)).isoformat(),
            "discount_total": "1.00", "shipping_total": "5.00", "total_tax": "2.00", "customer_id": 300 + i % 40,
            "billing": {"first_name": "Anna", "last_name": f"K{i % 40}", "country": "DE"}, "shipping": {"country": ("DE", "FR", "IL")[i % 3]},
            "line_items": [{"id": i * 10 + 1, "name": "Solar panel 100W", "quantity": 2, "subtotal": "50.00", "total": "49.00",
                            "sku": "SP-100", "price": Decimal("25")}],
            "coupon_lines": [{"code": "WANG5"}] if i % 9 == 0 else [], "refunds": [],
        }
        if i % 20 == 0:
            order["refunds"] = [{"id": 90000 + i, "refund": "", "total": "-7.50"}]
            refunds[str(oid)] = [{"id": 90000 + i, "date_created_gmt": (created + timedelta(seconds=30)).isoformat(), "amount": "7.50", "reason": "late"}]
        orders.append(order)
    return orders, refunds


# --------------------------------------------------------------------------- Amazon


class AmazonSim(Sim):
    def __init__(self, *, orders_v0: list[dict] | None = None, items: dict[str, list[dict]] | None = None,
                 search_orders: list[dict] | None = None, events: dict | None = None, transactions: list[dict] | None = None,
                 refresh_token: str = "Atzr|good", clock: FakeClock | None = None, page_size_hint: int = 2):
        super().__init__(clock)
        self.orders_v0, self.items = orders_v0 or [], items or {}
        self.search_orders, self.events, self.transactions = search_orders or [], events or {}, transactions or []
        self.refresh_token, self.issued = refresh_token, 0
        self.page_size = page_size_hint
        self.search_tokens: dict[str, tuple[int, dict]] = {}  # paginationToken -> (offset, the filters that made it)

    def handle(self, method, path, query, headers, body):
        if path == "/auth/o2/token":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if form.get("refresh_token") != self.refresh_token or form.get("grant_type") != "refresh_token":
                return Reply(400, {"error": "invalid_grant", "error_description": "The request has an invalid grant parameter : refresh_token"})
            self.issued += 1
            return Reply(200, {"access_token": f"Atza|token{self.issued}", "token_type": "bearer", "expires_in": 3600})
        if not str(headers.get("x-amz-access-token", "")).startswith("Atza|token"):
            return Reply(403, {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]})
        limit = {"x-amzn-RateLimit-Limit": "50.0"}
        failure = self.fault()
        if failure:
            return failure
        if path == "/orders/v0/orders":
            offset = int(query.get("NextToken", "0") or 0)
            low, high = query.get("LastUpdatedAfter"), query.get("LastUpdatedBefore")
            chosen = [o for o in self.orders_v0 if _within(o.get("LastUpdateDate"), low, high, inclusive=True)] if not offset else self.orders_v0
            part = chosen[offset : offset + self.page_size]
            payload = {"Orders": part} | ({"NextToken": str(offset + self.page_size)} if offset + self.page_size < len(chosen) else {})
            return Reply(200, {"payload": payload}, limit)
        if path.startswith("/orders/v0/orders/") and path.endswith("/orderItems"):
            order_id = path.split("/")[-2]
            return Reply(200, {"payload": {"AmazonOrderId": order_id, "OrderItems": self.items.get(order_id, [])}}, limit)
        if path == "/orders/2026-01-01/orders":
            return self.search(query, limit)
        if path == "/finances/v0/financialEvents":
            low, high = query.get("PostedAfter"), query.get("PostedBefore")
            events = {name: [e for e in items if _posted_within(e, low, high)] for name, items in self.events.items()}
            return Reply(200, {"payload": {"FinancialEvents": events}}, limit)
        if path == "/finances/2024-06-19/transactions":
            low, high = query.get("postedAfter"), query.get("postedBefore")
            return Reply(200, {"payload": {"transactions": [t for t in self.transactions if _posted_within(t, low, high)]}}, limit)
        return Reply(404, {"errors": [{"code": "NotFound"}]})

    def search(self, query: dict, limit: dict) -> Reply:
        """searchOrders as published (orders_2026-01-01.json): exactly one of ``createdAfter`` and
        ``lastUpdatedAfter`` (not mixed with the other's ``...Before``), a ``...Before`` at least two
        minutes before the request, a ``paginationToken`` valid only with the filters that made
        it, and only the ``includedData`` datasets asked for in the orders returned."""
        def invalid(message: str) -> Reply:
            return Reply(400, {"errors": [{"code": "InvalidInput", "message": message}]})

        created, updated = query.get("createdAfter"), query.get("lastUpdatedAfter")
        if (created is None) == (updated is None):
            return invalid("Exactly one of createdAfter and lastUpdatedAfter must be provided")
        if (created and query.get("lastUpdatedBefore")) or (updated and query.get("createdBefore")):
            return invalid("createdAfter/createdBefore cannot be combined with lastUpdatedAfter/lastUpdatedBefore")
        before = query.get("lastUpdatedBefore") or query.get("createdBefore")
        if before and _moment(before) > datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=2):
            return invalid("lastUpdatedBefore must be at least two minutes before the time of the request")
        unknown = set(str(query.get("includedData") or "").split(",")) - set(SEARCH_DATASETS) - {""}
        if unknown:
            return invalid(f"includedData: unknown value(s) {sorted(unknown)}")
        filters = {k: v for k, v in query.items() if k not in ("paginationToken", "maxResultsPerPage", "includedData")}
        offset = 0
        if query.get("paginationToken"):
            made_with = self.search_tokens.get(query["paginationToken"])
            if made_with is None or made_with[1] != filters:
                return invalid("Invalid paginationToken: the other parameters must be the same as in the request that returned it")
            offset = made_with[0]
        time_key = "createdTime" if created else "lastUpdatedTime"
        low, high = created or updated, before
        chosen = [o for o in self.search_orders if _within(o.get(time_key), low, high, True)]
        size = min(int(query.get("maxResultsPerPage") or 100), self.page_size)
        part = [_only_datasets(o, str(query.get("includedData") or "")) for o in chosen[offset : offset + size]]
        body: dict = {"orders": part}
        if offset + size < len(chosen):
            token = f"t{len(self.search_tokens) + 1}"
            self.search_tokens[token] = (offset + size, filters)
            body["pagination"] = {"nextToken": token}
        return Reply(200, body, limit)


# searchOrders' includedData values -> the order (and order item) fields each one brings
SEARCH_DATASETS = {
    "BUYER": ("buyer",), "RECIPIENT": ("recipient",), "PROCEEDS": ("proceeds",), "EXPENSE": ("expense",),
    "PROMOTION": ("promotion",), "CANCELLATION": ("cancellation",), "FULFILLMENT": ("fulfillment",),
    "PACKAGES": ("packages",), "TAX": ("tax",), "PAYMENT": ("payment",), "FULFILLMENT_ORDERS": ("fulfillmentOrders",),
}


def _only_datasets(order: dict, included: str) -> dict:
    """``order`` without the optional datasets ``includedData`` did not ask for."""
    dropped = {f for name, fields in SEARCH_DATASETS.items() if name not in included.split(",") for f in fields}
    out = {k: v for k, v in order.items() if k not in dropped}
    if isinstance(out.get("orderItems"), list):
        out["orderItems"] = [{k: v for k, v in item.items() if k not in dropped} if isinstance(item, dict) else item
                             for item in out["orderItems"]]
    return out


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None)


def _posted_within(event: Any, low: str | None, high: str | None) -> bool:
    """Finances as published: posted in ``[after, before)``; nothing at all when the two are more than 180 days apart."""
    if low and high and _moment(high) - _moment(low) > timedelta(days=180):
        return False
    posted = next((event.get(k) for k in ("PostedDate", "postedDate") if isinstance(event, dict) and event.get(k)), None)
    return _within(posted, low, high, inclusive=False)
