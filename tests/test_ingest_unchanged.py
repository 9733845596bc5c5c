"""A spreadsheet identical to its last load (same file, same settings) is not read again."""

from __future__ import annotations

from pathlib import Path

from config.models import Settings, Workspace
from flows.sync import load_source
from tests.ingest_helpers import write_table
from tests.test_ingest_kinds import WORKSPACE, _source
from warehouse.loads import list_rejects


def _workspace(root: Path, sources) -> Workspace:
    return Workspace(root=root, settings=Settings(territories={"M2": ["Germany"]}, sources=sources,
                                                  warehouse_url="sqlite:///warehouse.db"))


def test_unchanged_file_is_skipped_and_its_rejects_stay_listed(sqlite_engine, tmp_path):
    files = {kind: write_table(tmp_path / f"{kind}.csv", WORKSPACE[kind][1]) for kind in ("teams", "members", "orders")}
    bad = WORKSPACE["orders"][1] + [["A1004", "not a date", "USD", 10, None, None, None, "amazon", None, "C1", "M2",
                                     "Germany", None, None]]
    files["orders"] = write_table(tmp_path / "orders.csv", bad)
    sources = [_source(kind, path) for kind, path in files.items()]
    ws = _workspace(tmp_path, sources)
    first = {s.name: load_source.fn(ws, s.name) for s in sources}
    assert all(s["ok"] and not s.get("skipped") for s in first.values())
    assert first["orders"]["rows_rejected"] == 1 and first["orders"]["inserted"] == 3

    again = {s.name: load_source.fn(ws, s.name) for s in sources}
    assert all(s["ok"] and s.get("skipped") for s in again.values()), again
    assert again["orders"]["rows_rejected"] == 1 and again["orders"]["load_id"] == first["orders"]["load_id"]
    assert len(list_rejects(sqlite_engine, "orders")) == 1  # still listed

    forced = load_source.fn(ws, "orders", force=True)
    assert not forced.get("skipped") and (forced["inserted"], forced["updated"], forced["rows_rejected"]) == (0, 0, 1)
    assert load_source.fn(ws, "orders").get("skipped")

    # a mapping change reads the file again
    changed = [_source("orders", files["orders"], defaults=dict(store="Other store")) if s.name == "orders" else s
               for s in sources]
    reread = load_source.fn(_workspace(tmp_path, changed), "orders")
    assert not reread.get("skipped") and reread["updated"] >= 1

    # so does a change to what rows are checked against: a new member may make a rejected row good
    members = WORKSPACE["members"][1] + [["M4", "New", "T1", "sales", "M1", None, None, None]]
    write_table(files["members"], members)
    assert not load_source.fn(ws, "members").get("skipped")
    assert not load_source.fn(ws, "orders").get("skipped")
    assert load_source.fn(ws, "orders").get("skipped")
    # a changed file is read
    write_table(files["orders"], WORKSPACE["orders"][1])
    fixed = load_source.fn(ws, "orders")
    assert not fixed.get("skipped") and fixed["rows_rejected"] == 0
    assert list_rejects(sqlite_engine, "orders").empty
