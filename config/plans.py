"""The commission plan language: typed, validated, effective-dated.

A plan is a mapping (inline under ``commission.plans`` in ``yeji.yaml``, or one YAML file
per plan in ``commission.plans_dir`` / ``commission.plan_files``) validated here into a
:class:`CommissionPlan`. Every scheme is an optional section of the same plan, so they
combine freely (see ``docs/commission-plans.md`` for a worked example of each):

* ``basis`` revenue | gross_profit | collected, ``rate`` or ``tiers`` (``tier_method``
  marginal | retroactive, ``boundaries`` lower_inclusive | upper_inclusive, flat ``amount``
  per band);
* ``quota`` (attainment multipliers, whole or marginal), ``cap`` / ``floor``;
* ``role_coefficients``, ``customer_classes`` (new / returning / key_account);
* ``stages`` (signed / shipped / collected portions; unreleased portions are held);
* ``evaluation`` (weighted composite score -> multiplier);
* ``refunds: clawback`` and ``draw``;
* ``currency`` (thresholds), ``payout_currency``, ``fx``, ``rounding``.

Team-level schemes sit beside the plans in :class:`Commission`: ``splits`` (one order
credited to several members), ``projects`` (a named order or project paid by its own rule
and split by contribution) and ``pools`` (a team pool funded at target).

Versions: several plans may share a ``plan_id`` with different ``effective_from`` months;
the one in effect for a month is used (:meth:`Commission.for_month`). Versions must follow
each other without gap or overlap.

Percentages (splits, stages, contributions) are written as percent (``60``); rates and
multipliers as decimals (``0.02``, ``1.5``). All numbers are read exactly as ``Decimal``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The roles a member can have (as connectors/fields.py reads them).
ROLES = ("sales", "follow_up", "customer_service", "lead", "manager", "assistant")
CUSTOMER_CLASSES = ("new", "returning", "key_account")
STAGE_EVENTS = ("signed", "shipped", "collected")
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
HUNDRED = Decimal(100)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_bands(bands: list, what: str, unit: str = "") -> None:
    """Bands must start at 0, follow each other without gap or overlap, and only the last
    may be open-ended. Names the offending band (``tiers[1].from``)."""
    if not bands:
        raise ValueError(f"{what}: at least one band is needed")
    if bands[0].from_ != 0:
        raise ValueError(f"{what}[0].from: the first band must start at 0{unit}, not {bands[0].from_}")
    for i, (a, b) in enumerate(zip(bands, bands[1:])):
        if a.to is None:
            raise ValueError(f"{what}[{i}].to: only the last band may be open-ended")
        if a.to <= a.from_:
            raise ValueError(f"{what}[{i}]: 'to' {a.to} must be above 'from' {a.from_}")
        if b.from_ > a.to:
            raise ValueError(f"{what}[{i + 1}].from: gap between {a.to} and {b.from_} (no band covers it)")
        if b.from_ < a.to:
            raise ValueError(f"{what}[{i + 1}].from: overlaps {what}[{i}] ({b.from_} < its 'to' {a.to})")
    last = bands[-1]
    if last.to is not None and last.to <= last.from_:
        raise ValueError(f"{what}[{len(bands) - 1}]: 'to' {last.to} must be above 'from' {last.from_}")
    if last.to is not None:
        raise ValueError(f"{what}[{len(bands) - 1}].to: the last band must be open-ended (no 'to')")


def _legacy_up_to(items: object) -> object:
    """``[{up_to: 100000, rate: .01}, {rate: .02}]`` -> explicit ``from``/``to`` bands."""
    if not isinstance(items, list) or not all(isinstance(t, dict) for t in items):
        return items
    if any(k in t for t in items for k in ("from", "from_", "to")):
        return items
    out, low = [], Decimal(0)
    for t in items:
        t = dict(t)
        up = t.pop("up_to", None)
        out.append({"from": low, "to": up, **t})
        if up is not None:
            low = Decimal(str(up))
    return out


class Tier(Strict):
    """A band of the period total, in major units of the plan currency.

    ``[from, to)`` with ``boundaries: lower_inclusive`` (the default), ``(from, to]`` with
    ``upper_inclusive``. ``rate`` applies to the part of the base inside the band (marginal)
    or to the whole base once the band is reached (retroactive); ``amount`` is a fixed sum
    paid while the month's total is in this band (it replaces lower bands' amounts).
    The legacy form ``{up_to, rate}`` is still read.
    """

    from_: Decimal = Field(alias="from", ge=0)
    to: Decimal | None = None
    rate: Decimal = Field(default=Decimal(0), ge=0, le=1)
    amount: Decimal = Field(default=Decimal(0), ge=0)

    @property
    def up_to(self) -> Decimal | None:
        return self.to


class MultiplierBand(Strict):
    """A band of attainment (1.0 = 100% of quota) or of evaluation score, and its multiplier."""

    from_: Decimal = Field(alias="from", ge=0)
    to: Decimal | None = None
    multiplier: Decimal = Field(ge=0, le=100)


class Rounding(Strict):
    """How money is rounded: once per line, on the member's month-to-date running total
    (so residues carry to the next line and never vanish or appear)."""

    mode: Literal["half_up", "half_even", "half_down", "down", "up", "floor", "ceiling"] = "half_up"
    place: Decimal | None = Field(default=None, gt=0)  # major units: 0.01 = cents, 1 = whole units; None = minor unit

    @field_validator("place")
    @classmethod
    def _power_of_ten(cls, value: Decimal | None) -> Decimal | None:
        if value is None:
            return value
        if value.normalize() != Decimal(1).scaleb(value.normalize().adjusted()):
            raise ValueError(f"must be a power of ten (0.01, 0.1, 1, 10 ...), not {value}")
        return value


class Quota(Strict):
    """Attainment = the month's base / quota. ``amount`` (major units of the plan currency) or
    ``from_targets`` (the member's monthly revenue target). ``method: whole`` multiplies the
    month's commission by the band reached; ``marginal`` pays each band's multiplier on the
    commission earned while attainment was inside it (tiered marginal plans only)."""

    amount: Decimal | None = Field(default=None, gt=0)
    from_targets: bool = False
    method: Literal["whole", "marginal"] = "whole"
    boundaries: Literal["lower_inclusive", "upper_inclusive"] = "lower_inclusive"
    multipliers: list[MultiplierBand]
    missing: Literal["error", "neutral"] = "error"  # a member with no target: fail, or multiplier 1

    @model_validator(mode="after")
    def _check(self):
        if (self.amount is None) == (not self.from_targets):
            raise ValueError("quota: give exactly one of 'amount' or 'from_targets: true'")
        _check_bands(self.multipliers, "multipliers", " (attainment)")
        return self


class Stage(Strict):
    event: Literal["signed", "shipped", "collected"]
    percent: Decimal = Field(gt=0, le=100)


class Evaluation(Strict):
    """Composite score = sum(weight x score) over ``weights`` (weights sum to 1). With no
    ``multipliers``, the payout is multiplied by composite / ``scale`` (rounded to ``places``
    decimals, half up); with ``multipliers``, by the band the composite falls in."""

    weights: dict[str, Decimal]
    scale: Decimal = Field(default=Decimal(5), gt=0)
    places: int = Field(default=4, ge=0, le=8)
    multipliers: list[MultiplierBand] | None = None
    missing: Literal["error", "neutral"] = "error"

    @model_validator(mode="after")
    def _check(self):
        if not self.weights:
            raise ValueError("weights: at least one dimension is needed")
        bad = [d for d, w in self.weights.items() if w < 0]
        if bad:
            raise ValueError(f"weights.{bad[0]}: must not be negative")
        total = sum(self.weights.values(), Decimal(0))
        if total != 1:
            raise ValueError(f"weights: must sum to 1, they sum to {total}")
        if self.multipliers is not None:
            _check_bands(self.multipliers, "multipliers", " (score)")
        return self


class CustomerClassRule(Strict):
    """For a flat plan: the class's own ``rate``; for any plan: a ``multiplier`` of the rate."""

    rate: Decimal | None = Field(default=None, ge=0, le=1)
    multiplier: Decimal | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one(self):
        if (self.rate is None) == (self.multiplier is None):
            raise ValueError("give exactly one of 'rate' or 'multiplier'")
        return self


class Draw(Strict):
    """A monthly draw: when the month's commission is below ``amount``, the difference is paid.
    Recoverable: that top-up is owed back and recovered from later months' commission above
    the draw. Non-recoverable: it is never recovered (a guaranteed minimum)."""

    amount: Decimal = Field(gt=0)
    recoverable: bool = True


class Fx(Strict):
    source: Literal["fx_rates"] = "fx_rates"  # the warehouse's fx_rates table
    date: Literal["order", "collection", "payout"] = "order"  # whose date's rate converts credits


class CommissionPlan(Strict):
    plan_id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    kind: Literal["flat", "tiered"]
    basis: Literal["revenue", "gross_profit", "collected"] = "revenue"
    rate: Decimal | None = Field(default=None, ge=0, le=1)  # flat
    tiers: list[Tier] | None = None  # tiered, on the month's total
    tier_method: Literal["marginal", "retroactive"] = "marginal"
    boundaries: Literal["lower_inclusive", "upper_inclusive"] = "lower_inclusive"
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")  # thresholds (default: team base)
    payout_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")  # default: plan currency
    fx: Fx = Field(default_factory=Fx)
    rounding: Rounding = Field(default_factory=Rounding)
    refunds: Literal["net", "clawback"] | None = None  # default: net on revenue, clawback otherwise
    lookback_months: int = Field(default=6, ge=0, le=36)  # stages / clawbacks reach this far back
    role_coefficients: dict[str, Decimal] | None = None
    customer_classes: dict[Literal["new", "returning", "key_account"], CustomerClassRule] | None = None
    new_customer_window_days: int | None = Field(default=None, ge=1)  # default: the workspace's
    quota: Quota | None = None
    cap: Decimal | None = Field(default=None, ge=0)  # per month, major units of the plan currency
    floor: Decimal | None = Field(default=None, ge=0)
    evaluation: Evaluation | None = None
    stages: list[Stage] | None = None
    draw: Draw | None = None
    roles: list[str] | None = None  # members with these roles get this plan (None = any)
    members: list[str] | None = None  # or these members explicitly (wins over roles)
    effective_from: str | None = Field(default=None, pattern=MONTH)  # first month of this version
    effective_until: str | None = Field(default=None, pattern=MONTH)  # first month no longer covered
    origin: str | None = None  # set by the loader: the file this plan came from

    @model_validator(mode="before")
    @classmethod
    def _legacy_tiers(cls, data):
        if isinstance(data, dict) and "tiers" in data:
            data = {**data, "tiers": _legacy_up_to(data["tiers"])}
        return data

    @model_validator(mode="after")
    def _check_shape(self):
        if self.kind == "flat":
            classes = self.customer_classes or {}
            if self.rate is None and not (len(classes) == len(CUSTOMER_CLASSES) and all(
                    c.rate is not None for c in classes.values())):
                raise ValueError("a flat plan needs 'rate' (unless customer_classes gives a rate for new, returning and key_account)")
            if self.tiers:
                raise ValueError("a flat plan has no 'tiers'")
        else:
            if not self.tiers:
                raise ValueError("a tiered plan needs 'tiers'")
            if self.rate is not None:
                raise ValueError("a tiered plan takes its rates from 'tiers', not 'rate'")
            _check_bands(self.tiers, "tiers")
            if self.customer_classes and any(c.rate is not None for c in self.customer_classes.values()):
                raise ValueError("customer_classes: a tiered plan takes class 'multiplier's, not 'rate's")
        for field in ("roles",):
            unknown = [r for r in (getattr(self, field) or []) if r not in ROLES]
            if unknown:
                raise ValueError(f"{field}: unknown role {unknown[0]!r} (roles are {', '.join(ROLES)})")
        unknown = [r for r in (self.role_coefficients or {}) if r not in ROLES]
        if unknown:
            raise ValueError(f"role_coefficients.{unknown[0]}: unknown role (roles are {', '.join(ROLES)})")
        bad = [r for r, c in (self.role_coefficients or {}).items() if c < 0]
        if bad:
            raise ValueError(f"role_coefficients.{bad[0]}: must not be negative")
        if self.stages is not None:
            events = [s.event for s in self.stages]
            if len(set(events)) != len(events):
                raise ValueError(f"stages: each event at most once, got {events}")
            total = sum((s.percent for s in self.stages), Decimal(0))
            if total != HUNDRED:
                raise ValueError(f"stages: percents must sum to 100, they sum to {total}")
        if self.cap is not None and self.floor is not None and self.floor > self.cap:
            raise ValueError(f"floor {self.floor} is above cap {self.cap}")
        if self.quota is not None and self.quota.method == "marginal" and (
                self.kind != "tiered" or self.tier_method != "marginal"):
            if self.kind != "flat":
                raise ValueError("quota.method marginal needs marginal tiers (or a flat rate)")
        if self.effective_from and self.effective_until and self.effective_until <= self.effective_from:
            raise ValueError(f"effective_until {self.effective_until} must be after effective_from {self.effective_from}")
        return self

    @property
    def refund_mode(self) -> str:
        """``net`` (refunds reduce the month's base) or ``clawback`` (reverse what the order earned)."""
        if self.refunds is not None:
            return self.refunds
        return "net" if self.basis == "revenue" and not self.stages else "clawback"

    def covers(self, month: str) -> bool:
        return (self.effective_from is None or self.effective_from <= month) and (
            self.effective_until is None or month < self.effective_until)

    @property
    def where(self) -> str:
        return f"{self.origin}: " if self.origin else ""


class Split(Strict):
    """One order credited to several members: ``shares`` member -> percent, summing to 100."""

    order_id: str
    order_source: str | None = None  # needed only when two sources share order ids
    shares: dict[str, Decimal]

    @model_validator(mode="after")
    def _check(self):
        if len(self.shares) < 1:
            raise ValueError("shares: at least one member")
        bad = [m for m, p in self.shares.items() if p <= 0]
        if bad:
            raise ValueError(f"shares.{bad[0]}: must be above 0")
        total = sum(self.shares.values(), Decimal(0))
        if total != HUNDRED:
            raise ValueError(f"shares of order {self.order_id}: must sum to 100, they sum to {total}")
        return self


class Project(Strict):
    """A named large order or project, paid by its own rate (or tiers on the project's month
    total) instead of the members' plans, then split by declared ``contributions`` (percent)."""

    project_id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    orders: list[str] = Field(min_length=1)
    order_source: str | None = None
    rate: Decimal | None = Field(default=None, ge=0, le=1)
    tiers: list[Tier] | None = None
    tier_method: Literal["marginal", "retroactive"] = "marginal"
    contributions: dict[str, Decimal]
    rounding: Rounding = Field(default_factory=Rounding)

    @model_validator(mode="before")
    @classmethod
    def _legacy_tiers(cls, data):
        if isinstance(data, dict) and "tiers" in data:
            data = {**data, "tiers": _legacy_up_to(data["tiers"])}
        return data

    @model_validator(mode="after")
    def _check(self):
        if (self.rate is None) == (not self.tiers):
            raise ValueError("give exactly one of 'rate' or 'tiers'")
        if self.tiers:
            _check_bands(self.tiers, "tiers")
        bad = [m for m, p in self.contributions.items() if p <= 0]
        if bad:
            raise ValueError(f"contributions.{bad[0]}: must be above 0")
        total = sum(self.contributions.values(), Decimal(0))
        if total != HUNDRED:
            raise ValueError(f"contributions: must sum to 100, they sum to {total}")
        return self

    def as_plan(self) -> CommissionPlan:
        return CommissionPlan(
            plan_id=self.project_id, name=self.name, kind="tiered" if self.tiers else "flat",
            rate=self.rate, tiers=[t.model_dump(by_alias=True) for t in self.tiers] if self.tiers else None,
            tier_method=self.tier_method, rounding=self.rounding, refunds="net",
        ).model_copy(update={"plan_id": f"project:{self.project_id}"})


class Pool(Strict):
    """A team pool: funded when the team's month result reaches ``target`` (major units of the
    team's base currency, or ``from_targets``: the team's monthly revenue target), with a fixed
    ``amount`` or ``rate`` x the team result; split by each member's share of the team result x
    ``role_coefficients`` (largest remainder: it always pays out exactly the pool)."""

    pool_id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    team_id: str
    target: Decimal | None = Field(default=None, gt=0)
    from_targets: bool = False
    amount: Decimal | None = Field(default=None, gt=0)
    rate: Decimal | None = Field(default=None, gt=0, le=1)
    role_coefficients: dict[str, Decimal] = Field(default_factory=dict)  # default 1 for every role
    rounding: Rounding = Field(default_factory=Rounding)

    @model_validator(mode="after")
    def _check(self):
        if (self.target is None) == (not self.from_targets):
            raise ValueError("give exactly one of 'target' or 'from_targets: true'")
        if (self.amount is None) == (self.rate is None):
            raise ValueError("give exactly one of 'amount' or 'rate'")
        unknown = [r for r in self.role_coefficients if r not in ROLES]
        if unknown:
            raise ValueError(f"role_coefficients.{unknown[0]}: unknown role (roles are {', '.join(ROLES)})")
        return self


class Commission(Strict):
    plans: list[CommissionPlan] = Field(default_factory=list)
    default_plan: str | None = None
    plans_dir: str | None = None  # every *.yaml in this folder (relative to the workspace) is a plan file
    plan_files: list[str] = Field(default_factory=list)  # or these files
    splits: list[Split] = Field(default_factory=list)
    projects: list[Project] = Field(default_factory=list)
    pools: list[Pool] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self):
        ids = list(dict.fromkeys(p.plan_id for p in self.plans))
        for pid in ids:
            check_versions([p for p in self.plans if p.plan_id == pid])
        if self.default_plan is not None and self.default_plan not in ids and not (self.plans_dir or self.plan_files):
            raise ValueError(f"default_plan {self.default_plan!r} is not one of the plans {ids}")
        keys = [(s.order_source, s.order_id) for s in self.splits]
        dupes = sorted({k[1] for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"splits: order {dupes[0]} is split twice")
        in_projects: dict[str, str] = {}
        for p in self.projects:
            for o in p.orders:
                if o in in_projects:
                    raise ValueError(f"projects: order {o} is in projects {in_projects[o]!r} and {p.project_id!r}")
                in_projects[o] = p.project_id
        split_orders = {s.order_id for s in self.splits} & set(in_projects)
        if split_orders:
            o = sorted(split_orders)[0]
            raise ValueError(f"order {o} is both split (splits) and in project {in_projects[o]!r}")
        pools = [p.pool_id for p in self.pools]
        if len(pools) != len(set(pools)):
            raise ValueError(f"pool ids must be unique: {pools}")
        return self

    def for_month(self, month: str) -> "Commission":
        """The plans in effect in ``month`` (``2026-10``): per plan id, the latest version that
        started on or before it (and has not ended). Plans with no version then drop out."""
        chosen: dict[str, CommissionPlan] = {}
        for p in self.plans:
            if p.covers(month) and (p.plan_id not in chosen or (p.effective_from or "") > (chosen[p.plan_id].effective_from or "")):
                chosen[p.plan_id] = p
        return self.model_copy(update={"plans": [p for p in self.plans if chosen.get(p.plan_id) is p]})

    @property
    def plan_ids(self) -> list[str]:
        return list(dict.fromkeys(p.plan_id for p in self.plans))


def check_versions(versions: list[CommissionPlan]) -> None:
    """Versions of one plan id follow each other: each starts where the previous one ends."""
    if len(versions) == 1:
        return
    pid = versions[0].plan_id
    missing = [v for v in versions if v.effective_from is None]
    if missing:
        raise ValueError(f"plan {pid!r} has {len(versions)} versions: each needs 'effective_from'")
    ordered = sorted(versions, key=lambda v: v.effective_from)
    for a, b in zip(ordered, ordered[1:]):
        where = f"plan {pid!r}: versions from {a.effective_from} and {b.effective_from}"
        if a.effective_from == b.effective_from:
            raise ValueError(f"{where}: two versions start in the same month")
        if a.effective_until is None:
            continue  # runs until the next version starts
        if a.effective_until < b.effective_from:
            raise ValueError(f"{where}: version gap — no version covers {a.effective_until} up to {b.effective_from}")
        if a.effective_until > b.effective_from:
            raise ValueError(f"{where}: versions overlap ({a.effective_until} is after {b.effective_from})")
