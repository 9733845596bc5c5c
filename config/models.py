"""Yeji's configuration as typed objects.

A workspace has one ``yeji.yaml``; it is validated here before anything runs, and
every error names the file and the key (``yeji.yaml: sources[2].columns.order_id: ...``).
Secrets (SMTP password, store tokens) are never in YAML: the YAML names the
environment variable that holds them.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.plans import Commission, CommissionPlan, Tier  # noqa: F401 - the plan language lives there

Kind = Literal[
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
    "product_costs",  # a SKU cost sheet: unit cost per SKU from a date on (lines with no cost of their own)
]
KINDS: tuple[str, ...] = get_args(Kind)
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


STORE_CREDENTIALS = {
    "shopify": ("access_token",),
    "amazon": ("lwa_client_id", "lwa_client_secret", "refresh_token"),
    "woocommerce": ("consumer_key", "consumer_secret"),
}
STORE_APIS = {
    "shopify": ("graphql", "rest"),  # Admin GraphQL, or the legacy REST orders.json
    "amazon": ("2026-01-01", "v0"),  # Orders searchOrders, or v0 getOrders/getOrderItems
    "woocommerce": ("v3",),
}
AttributionRule = Literal["discount_code", "tag", "customer_owner", "territory", "marketplace", "store"]


class StoreSource(Strict):
    """One online store whose orders, refunds (and fees) Yeji pulls over the platform's API.

    Credentials are never here: ``credentials`` maps each credential the platform needs to
    the *environment variable* holding it (default ``YEJI_<NAME>_<CREDENTIAL>``, e.g.
    ``YEJI_SHOP_US_ACCESS_TOKEN``); ``secret_blocks`` may name a Prefect Secret block instead.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)
    platform: Literal["shopify", "amazon", "woocommerce"]
    api: str | None = None  # see STORE_APIS; default the first (newest)
    base_url: str = Field(pattern=r"^https?://")  # shop / site / SP-API endpoint
    store: str | None = Field(default=None, max_length=100)  # shown in reports (default: name)
    api_version: str = "2025-01"  # Shopify Admin API version
    marketplace_ids: list[str] = Field(default_factory=list)  # Amazon
    finances: Literal["v0", "2024-06-19", "none"] = "v0"  # Amazon: listFinancialEvents or listTransactions
    auth_url: str = Field(default="https://api.amazon.com/auth/o2/token", pattern=r"^https?://")  # Amazon LWA
    credentials: dict[str, str] = Field(default_factory=dict)  # credential -> ENV_VAR name
    secret_blocks: dict[str, str] = Field(default_factory=dict)  # credential -> Prefect Secret block name
    start: date  # first day (UTC) to pull; later syncs continue from the stored cursor
    lag_minutes: int = Field(default=5, ge=0, le=24 * 60)  # changes newer than this wait for the next sync
    page_size: int = Field(default=100, ge=1, le=250)
    max_attempts: int = Field(default=6, ge=1, le=20)  # per request, on 429/5xx/connection errors
    timeout_seconds: float = Field(default=30, gt=0)
    commit_every: int = Field(default=5000, ge=1)  # records per warehouse transaction (with the cursor); 5000 costs ~18% less CPU than 1000
    attribute_by: list[AttributionRule] = Field(
        default_factory=lambda: ["discount_code", "tag", "customer_owner", "territory", "marketplace", "store"]
    )
    member: str | None = None  # rule "store": every order of this store
    marketplaces: dict[str, str] = Field(default_factory=dict)  # rule "marketplace": id or name -> member
    discount_codes: dict[str, str] = Field(default_factory=dict)  # rule "discount_code": code -> member
    tags: dict[str, str] = Field(default_factory=dict)  # rule "tag": order tag -> member

    @model_validator(mode="after")
    def _check_platform(self):
        apis = STORE_APIS[self.platform]
        if self.api is not None and self.api not in apis:
            raise ValueError(f"api {self.api!r} is not one of {self.platform}'s: {', '.join(apis)}")
        needed = STORE_CREDENTIALS[self.platform]
        for section in ("credentials", "secret_blocks"):
            unknown = sorted(set(getattr(self, section)) - set(needed))
            if unknown:
                raise ValueError(f"{section}: {', '.join(unknown)} not a credential of {self.platform} (it needs {', '.join(needed)})")
        for cred, env in self.credentials.items():
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", env):
                raise ValueError(
                    f"credentials.{cred}: must name an environment variable (like YEJI_SHOP_TOKEN), never hold the secret itself"
                )
        if self.platform == "amazon" and self.lag_minutes < 2:  # SP-API refuses a window ending later than that
            raise ValueError("lag_minutes: Amazon's Orders and Finances APIs need at least 2 (a window must end 2 minutes before the request)")
        return self

    @property
    def api_name(self) -> str:
        return self.api or STORE_APIS[self.platform][0]

    @property
    def display_name(self) -> str:
        return self.store or self.name

    def credential_env(self, credential: str) -> str:
        default = "YEJI_" + re.sub(r"[^A-Z0-9]", "_", self.name.upper()) + "_" + credential.upper()
        return self.credentials.get(credential, default)


class Team(Strict):
    team_id: str
    name: str
    base_currency: str = Field(pattern=r"^[A-Z]{3}$")


