"""Platform records -> validated, exact store rows -> warehouse-shaped frames.

Public API::

    RecordError(field, message)                 # one record is bad; the others load
    Reader(currencies)                          # exact field readers that raise RecordError
    StoreOrder / StoreLine / StoreRefund / StoreFee / StoreCustomer
    Parsed                                      # what one page of one stream became
    build_frames(parsed, store, settings, known) -> (frames, unattributed)

Every connector turns one platform record into these dataclasses with :class:`Reader`
(amounts exact -> integer minor units of their currency, refusing extra decimals;
currencies must be in ``yeji.yaml``'s ``currencies``; quantities never negative;
timestamps to naive UTC). A record that fails becomes one reject naming the field and
the problem; the rest of the page loads. :func:`build_frames` then produces the same
frames the spreadsheet connector produces (``orders``, ``order_lines``, ``refunds``,
``customers``) plus ``fees``, and credits orders by the store's ``attribute_by`` rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from operator import itemgetter
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

import numpy as np
import pandas as pd

from config.models import Settings, StoreSource
from connectors.batch import KnownRefs
from connectors.cells import line_minor
from connectors.stores.countries import country_name
from transforms.money import exponent
from transforms.schema import CUSTOMERS, ORDER_LINES, ORDERS, REFUNDS, REJECTS

MAX_MINOR = 2**63 - 1
_EXPONENTS: dict[str, int] = {}
# Amounts as text repeat (prices, shipping, "0.00"): each distinct text is read once. Only
# successful reads are kept (immutable Decimals and ints); a bad value raises every time.
_DECIMALS: dict[str, Decimal] = {}
_MINORS: dict[tuple[str, str], int] = {}
_REMEMBER_AT_MOST = 200_000


def _remember(cache: dict, key: Any, value: Any) -> Any:
    if len(cache) >= _REMEMBER_AT_MOST:
        cache.clear()
    cache[key] = value
    return value


def _exponent(currency: str) -> int:
    """:func:`transforms.money.exponent`, remembered per currency (asked for every amount)."""
    digits = _EXPONENTS.get(currency)
    if digits is None:
        digits = _EXPONENTS[currency] = exponent(currency)
    return digits


class RecordError(Exception):
    """One record cannot be loaded: which field, and what is wrong with it."""

    def __init__(self, field_name: str | None, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


# --------------------------------------------------------------------------- reading fields


def dig(record: Any, *path: str | int, required: bool = False) -> Any:
    """``record[a][b]...``; None when a step is missing (RecordError when ``required``),
    RecordError when a step is not the mapping/list it should be (malformed record)."""
    value = record
    for depth, step in enumerate(path):
        if value is None:
            break
        if type(value) is dict and type(step) is str:  # the common case, first
            value = value.get(step)
        elif isinstance(step, int):
            if not isinstance(value, list):
                raise RecordError(_walked(path, depth), f"expected a list, got {type(value).__name__}")
            value = value[step] if -len(value) <= step < len(value) else None
        else:
            if not isinstance(value, dict):
                raise RecordError(_walked(path, depth), f"expected an object, got {type(value).__name__}")
            value = value.get(step)
    if value is None and required:
        raise RecordError(".".join(str(s) for s in path), "missing (required)")
    return value


def _walked(path: tuple, depth: int) -> str | None:
    """The field a malformed step of :func:`dig` belongs to (the steps before it)."""
    return ".".join(str(s) for s in path[:depth]) or None


def as_list(value: Any, field_name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(field_name, f"expected a list, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Reader:
    """Exact readers for platform fields; each raises :class:`RecordError` naming the field."""

    currencies: frozenset[str]

    def text(self, value: Any, field_name: str, max_length: int = 300, required: bool = False) -> str | None:
        if type(value) is str:  # the common case, first
            text = value.strip()
            if text:
                return text[:max_length]
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise RecordError(field_name, "missing (required)")
            return None
        if isinstance(value, (dict, list, bool)):
            raise RecordError(field_name, f"expected text, got {type(value).__name__}")
        text = str(value).strip()
        return text[:max_length]

    def record_id(self, value: Any, field_name: str) -> str:
        text = self.text(value, field_name, 128, required=True)
        if isinstance(value, Decimal) and value != value.to_integral_value():
            raise RecordError(field_name, f"not an id: {value}")
        return text  # type: ignore[return-value]

    def currency(self, value: Any, field_name: str) -> str:
        code = self.text(value, field_name, 10, required=True).upper()  # type: ignore[union-attr]
        if code not in self.currencies:
            raise RecordError(field_name, f"unknown currency {code!r} (not one of the currencies in yeji.yaml)")
        return code

    def decimal(self, value: Any, field_name: str, required: bool = True) -> Decimal | None:
        kind = type(value)
        if kind is Decimal and value.is_finite():  # JSON numbers (load_json): exact already
            return value
        if kind is int:
            return Decimal(value)
        if kind is str and value:  # amounts as text: the common case, without the checks below
            number = _DECIMALS.get(value)
            if number is not None:
                return number
            try:
                number = Decimal(value)
            except InvalidOperation:
                pass
            else:
                if number.is_finite():
                    return _remember(_DECIMALS, value, number)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise RecordError(field_name, "missing (required)")
            return None
        if isinstance(value, bool) or isinstance(value, (dict, list)):
            raise RecordError(field_name, f"cannot read {value!r} as a number")
        if isinstance(value, float):  # never produced by load_json; a caller's mistake otherwise
            value = repr(value)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise RecordError(field_name, f"cannot read {value!r} as a number") from None
        if not number.is_finite():
            raise RecordError(field_name, f"cannot read {value!r} as a number")
        return number

    def quantity(self, value: Any, field_name: str) -> Decimal:
        number = self.decimal(value, field_name)
        if number < 0:  # type: ignore[operator]
            raise RecordError(field_name, f"negative quantity {number}")
        return number  # type: ignore[return-value]

    def minor(self, value: Any, currency: str, field_name: str, required: bool = True) -> int:
        """A major-unit amount as integer minor units of ``currency``, exactly (or a RecordError)."""
        if type(value) is str:  # prices repeat: a text amount already read in this currency
            known = _MINORS.get((value, currency))
            if known is not None:
                return known
        number = self.decimal(value, field_name, required)
        if number is None:
            return 0
        digits = _exponent(currency)
        scaled = number.scaleb(digits)
        if scaled != scaled.to_integral_value():
            raise RecordError(field_name, f"{number} has more decimals than {currency} allows ({digits})")
        if abs(scaled) > MAX_MINOR:
            raise RecordError(field_name, f"{number} is too large")
        if type(value) is str:
            return _remember(_MINORS, (value, currency), int(scaled))
        return int(scaled)

    def money(self, value: Any, field_name: str, currency: str, amount_key: str = "amount",
              currency_key: str = "currency_code", required: bool = True) -> int:
        """A money object ``{amount, currency_code}`` in ``currency`` (a different currency is an error)."""
        if value is None:
            if required:
                raise RecordError(field_name, "missing (required)")
            return 0
        if not isinstance(value, dict):
            raise RecordError(field_name, f"expected a money object, got {type(value).__name__}")
        code = value.get(currency_key)
        if code is not None and str(code).upper() != currency:
            raise RecordError(f"{field_name}.{currency_key}", f"currency {code!r} differs from the order's {currency}")
        return self.minor(value.get(amount_key), currency, f"{field_name}.{amount_key}", required)

    def timestamp(self, value: Any, field_name: str, required: bool = True, naive_is_utc: bool = True) -> datetime | None:
        """ISO 8601 (``Z`` or an offset; without one: UTC) -> naive UTC."""
        text = self.text(value, field_name, 64, required)
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise RecordError(field_name, f"cannot read {text!r} as a date and time") from None
        if moment.tzinfo is None:
            if not naive_is_utc:
                raise RecordError(field_name, f"{text!r} has no timezone")
            return moment
        if moment.tzinfo is timezone.utc:  # ``Z`` / ``+00:00``: already UTC
            return moment.replace(tzinfo=None)
        return moment.astimezone(timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------- parsed rows


@dataclass
class StoreLine:
    line_no: int
    sku: str | None
    description: str | None
    quantity: Decimal
    unit_price: Decimal
    gross_minor: int
    discount_minor: int = 0
    unit_cost: Decimal | None = None  # where the platform knows it (Shopify InventoryItem.unitCost)


@dataclass
class StoreRefund:
    refund_id: str
    order_id: str | None
    refunded_at: datetime
    currency: str
    amount_minor: int  # given back, positive
    reason: str | None = None
    kind: str = "refund"


@dataclass
class StoreFee:
    fee_id: str
    order_id: str | None
    fee_type: str
    posted_at: datetime
    currency: str
    amount_minor: int  # kept by the platform, positive; a fee given back is negative


@dataclass
class StoreCustomer:
    customer_id: str
    name: str | None
    country: str | None


@dataclass
class StoreOrder:
    order_id: str
    ordered_at: datetime
    updated_at: datetime
    currency: str
    gross_minor: int
    discount_minor: int = 0
    tax_minor: int = 0
    shipping_minor: int = 0
    status: str = "open"
    country: str | None = None
    customer: StoreCustomer | None = None
    marketplace: str | None = None
    discount_codes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    lines: list[StoreLine] = field(default_factory=list)
    refunds: list[StoreRefund] = field(default_factory=list)
    shipped_at: datetime | None = None  # first shipment (naive UTC); None: not shipped, or the platform does not say


def first_shipment(reader: "Reader", entries: Any, field_name: str, time_key: str, status_key: str | None = None,
                   shipped: tuple[str, ...] = ()) -> datetime | None:
    """The earliest ``time_key`` among a platform's shipments of an order (Shopify fulfilments,
    Amazon packages), counting only those whose ``status_key`` is one of ``shipped`` (compared
    upper-case) when a status is given: a failed or cancelled fulfilment shipped nothing."""
    times = []
    for i, entry in enumerate(as_list(entries, field_name)):
        if not isinstance(entry, dict):
            raise RecordError(f"{field_name}[{i}]", "malformed shipment")
        if status_key is not None and str(entry.get(status_key) or "").upper() not in shipped:
            continue
        moment = reader.timestamp(entry.get(time_key), f"{field_name}[{i}].{time_key}", required=False)
        if moment is not None:
            times.append(moment)
    return min(times) if times else None


@dataclass
class Parsed:
    """What a page (or a batch of pages) of one stream became."""

    orders: list[StoreOrder] = field(default_factory=list)
    refunds: list[StoreRefund] = field(default_factory=list)  # not inside an order (Amazon finances)
    fees: list[StoreFee] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # every record key seen (loaded or rejected)
    records: int = 0  # platform records read
    rejected: int = 0  # of which rejected

    def mark(self) -> tuple[int, int, int]:
        """Where the rows of the next record will start (see :meth:`rollback`)."""
        return len(self.orders), len(self.refunds), len(self.fees)

    def rollback(self, mark: tuple[int, int, int]) -> None:
        """Drop the rows added since ``mark``: what a record that failed half-way had appended."""
        del self.orders[mark[0]:], self.refunds[mark[1]:], self.fees[mark[2]:]

    def extend(self, other: "Parsed") -> None:
        self.orders += other.orders
        self.refunds += other.refunds
        self.fees += other.fees
        self.rejects += other.rejects
        self.keys += other.keys
        self.records += other.records
        self.rejected += other.rejected

    def reject(self, store: str, stream: str, location: str, position: int | None, key: str | None,
               error: RecordError | str, record: Any) -> None:
        field_name = error.field if isinstance(error, RecordError) else None
        message = error.message if isinstance(error, RecordError) else str(error)
        where = f"{store} {stream}" + (f", record {key}" if key else f", item {position}") + (f", field {field_name}" if field_name else "")
        self.rejects.append(
            {
                "source": store,
                "kind": stream,
                "location": location[:1000],
                "sheet": None,
                "row_number": position,
                "column_name": field_name[:200] if field_name else None,
                "record_key": key[:200] if key else None,
                "error": f"{where}: {message}",
                "raw": _raw(record),
            }
        )


def _raw(record: Any) -> str | None:
    try:
        text = json.dumps(record, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(record)
    return text[:20000]


# --------------------------------------------------------------------------- frames


# The warehouse shapes, declared once in transforms.schema.
ORDER_COLUMNS, LINE_COLUMNS, REFUND_COLUMNS = ORDERS, ORDER_LINES, REFUNDS
CUSTOMER_COLUMNS = CUSTOMERS + ("source",)
FEE_COLUMNS = ("source", "fee_id", "order_source", "order_id", "fee_type", "posted_at", "currency", "amount_minor")


def _lookup(mapping: Mapping[str, str]) -> dict[str, str]:
    return {k.casefold(): v for k, v in mapping.items()}


def attribution_lookups(store: StoreSource) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The store's discount-code, tag and marketplace rules, case-folded (once per batch, not per order)."""
    return _lookup(store.discount_codes), _lookup(store.tags), _lookup(store.marketplaces)


