"""The fields a spreadsheet of each kind may map, as in docs/architecture.md.

A :class:`FieldSpec` says how a field's cells are read (``type``), whether the
field is required (from a column or from ``defaults``), its allowed values and
its longest text (the warehouse column's length, checked by a test).
"""

from __future__ import annotations

from dataclasses import dataclass

# sales = 业务员, follow_up = 跟单, customer_service = 客服, lead = team lead, manager, assistant = 助理
ROLES = ("sales", "follow_up", "customer_service", "lead", "manager", "assistant")
LANGUAGES = ("zh-CN", "en")
STAGES = ("deposit", "balance", "full", "other")
REFUND_KINDS = ("refund", "cancellation")
ORDER_STATUSES = ("open", "cancelled")
CUSTOMER_CLASSES = ("key_account",)
SCOPES = ("member", "team")
METRICS = ("revenue", "orders", "new_customers")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str  # id | text | amount | decimal | int | timestamp | date | currency | choice | bool | period
    required: bool = False
    length: int | None = None  # id/text: longest allowed
    choices: tuple[str, ...] = ()


def _id(name: str, length: int = 64, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "id", required, length)


def _text(name: str, length: int, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "text", required, length)


def _choice(name: str, choices: tuple[str, ...], required: bool = False) -> FieldSpec:
    return FieldSpec(name, "choice", required, choices=choices)


def _ts(name: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "timestamp", required)


def _amount(name: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "amount", required)


def _decimal(name: str, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "decimal", required)


CURRENCY = FieldSpec("currency", "currency", True)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "teams": (
        _id("team_id", required=True),
        _text("name", 200, required=True),
        FieldSpec("base_currency", "currency", True),
        _id("lead_member_id"),
    ),
    "members": (
        _id("member_id", required=True),
        _text("name", 200, required=True),
        _id("team_id", required=True),
        _choice("role", ROLES, required=True),
        _id("manager_id"),
        _text("email", 320),
        _choice("language", LANGUAGES),
        FieldSpec("active", "bool"),
    ),
    "customers": (
        _id("customer_id", 128, required=True),
        _text("name", 300),
        _text("country", 100),
        _choice("customer_class", CUSTOMER_CLASSES),
        _id("owner_member_id"),
    ),
    "orders": (
        _id("order_id", 128, required=True),
        _ts("ordered_at", required=True),
        CURRENCY,
        _amount("gross", required=True),
        _amount("discount"),
        _amount("tax"),
        _amount("shipping"),
        _text("platform", 30, required=True),
        _text("store", 100, required=True),
        _id("customer_id", 128),
        _id("member_id"),
        _text("country", 100),
        _text("payment_terms", 40),
        _choice("status", ORDER_STATUSES),
        _ts("shipped_at"),  # first shipment (出货日期/发货日期, Ship Date); blank = not shipped yet
    ),
    "order_lines": (
        _id("order_id", 128, required=True),
        FieldSpec("line_no", "int"),
        _text("sku", 100),
        _text("description", 500),
        _decimal("quantity", required=True),
        _decimal("unit_price", required=True),
        _amount("discount"),
        _decimal("unit_cost"),
        FieldSpec("currency", "currency"),  # not stored: prices' currency; default: the order's, from the warehouse
    ),
    "sales_lines": (
        _id("order_id", 128, required=True),
        _ts("ordered_at", required=True),
        CURRENCY,
        _decimal("quantity", required=True),
        _decimal("unit_price", required=True),
        _text("sku", 100),
        _text("description", 500),
        _amount("discount"),
        _decimal("unit_cost"),
        _id("customer_id", 128),
        _text("customer_name", 300),
        _text("country", 100),
        _id("member_id"),
        _text("platform", 30, required=True),  # orders need them: map a column or give a default
        _text("store", 100, required=True),
        _ts("shipped_at"),  # the line's shipment; the order's shipped_at is its first line's
    ),
    "refunds": (
        _id("refund_id", 128, required=True),
        _ts("refunded_at", required=True),
        CURRENCY,
        _amount("amount", required=True),
        _id("order_id", 128),
        _choice("kind", REFUND_KINDS),
        _id("member_id"),
        _id("customer_id", 128),
        _text("country", 100),
        _text("reason", 300),
    ),
    "collections": (
        _id("collection_id", 128, required=True),
        _id("order_id", 128, required=True),
        _ts("received_at", required=True),
        CURRENCY,
        _amount("amount", required=True),
        _choice("stage", STAGES),
    ),
    "fx_rates": (
        FieldSpec("rate_date", "date", True),
        FieldSpec("from_currency", "currency", True),
        FieldSpec("to_currency", "currency", True),
        _decimal("rate", required=True),
    ),
    "targets": (
        _choice("scope", SCOPES, required=True),
        _id("scope_id", required=True),
        FieldSpec("period", "period", True),
        _choice("metric", METRICS, required=True),
        _decimal("value", required=True),
        FieldSpec("currency", "currency"),
    ),
    "scores": (
        _id("member_id", required=True),
        FieldSpec("period", "period", True),
        _text("dimension", 40, required=True),
        _decimal("score", required=True),
    ),
    "product_costs": (
        _text("sku", 100, required=True),
        FieldSpec("effective_from", "date", True),  # the cost holds from this day until the SKU's next row
        CURRENCY,
        _decimal("unit_cost", required=True),
    ),
    "inquiries": (
        _id("inquiry_id", 128, required=True),
        _ts("received_at", required=True),
        _ts("first_reply_at"),
        _id("owner_member_id"),
        _id("customer_id", 128),
        _text("country", 100),
        _text("channel", 50),
        _id("converted_order_id", 128),
    ),
}

# The fields that make a row's record id (two rows with the same id must agree).
RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "teams": ("team_id",),
    "members": ("member_id",),
    "customers": ("customer_id",),
    "orders": ("order_id",),
    "order_lines": ("order_id", "line_no"),  # only when line_no is mapped
    "sales_lines": ("order_id",),  # an order's header fields must agree across its lines
    "refunds": ("refund_id",),
    "collections": ("collection_id",),
    "fx_rates": ("rate_date", "from_currency", "to_currency"),
    "targets": ("scope", "scope_id", "period", "metric"),
    "scores": ("member_id", "period", "dimension"),
    "inquiries": ("inquiry_id",),
    "product_costs": ("sku", "effective_from"),
}

# Fields naming a member that must already be known (or be in the same file, for members).
MEMBER_REFERENCES: dict[str, tuple[str, ...]] = {
    "members": ("manager_id",),
    "customers": ("owner_member_id",),
    "orders": ("member_id",),
    "sales_lines": ("member_id",),
    "refunds": ("member_id",),
    "scores": ("member_id",),
    "inquiries": ("owner_member_id",),
}

# The table each kind writes (sales_lines writes several, see connectors.spreadsheets).
TABLE_OF_KIND = {
    "teams": "teams",
    "members": "members",
    "customers": "customers",
    "orders": "orders",
    "order_lines": "order_lines",
    "refunds": "refunds",
    "collections": "collections",
    "fx_rates": "fx_rates",
    "targets": "targets",
    "scores": "evaluation_scores",
    "inquiries": "inquiries",
    "product_costs": "product_costs",
}


def field_names(kind: str) -> tuple[str, ...]:
    return tuple(f.name for f in FIELDS[kind])
