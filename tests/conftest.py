"""Shared test fixtures: real SQLite files, real PostgreSQL when configured, shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from warehouse.db import make_engine, migrate

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("YEJI_SHARED_DIR", REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures"
PG_URL = os.environ.get("YEJI_TEST_DATABASE_URL")


@pytest.fixture
def shared_fixtures() -> Path:
    """``../shared/fixtures`` (the platforms' own payloads); skips visibly where absent."""
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES} (they sit beside the checkout in CI)")
    return FIXTURES


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path) -> str:
    """An empty, migrated warehouse: a real SQLite file, and real PostgreSQL when
    ``YEJI_TEST_DATABASE_URL`` is set (skipped visibly otherwise)."""
    url = empty_warehouse(request.param, tmp_path)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url


def empty_warehouse(kind: str, folder: Path) -> str:
    """The URL of an empty warehouse of ``kind``: a new SQLite file in ``folder``, or the
    PostgreSQL test database emptied (the case is skipped, visibly, where it is not set)."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'warehouse.db'}"
    if not PG_URL:
        pytest.skip("YEJI_TEST_DATABASE_URL is not set: PostgreSQL case skipped")
    _reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def engine(warehouse_url):
    eng = make_engine(warehouse_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path):
    """A migrated SQLite warehouse only (for tests that need no PostgreSQL variant)."""
    eng = make_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (flow tests only: it takes seconds to start)."""
    from yeji.runtime import quiet_prefect

    quiet_prefect()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a test server."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