def attribute(order: StoreOrder, store: StoreSource, territory: Mapping[str, str], owners: Mapping[str, str | None],
              lookups: tuple[dict[str, str], dict[str, str], dict[str, str]] | None = None) -> str | None:
    """The member credited with ``order``: the first of the store's ``attribute_by`` rules that names one."""
    codes, tags, markets = lookups or attribution_lookups(store)
    for rule in store.attribute_by:
        member = None
        if rule == "discount_code":
            member = next((codes[c.casefold()] for c in order.discount_codes if c.casefold() in codes), None)
        elif rule == "tag":
            member = next((tags[t.casefold()] for t in order.tags if t.casefold() in tags), None)
        elif rule == "customer_owner" and order.customer is not None:
            member = owners.get(order.customer.customer_id)
        elif rule == "territory" and order.country:
            member = territory.get(order.country.casefold())
        elif rule == "marketplace" and order.marketplace:
            member = markets.get(order.marketplace.casefold())
        elif rule == "store":
            member = store.member
        if member:
            return member
    return None


def territory_lookup(settings: Settings) -> dict[str, str]:
    """country (name or ISO code, case-folded) -> member."""
    out = {}
    for country, member in settings.territory_of().items():
        out[country.casefold()] = member
        name = country_name(country)
        if name:
            out[name.casefold()] = member
    return out


