"""Sandbox stores: a real HTTP server on 127.0.0.1 that plays Shopify, Amazon SP-API and WooCommerce.

The demo (``yeji demo``) and the sync benchmark start one so that ``yeji sync`` reads
generated orders through the very connectors a real store uses. Each store is served
under its own path prefix (``http://127.0.0.1:<port>/<store name>``), in its platform's
own format:

* Shopify Admin GraphQL ``POST /admin/api/<version>/graphql.json`` (``orders`` with
  ``query: "updated_at:>='…' AND updated_at:<'…'"``, cursor pages, ``extensions.cost``);
* Amazon: Login with Amazon ``POST /auth/o2/token``, Orders ``GET /orders/2026-01-01/orders``
  (``lastUpdatedAfter``/``lastUpdatedBefore``, ``paginationToken``) and Finances
  ``GET /finances/v0/financialEvents`` (``PostedAfter``/``PostedBefore``, ``NextToken``);
* WooCommerce REST v3 ``GET /wp-json/wc/v3/orders`` (``modified_after``/``modified_before``,
  ``page``/``per_page``, ``X-WP-Total(Pages)``) and ``GET /orders/<id>/refunds``.

Records are given ready-made (platform JSON with string/Decimal amounts) and indexed by
change time once, so a page is a bisect and a slice however many records there are.
Credentials are checked like the platforms do (a wrong one is a 401/403/400).

Public API::

    with Sandbox() as sandbox:
        url = sandbox.add_shopify("shopify", nodes, token="…")
        url = sandbox.add_amazon("amazon-us", orders, events, refresh_token="…")
        url = sandbox.add_woocommerce("woo", orders, refunds, key="…", secret="…")
"""

from __future__ import annotations

import base64
import json
import re
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit


def utc_text(moment: datetime) -> str:
    """Naive UTC -> ``2026-11-09T14:30:00Z`` (how the sandbox writes every time)."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def _key(text: str | None) -> str:
    """A query bound or record time as a sortable ``YYYY-MM-DDTHH:MM:SS`` (UTC)."""
    if not text:
        return ""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat()


def dumps(value: Any) -> bytes:
    """JSON with Decimals as exact JSON numbers (``25.37``, never ``25.369999``)."""
    text = json.dumps(value, default=_decimal_marker, separators=(",", ":"))
    return _MARK.sub(lambda m: m.group(1), text).encode()


_MARK = re.compile(r'"\\u0000D([-0-9.E+]+)"')


def _decimal_marker(value: Any) -> Any:
    if isinstance(value, Decimal):
        return "\u0000D" + format(value, "f")
    raise TypeError(f"cannot serialise {type(value).__name__}")


@dataclass
class _Indexed:
    """Records sorted by change time (``keys`` parallel to ``records``)."""

    records: list[Any]
    keys: list[str]

    @classmethod
    def of(cls, records: list[Any], changed: Callable[[Any], str]) -> "_Indexed":
        pairs = sorted(((_key(changed(r)), i) for i, r in enumerate(records)))
        return cls([records[i] for _, i in pairs], [k for k, _ in pairs])

    def between(self, low: str | None, high: str | None, high_inclusive: bool) -> tuple[int, int]:
        start = bisect_left(self.keys, _key(low)) if low else 0
        if not high:
            return start, len(self.keys)
        end = (bisect_right if high_inclusive else bisect_left)(self.keys, _key(high))
        return start, max(start, end)


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _reply(status: int, value: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, dumps(value), headers or {})


def _token(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _untoken(text: str) -> dict | None:
    try:
        value = json.loads(base64.urlsafe_b64decode(text.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class _ShopifyStore:
    def __init__(self, nodes: list[dict], token: str, version: str):
        self.index = _Indexed.of(nodes, lambda n: n.get("updatedAt"))
        self.token, self.path = token, f"/admin/api/{version}/graphql.json"

    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> _Reply:
        if headers.get("x-shopify-access-token") != self.token:
            return _reply(401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
        if method != "POST" or path != self.path:
            return _reply(404, {"errors": "Not Found"})
        variables = (json.loads(body or b"{}").get("variables") or {})
        first = min(int(variables.get("first") or 50), 250)
        text = str(variables.get("query") or "")
        low = re.search(r"updated_at:>='([^']+)'", text)
        high = re.search(r"updated_at:<'([^']+)'", text)
        start, end = self.index.between(low and low.group(1), high and high.group(1), high_inclusive=False)
        after = variables.get("after")
        if after:
            state = _untoken(after)
            if state is None or "offset" not in state:
                return _reply(200, {"errors": [{"message": "Invalid cursor for current pagination"}]})
            start = max(start, int(state["offset"]))
        stop = min(end, start + first)
        more = stop < end
        cost = {"requestedQueryCost": 52, "actualQueryCost": 52,
                "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1948, "restoreRate": 100.0}}
        return _reply(200, {"data": {"orders": {"pageInfo": {"hasNextPage": more, "endCursor": _token({"offset": stop}) if more else None},
                                                "nodes": self.index.records[start:stop]}},
                            "extensions": {"cost": cost}})


class _AmazonStore:
    RATE = {"x-amzn-RateLimit-Limit": "100.0"}  # the sandbox is generous: no reason to wait

    def __init__(self, orders: list[dict], events: list[tuple[str, dict]], client_id: str, client_secret: str, refresh_token: str):
        self.orders = _Indexed.of(orders, lambda o: o.get("lastUpdatedTime"))
        self.events = _Indexed.of(events, lambda e: e[1].get("PostedDate"))
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token
        self.access = "Atza|sandbox-" + base64.urlsafe_b64encode(refresh_token.encode()).decode()[:16]

    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> _Reply:
        if path == "/auth/o2/token" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if (form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token
                    or form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret):
                return _reply(400, {"error": "invalid_grant", "error_description": "The request has an invalid grant parameter : refresh_token"})
            return _reply(200, {"access_token": self.access, "token_type": "bearer", "expires_in": 3600})
        if headers.get("x-amz-access-token") != self.access:
            return _reply(403, {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]})
        if path == "/orders/2026-01-01/orders":
            size = min(int(query.get("maxResultsPerPage") or 100), 100)
            start, end = self.orders.between(query.get("lastUpdatedAfter"), query.get("lastUpdatedBefore"), high_inclusive=True)
            if query.get("paginationToken"):
                state = _untoken(query["paginationToken"])
                if state is None:
                    return _reply(400, {"errors": [{"code": "InvalidInput", "message": "Invalid paginationToken"}]})
                start = max(start, int(state["offset"]))
            stop = min(end, start + size)
            out: dict[str, Any] = {"orders": self.orders.records[start:stop]}
            if stop < end:
                out["pagination"] = {"nextToken": _token({"offset": stop})}
            return _reply(200, out, self.RATE)
        if path == "/finances/v0/financialEvents":
            size = min(int(query.get("MaxResultsPerPage") or 100), 100)
            if query.get("NextToken"):
                state = _untoken(query["NextToken"])
                if state is None:
                    return _reply(400, {"errors": [{"code": "InvalidInput", "message": "Invalid NextToken"}]})
                low, high, offset = state["low"], state["high"], int(state["offset"])
            else:
                low, high, offset = query.get("PostedAfter"), query.get("PostedBefore"), 0
            start, end = self.events.between(low, high, high_inclusive=True)
            start = max(start, offset)
            stop = min(end, start + size)
            lists: dict[str, list] = {}
            for list_name, event in self.events.records[start:stop]:
                lists.setdefault(list_name, []).append(event)
            payload: dict[str, Any] = {"FinancialEvents": lists}
            if stop < end:
                payload["NextToken"] = _token({"low": low, "high": high, "offset": stop})
            return _reply(200, {"payload": payload}, self.RATE)
        return _reply(404, {"errors": [{"code": "NotFound", "message": f"no operation at {path}"}]})


class _WooStore:
    PATH = "/wp-json/wc/v3/orders"

    def __init__(self, orders: list[dict], refunds: dict[str, list[dict]], key: str, secret: str):
        self.index = _Indexed.of(orders, lambda o: o.get("date_modified_gmt"))
        self.refunds = refunds
        self.auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()

    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> _Reply:
        if headers.get("authorization") != self.auth:
            return _reply(401, {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", "data": {"status": 401}})
        if path.startswith(self.PATH + "/") and path.endswith("/refunds"):
            return _reply(200, self.refunds.get(path.split("/")[-2], []))
        if path != self.PATH:
            return _reply(404, {"code": "rest_no_route", "message": "No route was found matching the URL and request method."})
        page, per_page = max(1, int(query.get("page") or 1)), min(int(query.get("per_page") or 10), 100)
        # modified_after/_before are exclusive in WordPress; Yeji's half-open filter keeps the start
        start, end = self.index.between(query.get("modified_after"), query.get("modified_before"), high_inclusive=False)
        total = end - start
        pages = max(1, -(-total // per_page))
        first = start + (page - 1) * per_page
        part = self.index.records[first:min(end, first + per_page)]
        return _reply(200, part, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})


class Sandbox:
    """Sandbox stores on one local HTTP server; a context manager (or :meth:`start` / :meth:`stop`)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.stores: dict[str, Any] = {}
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- the stores
    def url(self, name: str) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return f"http://{self.host}:{self._server.server_address[1]}/{name}"

    @property
    def root(self) -> str:
        return self.url("").rstrip("/")

    def add_shopify(self, name: str, nodes: list[dict], *, token: str, version: str = "2025-01") -> None:
        self.stores[name] = _ShopifyStore(nodes, token, version)

    def add_amazon(self, name: str, orders: list[dict], events: list[tuple[str, dict]], *, client_id: str,
                   client_secret: str, refresh_token: str) -> None:
        """``orders``: searchOrders (2026-01-01) records; ``events``: (financial event list name, event)."""
        self.stores[name] = _AmazonStore(orders, events, client_id, client_secret, refresh_token)

    def add_woocommerce(self, name: str, orders: list[dict], refunds: dict[str, list[dict]], *, key: str, secret: str) -> None:
        self.stores[name] = _WooStore(orders, refunds, key, secret)

    # --- the server
    def start(self) -> "Sandbox":
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16

            def log_message(self, *args) -> None:  # quiet: the demo's console is for the admin
                pass

            def _do(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                name, _, rest = parts.path.lstrip("/").partition("/")
                store = sandbox.stores.get(name)
                sandbox.requests += 1
                try:
                    reply = (store.handle(self.command, "/" + rest, query, headers, body) if store is not None
                             else _reply(404, {"errors": f"no sandbox store {name!r}"}))
                except Exception as exc:  # noqa: BLE001 - a bad request is the client's 400, never a dead server
                    reply = _reply(400, {"errors": f"bad request: {type(exc).__name__}"})
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = _do

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="yeji-sandbox-stores", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