class Smtp(Strict):
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = "YEJI_SMTP_PASSWORD"  # the environment variable holding the password
    password_secret_block: str | None = None  # or a Prefect Secret block holding it (used first when set)
    timeout_seconds: float = 30


class Delivery(Strict):
    sender: str = "Yeji <reports@yeji.local>"
    smtp: Smtp | None = None  # when absent, mail is written as .eml files into outbox_dir
    outbox_dir: str = "outbox"
    finance_recipients: list[str] = Field(default_factory=list)
    # every PDF is also written here (a folder inside the workspace, or an fsspec URL); None: no archive
    archive: str | None = "archive"
    # a message whose PDFs are larger than this carries their archive location instead; None: no limit
    max_attachment_bytes: int | None = Field(default=10_000_000, ge=1)
    # a rerun whose report differs from the one already sent (data corrected since): send it again
    # with a "corrected" subject, or only flag it in the run summary (then `--resend` sends it)
    on_changed_content: Literal["send_correction", "flag"] = "send_correction"
    # team chat: team id -> the environment variable holding that team's Apprise URL(s) (they carry
    # tokens, so never in this file); each gets the team summary digest once per week and version
    team_chat: dict[str, str] = Field(default_factory=dict)

    @field_validator("team_chat")
    @classmethod
    def _chat_urls_from_env(cls, value: dict[str, str]) -> dict[str, str]:
        for team, env in value.items():
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", env):
                raise ValueError(f"team_chat.{team}: must name an environment variable (like YEJI_CHAT_{team.upper()}), "
                                 "never hold the chat URL itself")
        return value


class Reports(Strict):
    default_language: Language = "zh-CN"
    output_dir: str = "reports"
    trend_weeks: int = Field(default=12, ge=4, le=52)
    top_customers: int = Field(default=5, ge=1, le=50)
    quiet_after_days: int = Field(default=45, ge=7)  # a customer with no order for this long "goes quiet"
    quiet_min_orders: int = Field(default=2, ge=1)  # ...if they ordered at least this often (key accounts always)
    company_name: str = "Yeji"


class Schedule(Strict):
    """When the flows run (cron, in the team's ``timezone``) and what a late run does."""

    sync: str = "30 5 * * *"  # daily, early morning
    weekly_review: str = "0 8 * * 1"  # Monday morning: the week that ended on Sunday
    monthly_commissions: str = "0 9 3 * *"  # the 3rd: a few days for refunds and corrections to land
    # a run starting this many hours after its scheduled time is stale (the machine was off)
    staleness_hours: float = Field(default=24, gt=0)
    when_stale: Literal["send_with_note", "skip_and_alert"] = "send_with_note"
    # a new run of a flow while one is still running: cancel the new one, or queue it (Prefect concurrency limit 1)
    overlap: Literal["cancel_new", "enqueue"] = "cancel_new"
    paused: bool = False  # deploy the schedules paused (start them from the Prefect UI)
    # `yeji deploy`: the Prefect process work pool the deployments run on (created when missing)
    work_pool: str = Field(default="yeji", min_length=1)
    # parts a period's member reports (reviews, statements) are rendered in on a work pool: part 0 in
    # the flow run itself, the others as `render_part` flow runs on the pool's workers; 1: no fan-out
    render_parts: int = Field(default=1, ge=1, le=64)


class Alerts(Strict):
    """Who hears about a failed run: admin addresses (mailed through ``delivery``) and team chat
    through Apprise URLs (WeCom ``wecombot://``, DingTalk ``dingtalk://``, Feishu/Lark
    ``feishu://``/``lark://``, Slack ``slack://``). The URLs carry tokens, so they are read from
    the environment variable named here (space- or comma-separated), never from this file."""

    admin_emails: list[str] = Field(default_factory=list)
    chat_urls_env: str | None = "YEJI_ALERT_URLS"


class Settings(Strict):
    """The whole of ``yeji.yaml``."""

    company: str = "Yeji demo trading co."
    timezone: str = "Asia/Shanghai"
    base_currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    # FX: with no direct rate (or inverse of the opposite one) for a day, convert through this currency
    fx_pivot_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    warehouse_url: str = "sqlite:///warehouse.db"  # relative SQLite paths are inside the workspace
    currencies: list[str] = Field(
        default_factory=lambda: ["CNY", "USD", "EUR", "GBP", "JPY", "AUD", "CAD", "HKD", "SGD", "AED", "SAR", "BRL", "MXN", "CHF", "SEK", "PLN", "KRW", "INR", "RUB", "TRY", "ZAR", "NZD", "DKK", "NOK", "THB", "MYR", "IDR", "PHP", "VND"]
    )
    new_customer_window_days: int = Field(default=365, ge=1)
    territories: dict[str, list[str]] = Field(default_factory=dict)  # member_id -> countries
    sources: list[SpreadsheetSource] = Field(default_factory=list)
    stores: list[StoreSource] = Field(default_factory=list)  # online stores (or in sources.yaml beside yeji.yaml)
    commission: Commission = Field(default_factory=Commission)
    delivery: Delivery = Field(default_factory=Delivery)
    reports: Reports = Field(default_factory=Reports)
    schedule: Schedule = Field(default_factory=Schedule)
    alerts: Alerts = Field(default_factory=Alerts)

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
        names = [s.name for s in self.sources] + [s.name for s in self.stores]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source and store names must be unique, repeated: {dupes}")
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