def build_frames(parsed: Parsed, store: StoreSource, settings: Settings, known: KnownRefs) -> tuple[dict[str, pd.DataFrame], int]:
    """Warehouse-shaped frames of one parsed batch, and how many orders/refunds no rule credited."""
    source = store.name
    territory = territory_lookup(settings)
    lookups = attribution_lookups(store)
    orders, lines, refunds, customers, fees = [], [], [], {}, []
    member_of: dict[str, str | None] = {}
    # the last version of an order in the batch wins (a page can repeat an order that changed)
    latest: dict[str, StoreOrder] = {}
    for order in parsed.orders:
        latest[order.order_id] = order
    for order in latest.values():
        if order.customer is not None:
            customers[order.customer.customer_id] = order.customer
        member = attribute(order, store, territory, known.customer_owners, lookups)
        member_of[order.order_id] = member
        orders.append(
            {
                "source": source, "order_id": order.order_id, "platform": store.platform, "store": store.display_name,
                "ordered_at": order.ordered_at, "customer_id": order.customer.customer_id if order.customer else None,
                "member_id": member, "country": order.country, "currency": order.currency,
                "gross_minor": order.gross_minor, "discount_minor": order.discount_minor, "tax_minor": order.tax_minor,
                "shipping_minor": order.shipping_minor, "payment_terms": "prepaid", "status": order.status,
                "shipped_at": order.shipped_at,
            }
        )
        for line in order.lines:
            lines.append(
                {
                    "source": source, "order_id": order.order_id, "line_no": line.line_no, "sku": line.sku,
                    "description": line.description, "quantity": line.quantity, "unit_price": line.unit_price,
                    "gross_minor": line.gross_minor, "discount_minor": line.discount_minor, "unit_cost": line.unit_cost,
                    "cost_minor": None if line.unit_cost is None else line_minor(line.quantity, line.unit_cost, order.currency),
                }
            )
        for refund in order.refunds:
            refunds.append(_refund_row(refund, source, member, order.customer, order.country))
    for refund in parsed.refunds:
        refunds.append(_refund_row(refund, source, member_of.get(refund.order_id or ""), None, None))
    for fee in parsed.fees:
        fees.append(
            {
                "source": source, "fee_id": fee.fee_id, "order_source": source, "order_id": fee.order_id,
                "fee_type": fee.fee_type[:80], "posted_at": fee.posted_at, "currency": fee.currency, "amount_minor": fee.amount_minor,
            }
        )
    frames = {
        "customers": _frame([
            {"customer_id": c.customer_id, "name": c.name, "country": c.country, "customer_class": None,
             "owner_member_id": None, "source": source} for c in customers.values()
        ], CUSTOMER_COLUMNS),
        "orders": _frame(orders, ORDER_COLUMNS),
        "order_lines": _frame(lines, LINE_COLUMNS),
        "refunds": _frame(_last_by(refunds, "refund_id"), REFUND_COLUMNS),
        "fees": _frame(_last_by(fees, "fee_id"), FEE_COLUMNS),
    }
    unattributed = sum(1 for o in orders if o["member_id"] is None) + sum(
        1 for r in refunds if r["member_id"] is None and r["order_id"] is None
    )
    return frames, unattributed


