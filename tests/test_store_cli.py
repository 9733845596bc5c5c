"""Stores through the `sync` flow and the `yeji` command, configured in sources.yaml; config checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml
from rich.console import Console

from config.loader import ConfigError, load_workspace
from tests.store_sims import ShopifyGraphQLSim, WooSim, serve, shopify_nodes, woo_orders


def _write(root, stores: list[dict], **settings) -> None:
    (root / "yeji.yaml").write_text(yaml.safe_dump({"warehouse_url": "sqlite:///warehouse.db", **settings}), encoding="utf-8")
    (root / "sources.yaml").write_text(yaml.safe_dump({"stores": stores}), encoding="utf-8")


def test_sources_yaml_stores_are_validated_with_file_and_key(tmp_path):
    _write(tmp_path, [{"name": "shop", "platform": "shopify", "base_url": "https://x.myshopify.com", "start": "2026-01-01",
                       "credentials": {"access_token": "shpat_0123456789abcdef"}}])
    with pytest.raises(ConfigError) as info:
        load_workspace(tmp_path)
    message = str(info.value)
    assert "sources.yaml: stores[0]" in message and "never hold the secret itself" in message
    assert "shpat_0123456789abcdef" not in message
    _write(tmp_path, [{"name": "shop", "platform": "shopify", "base_url": "https://x.myshopify.com", "start": "2026-01-01",
                       "api": "v0"}])
    with pytest.raises(ConfigError, match="api 'v0' is not one of shopify's"):
        load_workspace(tmp_path)
    _write(tmp_path, [{"name": "shop", "platform": "woocommerce", "base_url": "https://shop.example", "start": "2026-01-01",
                       "credentials": {"consumer_key": "SHOP_CK"}}])
    store = load_workspace(tmp_path).settings.stores[0]
    assert store.credential_env("consumer_key") == "SHOP_CK" and store.credential_env("consumer_secret") == "YEJI_SHOP_CONSUMER_SECRET"


def test_yeji_sync_runs_each_store_as_a_task_and_a_bad_store_does_not_stop_the_others(tmp_path, monkeypatch, capsys, prefect_harness):
    from yeji.cli import main

    monkeypatch.setenv("YEJI_SHOP_ACCESS_TOKEN", "shpat_good")
    monkeypatch.setenv("YEJI_WOO_CONSUMER_KEY", "ck_wrong")
    monkeypatch.setenv("YEJI_WOO_CONSUMER_SECRET", "cs_wrong")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    start = (now - timedelta(days=30)).replace(microsecond=0)
    nodes = shopify_nodes(250, start, countries=("United States", "Singapore"))
    orders, refunds = woo_orders(10, start)
    with serve(ShopifyGraphQLSim(nodes, maximum=100_000)) as shop_url, serve(WooSim(orders, refunds)) as woo_url:
        _write(tmp_path, [
            {"name": "shop", "platform": "shopify", "base_url": shop_url, "start": start.date().isoformat(), "page_size": 100},
            {"name": "woo", "platform": "woocommerce", "base_url": woo_url, "start": start.date().isoformat()},
        ])
        monkeypatch.chdir(tmp_path)
        code = main(["-w", str(tmp_path), "sync"])
    out = capsys.readouterr().out
    assert code == 1
    assert "shop" in out and "250" in out and "woo" in out and "failed" in out
    assert "refused the credentials (HTTP 401)" in out and "YEJI_WOO_CONSUMER_KEY" in out and "ck_wrong" not in out
    assert "yeji unattributed" in out
    from config.loader import warehouse_url
    from warehouse.db import make_engine, read_table
    from warehouse.store_loads import list_unattributed

    engine = make_engine(warehouse_url(load_workspace(tmp_path)))
    assert len(read_table(engine, "orders")) == 250
    assert len(list_unattributed(engine, limit=1000)) == 250  # no members, no rules: listed, never dropped
    engine.dispose()


def _all_text(engine) -> str:
    """Every row of every warehouse table, as text (to look for what must never be stored)."""
    from sqlalchemy import select

    from warehouse.models import TABLES

    with engine.connect() as conn:
        return "\n".join(repr(row) for table in TABLES.values() for row in conn.execute(select(table)))


def test_credentials_from_prefect_secret_blocks_sync_and_never_show(tmp_path, monkeypatch, capsys, caplog, prefect_harness):
    """Credentials in Prefect Secret blocks (no environment variable set): the store syncs with them,
    a wrong one fails that store naming the blocks, and no secret reaches the output, the Prefect
    run logs, the rejects or any warehouse table."""
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client
    from prefect.logging.handlers import APILogHandler

    from config.loader import warehouse_url
    from connectors.stores import MissingCredential, credentials
    from warehouse.db import make_engine, read_table
    from warehouse.loads import list_rejects
    from yeji.cli import main

    shop_token, woo_key, woo_secret = "shpat_from_block_5f1e9c", "ck_from_block_0a7d", "cs_from_block_93b2"
    Secret(value=shop_token).save("yeji-test-shop-token", overwrite=True)
    Secret(value=woo_key).save("yeji-test-woo-key", overwrite=True)
    Secret(value=woo_secret).save("yeji-test-woo-secret", overwrite=True)
    for env in ("YEJI_SHOP_ACCESS_TOKEN", "YEJI_WOO_CONSUMER_KEY", "YEJI_WOO_CONSUMER_SECRET"):
        monkeypatch.delenv(env, raising=False)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    start = (now - timedelta(days=30)).replace(microsecond=0)
    nodes = shopify_nodes(40, start)
    nodes[5]["currencyCode"] = "XXX"  # one reject: its raw record and error are stored
    orders, refunds = woo_orders(10, start)
    # the Shopify sim accepts only the block's token; the WooCommerce sim expects other credentials than the blocks hold
    with serve(ShopifyGraphQLSim(nodes, token=shop_token, maximum=100_000)) as shop_url, serve(WooSim(orders, refunds)) as woo_url:
        _write(tmp_path, [
            {"name": "shop", "platform": "shopify", "base_url": shop_url, "start": start.date().isoformat(),
             "secret_blocks": {"access_token": "yeji-test-shop-token"}},
            {"name": "woo", "platform": "woocommerce", "base_url": woo_url, "start": start.date().isoformat(),
             "secret_blocks": {"consumer_key": "yeji-test-woo-key", "consumer_secret": "yeji-test-woo-secret"}},
        ])
        monkeypatch.chdir(tmp_path)
        code = main(["-w", str(tmp_path), "sync"])
    printed = capsys.readouterr()
    assert code == 1 and "refused the credentials (HTTP 401)" in printed.out
    assert "Prefect Secret blocks yeji-test-woo-key, yeji-test-woo-secret" in printed.out
    engine = make_engine(warehouse_url(load_workspace(tmp_path)))
    try:
        assert len(read_table(engine, "orders")) == 39  # loaded with the block's token
        rejects = list_rejects(engine, "shop")
        assert len(rejects) == 1 and "unknown currency 'XXX'" in rejects["error"].iloc[0]
        stored = _all_text(engine)
    finally:
        engine.dispose()
    APILogHandler().flush()  # the run logs go to the API in the background, in batches: send them all first
    messages: list[str] = []
    with get_client(sync_client=True) as client:
        while batch := client.read_logs(limit=200, offset=len(messages)):
            messages += [log.message for log in batch]
    run_logs = "\n".join(messages)
    assert "refused the credentials" in run_logs  # the failed store's error is logged: the logs are the place to look
    for secret in (shop_token, woo_key, woo_secret):
        for where, text in (("output", printed.out + printed.err), ("log records", caplog.text),
                            ("Prefect run logs", run_logs), ("warehouse", stored)):
            assert secret not in text, f"a secret from a Secret block is in the {where}"
    store = load_workspace(tmp_path).settings.stores[0].model_copy(update={"secret_blocks": {"access_token": "no-such-block"}})
    with pytest.raises(MissingCredential, match="cannot read Prefect Secret block 'no-such-block' for access_token"):
        credentials(store)


def test_unattributed_command_lists_orders(tmp_path, monkeypatch):
    from yeji import commands

    _write(tmp_path, [])
    from config.loader import warehouse_url
    import pandas as pd
    from warehouse.db import make_engine, migrate, upsert_frame

    engine = make_engine(warehouse_url(load_workspace(tmp_path)))
    migrate(engine)
    with engine.begin() as conn:
        upsert_frame(conn, "orders", pd.DataFrame([{
            "source": "shop", "order_id": "5001", "platform": "shopify", "store": "Shop US", "ordered_at": datetime(2026, 1, 2, 3, 4),
            "customer_id": "shop:9", "member_id": None, "country": "Singapore", "currency": "USD", "gross_minor": 12345,
            "discount_minor": 345, "tax_minor": 0, "shipping_minor": 0, "payment_terms": "prepaid", "status": "open"}]))
    engine.dispose()
    console = Console(record=True, width=160)
    assert commands.unattributed(console, str(tmp_path), None, 50) == 0
    text = console.export_text()
    assert "5001" in text and "Singapore" in text and "120.00 USD" in text and "1 of 1" in text
