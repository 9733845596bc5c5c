"""The commission plan language (issue 3): validation, versions, every scheme alone and
combined, and worked examples published by commission-software vendors (each cited)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from config.loader import ConfigError, load_settings, parse_plans
from config.plans import Commission, CommissionPlan
from tests.factories import collection, fx, order, refund, sales_data, target
from transforms.commission_credits import plan_credits
from transforms.commission_engine import PlanError, PlanInputs
from transforms.commissions import commission_lines, commission_summary, lines_for_data
from transforms.periods import parse_period
from transforms.schema import COMMISSION_LINES, require_columns

SEP, OCT, NOV, DEC = (parse_period(m) for m in ("2026-09", "2026-10", "2026-11", "2026-12"))
MEMBERS = [dict(member_id="M1", name="Mei"), dict(member_id="M2", name="Li"),
           dict(member_id="M3", name="Wu", role="follow_up"), dict(member_id="M4", name="Zhao", role="customer_service")]


def plans(*items, **extra) -> Commission:
    return Commission.model_validate({"plans": list(items), **extra})


def flat(rate="0.01", **fields) -> dict:
    return {"plan_id": fields.pop("plan_id", "p"), "name": "plan", "kind": "flat", "rate": rate, **fields}


def tiered(tiers, **fields) -> dict:
    return {"plan_id": fields.pop("plan_id", "p"), "name": "plan", "kind": "tiered", "tiers": tiers, **fields}


def data_for(orders=(), refunds=(), collections=(), targets=(), scores=(), rates=(), members=MEMBERS, **kw):
    return sales_data(members=members, orders=list(orders), refunds=list(refunds), collections=list(collections),
                      targets=list(targets), scores=list(scores),
                      fx_rates=list(rates) or [fx("2026-01-01", "USD", "CNY", "7")], **kw)


def lines_of(data, cfg: Commission, month=OCT, prior=None) -> pd.DataFrame:
    lines = lines_for_data(data, cfg, month, prior)
    require_columns(lines, COMMISSION_LINES, "commission_lines")
    return lines


def amounts(lines, member="M1") -> list[int]:
    return lines.loc[lines["member_id"] == member, "amount_minor"].tolist()


def total(lines, member="M1") -> int:
    return int(lines.loc[lines["member_id"] == member, "amount_minor"].sum())


# ----------------------------------------------------------------------------- bad plans fail clearly


@pytest.mark.parametrize(("tiers", "message"), [
    ([{"from": 0, "to": 100, "rate": "0.01"}, {"from": 90, "rate": "0.02"}], r"tiers\[1\]\.from: overlaps tiers\[0\]"),
    ([{"from": 0, "to": 100, "rate": "0.01"}, {"from": 120, "rate": "0.02"}], r"tiers\[1\]\.from: gap between 100 and 120"),
    ([{"from": 10, "to": 100, "rate": "0.01"}, {"from": 100, "rate": "0.02"}], r"tiers\[0\]\.from: the first band must start at 0"),
    ([{"from": 0, "to": 100, "rate": "0.01"}, {"from": 100, "to": 200, "rate": "0.02"}], r"last band must be open-ended"),
    ([{"from": 0, "rate": "0.01"}, {"from": 100, "rate": "0.02"}], r"tiers\[0\]\.to: only the last band may be open-ended"),
])
def test_overlapping_or_gapped_tiers_are_refused_naming_the_key(tiers, message):
    with pytest.raises(ValueError, match=message):
        CommissionPlan.model_validate(tiered(tiers))


def test_errors_name_the_plan_file_and_key(tmp_path):
    path = tmp_path / "sales.yaml"
    path.write_text("plan_id: s\nname: S\nkind: tiered\ntiers:\n  - {from: 0, to: 100, rate: 0.01}\n  - {from: 150, rate: 0.02}\n")
    from config.loader import load_plan_file

    with pytest.raises(ConfigError) as err:
        load_plan_file(path)
    assert str(err.value).startswith(f"{path}: (top level): tiers[1].from: gap between 100 and 150")
    with pytest.raises(ConfigError, match=r"x.yaml: plans\[0\]: roles: unknown role 'boss'"):
        parse_plans({"plans": [flat(roles=["boss"])]}, "x.yaml")
    with pytest.raises(ConfigError, match=r"x.yaml: plans\[1\]: role_coefficients.intern: unknown role"):
        parse_plans({"plans": [flat(), flat(role_coefficients={"intern": 1})]}, "x.yaml")


def test_splits_must_sum_to_100_percent():
    with pytest.raises(ValueError, match="shares of order A1: must sum to 100, they sum to 90"):
        plans(flat(), splits=[{"order_id": "A1", "shares": {"M1": 60, "M2": 30}}])
    with pytest.raises(ValueError, match="contributions: must sum to 100"):
        plans(flat(), projects=[{"project_id": "x", "name": "X", "orders": ["A1"], "rate": "0.01", "contributions": {"M1": 50}}])


@pytest.mark.parametrize(("versions", "message"), [
    ([("2026-01", "2026-09"), ("2026-10", None)], "version gap — no version covers 2026-09 up to 2026-10"),
    ([("2026-01", "2026-11"), ("2026-10", None)], "versions overlap"),
    ([("2026-01", None), ("2026-01", None)], "two versions start in the same month"),
    ([(None, None), ("2026-10", None)], "each needs 'effective_from'"),
])
def test_plan_version_gaps_and_overlaps_are_refused(versions, message):
    items = [flat(effective_from=a, effective_until=b) for a, b in versions]
    with pytest.raises(ValueError, match=message):
        plans(*items)


def test_unknown_member_missing_target_missing_score_and_missing_fx_fail_before_computing():
    data = data_for(orders=[order("A1", "2026-10-05 03:00", 100_00)])
    cfg = plans(flat(quota={"from_targets": True, "multipliers": [{"from": 0, "multiplier": 1}]},
                     evaluation={"weights": {"skill": 1}}, members=["M1", "ghost"]),
                splits=[{"order_id": "A1", "shares": {"M1": 50, "nobody": 50}}])
    with pytest.raises(PlanError) as err:
        lines_of(data, cfg)
    text = str(err.value)
    assert "members: unknown member 'ghost'" in text
    assert "order A1: unknown member 'nobody'" in text
    assert "no 2026-10 revenue target for member(s) M1" in text
    assert "member M1 has no 2026-10 score for skill" in text
    # the FX rate is missing for a EUR order: nothing is converted on a guess
    euro = data_for(orders=[order("A1", "2026-10-05 03:00", 100_00, currency="EUR")])
    with pytest.raises(ValueError, match="no FX rate EUR->CNY on or before 2026-10-05"):
        lines_of(euro, plans(flat()))
    gbp_plan = plans(flat(currency="GBP"))  # (CNY->USD is the inverse of the USD->CNY row: no error for USD)
    with pytest.raises(PlanError, match="no FX rate CNY->GBP"):
        lines_of(data, gbp_plan)


def test_a_role_without_coefficient_fails_before_computing():
    data = data_for(orders=[order("A1", "2026-10-05 03:00", 100_00, member_id="M3")])
    with pytest.raises(PlanError, match=r"no coefficient for role\(s\) follow_up \(members M3\)"):
        lines_of(data, plans(flat(role_coefficients={"sales": 1})))


# ----------------------------------------------------------------------------- plan files and versions


def test_plan_files_load_beside_yeji_yaml_and_versions_apply_by_month(tmp_path):
    (tmp_path / "plans").mkdir()
    (tmp_path / "yeji.yaml").write_text("commission:\n  plans_dir: plans\n  default_plan: sales\n")
    (tmp_path / "plans" / "sales.yaml").write_text(
        "plans:\n"
        "  - {plan_id: sales, name: Old, kind: flat, rate: 0.01, effective_from: 2026-01}\n"
        "  - {plan_id: sales, name: New, kind: flat, rate: 0.02, effective_from: 2026-11}\n")
    settings = load_settings(tmp_path / "yeji.yaml")
    cfg = settings.commission
    assert [p.origin for p in cfg.plans] == [str(tmp_path / "plans" / "sales.yaml")] * 2
    data = data_for(orders=[order("A1", "2026-10-05 03:00", 1000_00), order("A2", "2026-11-05 03:00", 1000_00)])
    assert amounts(lines_of(data, cfg, OCT)) == [10_00]  # a rerun of October uses October's version
    assert amounts(lines_of(data, cfg, NOV)) == [20_00]


def test_a_version_gap_across_files_names_the_files(tmp_path):
    (tmp_path / "plans").mkdir()
    (tmp_path / "yeji.yaml").write_text("commission:\n  plans_dir: plans\n")
    (tmp_path / "plans" / "a.yaml").write_text("{plan_id: s, name: A, kind: flat, rate: 0.01, effective_from: 2026-01, effective_until: 2026-06}\n")
    (tmp_path / "plans" / "b.yaml").write_text("{plan_id: s, name: B, kind: flat, rate: 0.01, effective_from: 2026-07}\n")
    with pytest.raises(ConfigError, match=r"a\.yaml.*b\.yaml: commission: .*version gap — no version covers 2026-06 up to 2026-07"):
        load_settings(tmp_path / "yeji.yaml")


def test_the_demo_config_and_its_example_plan_files_validate():
    from pathlib import Path

    from config.loader import load_plan_file

    root = Path(__file__).resolve().parents[1]
    settings = load_settings(root / "config" / "defaults" / "yeji.yaml")
    assert settings.commission.plan_ids == ["b2b_staged", "sales_tiered", "standard_flat", "support_flat"]  # plans/*.yaml
    for path in sorted((root / "config" / "defaults" / "plans").glob("*.yaml")):
        assert load_plan_file(path)
    for path in sorted((root / "config" / "plans").glob("*.yaml")):
        assert load_plan_file(path)


# ----------------------------------------------------------------------------- published worked examples


def test_marginal_tiers_mytime_pay_cycle_example():
    """MyTime help centre, "Tiered Commission by Revenue: Amount Above Earned Breakdown"
    (help.mytime.com/hc/en-us/articles/360046956372): bands $0–499.99 at 25%, $500–2999.99
    at 30%, $3000+ at 40%; a cycle with $5,000 of revenue earns $1,675.00 and one with $400
    earns $100. (Their $1,500 cycle prints $424.98, an arithmetic slip: 500 x 25% + 1,000 x 30%
    = $425.00, which is what we assert.)"""
    cfg = plans(tiered([{"from": 0, "to": 500, "rate": "0.25"}, {"from": 500, "to": 3000, "rate": "0.30"},
                        {"from": 3000, "rate": "0.40"}]))
    for revenue, expected in ((5000_00, 1675_00), (400_00, 100_00), (1500_00, 425_00)):
        data = data_for(teams=[dict(base_currency="USD")], orders=[order("A1", "2026-10-05 03:00", revenue, currency="USD")])
        assert total(lines_of(data, cfg)) == expected


def test_retroactive_versus_incremental_tiers_earnbase_example():
    """Earn Base glossary, "Retroactive Tier Jumping" (earnbase.no/glossary/retroactive-tier-jumping):
    50% below $100K, 60% from $100K; $180K of production pays $108K retroactively (all at
    60%) but $98K incrementally ($50K + $48K)."""
    tiers = [{"from": 0, "to": 100000, "rate": "0.5"}, {"from": 100000, "rate": "0.6"}]
    data = data_for(teams=[dict(base_currency="USD")],
                    orders=[order("A1", "2026-10-05 03:00", 90_000_00, currency="USD"),
                            order("A2", "2026-10-20 03:00", 90_000_00, currency="USD")])
    retro = lines_of(data, plans(tiered(tiers, tier_method="retroactive")))
    marginal = lines_of(data, plans(tiered(tiers)))
    assert amounts(retro) == [45_000_00, 63_000_00]  # the crossing order lifts the first to 60% too
    assert total(retro) == 108_000_00 and total(marginal) == 98_000_00
    assert retro["band"].tolist() == ["0–100,000 @ 50.00%", "100,000+ @ 60.00%"]


def test_accelerator_above_quota_quotapath_examples():
    """QuotaPath plan template "Commission with Accelerators" (intercom.help/quotapath/en/articles/
    4360079): an AE with a $33,000 monthly quota earns 10% until quota and 20% thereafter
    (marginal ×2 above 100%), and the template's whole-period version pays 5% below 50%,
    10% to 100%, 12% to 150%, 15% above on all deals closed (×0.5 / ×1 / ×1.2 / ×1.5)."""
    data = data_for(teams=[dict(base_currency="USD")], orders=[order("A1", "2026-10-05 03:00", 40_000_00, currency="USD")])
    marginal = plans(flat("0.10", quota={"amount": 33000, "method": "marginal",
                                         "multipliers": [{"from": 0, "to": 1, "multiplier": 1}, {"from": 1, "multiplier": 2}]}))
    assert total(lines_of(data, marginal)) == 3_300_00 + 1_400_00
    whole = plans(flat("0.10", quota={"amount": 33000, "multipliers": [
        {"from": 0, "to": "0.5", "multiplier": "0.5"}, {"from": "0.5", "to": 1, "multiplier": 1},
        {"from": 1, "to": "1.5", "multiplier": "1.2"}, {"from": "1.5", "multiplier": "1.5"}]}))
    lines = lines_of(data, whole)
    assert amounts(lines) == [4_000_00, 800_00] and total(lines) == 4_800_00  # 12% of 40,000
    assert "Attainment 121.21% of quota 33,000.00 USD (band 100.00%–150.00%) → ×1.2" in lines["explanation"].iloc[1]
    low = data_for(teams=[dict(base_currency="USD")], orders=[order("A1", "2026-10-05 03:00", 10_000_00, currency="USD")])
    assert total(lines_of(low, whole)) == 500_00  # 30% of quota: half rate, 5%


def test_split_60_40_dynamics_and_hubspot_definitions():
    """Microsoft Dynamics GP SalesCommission.PercentOfSale ("to split a commission, provide the
    percentage of the sale attributed to each salesperson"; learn.microsoft.com cc508126) and
    HubSpot deal splits ("split percentages must add up to 1.0"; developers.hubspot.com/docs/
    api/crm/deal-splits): a 60/40 split credits each rep its share and each earns on it."""
    data = data_for(orders=[order("A1", "2026-10-05 03:00", 10_000_01)])
    cfg = plans(flat("0.05"), splits=[{"order_id": "A1", "shares": {"M1": 60, "M2": 40}}])
    lines = lines_of(data, cfg)
    assert lines["base_minor"].sum() == 10_000_01  # the base is conserved exactly (largest remainder)
    assert lines.set_index("member_id")["base_minor"].to_dict() == {"M1": 6_000_01, "M2": 4_000_00}
    assert lines.set_index("member_id")["amount_minor"].to_dict() == {"M1": 300_00, "M2": 200_00}


def test_recoverable_draw_oracle_siebel_scenario():
    """Oracle Siebel Incentive Compensation Administration Guide, "Recoverable Draw Scenario"
    (docs.oracle.com/cd/E05553_01/books/InCompAdm/InCompAdmPlanDesign8.html): draw $2,000; gross
    earnings 2,750 / 3,000 / 1,500 / 2,375 / 3,000 / 2,750 are paid 2,750 / 3,000 / 2,000 /
    2,000 / 2,875 / 2,750 (March is topped up by $500, recovered $375 in April and $125 in May)."""
    gross = [2750_00, 3000_00, 1500_00, 2375_00, 3000_00, 2750_00]
    months = [parse_period(f"2027-{m:02d}") for m in range(1, 7)]
    data = data_for(teams=[dict(base_currency="USD")], orders=[
        order(f"A{i}", f"{m.label}-10 03:00", g * 10, currency="USD") for i, (m, g) in enumerate(zip(months, gross))])
    cfg = plans(flat("0.1", draw={"amount": 2000, "recoverable": True}))
    prior, paid = None, []
    for m in months:
        lines = lines_of(data, cfg, m, prior)
        paid.append(total(lines))
        prior = lines if prior is None else pd.concat([prior, lines], ignore_index=True)
    assert paid == [2750_00, 3000_00, 2000_00, 2000_00, 2875_00, 2750_00]
    assert prior["rule"].tolist().count("draw_recovery") == 2


def test_non_recoverable_draw_xactly_example():
    """Xactly, "The Non-Recoverable Draw Against Commission" (xactlycorp.com/blog/non-recoverable-draw):
    a $1,500 draw; August commission $500 is topped up to $1,500; with a non-recoverable draw
    September's $3,000 is paid in full (recoverable: $2,000, the $1,000 is paid back)."""
    data = data_for(teams=[dict(base_currency="USD")], orders=[order("A1", "2026-08-10 03:00", 5000_00, currency="USD"),
                                                               order("A2", "2026-09-10 03:00", 30000_00, currency="USD")])
    for recoverable, september in ((False, 3000_00), (True, 2000_00)):
        cfg = plans(flat("0.1", draw={"amount": 1500, "recoverable": recoverable}))
        august = lines_of(data, cfg, parse_period("2026-08"))
        assert total(august) == 1500_00
        assert total(lines_of(data, cfg, SEP, august)) == september


def test_clawback_on_a_refund_tolt_example():
    """Tolt docs, "Refunds" (docs.tolt.com/guides/refunds): a $49.00 sale earned 1470 (cents,
    30%); refunded after payout, the commission is not edited: the clawback is its own line,
    -1470, netted against the next payout."""
    data = data_for(teams=[dict(base_currency="USD")], orders=[order("A1", "2026-10-05 03:00", 49_00, currency="USD")],
                    refunds=[refund("R1", "2026-11-03 03:00", 49_00, order_id="A1", currency="USD")])
    cfg = plans(flat("0.30", refunds="clawback"))
    assert amounts(lines_of(data, cfg, OCT)) == [14_70]
    nov = lines_of(data, cfg, NOV)
    assert amounts(nov) == [-14_70] and nov["line_type"].tolist() == ["clawback"]
    assert "claws back 14.70 USD of the 14.70 USD the order earned (2026-10)" in nov["explanation"].iloc[0]


# ----------------------------------------------------------------------------- each scheme


def test_gross_profit_basis_pays_nothing_on_unknown_cost():
    from tests.factories import line

    data = data_for(orders=[order("A1", "2026-10-05 03:00", 1000_00), order("A2", "2026-10-06 03:00", 1000_00)],
                    order_lines=[line("A1", 1, 600_00, gross_minor=1000_00), line("A2", 1, None, gross_minor=1000_00)])
    lines = lines_of(data, plans(flat("0.1", basis="gross_profit")))
    assert lines["base_minor"].tolist() == [400_00, 0] and amounts(lines) == [40_00, 0]
    assert "cost unknown" in lines["explanation"].iloc[1]


def test_gross_profit_basis_deducts_platform_fees_and_shipping_labels():
    from tests.factories import fee, line

    data = data_for(orders=[order("A1", "2026-10-05 03:00", 1000_00), order("A2", "2026-10-06 03:00", 1000_00)],
                    order_lines=[line("A1", 1, 600_00, gross_minor=1000_00), line("A2", 1, None, gross_minor=1000_00)],
                    fees=[fee("F1", "A1", 50_00, fee_type="referral"), fee("F2", "A1", 30_00, fee_type="shipping_label"),
                          fee("F3", "A2", 10_00)])  # A2's cost is unknown: still nothing, fees or not
    lines = lines_of(data, plans(flat("0.1", basis="gross_profit")))
    assert lines["base_minor"].tolist() == [320_00, 0] and amounts(lines) == [32_00, 0]
    assert "cost unknown" in lines["explanation"].iloc[1]


def test_collected_basis_pays_on_money_received():
    data = data_for(orders=[order("A1", "2026-09-05 03:00", 1000_00, payment_terms="TT30/70")],
                    collections=[collection("P1", "A1", "2026-10-02 03:00", 300_00, order_source="shop")])
    lines = lines_of(data, plans(flat("0.1", basis="collected")))
    assert lines["kind"].tolist() == ["collection"] and amounts(lines) == [30_00]
    assert lines["explanation"].iloc[0].startswith("Collection P1 of order A1 (2026-10-02): base 300.00 CNY")


@pytest.mark.parametrize(("boundaries", "expected"), [("lower_inclusive", 2_000_00 + 500_00), ("upper_inclusive", 1_000_00)])
def test_boundary_inclusivity_and_flat_band_amounts(boundaries, expected):
    data = data_for(orders=[order("A1", "2026-10-05 03:00", 100_000_00)])
    cfg = plans(tiered([{"from": 0, "to": 100000, "rate": "0.01"}, {"from": 100000, "rate": "0.02", "amount": 500}],
                       tier_method="retroactive", boundaries=boundaries))
    assert total(lines_of(data, cfg)) == expected  # exactly 100,000: which band is stated by the plan


def test_role_coefficients_and_customer_classes():
    data = data_for(
        customers=[dict(customer_id="K1", customer_class="key_account")],
        orders=[order("A1", "2026-10-05 03:00", 1000_00, customer_id="C9"),  # new customer
                order("A0", "2026-03-05 03:00", 10_00, customer_id="C8"),
                order("A2", "2026-10-06 03:00", 1000_00, customer_id="C8"),  # returning (ordered in March)
                order("A3", "2026-10-07 03:00", 1000_00, customer_id="K1"),  # key account
                order("A4", "2026-10-08 03:00", 1000_00, customer_id="C8", member_id="M3")])
    cfg = plans(flat(rate="0.01", customer_classes={"new": {"rate": "0.03"}, "key_account": {"rate": "0.02"},
                                                    "returning": {"multiplier": 1}},
                     role_coefficients={"sales": 1, "follow_up": "0.5"}))
    lines = lines_of(data, cfg)
    assert amounts(lines, "M1") == [30_00, 10_00, 20_00]
    assert amounts(lines, "M3") == [5_00]  # returning 1% x follow-up 0.5
    assert "× 0.03 (new customer, role sales)" in lines["explanation"].iloc[0]


def test_stages_hold_then_release_and_a_clawback_takes_held_money_first():
    orders = [order("A1", "2026-10-05 03:00", 10_000_00, payment_terms="TT30/70")]
    data = data_for(orders=orders, collections=[collection("P1", "A1", "2026-11-20 03:00", 10_000_00)],
                    refunds=[refund("R1", "2026-10-25 03:00", 5_000_00, order_id="A1")])
    cfg = plans(flat("0.1", stages=[{"event": "signed", "percent": 30}, {"event": "collected", "percent": 70}]))
    oct_lines = lines_of(data, cfg, OCT)
    # earned 1,000.00: 300.00 released at signing; the half refund claws back 500.00 from the 700.00 held
    assert oct_lines[["line_type", "amount_minor", "held_minor"]].values.tolist() == [
        ["credit", 300_00, 0], ["clawback", 0, 200_00]]
    assert "500.00 from held" in oct_lines["explanation"].iloc[1]
    nov = lines_of(data, cfg, NOV)
    assert nov[["line_type", "amount_minor", "held_minor"]].values.tolist() == [["release", 200_00, 0]]
    assert total(oct_lines) + total(nov) == 500_00  # what the order kept


def test_a_clawback_beyond_held_money_is_a_negative_line():
    data = data_for(orders=[order("A1", "2026-10-05 03:00", 10_000_00, payment_terms="TT30/70")],
                    refunds=[refund("R1", "2026-11-03 03:00", 10_000_00, order_id="A1")])
    cfg = plans(flat("0.1", stages=[{"event": "signed", "percent": 30}, {"event": "collected", "percent": 70}]))
    assert amounts(lines_of(data, cfg, OCT)) == [300_00]
    nov = lines_of(data, cfg, NOV)
    assert nov[["line_type", "amount_minor", "held_minor"]].values.tolist() == [["clawback", -300_00, 0]]


def test_team_pool_pays_exactly_the_pool():
    data = data_for(orders=[order("A1", "2026-10-05 03:00", 100_000_00), order("A2", "2026-10-05 03:00", 100_000_00, member_id="M2"),
                            order("A3", "2026-10-05 03:00", 100_000_00, member_id="M3")])
    cfg = plans(flat("0"), pools=[{"pool_id": "q4", "name": "Q4", "team_id": "T1", "target": 250000, "amount": "1000.00",
                                   "role_coefficients": {"follow_up": "0.5"}}])
    lines = lines_of(data, cfg)
    pool = lines[lines["line_type"] == "pool"].set_index("member_id")["amount_minor"]
    assert pool.sum() == 1000_00  # 2/5, 2/5, 1/5 of the weighted results; 0.01 residues by largest remainder
    assert pool.to_dict() == {"M1": 400_00, "M2": 400_00, "M3": 200_00}
    cfg3 = plans(flat("0"), pools=[{"pool_id": "q4", "name": "Q4", "team_id": "T1", "target": 250000, "amount": "1000.00"}])
    three = lines_of(data, cfg3)
    assert three.loc[three["line_type"] == "pool", "amount_minor"].tolist() == [333_34, 333_33, 333_33]
    missed = plans(flat("0"), pools=[{"pool_id": "q4", "name": "Q4", "team_id": "T1", "target": 400000, "amount": 1000}])
    assert (lines_of(data, missed)["line_type"] != "pool").all()  # below target: not funded


def test_evaluation_cap_and_floor():
    data = data_for(orders=[order("A1", "2026-10-05 03:00", 100_000_00), order("A2", "2026-10-05 03:00", 1_000_00, member_id="M2")],
                    scores=[dict(member_id="M1", period="2026-10", dimension="attitude", score="4"),
                            dict(member_id="M1", period="2026-10", dimension="skill", score="3"),
                            dict(member_id="M2", period="2026-10", dimension="attitude", score="5"),
                            dict(member_id="M2", period="2026-10", dimension="skill", score="5")])
    cfg = plans(flat("0.1", evaluation={"weights": {"attitude": "0.5", "skill": "0.5"}}, cap=5000, floor=200))
    lines = lines_of(data, cfg)
    assert amounts(lines, "M1") == [10_000_00, -3_000_00, -2_000_00]  # x0.7, then capped at 5,000
    assert amounts(lines, "M2") == [100_00, 0, 100_00]  # x1, then raised to the 200 floor
    assert lines["explanation"].iloc[1].startswith("Evaluation score 3.5/5 (attitude 4×0.5 + skill 3×0.5) → ×0.7")


def test_project_plan_is_split_by_contribution():
    data = data_for(orders=[order("BIG", "2026-10-05 03:00", 1_000_000_00), order("A2", "2026-10-06 03:00", 1000_00)])
    cfg = plans(flat("0.01"), projects=[{"project_id": "tender", "name": "Tender", "orders": ["BIG"], "rate": "0.003",
                                         "contributions": {"M1": "33.3", "M2": "33.3", "M3": "33.4"}}])
    lines = lines_of(data, cfg)
    project = lines[lines["plan_id"] == "project:tender"]
    assert project["amount_minor"].sum() == 3_000_00 and sorted(project["amount_minor"]) == [999_00, 999_00, 1_002_00]
    assert amounts(lines, "M1")[0] == 10_00  # A2 under M1's own plan


def test_thresholds_in_plan_currency_payout_in_payroll_currency_rate_on_every_line():
    data = data_for(orders=[order("A1", "2026-10-05 03:00", 7_000_00)],  # CNY order
                    rates=[fx("2026-10-01", "CNY", "USD", "0.14"), fx("2026-10-31", "USD", "CNY", "7.2")])
    cfg = plans(tiered([{"from": 0, "to": 500, "rate": "0.1"}, {"from": 500, "rate": "0.2"}], currency="USD", payout_currency="CNY"))
    lines = lines_of(data, cfg)
    row = lines.iloc[0]
    assert (row["base_minor"], row["plan_currency"], row["currency"]) == (980_00, "USD", "CNY")  # 7,000 CNY x 0.14
    assert (row["fx_rate"], row["payout_fx_rate"]) == (Decimal("0.14"), Decimal("7.2"))
    assert row["amount_minor"] == 1_051_20  # (500 x 10% + 480 x 20%) = 146.00 USD x 7.2
    assert "paid in CNY @ 7.2" in row["explanation"]


@pytest.mark.parametrize(("mode", "place", "expected"), [
    ("half_up", "0.01", [1_25, 1_24, 1_25, 1_24]),  # running totals 1.245, 2.49, 3.735, 4.98 rounded once each
    ("half_even", "1", [100, 100, 200, 100]),  # to whole yuan: 1, 2, 4, 5
    ("down", "0.01", [1_24, 1_25, 1_24, 1_25]),  # 1.24, 2.49, 3.73, 4.98
])
def test_rounding_mode_and_place_from_the_plan_on_the_running_total(mode, place, expected):
    data = data_for(orders=[order(f"A{i}", f"2026-10-0{i + 1} 03:00", 124_50) for i in range(4)])
    lines = lines_of(data, plans(flat("0.01", rounding={"mode": mode, "place": place})))
    assert amounts(lines) == expected  # residues carry to the next line: they never vanish or appear


def test_everything_combined_in_one_plan():
    data = data_for(
        orders=[order("A1", "2026-10-03 03:00", 100_000_00), order("A2", "2026-10-05 03:00", 50_000_00, customer_id="C2",
                                                                        payment_terms="TT30/70"),
                order("A3", "2026-10-06 03:00", 10_000_00, currency="USD", member_id="M3")],
        targets=[target("M1", "2026-10", "100000", metric="revenue")],
        scores=[dict(member_id="M1", period="2026-10", dimension="skill", score="4"),
                dict(member_id="M1", period="2026-10", dimension="attitude", score="5")])
    cfg = plans(
        tiered([{"from": 0, "to": 100000, "rate": "0.01"}, {"from": 100000, "rate": "0.02", "amount": 500}],
               plan_id="s", tier_method="retroactive", role_coefficients={"sales": 1, "follow_up": "0.5"},
               customer_classes={"new": {"multiplier": "1.5"}}, cap=10000,
               quota={"from_targets": True, "multipliers": [{"from": 0, "to": 1, "multiplier": 1}, {"from": 1, "multiplier": "1.5"}]},
               evaluation={"weights": {"skill": "0.6", "attitude": "0.4"}},
               stages=[{"event": "signed", "percent": 30}, {"event": "collected", "percent": 70}], roles=["sales"]),
        flat("0.01", plan_id="f", roles=["follow_up"], draw={"amount": 1000}),
        splits=[{"order_id": "A3", "shares": {"M3": 60, "M1": 40}}])
    lines = lines_of(data, cfg)
    m1 = lines[lines["member_id"] == "M1"]
    assert m1["line_type"].tolist() == ["credit", "credit", "credit", "member", "member"]
    assert m1["amount_minor"].tolist() == [3_500_00, 450_00, 560_00, 2_780_00, -1_000_80]
    assert m1["held_minor"].tolist() == [0, 1_050_00, 0, 0, 0]
    assert amounts(lines, "M3") == [420_00, 580_00]  # 60% of 6,000 USD x 7 at 1%, then the draw tops up to 1,000
    summary = commission_summary(lines, data.members)
    assert summary.set_index("member_id").loc["M1", "amount_minor"] == m1["amount_minor"].sum()


def test_lines_carry_running_totals_and_explanations_for_every_amount():
    data = data_for(orders=[order("A1", "2026-10-03 03:00", 1000_00), order("A2", "2026-10-04 03:00", 500_00, member_id="M2")])
    credits = plan_credits(data, [OCT])
    lines = commission_lines(credits, data.members, data.teams, plans(flat("0.1", draw={"amount": 80})), OCT, PlanInputs())
    assert lines["explanation"].map(bool).all()
    for _, part in lines.groupby("member_id"):
        assert part["cumulative_amount_minor"].iloc[-1] == part["amount_minor"].sum()
