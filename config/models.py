"""Yeji's configuration as typed objects.

A workspace has one ``yeji.yaml``; it is validated here before anything runs, and
every error names the file and the key (``yeji.yaml: sources[2].columns.order_id: ...``).
Secrets (SMTP password, store tokens) are never in YAML: the YAML names the
environment variable that holds them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

KINDS = (
    "teams",
    "members",
    "customers",
    "orders",
    "order_lines",
    "sales_lines",  # one row per order line with the order header repeated (most shop exports)
    "refunds",
    "collections",
    "fx_rates",
    "targets",
    "scores",
    "inquiries",
)
Kind = Literal[
    "teams",
    "members",
    "customers",
    "orders",
    "order_lines",
    "sales_lines",
    "refunds",
    "collections",
    "fx_rates",
    "targets",
    "scores",
    "inquiries",
]
Language = Literal["zh-CN", "en"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpreadsheetSource(Strict):
    """One spreadsheet (xlsx or csv) holding one kind of record.

    ``columns`` maps Yeji's field names to the headers in the file, e.g.
    ``{order_id: 订单号, ordered_at: 下单日期}``; ``defaults`` gives values for
    fields the file does not have (``{currency: USD, platform: b2b}``).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)
    kind: Kind
    path: str
    sheets: list[str] | None = None  # xlsx: sheets to read (default: the first)
    header_row: int = Field(default=1, ge=1)
    columns: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)
    date_format: str | None = None  # strftime format, e.g. "%d/%m/%Y"; default: ISO dates and Excel dates
    dayfirst: bool = False
    timezone: str | None = None  # timezone of naive timestamps in the file (default: the workspace's)
    decimal_comma: bool = False  # "1.234,56"
    cancellation_prefix: str | None = None  # sales_lines: an order id with this prefix is a cancellation
    order_source: str | None = None  # refunds/collections: the source their order ids belong to
    attribute_by: list[Literal["member_column", "customer_owner", "territory"]] = Field(
        default_factory=lambda: ["member_column", "customer_owner", "territory"]
    )


class Team(Strict):
    team_id: str
    name: str
    base_currency: str = Field(pattern=r"^[A-Z]{3}$")


class Tier(Strict):
    """A band of a tiered plan: applies from the previous band's ``up_to`` (exclusive of
    nothing: bands are half-open ``[from, up_to)``) to ``up_to`` (major units of the plan currency)."""

    up_to: Decimal | None = None  # None = no upper bound (last band only)
    rate: Decimal = Field(ge=0, le=1)


class CommissionPlan(Strict):
    plan_id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    kind: Literal["flat", "tiered"]
    basis: Literal["revenue"] = "revenue"  # net revenue less refunds, in the team's base currency
    rate: Decimal | None = Field(default=None, ge=0, le=1)  # flat
    tiers: list[Tier] | None = None  # tiered (marginal on the month's total)
    roles: list[str] | None = None  # members with these roles get this plan (None = any)
    members: list[str] | None = None  # or these members explicitly (wins over roles)

    @model_validator(mode="after")
    def _check_shape(self):
        if self.kind == "flat":
            if self.rate is None:
                raise ValueError("a flat plan needs 'rate'")
            if self.tiers:
                raise ValueError("a flat plan has no 'tiers'")
        else:
            if not self.tiers:
                raise ValueError("a tiered plan needs 'tiers'")
            bounds = [t.up_to for t in self.tiers]
            if any(b is None for b in bounds[:-1]):
                raise ValueError("only the last tier may leave 'up_to' empty")
            finite = [b for b in bounds if b is not None]
            if finite != sorted(finite) or len(set(finite)) != len(finite) or any(b <= 0 for b in finite):
                raise ValueError(f"tier bounds must be positive and strictly increasing, got {finite}")
            if bounds[-1] is not None:
                raise ValueError("the last tier must be open-ended (no 'up_to')")
        return self


class Commission(Strict):
    plans: list[CommissionPlan] = Field(default_factory=list)
    default_plan: str | None = None

    @model_validator(mode="after")
    def _check_default(self):
        ids = [p.plan_id for p in self.plans]
        if len(ids) != len(set(ids)):
            raise ValueError(f"plan ids must be unique: {ids}")
        if self.default_plan is not None and self.default_plan not in ids:
            raise ValueError(f"default_plan {self.default_plan!r} is not one of the plans {ids}")
        return self


class Smtp(Strict):
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = "YEJI_SMTP_PASSWORD"  # the environment variable holding the password
    timeout_seconds: float = 30


class Delivery(Strict):
    sender: str = "Yeji <reports@yeji.local>"
    smtp: Smtp | None = None  # when absent, mail is written as .eml files into outbox_dir
    outbox_dir: str = "outbox"
    finance_recipients: list[str] = Field(default_factory=list)


class Reports(Strict):
    default_language: Language = "zh-CN"
    output_dir: str = "reports"
    trend_weeks: int = Field(default=12, ge=4, le=52)
    top_customers: int = Field(default=5, ge=1, le=50)
    quiet_after_days: int = Field(default=45, ge=7)  # a customer with no order for this long "goes quiet"
    quiet_min_orders: int = Field(default=2, ge=1)  # ...if they ordered at least this often (key accounts always)
    company_name: str = "Yeji"


class Settings(Strict):
    """The whole of ``yeji.yaml``."""

    company: str = "Yeji demo trading co."
    timezone: str = "Asia/Shanghai"
    base_currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    warehouse_url: str = "sqlite:///warehouse.db"  # relative SQLite paths are inside the workspace
    currencies: list[str] = Field(
        default_factory=lambda: ["CNY", "USD", "EUR", "GBP", "JPY", "AUD", "CAD", "HKD", "SGD", "AED", "SAR", "BRL", "MXN", "CHF", "SEK", "PLN", "KRW", "INR", "RUB", "TRY", "ZAR", "NZD", "DKK", "NOK", "THB", "MYR", "IDR", "PHP", "VND"]
    )
    new_customer_window_days: int = Field(default=365, ge=1)
    territories: dict[str, list[str]] = Field(default_factory=dict)  # member_id -> countries
    sources: list[SpreadsheetSource] = Field(default_factory=list)
    commission: Commission = Field(default_factory=Commission)
    delivery: Delivery = Field(default_factory=Delivery)
    reports: Reports = Field(default_factory=Reports)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _check_references(self):
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique, repeated: {dupes}")
        seen: dict[str, str] = {}
        for member, countries in self.territories.items():
            for country in countries:
                if country in seen:
                    raise ValueError(
                        f"territories: country {country!r} is given to both {seen[country]!r} and {member!r}"
                    )
                seen[country] = member
        return self

    def territory_of(self) -> dict[str, str]:
        """country -> member_id"""
        return {country: member for member, countries in self.territories.items() for country in countries}


class Workspace(Strict):
    """A loaded workspace: its folder and its validated settings."""

    root: Path
    settings: Settings

    def path(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.root / p
