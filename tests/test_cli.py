"""The `yeji` command as an admin uses it (in-process; flows are covered in test_flows.py)."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from yeji.cli import main
from yeji.demo import create_demo_workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    create_demo_workspace(root, seed=3, end=date(2026, 11, 15), weeks=4)
    return root


def test_check_describes_a_valid_workspace(workspace, capsys):
    assert main(["-w", str(workspace), "check"]) == 0
    out = capsys.readouterr().out
    assert "is valid" in out and "sales_tiered" in out and "outbox" in out


def test_db_upgrade_and_empty_rejects(workspace, capsys):
    assert main(["-w", str(workspace), "db", "upgrade"]) == 0
    assert main(["-w", str(workspace), "rejects"]) == 0
    assert "No rejected rows" in capsys.readouterr().out


def test_a_config_mistake_names_file_and_key(tmp_path, capsys):
    (tmp_path / "yeji.yaml").write_text(
        yaml.safe_dump({"timezone": "Mars/Olympus", "sources": [{"name": "x", "kind": "orderz", "path": "a.csv"}]}),
        encoding="utf-8",
    )
    assert main(["-w", str(tmp_path), "check"]) == 2
    out = capsys.readouterr().out
    assert "yeji.yaml: timezone: unknown IANA timezone 'Mars/Olympus'" in out
    assert "yeji.yaml: sources[0].kind:" in out


def test_a_missing_workspace_says_how_to_make_one(tmp_path, capsys):
    assert main(["-w", str(tmp_path / "nowhere"), "check"]) == 2
    assert "yeji demo" in capsys.readouterr().out