def _last_by(rows: list[dict], key: str) -> list[dict]:
    return list({row[key]: row for row in rows}.values())


def _refund_row(refund: StoreRefund, source: str, member: str | None, customer: StoreCustomer | None, country: str | None) -> dict:
    return {
        "source": source, "refund_id": refund.refund_id, "order_source": source, "order_id": refund.order_id,
        "kind": refund.kind, "refunded_at": refund.refunded_at, "currency": refund.currency,
        "amount_minor": refund.amount_minor, "member_id": member,
        "customer_id": customer.customer_id if customer else None, "country": country, "reason": refund.reason,
    }


def _frame(rows: list[dict], columns: tuple[str, ...]) -> pd.DataFrame:
    """The rows as a frame: ``*_minor`` (but ``cost_minor``) and ``line_no`` int64, the rest Python objects.

    Built from one numpy array per column without pandas' type inference: inference turns a
    column of datetimes into datetime64 (milliseconds per thousand rows), and the warehouse
    writes Python datetimes anyway. ``cost_minor`` (ints with gaps) stays Python ints and None,
    never float.
    """
    arrays = []
    for col, values in zip(columns, _columns(rows, columns)):
        if (col.endswith("_minor") and col != "cost_minor" or col == "line_no") and rows:
            arrays.append(np.array(values, dtype="int64"))  # numeric: the warehouse groups lines by number
        else:
            column = np.empty(len(values), dtype=object)
            column[:] = values
            arrays.append(column)
    return pd.DataFrame._from_arrays(arrays, columns=list(columns), index=pd.RangeIndex(len(rows)), verify_integrity=False)


def _columns(rows: list[dict], columns: tuple[str, ...]) -> list[list]:
    """``rows`` transposed into one list per column (None where a row lacks the column)."""
    if not rows:
        return [[] for _ in columns]
    try:
        picked = list(map(itemgetter(*columns), rows)) if len(columns) > 1 else [(row[columns[0]],) for row in rows]
    except KeyError:
        picked = [tuple(row.get(c) for c in columns) for row in rows]
    return [list(values) for values in zip(*picked)]


def rejects_frame(parsed: Parsed) -> pd.DataFrame:
    return pd.DataFrame(parsed.rejects, columns=list(REJECTS))


def customer_of(store: StoreSource, platform_id: Any, name: str | None, country: str | None) -> StoreCustomer | None:
    """A store customer, its id namespaced by the store (ids are only unique within a platform)."""
    if platform_id in (None, "", 0, Decimal(0), "0"):
        return None
    return StoreCustomer(f"{store.name}:{platform_id}"[:128], name[:300] if name else None, country)


def country_of(value: str | None) -> str | None:
    """A country as Yeji spells it (English short name; ``US`` -> ``United States``)."""
    if not value:
        return None
    return (country_name(value) or value)[:100]
